"""SimpleRNN, LSTM and GRU: Keras 3 arguments, weights and outputs; one ONNX node per call.

How they emit (see `_rnn_emit.py` for the node-level conventions):
- the batch-major input is transposed once to time-major; `go_backwards` reverses time
  with a Gather and runs a forward node, so the inference graph is also the training
  graph (ORT-training has no gradient for reverse/bidirectional LSTM/GRU);
- SimpleRNN emits ONNX RNN for inference. ONNX RNN has no gradient in ORT-training, so
  under ``emit_options(training_graph=True)`` it emits the equivalent saturated-gate GRU
  (same initializers); training helpers build their graphs inside that option.
- `stateful=True` (Keras semantics): the states are non-trainable Variables of the fixed batch
  size (`layer.states`, not in `weights`, as in Keras), zeroed by `reset_state()`. The graph
  reads them where no `initial_state` is given and reports the final states as state updates
  (like BatchNormalization's moving statistics); an eager `layer(x)` writes them back after
  each call. Running a Model that contains a stateful layer (predict, __call__, fit,
  evaluate) raises NotImplementedError for now: the model graph bakes the states in.
- `dropout` (training only) multiplies the inputs by one mask per sequence, as Keras's
  fused kernels do; `recurrent_dropout` cannot be expressed with a fused node and raises
  in a training graph.
"""

from __future__ import annotations

import contextlib

import numpy as np

from onnxgraph import ops
from onnxgraph.backend import dtypes
from onnxgraph.backend.emit import constant, emit
from onnxgraph.backend.scope import current_options, current_scope, name_scope
from onnxgraph.backend.variable import Variable
from onnxgraph.layers import _rnn_emit, _rnn_mask
from onnxgraph.layers._input_spec import InputSpec
from onnxgraph.layers._layer import Layer
from onnxgraph.utils._tree import flatten
from onnxgraph.layers._rnn_cells import WEIGHT_OPTIONS, GRUCell, LSTMCell, SimpleRNNCell

__all__ = ["SimpleRNN", "LSTM", "GRU", "state_variables", "refuse_stateful"]

_CELL_ARGS = ("activation", "recurrent_activation", "use_bias", "kernel_initializer",
              "recurrent_initializer", "bias_initializer", "dropout", "recurrent_dropout", "seed")


def state_variables(layer) -> list:
    """The state Variables of every stateful RNN in `layer` (itself included)."""
    from onnxgraph.layers._layer import _all_sublayers

    return [v for item in [layer, *_all_sublayers(layer)] if getattr(item, "stateful", False)
            and isinstance(item, _RNN) for v in item.states or []]


def refuse_stateful(model, what: str) -> None:
    """A clear error where a model-level run would not carry the states between batches."""
    from onnxgraph.layers._layer import _all_sublayers

    names = [item.name for item in _all_sublayers(model) if isinstance(item, _RNN) and item.stateful]
    if names:
        raise NotImplementedError(
            f"Model '{model.name}': {what} with stateful RNN layer(s) {names} is not supported yet (the "
            "states would not be carried between batches). Call the layers eagerly (`layer(x)` keeps and "
            "writes back the states), or use stateful=False with `initial_state` and `return_state=True`."
        )


class _RNN(Layer):
    """Sequence handling shared by the three layers; subclasses make the cell and emit the node."""

    _activity_in_config = True

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, zero_output_for_mask=False, activity_regularizer=None,
                 **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.supports_masking = True
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.states = None  # stateful: non-trainable Variables (batch, units), made in build
        self.unroll = unroll
        self.zero_output_for_mask = zero_output_for_mask
        self.input_spec = InputSpec(ndim=3)

    # Keras exposes the cell's hyper-parameters on the layer.
    units = property(lambda self: self.cell.units)
    activation = property(lambda self: self.cell.activation)
    use_bias = property(lambda self: self.cell.use_bias)
    dropout = property(lambda self: self.cell.dropout)
    recurrent_dropout = property(lambda self: self.cell.recurrent_dropout)

    @property
    def state_size(self) -> list:
        size = self.cell.state_size
        return list(size) if isinstance(size, (list, tuple)) else [size]

    def build(self, sequences_shape, initial_state_shape=None):
        if self.cell.built:
            return
        scope = current_scope()
        # Weight paths are <layer>/<cell>/<weight> as in Keras, also when build() is called directly.
        outer = name_scope(self.name) if not scope or scope[-1] != self.name else contextlib.nullcontext()
        with outer:
            with name_scope(self.cell.name):
                self.cell.build((sequences_shape[0],) + tuple(sequences_shape[2:]))
            if self.stateful:
                self._create_state_variables(sequences_shape[0])
        self.cell.built = True

    def _create_state_variables(self, batch_size) -> None:
        """Keras: a stateful layer keeps its states as non-trainable variables of a fixed batch size."""
        if batch_size is None:
            raise ValueError(
                f"Layer '{self.name}': a stateful RNN needs a fixed batch size. Give the input a batch size "
                "(`Input(batch_shape=(batch, time, features))`, or `batch_input_shape=` on the first layer)."
            )
        # As Keras (untracked "rnn_state" variables): not in `weights`, so get/set_weights match Keras.
        path = "/".join(current_scope() or (self.name,))
        dtype = self.cell.dtype
        self.states = [Variable(np.zeros((int(batch_size), self.units), dtype=dtypes.to_numpy(dtype)),
                                name="rnn_state", path=f"{path}/rnn_state_{i}", trainable=False, dtype=dtype)
                       for i in range(len(self.state_size))]

    def reset_state(self) -> None:
        """Zero the states of a stateful layer (Keras `reset_state`)."""
        for variable in self.states or []:
            variable.assign(np.zeros(variable.shape, dtype=dtypes.to_numpy(variable.dtype)))

    reset_states = reset_state

    def call(self, sequences, initial_state=None, mask=None, training=None):
        x_tm = self._time_major(sequences)
        mask_tm = None if mask is None else _rnn_mask.time_major_mask(mask)
        y_tm, states, last = self._sequence(x_tm, initial_state, training, mask_tm)
        if self.return_sequences:
            output = ops.transpose(y_tm, (1, 0, 2))
        else:
            output = ops.identity(last) if self.return_state and last is states[0] else last
        return [output, *states] if self.return_state else output

    def compute_mask(self, inputs, mask=None):
        """Keras: the input mask for the output sequence; none for a last output or the states."""
        mask = flatten(mask)[0] if isinstance(mask, (list, tuple)) else mask
        output_mask = mask if self.return_sequences else None
        return [output_mask] + [None] * len(self.state_size) if self.return_state else output_mask

    # -- pieces Bidirectional reuses on a shared time-major input ------------------------------------
    def _time_major(self, sequences):
        dtype = self.cell.dtype
        if sequences.dtype != dtype:
            sequences = ops.cast(sequences, dtype)
        return ops.transpose(sequences, (1, 0, 2))

    def _sequence(self, x_tm, initial_state, training, mask_tm=None):
        """(y (T, B, u) in processing order, [states (B, u)], last output (B, u)) for time-major x."""
        if training and self.cell.recurrent_dropout > 0:
            raise ValueError(
                f"Layer '{self.name}': recurrent_dropout cannot be trained with a fused ONNX "
                f"{type(self).__name__} node. Use recurrent_dropout=0 (dropout on the inputs works)."
            )
        if training and self.cell.dropout > 0:
            x_tm = _sequence_dropout(x_tm, self.cell.dropout, self.cell.seed)
        if self.go_backwards:
            x_tm = _rnn_emit.reverse_time(x_tm)
            mask_tm = None if mask_tm is None else _rnn_emit.reverse_time(mask_tm)
        if initial_state is None and self.stateful:
            initial_state = [variable.graph_value() for variable in self.states]
        initial = [None if s is None else ops.expand_dims(s, 0) for s in self._initial_states(initial_state)]
        if mask_tm is not None:
            result = _rnn_mask.run_masked(self, x_tm, mask_tm, initial)
        else:
            y, *states = self._emit(x_tm, initial)
            states = [ops.squeeze(s, 0) for s in states]
            result = ops.squeeze(y, 1), states, states[0]
        updates = current_options().get("state_updates")
        if self.stateful and updates is not None:
            # The runtime writes the final states back after the batch (as BatchNormalization's statistics).
            updates.extend(zip(self.states, result[1]))
        return result

    def _initial_states(self, initial_state) -> list:
        if initial_state is None:
            return [None] * len(self.state_size)
        states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
        if len(states) != len(self.state_size):
            raise ValueError(
                f"Layer '{self.name}' expects {len(self.state_size)} initial state tensor(s) of shape "
                f"(batch, {self.units}), received {len(states)}."
            )
        result = []
        for i, s in enumerate(states):
            s = ops.cast(s, self.cell.dtype)
            if len(s.shape) != 2 or s.shape[-1] not in (None, self.units):
                raise ValueError(
                    f"Layer '{self.name}': initial state {i} must have shape (batch, {self.units}), "
                    f"received shape {s.shape}."
                )
            result.append(s)
        return result

    def get_config(self):
        cell = self.cell.get_config()
        for key in ("name", "trainable", "dtype"):
            cell.pop(key, None)
        return {**super().get_config(), "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards,
                "stateful": self.stateful, "unroll": self.unroll,
                "zero_output_for_mask": self.zero_output_for_mask, **cell}


def _sequence_dropout(x_tm, rate: float, seed):
    """x * mask with one Dropout mask per sequence (1, B, F), shared by every time step."""
    first = ops.getitem(x_tm, slice(0, 1))
    shape = emit("Shape", [first], shapes=[(3,)], dtypes_=["int64"])
    ones = emit("Expand", [constant(np.array(1, dtype=dtypes.to_numpy(x_tm.dtype))), shape],
                shapes=[first.shape], dtypes_=[x_tm.dtype])
    attrs = {"seed": int(seed)} if seed is not None else {}
    mask, _ = emit("Dropout", [ones, constant(np.array(rate, dtype=dtypes.to_numpy(x_tm.dtype))),
                               constant(np.array(True))], attrs, outputs=2,
                   shapes=[first.shape, first.shape], dtypes_=[x_tm.dtype, "bool"])
    return ops.multiply(x_tm, mask)


def _checked_use_cudnn(value):
    """Keras's check; the value is kept (onnxgraph always emits the ONNX node, it selects nothing)."""
    if value not in ("auto", True, False):
        raise ValueError(f"Invalid value for argument `use_cudnn`: expected 'auto', True or False, "
                         f"received use_cudnn={value!r}.")
    return value


def _cell_kwargs(layer_kwargs: dict) -> dict:
    """Move the cell's arguments (regularizers and constraints too) out of the layer's kwargs."""
    cell = {k: layer_kwargs.pop(k) for k in list(layer_kwargs) if k in _CELL_ARGS + WEIGHT_OPTIONS}
    layer_kwargs.pop("implementation", None)
    return {**cell, "dtype": layer_kwargs.get("dtype"), "trainable": layer_kwargs.get("trainable", True)}


class SimpleRNN(_RNN):
    """Fully-connected RNN: h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias).

    Args:
        units: Size of the output and state.
        activation: tanh (default), sigmoid, relu, hard_sigmoid, linear, softsign or softplus.
        use_bias, kernel_initializer, recurrent_initializer, bias_initializer: as in Keras.
        dropout: Fraction of input units dropped in training (one mask per sequence).
        recurrent_dropout: Accepted for inference; a training graph with it raises.
        return_sequences: Return the whole output sequence instead of the last output.
        return_state: Also return the final state(s).
        go_backwards: Process the sequence backwards (the returned sequence is reversed too).
        stateful: Carry the final states into the next eager call (fixed batch size; see the module doc).

    Returns:
        The last output (batch, units), or (batch, time, units) with return_sequences, then
        the final states (batch, units) with return_state. Call with `initial_state=[...]`
        to start from given states.

    Example:
        >>> x = Input(shape=(None, 8))
        >>> SimpleRNN(4, return_sequences=True)(x).shape
        (None, None, 4)
    """

    def __init__(self, units, activation="tanh", **kwargs):
        cell = SimpleRNNCell(units, activation=activation, name="simple_rnn_cell", **_cell_kwargs(kwargs))
        super().__init__(cell, **kwargs)

    def _emit(self, x_tm, initial):
        if current_options().get("training_graph"):
            return _rnn_emit.simple_rnn_as_gru(self.name, self.cell, x_tm, *initial)
        return _rnn_emit.simple_rnn(self.name, self.cell, x_tm, *initial)


class LSTM(_RNN):
    """Long Short-Term Memory layer (Hochreiter 1997), Keras 3 weights: gates i, f, c, o.

    Emits one ONNX LSTM node; the states are [h, c].

    Args:
        units: Size of the output and states.
        activation, recurrent_activation: tanh and sigmoid by default (ONNX-supported names only).
        unit_forget_bias: Start the forget-gate bias at one (Keras default).
        use_bias, kernel_initializer, recurrent_initializer, bias_initializer: as in Keras.
        dropout: Fraction of input units dropped in training (one mask per sequence).
        recurrent_dropout: Accepted for inference; a training graph with it raises.
        return_sequences: Return the whole output sequence instead of the last output.
        return_state: Also return the final state(s).
        go_backwards: Process the sequence backwards (the returned sequence is reversed too).
        stateful: Carry the final states into the next eager call (fixed batch size; see the module doc).

    Returns:
        The last output (batch, units), or (batch, time, units) with return_sequences, then
        the final states (batch, units) with return_state. Call with `initial_state=[...]`
        to start from given states.

    Example:
        >>> tokens = Input(shape=(None,))
        >>> LSTM(32)(Embedding(1000, 16)(tokens)).shape
        (None, 32)
    """

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", unit_forget_bias=True,
                 use_cudnn="auto", **kwargs):
        cell = LSTMCell(units, activation=activation, recurrent_activation=recurrent_activation,
                        unit_forget_bias=unit_forget_bias, name="lstm_cell", **_cell_kwargs(kwargs))
        super().__init__(cell, **kwargs)
        self.use_cudnn = _checked_use_cudnn(use_cudnn)

    recurrent_activation = property(lambda self: self.cell.recurrent_activation)
    unit_forget_bias = property(lambda self: self.cell.unit_forget_bias)

    def _emit(self, x_tm, initial, carry=False):
        return _rnn_emit.lstm(self.name, self.cell, x_tm, *initial, carry=carry)


class GRU(_RNN):
    """Gated Recurrent Unit, Keras 3 weights: gates z, r, h; `reset_after=True` by default.

    `reset_after=True` is ONNX GRU `linear_before_reset=1` (bias (2, 3*units));
    `reset_after=False` applies the reset gate before the recurrent matmul (bias (3*units,)).

    Args:
        units: Size of the output and state.
        activation, recurrent_activation: tanh and sigmoid by default (ONNX-supported names only).
        reset_after: Keras's GRU convention (default True).
        use_bias, kernel_initializer, recurrent_initializer, bias_initializer: as in Keras.
        dropout: Fraction of input units dropped in training (one mask per sequence).
        recurrent_dropout: Accepted for inference; a training graph with it raises.
        return_sequences: Return the whole output sequence instead of the last output.
        return_state: Also return the final state(s).
        go_backwards: Process the sequence backwards (the returned sequence is reversed too).
        stateful: Carry the final states into the next eager call (fixed batch size; see the module doc).

    Returns:
        The last output (batch, units), or (batch, time, units) with return_sequences, then
        the final states (batch, units) with return_state. Call with `initial_state=[...]`
        to start from given states.

    Example:
        >>> x = Input(shape=(10, 8))
        >>> GRU(4, return_state=True)(x)[1].shape
        (None, 4)
    """

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", reset_after=True,
                 use_cudnn="auto", **kwargs):
        cell = GRUCell(units, activation=activation, recurrent_activation=recurrent_activation,
                       reset_after=reset_after, name="gru_cell", **_cell_kwargs(kwargs))
        super().__init__(cell, **kwargs)
        self.use_cudnn = _checked_use_cudnn(use_cudnn)

    recurrent_activation = property(lambda self: self.cell.recurrent_activation)
    reset_after = property(lambda self: self.cell.reset_after)

    def _emit(self, x_tm, initial):
        return _rnn_emit.gru(self.name, self.cell, x_tm, *initial)
