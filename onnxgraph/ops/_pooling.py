"""Pooling in the style of `keras.ops`: max_pool and average_pool (ONNX MaxPool / AveragePool).

Padding is always explicit `pads` with `ceil_mode=0` (onnxruntime-training computes wrong
gradients for `auto_pad` and `ceil_mode=1`). Keras's "same" average excludes the padding
from each window's count (`count_include_pad=0`).
"""

from __future__ import annotations

import numpy as np

from onnxgraph.ops._base import any_symbolic, as_tensor, constant, emit, int64s
from onnxgraph.ops._dispatch import keras_op
from onnxgraph.ops._conv_utils import (conv_output_size, explicit_pads, from_channels_first,
                                       pad_same_dynamic, run_eagerly, standardize_data_format,
                                       standardize_padding, standardize_tuple, to_channels_first)

__all__ = ["max_pool", "average_pool"]


def _pool_args(x, pool_size, strides, padding, data_format, op):
    rank = x.ndim - 2
    if rank not in (1, 2, 3):
        raise ValueError(f"ops.{op} needs an input of rank 3, 4 or 5 (batch, spatial..., channels); "
                         f"got shape {x.shape}.")
    pool_size = standardize_tuple(pool_size, rank, "pool_size")
    strides = pool_size if strides is None else standardize_tuple(strides, rank, "strides")
    return pool_size, strides, standardize_padding(padding), standardize_data_format(data_format)


def _pool(op_type, x, pool_size, strides, padding, data_format, extra_attrs, fill):
    x_cf = to_channels_first(x, data_format)
    spatial = x_cf.shape[2:]
    out_shape = x_cf.shape[:2] + tuple(conv_output_size(d, k, s, padding)
                                       for d, k, s in zip(spatial, pool_size, strides))
    pads = explicit_pads(spatial, pool_size, strides, padding)
    attrs = {"kernel_shape": list(pool_size), "strides": list(strides), **extra_attrs}
    if pads is not None:
        y = emit(op_type, [x_cf], {**attrs, "pads": pads}, shapes=[out_shape], dtypes_=[x.dtype])
    elif op_type == "MaxPool":
        padded = pad_same_dynamic(x_cf, pool_size, strides, fill)
        y = emit(op_type, [padded], attrs, shapes=[out_shape], dtypes_=[x.dtype])
    else:
        # Runtime-sized "same" average: window sums over zero padding divided by the number of
        # real pixels per window (the same pooling over a padded map of ones).
        total = emit(op_type, [pad_same_dynamic(x_cf, pool_size, strides)], attrs, shapes=[out_shape],
                     dtypes_=[x.dtype])
        sizes = emit("Shape", [x_cf], {"start": 2}, shapes=[(x.ndim - 2,)], dtypes_=["int64"])
        ones_shape = emit("Concat", [int64s([1, 1]), sizes], {"axis": 0}, shapes=[(x.ndim,)], dtypes_=["int64"])
        one = constant(np.ones((1,) * x.ndim, dtype=np.dtype(x.dtype)))
        ones = emit("Expand", [one, ones_shape], shapes=[(1, 1) + spatial], dtypes_=[x.dtype])
        count = emit(op_type, [pad_same_dynamic(ones, pool_size, strides)], attrs,
                     shapes=[(1, 1) + out_shape[2:]], dtypes_=[x.dtype])
        y = emit("Div", [total, count], shapes=[out_shape], dtypes_=[x.dtype])
    return from_channels_first(y, data_format)


@keras_op
def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """Max pooling over the spatial axes (ONNX MaxPool); strides default to pool_size.

    Example:
        >>> ops.max_pool(x, 3).shape     # x: (None, 28, 28, 64)
        (None, 9, 9, 64)
    """
    if not any_symbolic(inputs):
        return run_eagerly(lambda x: max_pool(x, pool_size, strides, padding, data_format), {"x": inputs})
    x = as_tensor(inputs)
    pool_size, strides, padding, data_format = _pool_args(x, pool_size, strides, padding, data_format,
                                                          "max_pool")
    return _pool("MaxPool", x, pool_size, strides, padding, data_format, {"ceil_mode": 0}, -np.inf)


@keras_op
def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """Average pooling (ONNX AveragePool); "same" windows average only real pixels, as in Keras.

    Example:
        >>> ops.average_pool(x, 2, padding="same").shape     # x: (None, 5, 5, 3)
        (None, 3, 3, 3)
    """
    if not any_symbolic(inputs):
        return run_eagerly(lambda x: average_pool(x, pool_size, strides, padding, data_format), {"x": inputs})
    x = as_tensor(inputs)
    pool_size, strides, padding, data_format = _pool_args(x, pool_size, strides, padding, data_format,
                                                          "average_pool")
    return _pool("AveragePool", x, pool_size, strides, padding, data_format,
                 {"ceil_mode": 0, "count_include_pad": 0}, 0.0)
