"""Max/Average pooling (1D/2D/3D) and their global forms, with Keras's padding rules.

Windowed pooling is ONNX MaxPool / AveragePool (explicit pads, ceil_mode=0; "same" averages
exclude the padding). Global pooling is ONNX GlobalAveragePool / GlobalMaxPool on channels-first
data followed by a Squeeze (keepdims=False), so after the layout pass a conv stack ends
Conv -> GlobalAveragePool -> Squeeze with no Transpose.
"""

from __future__ import annotations

import numpy as np

from onnxgraph.backend import dtypes
from onnxgraph.backend.emit import constant, emit
from onnxgraph.layers._input_spec import InputSpec
from onnxgraph.layers._layer import Layer
from onnxgraph.ops._base import int64s
from onnxgraph.ops._conv_utils import (channels_first_shape, conv_output_size, from_channels_first,
                                       standardize_data_format, standardize_padding, standardize_tuple,
                                       to_channels_first)
from onnxgraph.ops._pooling import average_pool, max_pool

__all__ = ["MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D",
           "AveragePooling3D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D",
           "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D"]


class _Pooling(Layer):
    rank = 2
    _op = staticmethod(max_pool)

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = standardize_tuple(pool_size, self.rank, "pool_size")
        self.strides = self.pool_size if strides is None else standardize_tuple(strides, self.rank, "strides")
        self.padding = standardize_padding(padding)
        self.data_format = standardize_data_format(data_format)
        self.input_spec = InputSpec(ndim=self.rank + 2)
        self._build_at_init()

    def call(self, inputs):
        spatial = channels_first_shape(inputs.shape, self.data_format)[2:]
        for size, k, s in zip(spatial, self.pool_size, self.strides):
            out = conv_output_size(size, k, s, self.padding)
            if out is not None and out <= 0:
                raise ValueError(
                    f"Layer '{self.name}': input shape {inputs.shape} is smaller than pool_size "
                    f"{self.pool_size} with padding='valid'. Use padding='same' or a larger input."
                )
        return type(self)._op(inputs, self.pool_size, self.strides, self.padding, self.data_format)

    def get_config(self):
        return {**super().get_config(), "pool_size": list(self.pool_size), "padding": self.padding,
                "strides": list(self.strides), "data_format": self.data_format}


class MaxPooling1D(_Pooling):
    """Max over windows of `pool_size` steps (strides default to pool_size).

    Example:
        >>> MaxPooling1D(2)(Input(shape=(9, 4))).shape
        (None, 4, 4)
    """

    rank = 1


class MaxPooling2D(_Pooling):
    """Max over `pool_size` windows (the guide's MaxPooling2D(3): 28x28 -> 9x9).

    Example:
        >>> MaxPooling2D(3)(Input(shape=(28, 28, 64))).shape
        (None, 9, 9, 64)
    """

    rank = 2


class MaxPooling3D(_Pooling):
    """Max over 3D windows.

    Example:
        >>> MaxPooling3D(2)(Input(shape=(8, 8, 8, 2))).shape
        (None, 4, 4, 4, 2)
    """

    rank = 3


class AveragePooling1D(_Pooling):
    """Mean over windows; with padding="same" each window averages only its real steps.

    Example:
        >>> AveragePooling1D(2, padding="same")(Input(shape=(9, 4))).shape
        (None, 5, 4)
    """

    rank = 1
    _op = staticmethod(average_pool)


class AveragePooling2D(_Pooling):
    """Mean over windows; with padding="same" each window averages only its real pixels.

    Example:
        >>> AveragePooling2D(2)(Input(shape=(8, 8, 3))).shape
        (None, 4, 4, 3)
    """

    rank = 2
    _op = staticmethod(average_pool)


class AveragePooling3D(_Pooling):
    """Mean over 3D windows.

    Example:
        >>> AveragePooling3D(2)(Input(shape=(4, 4, 4, 3))).shape
        (None, 2, 2, 2, 3)
    """

    rank = 3
    _op = staticmethod(average_pool)


class _GlobalPooling(Layer):
    rank = 2
    _onnx_op = "GlobalMaxPool"

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format)
        self.keepdims = bool(keepdims)
        self.input_spec = InputSpec(ndim=self.rank + 2)
        self._build_at_init()

    def call(self, inputs):
        x = to_channels_first(inputs, self.data_format)
        pooled = (x.shape[0], x.shape[1]) + (1,) * self.rank
        y = emit(self._onnx_op, [x], shapes=[pooled], dtypes_=[x.dtype])
        if self.keepdims:
            return from_channels_first(y, self.data_format)
        return emit("Squeeze", [y, int64s(list(range(2, self.rank + 2)))], shapes=[pooled[:2]], dtypes_=[x.dtype])

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalMaxPooling1D(_GlobalPooling):
    """Max over the steps axis: (batch, steps, features) -> (batch, features).

    Example:
        >>> GlobalMaxPooling1D()(Input(shape=(10, 4))).shape
        (None, 4)
    """

    rank = 1


class GlobalMaxPooling2D(_GlobalPooling):
    """Max over rows and columns: (batch, h, w, c) -> (batch, c) (the guide's encoder output).

    Example:
        >>> GlobalMaxPooling2D()(Input(shape=(4, 4, 16))).shape
        (None, 16)
    """

    rank = 2


class GlobalMaxPooling3D(_GlobalPooling):
    """Max over the three spatial axes.

    Example:
        >>> GlobalMaxPooling3D(keepdims=True)(Input(shape=(4, 4, 4, 2))).shape
        (None, 1, 1, 1, 2)
    """

    rank = 3


class GlobalAveragePooling1D(_GlobalPooling):
    """Mean over the steps axis: (batch, steps, features) -> (batch, features).

    Example:
        >>> GlobalAveragePooling1D()(Input(shape=(10, 4))).shape
        (None, 4)
    """

    rank = 1
    _onnx_op = "GlobalAveragePool"

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(data_format, keepdims, **kwargs)
        self.supports_masking = True

    def compute_mask(self, inputs, mask=None):
        return None  # Keras: the pooled output has no steps left to mask

    def call(self, inputs, mask=None):
        if mask is None:
            return super().call(inputs)
        # Keras: sum of the unmasked steps divided by their count (0/0 -> nan when all are masked).
        steps_axis, feature_axis = (1, 2) if self.data_format == "channels_last" else (2, 1)
        weights = emit("Cast", [mask], {"to": dtypes.to_onnx(inputs.dtype)}, shapes=[mask.shape],
                       dtypes_=[inputs.dtype])
        shape = list(mask.shape)
        shape.insert(feature_axis, 1)
        weights = emit("Unsqueeze", [weights, int64s([feature_axis])], shapes=[tuple(shape)], dtypes_=[inputs.dtype])
        kept = emit("Where", [emit("Cast", [weights], {"to": dtypes.to_onnx("bool")}, shapes=[tuple(shape)],
                                   dtypes_=["bool"]), inputs, constant(np.zeros((), inputs.dtype))],
                    shapes=[inputs.shape], dtypes_=[inputs.dtype])
        out = [d for i, d in enumerate(inputs.shape) if i != steps_axis or self.keepdims]
        if self.keepdims:
            out[steps_axis] = 1
        total = emit("ReduceSum", [kept, int64s([steps_axis])], {"keepdims": int(self.keepdims)},
                     shapes=[tuple(out)], dtypes_=[inputs.dtype])
        count_shape = [d for i, d in enumerate(shape) if i != steps_axis or self.keepdims]
        if self.keepdims:
            count_shape[steps_axis] = 1
        count = emit("ReduceSum", [weights, int64s([steps_axis])], {"keepdims": int(self.keepdims)},
                     shapes=[tuple(count_shape)], dtypes_=[inputs.dtype])
        return emit("Div", [total, count], shapes=[tuple(out)], dtypes_=[inputs.dtype])


class GlobalAveragePooling2D(_GlobalPooling):
    """Mean over rows and columns (the guide's toy ResNet head).

    Example:
        >>> GlobalAveragePooling2D()(Input(shape=(7, 7, 64))).shape
        (None, 64)
    """

    rank = 2
    _onnx_op = "GlobalAveragePool"


class GlobalAveragePooling3D(_GlobalPooling):
    """Mean over the three spatial axes.

    Example:
        >>> GlobalAveragePooling3D()(Input(shape=(4, 4, 4, 2))).shape
        (None, 2)
    """

    rank = 3
    _onnx_op = "GlobalAveragePool"
