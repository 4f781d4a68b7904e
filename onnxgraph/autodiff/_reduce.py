"""Gradients of the Reduce* ops (axes as input or attribute, keepdims both ways)."""

from __future__ import annotations

import numpy as np

from onnxgraph.autodiff import _util as U
from onnxgraph.autodiff._registry import register_gradient
from onnxgraph.backend.emit import constant, emit

__all__ = []


def reduced_axes(node):
    """Sorted non-negative reduced axes, [] for a no-op reduction, or None when axes are runtime values."""
    x = node.inputs[0]
    if len(node.inputs) > 1 and node.inputs[1] is not None:
        value = U.const_value(node.inputs[1])
        if value is None:
            return None
        axes = [int(a) for a in np.asarray(value).reshape(-1)]
    else:
        axes = node.attrs.get("axes")
        axes = None if axes is None else [int(a) for a in axes]
        if axes is None:
            axes = []
    if not axes:
        return [] if U.attr(node, "noop_with_empty_axes", 0) else list(range(x.ndim))
    return sorted(U.norm_axis(a, x.ndim) for a in axes)


def keepdims_grad(node, g):
    """`g` (the reduction's output gradient) with the reduced axes restored as size-1 dims."""
    x, y = node.inputs[0], node.outputs[0]
    if U.attr(node, "keepdims", 1) or y.ndim == x.ndim:
        return g
    axes = reduced_axes(node)
    if axes is None:  # runtime axes: Unsqueeze takes them as they are (same meaning, input rank)
        axes_t = node.inputs[1]
    else:
        axes_t = constant(np.asarray(axes, np.int64))
    shape = tuple(1 if i in (axes or []) else None for i in range(x.ndim)) if axes is None else \
        tuple(1 if i in axes else x.shape[i] for i in range(x.ndim))
    return emit("Unsqueeze", [g, axes_t], shapes=[shape], dtypes_=[g.dtype])


def _with_axes(node, grads, values):
    return [values] + [None] * (len(node.inputs) - 1)


@register_gradient("ReduceSum")
def reduce_sum(node, grads):
    x = node.inputs[0]
    if reduced_axes(node) == []:
        return _with_axes(node, grads, grads[0])
    return _with_axes(node, grads, U.expand_like(keepdims_grad(node, grads[0]), x))


def _count(node):
    """Number of elements reduced into each output element (constant when the dims are known)."""
    x, y = node.inputs[0], node.outputs[0]
    axes = reduced_axes(node)
    if axes is not None and all(x.shape[a] is not None for a in axes):
        return U.const(float(np.prod([x.shape[a] for a in axes])), x.dtype)
    size_x = U.cast(U.emit("Size", [x], shapes=[()], dtypes_=["int64"]), x.dtype)
    size_y = U.cast(U.emit("Size", [y], shapes=[()], dtypes_=["int64"]), x.dtype)
    return U.div(size_x, size_y)


@register_gradient("ReduceMean")
def reduce_mean(node, grads):
    x = node.inputs[0]
    if reduced_axes(node) == []:
        return _with_axes(node, grads, grads[0])
    g = U.div(keepdims_grad(node, grads[0]), _count(node))
    return _with_axes(node, grads, U.expand_like(g, x))


def _kept(node, grads):
    """(x, y with reduced dims kept, g with reduced dims kept)."""
    return node.inputs[0], keepdims_grad(node, node.outputs[0]), keepdims_grad(node, grads[0])


@register_gradient("ReduceMax", "ReduceMin")
def reduce_extremum(node, grads):
    # Ties share the gradient equally (as torch.amax and TensorFlow do).
    x, y, g = _kept(node, grads)
    hit = U.cast(U.emit_like_bool("Equal", x, y), x.dtype)
    axes = reduced_axes(node)
    if axes == []:
        return _with_axes(node, grads, grads[0])
    if axes is None:
        ties = U.emit("ReduceSum", [hit, node.inputs[1]], {"keepdims": 1}, shapes=[y.shape], dtypes_=[x.dtype])
    else:
        ties = U.reduce_sum(hit, axes, keepdims=True)
    return _with_axes(node, grads, U.mul(hit, U.div(g, ties)))


@register_gradient("ReduceProd")
def reduce_prod(node, grads):
    # d(prod)/dx_i = prod / x_i (inputs must be non-zero, as in the forward's usual use).
    x, y, g = _kept(node, grads)
    return _with_axes(node, grads, U.div(U.mul(g, y), x))


@register_gradient("ReduceL1")
def reduce_l1(node, grads):
    x, _, g = _kept(node, grads)
    return _with_axes(node, grads, U.mul(g, U.like("Sign", x)))


@register_gradient("ReduceL2")
def reduce_l2(node, grads):
    x, y, g = _kept(node, grads)
    return _with_axes(node, grads, U.mul(x, U.div(g, y)))


@register_gradient("ReduceSumSquare")
def reduce_sum_square(node, grads):
    x, _, g = _kept(node, grads)
    return _with_axes(node, grads, U.mul(x, U.mul(g, U.const(2.0, x.dtype))))


@register_gradient("ReduceLogSumExp")
def reduce_log_sum_exp(node, grads):
    x, y, g = _kept(node, grads)
    return _with_axes(node, grads, U.mul(g, U.like("Exp", U.sub(x, y))))


@register_gradient("ReduceLogSum")
def reduce_log_sum(node, grads):
    # y = log(sum x): dy/dx = 1 / sum x = exp(-y).
    x, y, g = _kept(node, grads)
    return _with_axes(node, grads, U.expand_like(U.mul(g, U.like("Exp", U.neg(y))), x))


@register_gradient("CumSum")
def cumsum(node, grads):
    # The adjoint of a (reverse, exclusive) running sum is the opposite-direction running sum.
    x, axis = node.inputs
    attrs = {"exclusive": int(U.attr(node, "exclusive", 0)), "reverse": 1 - int(U.attr(node, "reverse", 0))}
    return [U.emit("CumSum", [grads[0], axis], attrs, shapes=[x.shape], dtypes_=[x.dtype]), None]
