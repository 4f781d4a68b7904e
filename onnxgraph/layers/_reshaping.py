"""Flatten, Reshape, Permute and RepeatVector."""

from __future__ import annotations

import math
import numbers

from onnxgraph import ops
from onnxgraph.layers._args import int_tuple, positive_int
from onnxgraph.layers._input_spec import InputSpec
from onnxgraph.layers._layer import Layer

__all__ = ["Flatten", "Reshape", "Permute", "RepeatVector"]


class Flatten(Layer):
    """(batch, d1, d2, ...) -> (batch, d1*d2*...)."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format or "channels_last"
        self.input_spec = InputSpec(min_ndim=1)

    def call(self, inputs):
        if inputs.ndim == 1:
            return ops.expand_dims(inputs, -1)
        if self.data_format == "channels_first" and inputs.ndim > 2:
            # Keras flattens channels_first data in channels_last order.
            inputs = ops.transpose(inputs, [0, *range(2, inputs.ndim), 1])
        return ops.flatten_batch(inputs)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class Reshape(Layer):
    """Reshape to `target_shape` (without the batch dimension; one -1 allowed)."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        try:
            self.target_shape = int_tuple("Reshape", "target_shape", target_shape, allow_minus_one=True)
        except ValueError as exc:
            raise ValueError(f"{exc} (Keras: each entry must be a non-negative integer or -1; received "
                             f"target_shape={target_shape}.)") from None
        if sum(1 for d in self.target_shape if d == -1) > 1:
            raise ValueError(f"Reshape: at most one -1 in target_shape, got {self.target_shape} (there can be at "
                             f"most one unknown dimension; received target_shape={self.target_shape}).")
        self._build_at_init()

    def call(self, inputs):
        known = [d for d in self.target_shape if d != -1]
        size = math.prod(inputs.shape[1:]) if None not in inputs.shape[1:] else None
        if size is not None and -1 not in self.target_shape and math.prod(known) != size:
            raise ValueError(
                f"Layer '{self.name}' cannot reshape an input of shape {inputs.shape} ({size} values "
                f"per sample) to target_shape {self.target_shape} ({math.prod(known)} values)."
            )
        if size is not None and -1 in self.target_shape and size % math.prod(known):
            raise ValueError(
                f"Layer '{self.name}': {size} values per sample (input shape {inputs.shape}) do not "
                f"divide into target_shape {self.target_shape}."
            )
        return ops.reshape(inputs, (None, *self.target_shape))

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}


class Permute(Layer):
    """Permute the non-batch axes; `dims` is 1-indexed, e.g. (2, 1) swaps the first two."""

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        keras_words = " (Invalid permutation argument `dims` for Permute Layer: the indices must be consecutive from 1.)"
        try:
            self.dims = int_tuple("Permute", "dims", dims)
        except ValueError as exc:
            raise ValueError(str(exc) + keras_words) from None
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(f"Permute: `dims` must be a permutation of 1..{len(self.dims)}, got {self.dims}."
                             + keras_words)
        self.input_spec = InputSpec(ndim=len(self.dims) + 1)

    def call(self, inputs):
        return ops.transpose(inputs, (0, *self.dims))

    def get_config(self):
        return {**super().get_config(), "dims": list(self.dims)}


class RepeatVector(Layer):
    """(batch, features) -> (batch, n, features)."""

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(n, numbers.Integral) or isinstance(n, bool):
            raise TypeError(f"RepeatVector: `n` must be a positive integer, got {n!r} (a {type(n).__name__}). "
                            f"(Expected an integer value for `n`.)")
        self.n = positive_int("RepeatVector", "n", n)
        self.input_spec = InputSpec(ndim=2)

    def call(self, inputs):
        return ops.tile(ops.expand_dims(inputs, 1), [1, self.n, 1])

    def get_config(self):
        return {**super().get_config(), "n": self.n}
