"""Bidirectional: a forward and a backward copy of an RNN layer over the same sequence.

Both directions are forward-running ONNX nodes on one shared time-major input; the
backward one reverses time with a Gather before its node (and, for sequences, after it),
so the graph trains on ORT-training, which has no gradient for bidirectional LSTM/GRU.
"""

from __future__ import annotations

import contextlib

from onnxgraph import ops
from onnxgraph.backend.scope import current_scope, name_scope
from onnxgraph.layers import _rnn_emit, _rnn_mask
from onnxgraph.utils._tree import flatten
from onnxgraph.layers._input_spec import InputSpec
from onnxgraph.layers._layer import Layer
from onnxgraph.layers._recurrent import _RNN

__all__ = ["Bidirectional"]

_MERGE_MODES = ("sum", "mul", "ave", "concat", None)


def _renamed(layer, prefix: str, **overrides):
    base = layer.name[len(prefix):] if layer.name.startswith(prefix) else layer.name
    return type(layer).from_config({**layer.get_config(), "name": prefix + base, **overrides})


class Bidirectional(Layer):
    """Runs `layer` forwards and a copy backwards and merges the two outputs (Keras semantics).

    Args:
        layer: A SimpleRNN, LSTM or GRU instance (its config is copied, as in Keras).
        merge_mode: "concat" (default), "sum", "mul", "ave", or None for a list of both.
        weights: Optional initial weights (forward then backward, Keras order).
        backward_layer: Optional explicit backward layer (must have go_backwards=True).

    Returns:
        The merged output, followed by forward then backward states when the layer has
        `return_state=True`. With `return_sequences`, the backward sequence is put back in
        input order before merging.

    Example:
        >>> x = Input(shape=(None, 8))
        >>> Bidirectional(LSTM(16, return_sequences=True))(x).shape
        (None, None, 32)
    """

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        if not isinstance(layer, _RNN):
            raise ValueError(f"Bidirectional wraps a SimpleRNN, LSTM or GRU layer, received {layer!r}.")
        if backward_layer is not None and not isinstance(backward_layer, _RNN):
            raise ValueError(f"Bidirectional: `backward_layer` must be a SimpleRNN, LSTM or GRU layer, "
                             f"received {backward_layer!r}.")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"Bidirectional: invalid merge_mode {merge_mode!r}; use one of {list(_MERGE_MODES)}.")
        super().__init__(**kwargs)
        self.forward_layer = _renamed(layer, "forward_")
        self.backward_layer = backward_layer or _renamed(layer, "backward_", go_backwards=True)
        if hasattr(layer, "use_cudnn"):  # Keras keeps it on both copies (it is not serialized)
            self.forward_layer.use_cudnn = layer.use_cudnn
            self.backward_layer.use_cudnn = layer.use_cudnn
        fw, bw = self.forward_layer, self.backward_layer
        if fw.go_backwards == bw.go_backwards:
            raise ValueError(
                f"Bidirectional '{self.name}': the forward and backward layers need different "
                f"`go_backwards`; both have go_backwards={fw.go_backwards}."
            )
        for attr in ("return_sequences", "return_state"):
            if getattr(fw, attr) != getattr(bw, attr):
                raise ValueError(f"Bidirectional '{self.name}': forward and backward layers must agree on "
                                 f"`{attr}` (got {getattr(fw, attr)} and {getattr(bw, attr)}).")
        for copy in (fw, bw):  # Keras: masked steps of returned sequences are zeros
            copy.zero_output_for_mask = copy.return_sequences
        self.merge_mode = merge_mode
        self.return_sequences = fw.return_sequences
        self.return_state = fw.return_state
        self.stateful = fw.stateful
        self._initial_weights = weights
        self.input_spec = InputSpec(ndim=3)

    def build(self, sequences_shape, initial_state_shape=None):
        scope = current_scope()
        outer = name_scope(self.name) if not scope or scope[-1] != self.name else contextlib.nullcontext()
        with outer:  # weight paths bidirectional/forward_lstm/lstm_cell/kernel, as in Keras
            for layer in (self.forward_layer, self.backward_layer):
                with name_scope(layer.name):
                    layer.build(sequences_shape)
        self.forward_layer.built = self.backward_layer.built = True
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def reset_state(self) -> None:
        """Zero both directions' states (stateful layers; Keras `reset_state`)."""
        self.forward_layer.reset_state()
        self.backward_layer.reset_state()

    reset_states = reset_state

    @property
    def states(self):
        if not self.stateful:
            return None
        return list(self.forward_layer.states or []) + list(self.backward_layer.states or [])

    def call(self, sequences, initial_state=None, mask=None, training=None):
        mask_tm = None if mask is None else _rnn_mask.time_major_mask(mask)
        fw, bw = self.forward_layer, self.backward_layer
        forward_state = backward_state = None
        if initial_state is not None:
            half = len(initial_state) // 2
            forward_state, backward_state = initial_state[:half], initial_state[half:]
        x_tm = fw._time_major(sequences)
        with name_scope(fw.name):
            y, states, last = fw._sequence(x_tm, forward_state, training, mask_tm)
        with name_scope(bw.name):
            y_rev, states_rev, last_rev = bw._sequence(x_tm, backward_state, training, mask_tm)
            if self.return_sequences:
                y_rev = _rnn_emit.reverse_time(y_rev)
        if not self.return_sequences:
            y, y_rev = last, last_rev
            if self.return_state:
                y, y_rev = ops.identity(y), ops.identity(y_rev)
        output = self._merge(y, y_rev)
        if self.return_sequences:
            output = [ops.transpose(o, (1, 0, 2)) for o in output] if self.merge_mode is None else \
                ops.transpose(output, (1, 0, 2))
        outputs = list(output) if self.merge_mode is None else [output]
        if self.return_state:
            return outputs + list(states) + list(states_rev)
        return outputs if self.merge_mode is None else output

    def compute_mask(self, inputs, mask=None):
        """Keras: the input mask on each output sequence; none for last outputs and states."""
        mask = flatten(mask)[0] if isinstance(mask, (list, tuple)) else mask
        if self.return_sequences:
            output_mask = [mask, mask] if self.merge_mode is None else [mask]
        else:
            output_mask = [None, None] if self.merge_mode is None else [None]
        if self.return_state:
            output_mask += [None] * 2 * len(self.forward_layer.state_size)
        return output_mask if len(output_mask) > 1 else output_mask[0]

    def _merge(self, y, y_rev):
        if self.merge_mode == "concat":
            return ops.concatenate([y, y_rev], axis=-1)
        if self.merge_mode == "sum":
            return ops.add(y, y_rev)
        if self.merge_mode == "ave":
            return ops.divide(ops.add(y, y_rev), 2.0)
        if self.merge_mode == "mul":
            return ops.multiply(y, y_rev)
        return [y, y_rev]

    def get_config(self):
        from onnxgraph.models._config import serialize_layer

        return {**super().get_config(), "merge_mode": self.merge_mode,
                "layer": serialize_layer(self.forward_layer),
                "backward_layer": serialize_layer(self.backward_layer)}

    @classmethod
    def from_config(cls, config):
        from onnxgraph.models._config import deserialize_layer

        config = dict(config)
        config["layer"] = deserialize_layer(config["layer"])
        if config.get("backward_layer") is not None:
            config["backward_layer"] = deserialize_layer(config["backward_layer"])
        return super().from_config(config)
