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
