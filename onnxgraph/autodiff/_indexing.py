"""Gradients of indexing ops: Gather (Embedding lookups), GatherElements, GatherND,
ScatterElements, ScatterND, TopK.

A gather's gradient scatter-ADDS into zeros, so repeated ids (the same token twice in a batch)
accumulate. Axis-0 Gather (Embedding) uses ScatterND, whose index tensor is the ids alone;
other axes use ScatterElements on the gradient flattened to one index axis.
"""

from __future__ import annotations

import numpy as np

from onnxgraph.autodiff import _util as U
from onnxgraph.autodiff._elementwise import wants
from onnxgraph.autodiff._registry import register_gradient
from onnxgraph.autodiff._shape import scatter_add_axis
from onnxgraph.backend.emit import constant, emit

__all__ = []


def _i64(values):
    return constant(np.asarray(values, np.int64).reshape(-1))


def _normalized(index, x, axis):
    """int64 indices into `x` along `axis`, negatives wrapped (at runtime when not constant)."""
    index = U.cast(index, "int64")
    value = U.const_value(index)
    dim = x.shape[axis]
    if value is not None:
        if (value < 0).any():
            if dim is None:
                raise NotImplementedError("Gather gradient: negative constant indices need a known axis size.")
            return constant(np.where(value < 0, value + dim, value).astype(np.int64))
        return index
    size = _i64([dim]) if dim is not None else U.shape_of(x, axis, axis + 1)
    negative = U.emit_like_bool("Less", index, U.const(0, "int64"))
    return emit("Where", [negative, U.add(index, size), index], shapes=[index.shape], dtypes_=["int64"])


@register_gradient("Gather")
def gather(node, grads):
    x, index = node.inputs
    g = grads[0]
    axis = U.norm_axis(int(U.attr(node, "axis", 0)), x.ndim)
    idx = _normalized(index, x, axis)
    zeros = U.zeros_like(x)
    if axis == 0:
        # ScatterND(zeros, ids[..., None], g, add): g is ids.shape + x.shape[1:].
        nd = emit("Unsqueeze", [idx, _i64([idx.ndim])], shapes=[idx.shape + (1,)], dtypes_=["int64"])
        out = emit("ScatterND", [zeros, nd, g], {"reduction": "add"}, shapes=[x.shape], dtypes_=[x.dtype])
        return [out, None]
    # g: x.shape[:axis] + idx.shape + x.shape[axis+1:] -> one index axis of len(idx.flat).
    n = int(np.prod(idx.shape)) if None not in idx.shape else None
    pre, post = x.shape[:axis], x.shape[axis + 1:]
    flat_shape = pre + (n,) + post
    if idx.ndim != 1:
        if None in pre or None in post:
            target = emit("Concat", [U.shape_of(g, 0, axis), _i64([-1]), U.shape_of(g, axis + idx.ndim)],
                          {"axis": 0}, shapes=[(x.ndim,)], dtypes_=["int64"]) if axis + idx.ndim < g.ndim else \
                emit("Concat", [U.shape_of(g, 0, axis), _i64([-1])], {"axis": 0}, shapes=[(x.ndim,)],
                     dtypes_=["int64"])
        else:
            target = _i64(list(pre) + [-1] + list(post))
        g = U.reshape(g, target, flat_shape)
        idx = emit("Reshape", [idx, _i64([-1])], shapes=[(n,)], dtypes_=["int64"])
    return [scatter_add_axis(g, idx, axis, zeros, n), None]


@register_gradient("GatherElements")
def gather_elements(node, grads):
    x, index = node.inputs
    axis = U.norm_axis(int(U.attr(node, "axis", 0)), x.ndim)
    idx = _normalized(index, x, axis)
    out = emit("ScatterElements", [U.zeros_like(x), idx, grads[0]], {"axis": axis, "reduction": "add"},
               shapes=[x.shape], dtypes_=[x.dtype])
    return [out, None]


@register_gradient("GatherND")
def gather_nd(node, grads):
    x, index = node.inputs
    if int(U.attr(node, "batch_dims", 0)) != 0:
        raise NotImplementedError(f"GatherND gradient at {'/'.join(node.scope)}: only batch_dims=0 is supported.")
    out = emit("ScatterND", [U.zeros_like(x), index, grads[0]], {"reduction": "add"}, shapes=[x.shape],
               dtypes_=[x.dtype])
    return [out, None]


def _scatter(node, grads, gather_op: str, axis_attrs: dict):
    data, index, updates = node.inputs
    g = grads[0]
    reduction = U.attr(node, "reduction", "none")
    if reduction not in ("none", "add"):
        raise NotImplementedError(f"{node.op_type} gradient at {'/'.join(node.scope)}: reduction='{reduction}' has "
                                  "no rule (only 'none' and 'add').")
    g_data = g_updates = None
    if wants(data):
        # Overwritten positions do not reach data (reduction 'none'); with 'add' everything does.
        g_data = g if reduction == "add" else emit(node.op_type, [g, index, U.zeros_like(updates)], axis_attrs,
                                                   shapes=[data.shape], dtypes_=[data.dtype])
    if wants(updates):
        g_updates = emit(gather_op, [g, index], axis_attrs, shapes=[updates.shape], dtypes_=[updates.dtype])
    return [g_data, None, g_updates]


@register_gradient("ScatterElements")
def scatter_elements(node, grads):
    return _scatter(node, grads, "GatherElements", {"axis": int(U.attr(node, "axis", 0))})


@register_gradient("ScatterND")
def scatter_nd(node, grads):
    return _scatter(node, grads, "GatherND", {})


@register_gradient("TopK")
def top_k(node, grads):
    x = node.inputs[0]
    g, indices = grads[0], node.outputs[1]
    if g is None:
        return [None, None]
    axis = U.norm_axis(int(U.attr(node, "axis", -1)), x.ndim)
    out = emit("ScatterElements", [U.zeros_like(x), indices, g], {"axis": axis, "reduction": "add"},
               shapes=[x.shape], dtypes_=[x.dtype])
    return [out, None]
