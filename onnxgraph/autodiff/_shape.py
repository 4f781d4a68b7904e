"""Gradients of shape and layout ops: Reshape, Flatten, (Un)Squeeze, Transpose, Expand, Tile,
Concat, Split, Slice, Pad, Trilu.

Slice with steps of +-1 and constant Pad are undone by one Pad (negative pads crop); other steps
and the edge/reflect/wrap pads are index maps along an axis, undone by scatter-adding the
gradient to the source positions (`scatter_add_axis`).
"""

from __future__ import annotations

import numpy as np

from onnxgraph.autodiff import _util as U
from onnxgraph.autodiff._elementwise import wants
from onnxgraph.autodiff._registry import register_gradient
from onnxgraph.backend.emit import constant, emit

__all__ = ["scatter_add_axis"]


def _i64(values):
    return constant(np.asarray(values, np.int64).reshape(-1))


def _rest(node):
    return [None] * (len(node.inputs) - 1)


@register_gradient("Reshape", "Flatten", "Squeeze", "Unsqueeze")
def reshape(node, grads):
    return [U.reshape_like(grads[0], node.inputs[0]), *_rest(node)]


@register_gradient("Transpose")
def transpose(node, grads):
    x = node.inputs[0]
    perm = node.attrs.get("perm") or list(reversed(range(x.ndim)))
    return [U.transpose(grads[0], np.argsort(perm))]


@register_gradient("Expand")
def expand(node, grads):
    return [U.unbroadcast(grads[0], node.inputs[0]), None]


@register_gradient("Trilu")
def trilu(node, grads):
    # A fixed 0/1 mask: the gradient is masked the same way.
    x = node.inputs[0]
    out = emit("Trilu", [grads[0], *node.inputs[1:]], dict(node.attrs), shapes=[x.shape], dtypes_=[x.dtype])
    return [out, *_rest(node)]


@register_gradient("Tile")
def tile(node, grads):
    # g: [r0*d0, r1*d1, ...] -> [r0, d0, r1, d1, ...] -> sum over the r axes.
    x, g = node.inputs[0], grads[0]
    repeats = U.const_value(node.inputs[1])
    rank = x.ndim
    if repeats is not None and None not in x.shape:
        target = _i64([v for pair in zip(repeats.reshape(-1), x.shape) for v in pair])
    else:
        pair = [emit("Unsqueeze", [t, _i64([1])], shapes=[(rank, 1)], dtypes_=["int64"])
                for t in (node.inputs[1], U.shape_of(x))]
        stacked = emit("Concat", pair, {"axis": 1}, shapes=[(rank, 2)], dtypes_=["int64"])
        target = emit("Reshape", [stacked, _i64([-1])], shapes=[(2 * rank,)], dtypes_=["int64"])
    split_shape = tuple(d for dim in x.shape for d in (None, dim))
    if repeats is not None:
        split_shape = tuple(v for r, dim in zip(repeats.reshape(-1), x.shape) for v in (int(r), dim))
    parts = U.reshape(g, target, split_shape)
    return [U.reduce_sum(parts, range(0, 2 * rank, 2), keepdims=False), None]


def _sizes(xs, axis):
    if all(x.shape[axis] is not None for x in xs):
        return _i64([x.shape[axis] for x in xs])
    dims = [U.shape_of(x, axis, axis + 1) if x.shape[axis] is None else _i64([x.shape[axis]]) for x in xs]
    return emit("Concat", dims, {"axis": 0}, shapes=[(len(xs),)], dtypes_=["int64"])


@register_gradient("Concat")
def concat(node, grads):
    xs, g = node.inputs, grads[0]
    if len(xs) == 1:
        return [g]
    axis = U.norm_axis(int(U.attr(node, "axis")), g.ndim)
    parts = emit("Split", [g, _sizes(xs, axis)], {"axis": axis}, outputs=len(xs),
                 shapes=[x.shape for x in xs], dtypes_=[g.dtype] * len(xs))
    return [p if wants(x) else None for p, x in zip(parts, xs)]


@register_gradient("Split")
def split(node, grads):
    x = node.inputs[0]
    axis = U.norm_axis(int(U.attr(node, "axis", 0)), x.ndim)
    # An output nobody differentiates contributes zeros of its (runtime) shape.
    parts = [g if g is not None else U.zeros_like(y) for g, y in zip(grads, node.outputs)]
    out = parts[0] if len(parts) == 1 else emit("Concat", parts, {"axis": axis}, shapes=[x.shape], dtypes_=[x.dtype])
    return [out, *_rest(node)]


def scatter_add_axis(g, index, axis: int, zeros, n_index=None):
    """Gradient of ``Gather(x, index, axis)`` for a 1-D int64 `index`: `g` scatter-added into `zeros`
    (x's shape); `g` has x's shape except `len(index)` (`n_index`, None if unknown) along `axis`.
    """
    shape = [1] * g.ndim
    shape[axis] = -1
    view = tuple(n_index if i == axis else 1 for i in range(g.ndim))
    idx = emit("Reshape", [index, _i64(shape)], shapes=[view], dtypes_=["int64"])
    idx = emit("Expand", [idx, U.shape_of(g)], shapes=[g.shape], dtypes_=["int64"])
    return emit("ScatterElements", [zeros, idx, g], {"axis": axis, "reduction": "add"},
                shapes=[zeros.shape], dtypes_=[g.dtype])


def zeros_with_dim(out, axis: int, x):
    """Zeros shaped like `out` except `x`'s size along `axis`."""
    shape = tuple(x.shape[axis] if i == axis else d for i, d in enumerate(out.shape))
    if None not in shape:
        return U.full(_i64(list(shape)), shape, 0, x.dtype)
    parts = [U.shape_of(out, 0, axis) if axis else None, U.shape_of(x, axis, axis + 1),
             U.shape_of(out, axis + 1) if axis + 1 < out.ndim else None]
    parts = [p for p in parts if p is not None]
    runtime = parts[0] if len(parts) == 1 else emit("Concat", parts, {"axis": 0}, shapes=[(out.ndim,)],
                                                    dtypes_=["int64"])
    return U.full(runtime, shape, 0, x.dtype)


def _slice_params(node):
    x = node.inputs[0]
    values = [U.const_value(t) if t is not None else None for t in node.inputs[1:5]]
    values += [None] * (4 - len(values))
    starts, ends, axes, steps = values
    n = None if starts is None else starts.size
    if axes is None and len(node.inputs) > 3 and node.inputs[3] is not None:
        return None  # runtime axes
    if axes is None:
        axes = np.arange(n if n is not None else x.ndim)
    if steps is None and len(node.inputs) > 4 and node.inputs[4] is not None:
        return None  # runtime steps
    if steps is None:
        steps = np.ones(len(axes), np.int64)
    return starts, ends, [U.norm_axis(int(a), x.ndim) for a in axes.reshape(-1)], steps.reshape(-1)


def _runtime_slice_index(node, x, k: int, axis: int):
    """The indices Slice picks along `axis` (k-th slice entry), computed by slicing a Range."""
    dim = U.shape_of(x, axis, axis + 1) if x.shape[axis] is None else _i64([x.shape[axis]])
    dim0 = emit("Squeeze", [dim], shapes=[()], dtypes_=["int64"])
    rng = emit("Range", [U.const(0, "int64"), dim0, U.const(1, "int64")], shapes=[(None,)], dtypes_=["int64"])
    pick = [emit("Slice", [t, _i64([k]), _i64([k + 1])], shapes=[(1,)], dtypes_=["int64"]) for t in node.inputs[1:3]]
    step = _i64([1]) if len(node.inputs) < 5 or node.inputs[4] is None else emit(
        "Slice", [node.inputs[4], _i64([k]), _i64([k + 1])], shapes=[(1,)], dtypes_=["int64"])
    return emit("Slice", [rng, pick[0], pick[1], _i64([0]), step], shapes=[(None,)], dtypes_=["int64"])


@register_gradient("Slice")
def slice_(node, grads):
    x, g = node.inputs[0], grads[0]
    params = _slice_params(node)
    if params is None:
        raise NotImplementedError(f"Slice gradient at {'/'.join(node.scope)}: axes and steps must be constants.")
    starts, ends, axes, steps = params
    static = starts is not None and ends is not None and all(x.shape[a] is not None for a in axes)
    if static:
        ranges = [range(*slice(int(s), int(e), int(t)).indices(x.shape[a]))
                  for s, e, a, t in zip(starts.reshape(-1), ends.reshape(-1), axes, steps)]
        if any(len(r) == 0 for r in ranges):
            return [U.zeros_like(x), *_rest(node)]
        # Dense ops only: reverse the negative-step axes of g (one Slice), spread each strided axis
        # (Unsqueeze, Pad with step-1 zeros, Reshape), then zero-pad back to x (one Pad).
        flipped = [a for r, a in zip(ranges, axes) if r.step < 0]
        if flipped:
            n = len(flipped)
            g = emit("Slice", [g, _i64([-1] * n), _i64([-(2 ** 63)] * n), _i64(flipped), _i64([-1] * n)],
                     shapes=[g.shape], dtypes_=[g.dtype])
        pads = [0] * (2 * x.ndim)
        for r, a in zip(ranges, axes):
            stride = abs(r.step)
            if stride > 1:
                g = _spread(g, a, stride)
            low = min(r[0], r[-1])
            pads[a], pads[x.ndim + a] = low, x.shape[a] - low - len(r) * stride
        out = _pad_zeros(g, pads, x)
        return [out if out.shape == x.shape else emit("Identity", [out], shapes=[x.shape], dtypes_=[x.dtype]),
                *_rest(node)]
    out = g
    for k in reversed(range(len(axes))):  # undo one axis at a time, last applied first
        axis = axes[k]
        if static:
            index, n = _i64(list(ranges[k])), len(ranges[k])
        else:
            index, n = _runtime_slice_index(node, x, k, axis), out.shape[axis]
        out = scatter_add_axis(out, index, axis, zeros_with_dim(out, axis, x), n)
    if out.shape != x.shape:
        out = emit("Identity", [out], shapes=[x.shape], dtypes_=[x.dtype])
    return [out, *_rest(node)]


def _spread(g, axis: int, stride: int):
    """Insert stride-1 zeros after each element of `g` along `axis` (length n -> n * stride)."""
    rank = g.ndim
    wide = g.shape[:axis + 1] + (1,) + g.shape[axis + 1:]
    g = emit("Unsqueeze", [g, _i64([axis + 1])], shapes=[wide], dtypes_=[g.dtype])
    pads = [0] * (2 * (rank + 1))
    pads[rank + 1 + axis + 1] = stride - 1
    wide = wide[:axis + 1] + (stride,) + wide[axis + 2:]
    g = emit("Pad", [g, _i64(pads)], {"mode": "constant"}, shapes=[wide], dtypes_=[g.dtype])
    n = wide[axis]
    out_shape = wide[:axis] + (None if n is None else n * stride,) + wide[axis + 2:]
    later = wide[axis + 2:]
    if None in later:
        target = emit("Concat", [_i64([0] * axis + [-1]), U.shape_of(g, axis + 2)], {"axis": 0},
                      shapes=[(rank,)], dtypes_=["int64"])
    else:
        target = _i64([0] * axis + [-1] + list(later))
    return emit("Reshape", [g, target], shapes=[out_shape], dtypes_=[g.dtype])


def _pad_zeros(g, pads, like_):
    """Pad `g` with zeros by `pads` (ONNX order); negative entries crop."""
    if not any(pads):
        return g
    return emit("Pad", [g, _i64(pads)], {"mode": "constant"}, shapes=[like_.shape], dtypes_=[g.dtype])


def _pad_index(mode: str, before: int, after: int, n, x, axis):
    """Source index of each padded position along one axis (1-D int64): constant when `n` is known."""
    if n is not None:
        i = np.arange(-before, n + after)
        if mode == "edge":
            i = np.clip(i, 0, n - 1)
        elif mode == "reflect":
            i = (n - 1) - np.abs((n - 1) - np.abs(i))
        else:  # wrap
            i = np.mod(i, n)
        return _i64(i), len(i)
    dim = emit("Squeeze", [U.shape_of(x, axis, axis + 1)], shapes=[()], dtypes_=["int64"])
    last = U.sub(dim, U.const(1, "int64"))
    stop = U.add(dim, U.const(after, "int64"))
    i = emit("Range", [U.const(-before, "int64"), stop, U.const(1, "int64")], shapes=[(None,)], dtypes_=["int64"])
    if mode == "edge":
        i = emit("Clip", [i, U.const(0, "int64"), last], shapes=[(None,)], dtypes_=["int64"])
    elif mode == "reflect":
        i = U.sub(last, U.like("Abs", U.sub(last, U.like("Abs", i))))
    else:
        i = emit("Mod", [i, dim], {"fmod": 0}, shapes=[(None,)], dtypes_=["int64"])
    return i, None


@register_gradient("Pad")
def pad(node, grads):
    x, g = node.inputs[0], grads[0]
    pads_t = node.inputs[1]
    value = node.inputs[2] if len(node.inputs) > 2 else None
    axes_t = node.inputs[3] if len(node.inputs) > 3 else None
    mode = U.attr(node, "mode", "constant")
    pads = U.const_value(pads_t)
    axes = U.const_value(axes_t) if axes_t is not None else np.arange(x.ndim)
    if mode == "constant":
        if pads is not None:
            neg = _i64(-pads.reshape(-1))
        else:
            neg = U.like("Neg", pads_t)
        inputs = [g, neg] + ([None, axes_t] if axes_t is not None else [])
        gx = emit("Pad", inputs, {"mode": "constant"}, shapes=[x.shape], dtypes_=[x.dtype])
        gv = None
        if wants(value):  # the pad value fills the positions that do not come from x
            outside = U.sub(U.reduce_sum(g, range(g.ndim), False), U.reduce_sum(gx, range(x.ndim), False))
            gv = U.reshape_like(outside, value)
        return [gx, None, gv, None][:len(node.inputs)]
    if pads is None or axes is None:
        raise NotImplementedError(f"Pad ({mode}) gradient at {'/'.join(node.scope)}: pads and axes must be constants.")
    pads = pads.reshape(-1)
    axes = [U.norm_axis(int(a), x.ndim) for a in np.asarray(axes).reshape(-1)]
    out = g
    for k, axis in enumerate(axes):
        before, after = int(pads[k]), int(pads[k + len(axes)])
        if before == 0 and after == 0:
            continue
        index, n = _pad_index(mode, before, after, x.shape[axis], x, axis)
        out = scatter_add_axis(out, index, axis, zeros_with_dim(out, axis, x), out.shape[axis])
    if out.shape != x.shape:
        out = emit("Identity", [out], shapes=[x.shape], dtypes_=[x.dtype])
    return [out, *_rest(node)]
