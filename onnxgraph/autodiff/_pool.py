"""Gradients of MaxPool, AveragePool, GlobalAveragePool and GlobalMaxPool (1D/2D/3D).

MaxPool: the same MaxPool with its Indices output (flat positions in the input), then the
output gradient scatter-added (ScatterElements, reduction="add": overlapping windows may
share a maximum) into zeros; pads, strides, dilations and ceil_mode are all in the indices.
onnxruntime's MaxPool with Indices is ~10x slower than without (29 vs 2-4 ms on the toy
ResNet's 64x64x28x28 pool), but the index-free forms measured for disjoint windows (ArgMax
over transposed windows; an Equal mask with ties split, by 6-D broadcasts or by Resize and
AveragePool) were 1.0-2.3x slower still (onnxruntime 1.19 and 1.32, one thread).
For disjoint windows MaxUnpool(dY, Indices, shape(x)) gives the same result ~1.2x faster than
the ScatterElements (pool + scatter, both runtimes), but onnxruntime's CUDA provider has no
MaxUnpool kernel (it would fall back to the CPU), so the rule keeps the scatter.
AveragePool is linear: its adjoint is a depthwise ConvTranspose with a ones kernel applied to
dY divided by each window's count (the divisors AveragePool uses, read off the runtime: see
`_inverse_counts`). GlobalMaxPool routes dY to the ArgMax of each channel.
"""

from __future__ import annotations

import math

import numpy as np

from onnxgraph.autodiff import _util
from onnxgraph.autodiff._conv import concat_shape, conv_input_grad, conv_params, where
from onnxgraph.autodiff._registry import register_gradient
from onnxgraph.backend.emit import emit

__all__ = ["scatter_add_flat"]


def _flat(x, dtype=None):
    return emit("Reshape", [x, _util.const([-1], "int64")], shapes=[(_numel(x.shape),)], dtypes_=[dtype or x.dtype])


def _numel(shape):
    return None if None in shape else math.prod(shape)


def scatter_add_flat(like, indices, values):
    """zeros_like(like) with `values` added at the flat positions `indices` (same shapes)."""
    size = _numel(like.shape)
    if size is not None:
        zeros = _util.const(np.zeros(size), like.dtype)
    else:
        count = emit("Reshape", [emit("Size", [like], shapes=[()], dtypes_=["int64"]), _util.const([1], "int64")],
                     shapes=[(1,)], dtypes_=["int64"])
        zeros = emit("ConstantOfShape", [count], {"value": _zero_proto(like.dtype)}, shapes=[(None,)],
                     dtypes_=[like.dtype])
    out = emit("ScatterElements", [zeros, _flat(indices), _flat(values)], {"axis": 0, "reduction": "add"},
               shapes=[(size,)], dtypes_=[like.dtype])
    return _util.reshape_like(out, like)


def _zero_proto(dtype, value=0):
    from onnx import numpy_helper

    from onnxgraph.backend import dtypes

    return numpy_helper.from_array(np.full(1, value, dtypes.to_numpy(dtype)), "value")


def _one_proto(dtype):
    return _zero_proto(dtype, 1)


@register_gradient("MaxPool")
def max_pool(node, grads):
    x, y = node.inputs[0], node.outputs[0]
    if len(node.outputs) > 1 and grads[1] is not None:
        raise NotImplementedError(f"{where(node)}: MaxPool's Indices output is integer; it carries no gradient.")
    if len(node.outputs) > 1 and not _util.attr(node, "storage_order", 0):
        indices = node.outputs[1]
    else:
        # Re-run the pool for its row-major Indices (the forward node may not declare them).
        attrs = {k: v for k, v in node.attrs.items() if k != "storage_order"}
        _, indices = emit("MaxPool", [x], attrs, outputs=2, shapes=[y.shape, y.shape], dtypes_=[y.dtype, "int64"])
    return [scatter_add_flat(x, indices, grads[0])]


def _pool_geometry(node, x):
    kernel = [int(k) for k in _util.attr(node, "kernel_shape")]
    n = len(kernel)
    _, strides, dilations, pads, _ = conv_params(node, x, (None, None, *kernel))
    return n, kernel, strides, dilations, pads


def _inverse_counts(node, x, y, kernel, strides, dilations, pads):
    """1 / (the divisor AveragePool uses per output position), shaped (1, 1, *y spatial).

    Read off the runtime in the graph: AveragePool of a ones map over x's spatial shape divided
    by the window sums of that map (a Conv with a ones kernel, zero padding). Runtimes disagree on
    ceil_mode windows with count_include_pad=1 (onnxruntime 1.19 counts the overflow past the end
    pad, 1.32 does not), so the rule asks the one it runs on instead of assuming either.
    """
    n = len(kernel)
    spatial = [x.shape[2 + i] if x.shape[2 + i] is not None else _util.shape_of(x, 2 + i, 3 + i) for i in range(n)]
    plane = (1, 1, *x.shape[2:])
    ones = emit("ConstantOfShape", [concat_shape([1, 1, *spatial])], {"value": _one_proto(x.dtype)},
                shapes=[plane], dtypes_=[x.dtype])
    out_plane = (1, 1, *y.shape[2:])
    averaged = emit("AveragePool", [ones], dict(node.attrs), shapes=[out_plane], dtypes_=[x.dtype])
    kernel_ones = _util.const(np.ones((1, 1, *kernel)), x.dtype)
    summed = emit("Conv", [ones, kernel_ones], {"kernel_shape": kernel, "strides": strides, "dilations": dilations,
                                               "pads": pads}, shapes=[out_plane], dtypes_=[x.dtype])
    return _util.div(averaged, summed)


@register_gradient("AveragePool")
def average_pool(node, grads):
    x, y, dy = node.inputs[0], node.outputs[0], grads[0]
    n, kernel, strides, dilations, pads = _pool_geometry(node, x)
    channels = x.shape[1]
    if channels is None:
        raise NotImplementedError(f"{where(node)}: the AveragePool gradient needs a known channel count, got input "
                                  f"shape {x.shape}.")
    pads = list(pads)
    if _util.attr(node, "ceil_mode", 0):
        if None in x.shape[2:] or None in y.shape[2:]:
            raise NotImplementedError(f"{where(node)}: the gradient of AveragePool with ceil_mode=1 needs known "
                                      f"spatial sizes, got input {x.shape}; pad explicitly and use ceil_mode=0.")
        for i in range(n):  # ceil_mode windows may run past the end padding: pad the adjoint that far
            reach = (y.shape[2 + i] - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1
            pads[n + i] = max(pads[n + i], reach - x.shape[2 + i] - pads[i])
    if any(pads):
        scale = _inverse_counts(node, x, y, kernel, strides, dilations, pads)
    else:
        scale = _util.const(1.0 / math.prod(kernel), x.dtype)
    scaled = _util.mul(dy, scale)
    ones = _util.const(np.ones((channels, 1, *kernel)), x.dtype)
    return [conv_input_grad(scaled, ones, x, kernel, strides, dilations, pads, channels)]


def _spatial_count(x):
    spatial = x.shape[2:]
    if None not in spatial:
        return _util.const(float(math.prod(spatial)), x.dtype)
    size = emit("ReduceProd", [_util.shape_of(x, 2)], {"keepdims": 0}, shapes=[()], dtypes_=["int64"])
    return _util.cast(size, x.dtype)


@register_gradient("GlobalAveragePool")
def global_average_pool(node, grads):
    x = node.inputs[0]
    return [_util.div(_util.expand_like(grads[0], x), _spatial_count(x))]


@register_gradient("GlobalMaxPool")
def global_max_pool(node, grads):
    x, dy = node.inputs[0], grads[0]
    rows = (x.shape[0], x.shape[1], _numel(x.shape[2:]))
    flat = emit("Reshape", [x, _util.const([0, 0, -1], "int64")], shapes=[rows], dtypes_=[x.dtype])
    picked = emit("ArgMax", [flat], {"axis": 2, "keepdims": 1}, shapes=[rows[:2] + (1,)], dtypes_=["int64"])
    values = emit("Reshape", [dy, _util.const([0, 0, 1], "int64")], shapes=[rows[:2] + (1,)], dtypes_=[dy.dtype])
    zeros = _util.zeros_like(flat)
    dx = emit("ScatterElements", [zeros, picked, values], {"axis": 2}, shapes=[rows], dtypes_=[x.dtype])
    return [_util.reshape_like(dx, x)]
