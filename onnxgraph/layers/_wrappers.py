"""Wrapper (Keras's abstract base of layers around a layer) and TimeDistributed."""

from __future__ import annotations

import contextlib

import numpy as np

from onnxgraph.backend.emit import constant, emit
from onnxgraph.backend.scope import current_scope, name_scope
from onnxgraph.layers._input_spec import InputSpec
from onnxgraph.layers._layer import Layer

__all__ = ["Wrapper", "TimeDistributed"]


def _int64(values):
    return constant(np.asarray(values, dtype=np.int64))


class Wrapper(Layer):
    """Abstract base of a layer that wraps `layer` (Keras `layers.Wrapper`); subclasses write `call`.

    `build` builds the wrapped layer on the same input shape (its weights are named
    <wrapper>/<layer>/<weight>); the config stores the wrapped layer under "layer".

    Args:
        layer: The layer instance to wrap.

    Example:
        >>> class Twice(Wrapper):
        ...     def call(self, x):
        ...         return self.layer.call(x) * 2
        >>> Twice(Dense(3))(Input(shape=(4,))).shape
        (None, 3)
    """

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(f"Layer {layer!r} supplied to Wrapper isn't a supported layer type: pass an "
                             "onnxgraph layer instance.")
        super().__init__(**kwargs)
        self.layer = layer

    def build(self, input_shape=None):
        if not self.layer.built:
            scope = current_scope()
            outer = name_scope(self.name) if not scope or scope[-1] != self.name else contextlib.nullcontext()
            with outer, name_scope(self.layer.name):
                self.layer.build(input_shape)
            self.layer.built = True

    def get_config(self):
        from onnxgraph.models._config import serialize_layer

        return {**super().get_config(), "layer": serialize_layer(self.layer)}

    @classmethod
    def from_config(cls, config):
        from onnxgraph.models._config import deserialize_layer

        config = dict(config)
        layer = deserialize_layer(config.pop("layer"))
        batch_input_shape = config.pop("batch_input_shape", None)
        wrapper = cls(layer, **config)
        if batch_input_shape is not None:
            wrapper._batch_input_shape = tuple(batch_input_shape)
        return wrapper


class TimeDistributed(Wrapper):
    """Applies `layer` to each temporal slice: (batch, time, *inner) -> (batch, time, *out).

    The time axis is folded into the batch (one Reshape), the layer runs once on
    (batch * time, *inner), and the result is unfolded; weights are shared across steps.

    Args:
        layer: Any layer taking (batch, *inner) inputs.

    Returns:
        A tensor of shape (batch, time, *layer_output_shape[1:]).

    Example:
        >>> frames = Input(shape=(10, 16))
        >>> TimeDistributed(Dense(8))(frames).shape
        (None, 10, 8)
    """

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(f"TimeDistributed wraps a layer instance, received {layer!r}.")
        super().__init__(layer, **kwargs)
        self.supports_masking = True  # Keras: the (batch, time) mask passes through
        self.input_spec = InputSpec(min_ndim=3)

    def build(self, input_shape):
        # The wrapped layer builds on its first call, inside this layer's name scope
        # (weight paths time_distributed/dense/kernel, as in Keras).
        self.built = True

    def call(self, inputs, training=None, mask=None):
        if mask is not None:
            _check_time_mask(self, inputs, mask)
        inner = inputs.shape[2:]
        if None in inner:
            fold_shape = emit("Concat", [_int64([-1]), emit("Shape", [inputs], {"start": 2}, shapes=[(len(inner),)],
                                                            dtypes_=["int64"])],
                              {"axis": 0}, shapes=[(len(inner) + 1,)], dtypes_=["int64"])
        else:
            fold_shape = _int64([-1, *inner])
        folded = emit("Reshape", [inputs, fold_shape], shapes=[(None, *inner)], dtypes_=[inputs.dtype])
        kwargs = {"training": training} if training is not None and "training" in self.layer._call_params else {}
        if mask is not None and "mask" in self.layer._call_params:
            # Keras gives the layer mask[:, t] at step t; folded, that is the mask over batch*time.
            kwargs["mask"] = _fold_mask(mask)
        y = self.layer(folded, **kwargs)
        if not hasattr(y, "shape") or isinstance(y, (list, tuple)):
            raise ValueError(f"Layer '{self.name}': the wrapped layer '{self.layer.name}' must return one tensor.")
        out = y.shape[1:]
        if None in out:
            raise ValueError(
                f"Layer '{self.name}': the wrapped layer '{self.layer.name}' gives per-step shape {out} with an "
                "unknown dimension; TimeDistributed needs known per-step output dimensions."
            )
        steps = inputs.shape[1]
        if steps is not None:
            unfold_shape = _int64([-1, steps, *out])
        else:
            batch_and_time = emit("Shape", [inputs], {"start": 0, "end": 2}, shapes=[(2,)], dtypes_=["int64"])
            unfold_shape = emit("Concat", [batch_and_time, _int64(list(out))], {"axis": 0},
                                shapes=[(2 + len(out),)], dtypes_=["int64"])
        return emit("Reshape", [y, unfold_shape], shapes=[(inputs.shape[0], steps, *out)], dtypes_=[y.dtype])


def _fold_mask(mask):
    """(batch, time, *rest) mask -> (batch * time, *rest), rest known."""
    rest = tuple(mask.shape[2:])
    if None in rest:
        raise ValueError(f"TimeDistributed: a mask of shape {mask.shape} needs known dimensions after time.")
    return emit("Reshape", [mask, _int64([-1, *rest])], shapes=[(None, *rest)], dtypes_=[mask.dtype])


def _check_time_mask(layer, inputs, mask) -> None:
    """Keras's TimeDistributed mask check: at least (batch, timesteps), matching the inputs there."""
    shape = tuple(getattr(mask, "shape", ()))
    if len(shape) < 2:
        raise ValueError(f"Layer '{layer.name}': the `mask` passed to the `TimeDistributed` layer must be at least 2D "
                         f"(batch_size, timesteps), got shape {shape}.")
    for got, want in zip(shape[:2], inputs.shape[:2]):
        if got is not None and want is not None and got != want:
            raise ValueError(f"Layer '{layer.name}': The `mask` passed to the `TimeDistributed` layer has a shape "
                             f"{shape} that is incompatible with the input shape {inputs.shape}; its first two "
                             f"dimensions must be ({inputs.shape[0]}, {inputs.shape[1]}).")

