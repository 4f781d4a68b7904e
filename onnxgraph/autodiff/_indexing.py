"""Gradients of indexing ops: Gather (Embedding lookups), GatherElements, GatherND,
ScatterElements, ScatterND, TopK.

A gather's gradient scatter-ADDS into zeros, so repeated ids (the same token twice in a batch)
accumulate. Gather uses ScatterND (its index tensor is the ids alone; other axes are moved first
and back); a constant index or index run (x[:, 3]) is undone by one Pad instead.
"""

from __future__ import annotations

import numpy as np

from onnxgraph.autodiff import _util as U
from onnxgraph.autodiff._elementwise import wants
from onnxgraph.autodiff._registry import register_gradient
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
    # A 0-d size: a (1,) one would broadcast a scalar index to shape (1,) behind the declared shape.
    if dim is not None:
        size = constant(np.asarray(dim, np.int64))
    else:
        size = emit("Squeeze", [U.shape_of(x, axis, axis + 1), _i64([0])], shapes=[()], dtypes_=["int64"])
    negative = U.emit_like_bool("Less", index, U.const(0, "int64"))
    return emit("Where", [negative, U.add(index, size), index], shapes=[index.shape], dtypes_=["int64"])


def _contiguous(value, dim):
    """(first, count) when constant indices `value` pick one ascending run (x[:, 3] or x[:, 2:5]), else None."""
    flat = np.asarray(value).reshape(-1)
    if dim is None or flat.size == 0:
        return None
    flat = np.where(flat < 0, flat + dim, flat)
    if np.array_equal(flat, np.arange(flat[0], flat[0] + flat.size)):
        return int(flat[0]), int(flat.size)
    return None


@register_gradient("Gather")
def gather(node, grads):
    x, index = node.inputs
    g = grads[0]
    axis = U.norm_axis(int(U.attr(node, "axis", 0)), x.ndim)
    value = U.const_value(index)
    run = _contiguous(value, x.shape[axis]) if value is not None and value.ndim <= 1 else None
    if run is not None:
        # A constant index or index run: the gradient is g zero-padded back to x (Unsqueeze + Pad).
        if value.ndim == 0:
            g = emit("Unsqueeze", [g, _i64([axis])], shapes=[x.shape[:axis] + (1,) + x.shape[axis + 1:]],
                     dtypes_=[g.dtype])
        first, count = run
        pads = [0] * (2 * x.ndim)
        pads[axis], pads[x.ndim + axis] = first, x.shape[axis] - first - count
        out = g if not any(pads) else emit("Pad", [g, _i64(pads)], {"mode": "constant"}, shapes=[x.shape],
                                            dtypes_=[x.dtype])
        return [out, None]
    idx = _normalized(index, x, axis)
    if axis == 0:
        # ScatterND(zeros, ids[..., None], g, add): g is ids.shape + x.shape[1:]. (Measured 3-25x
        # faster than ScatterElements with expanded indices, and far faster than OneHot @ g.)
        nd = emit("Unsqueeze", [idx, _i64([idx.ndim])], shapes=[idx.shape + (1,)], dtypes_=["int64"])
        out = emit("ScatterND", [U.zeros_like(x), nd, g], {"reduction": "add"}, shapes=[x.shape], dtypes_=[x.dtype])
        return [out, None]
    # Other axes: move the gathered axis first, scatter there with ScatterND, move it back.
    q = idx.ndim
    to_front = list(range(axis, axis + q)) + list(range(axis)) + list(range(axis + q, g.ndim))
    perm_x = [axis] + list(range(axis)) + list(range(axis + 1, x.ndim))
    xt_shape = tuple(x.shape[p] for p in perm_x)
    if None in xt_shape:
        shape_t = emit("Gather", [U.shape_of(x), _i64(perm_x)], {"axis": 0}, shapes=[(x.ndim,)], dtypes_=["int64"])
    else:
        shape_t = _i64(list(xt_shape))
    zeros = U.full(shape_t, xt_shape, 0, x.dtype)
    nd = emit("Unsqueeze", [idx, _i64([q])], shapes=[idx.shape + (1,)], dtypes_=["int64"])
    scattered = emit("ScatterND", [zeros, nd, U.transpose(g, to_front)], {"reduction": "add"}, shapes=[xt_shape],
                     dtypes_=[x.dtype])
    return [U.transpose(scattered, np.argsort(perm_x)), None]


@register_gradient("GatherElements")
def gather_elements(node, grads):
    x, index = node.inputs
    axis = U.norm_axis(int(U.attr(node, "axis", 0)), x.ndim)
    # ScatterElements takes indices in [-s, s-1] as GatherElements does: no normalization needed.
    out = emit("ScatterElements", [U.zeros_like(x), index, grads[0]], {"axis": axis, "reduction": "add"},
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
