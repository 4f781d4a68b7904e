"""Shape manipulation: reshape, transpose, joining and splitting, tiling, padding."""

from __future__ import annotations

import math

import numpy as np

from onnxgraph.backend import dtypes
from onnxgraph.ops._base import (any_symbolic, as_tensor, binary_operands, constant, emit, int64s,
                                 normalize_axis, to_numpy)
from onnxgraph.ops._dispatch import keras_op

__all__ = ["reshape", "transpose", "concatenate", "stack", "expand_dims", "squeeze", "tile", "repeat",
           "broadcast_to", "split", "unstack", "moveaxis", "swapaxes", "flip", "pad", "ravel",
           "identity", "flatten_batch"]

_INT_MAX = np.iinfo(np.int64).max


@keras_op
def identity(x):
    """A new tensor equal to x (ONNX Identity)."""
    if not any_symbolic(x):
        return np.array(to_numpy(x))
    x = as_tensor(x)
    return emit("Identity", [x], shapes=[x.shape], dtypes_=[x.dtype])


@keras_op
def reshape(x, new_shape):
    """Reshape with numpy semantics; one -1 allowed. A None in `new_shape` keeps that input dim."""
    if not any_symbolic(x):
        return np.reshape(to_numpy(x), new_shape)
    x = as_tensor(x)
    new_shape = list(new_shape)
    spec = [0 if d is None else int(d) for d in new_shape]
    if any(d is None for d in new_shape):
        # None means "copy this input dim" (ONNX 0); only valid where positions line up.
        for i, d in enumerate(new_shape):
            if d is None and (i >= x.ndim):
                raise ValueError(f"reshape: None at position {i} has no input dim to copy.")
    out = [x.shape[i] if d is None else d for i, d in enumerate(new_shape)]
    if -1 in out:
        # Dims copied from the input (None in new_shape) cancel out of the element count.
        copied = {i for i, d in enumerate(new_shape) if d is None}
        rest_in = [d for i, d in enumerate(x.shape) if i not in copied]
        known = [d for i, d in enumerate(new_shape) if i not in copied and d != -1]
        total = math.prod(rest_in) if None not in rest_in else None
        out[out.index(-1)] = total // math.prod(known) if (total is not None and math.prod(known)) else None
    elif None not in x.shape and None not in out and math.prod(out) != math.prod(x.shape):
        raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} into {tuple(new_shape)}.")
    return emit("Reshape", [x, int64s(spec)], shapes=[tuple(out)], dtypes_=[x.dtype])


@keras_op
def flatten_batch(x):
    """(batch, d1, d2, ...) -> (batch, d1*d2*...) (ONNX Flatten axis=1)."""
    if not any_symbolic(x):
        x = np.asarray(to_numpy(x))
        return x.reshape(x.shape[0], -1)
    x = as_tensor(x)
    rest = x.shape[1:]
    size = math.prod(rest) if None not in rest else None
    return emit("Flatten", [x], {"axis": 1}, shapes=[(x.shape[0], size)], dtypes_=[x.dtype])


@keras_op
def transpose(x, axes=None):
    """Permute dimensions (ONNX Transpose); axes=None reverses them."""
    if not any_symbolic(x):
        return np.transpose(to_numpy(x), axes)
    x = as_tensor(x)
    perm = list(reversed(range(x.ndim))) if axes is None else [normalize_axis(a, x.ndim, "transpose") for a in axes]
    if sorted(perm) != list(range(x.ndim)):
        raise ValueError(f"transpose: axes {axes} is not a permutation of {x.ndim} dimensions.")
    return emit("Transpose", [x], {"perm": perm}, shapes=[tuple(x.shape[p] for p in perm)], dtypes_=[x.dtype])


@keras_op
def concatenate(xs, axis=0):
    """Join tensors along an existing axis (ONNX Concat)."""
    if not any_symbolic(*xs):
        return np.concatenate([to_numpy(x) for x in xs], axis=axis)
    xs = [as_tensor(x) for x in xs]
    dtype = xs[0].dtype
    for x in xs[1:]:
        if x.dtype != dtype:
            _, cast_x = binary_operands(xs[0], x)
            dtype = cast_x.dtype
    from onnxgraph.ops._math import cast

    xs = [cast(x, dtype) for x in xs]
    rank = xs[0].ndim
    axis = normalize_axis(axis, rank, "concatenate")
    out = list(xs[0].shape)
    for x in xs[1:]:
        if x.ndim != rank:
            raise ValueError(f"concatenate: all inputs need rank {rank}; got shapes {[t.shape for t in xs]}.")
        for i in range(rank):
            if i == axis:
                out[i] = None if (out[i] is None or x.shape[i] is None) else out[i] + x.shape[i]
            elif out[i] is None:
                out[i] = x.shape[i]
            elif x.shape[i] is not None and x.shape[i] != out[i]:
                raise ValueError(
                    f"concatenate: inputs must match on every axis but {axis}; got shapes "
                    f"{[t.shape for t in xs]}."
                )
    return emit("Concat", xs, {"axis": axis}, shapes=[tuple(out)], dtypes_=[dtype])


@keras_op
def squeeze(x, axis=None):
    """Remove length-1 axes (ONNX Squeeze)."""
    if not any_symbolic(x):
        return np.squeeze(to_numpy(x), axis)
    x = as_tensor(x)
    if axis is None:
        axes = [i for i, d in enumerate(x.shape) if d == 1]
    else:
        axes = sorted(normalize_axis(a, x.ndim, "squeeze") for a in ([axis] if isinstance(axis, int) else axis))
    for a in axes:
        if x.shape[a] not in (1, None):
            raise ValueError(f"squeeze: axis {a} of shape {x.shape} has length {x.shape[a]}, not 1.")
    shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
    return emit("Squeeze", [x, int64s(axes)], shapes=[shape], dtypes_=[x.dtype])


@keras_op
def stack(xs, axis=0):
    """Join tensors along a new axis (Unsqueeze each + Concat)."""
    if not any_symbolic(*xs):
        return np.stack([to_numpy(x) for x in xs], axis=axis)
    xs = [as_tensor(x) for x in xs]
    axis = normalize_axis(axis, xs[0].ndim + 1, "stack")
    return concatenate([expand_dims(x, axis) for x in xs], axis=axis)


@keras_op
def expand_dims(x, axis):
    """Insert length-1 axes at `axis` (an int or a tuple) (ONNX Unsqueeze)."""
    if not any_symbolic(x):
        return np.expand_dims(to_numpy(x), axis)
    x = as_tensor(x)
    axes = [axis] if isinstance(axis, (int, np.integer)) else list(axis)
    rank = x.ndim + len(axes)
    axes = sorted(normalize_axis(int(a), rank, "expand_dims") for a in axes)
    dims = iter(x.shape)
    shape = tuple(1 if i in axes else next(dims) for i in range(rank))
    return emit("Unsqueeze", [x, int64s(axes)], shapes=[shape], dtypes_=[x.dtype])


@keras_op
def tile(x, repeats):
    """Repeat the whole tensor along each axis, numpy rules for len(repeats) != ndim (ONNX Tile)."""
    if not any_symbolic(x):
        return np.tile(to_numpy(x), repeats)
    x = as_tensor(x)
    repeats = [int(repeats)] if isinstance(repeats, (int, np.integer)) else [int(r) for r in repeats]
    if len(repeats) > x.ndim:
        x = expand_dims(x, tuple(range(len(repeats) - x.ndim)))
    repeats = [1] * (x.ndim - len(repeats)) + repeats
    shape = tuple(None if d is None else d * r for d, r in zip(x.shape, repeats))
    return emit("Tile", [x, int64s(repeats)], shapes=[shape], dtypes_=[x.dtype])


@keras_op
def repeat(x, repeats, axis=None):
    """Repeat each element `repeats` times along `axis` (None: of the flattened tensor).

    An int `repeats` is Unsqueeze + Tile + Reshape; a list (one count per element) is a Gather
    with constant indices and needs the axis length to be known.
    """
    if not any_symbolic(x):
        return np.repeat(to_numpy(x), repeats, axis=axis)
    x = as_tensor(x)
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    axis = normalize_axis(axis, x.ndim, "repeat")
    if not isinstance(repeats, (int, np.integer)):
        counts = np.asarray(repeats, dtype=np.int64)
        if x.shape[axis] is None:
            raise ValueError(f"repeat: per-element repeats need a known length on axis {axis}; got {x.shape}.")
        index = np.repeat(np.arange(x.shape[axis], dtype=np.int64), counts)
        shape = tuple(len(index) if i == axis else d for i, d in enumerate(x.shape))
        return emit("Gather", [x, int64s(index)], {"axis": axis}, shapes=[shape], dtypes_=[x.dtype])
    r = int(repeats)
    tiled = tile(expand_dims(x, axis + 1), [1] * (axis + 1) + [r] + [1] * (x.ndim - axis - 1))
    merged = None if x.shape[axis] is None else x.shape[axis] * r
    # Reshape: 0 copies the leading dims, -1 takes the merged axis; the trailing dims must be known.
    after = x.shape[axis + 1:]
    if None in after:
        raise ValueError(f"repeat: dims after axis {axis} must be known to merge repeats; got {x.shape}.")
    spec = [0] * axis + [-1] + list(after)
    shape = x.shape[:axis] + (merged,) + after
    return emit("Reshape", [tiled, int64s(spec)], shapes=[shape], dtypes_=[x.dtype])


@keras_op
def broadcast_to(x, shape):
    """Broadcast to `shape` with numpy rules (ONNX Expand)."""
    if not any_symbolic(x):
        return np.broadcast_to(to_numpy(x), shape)
    x = as_tensor(x)
    shape = tuple(int(d) for d in shape)
    if len(shape) < x.ndim:
        raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to the lower rank {shape}.")
    for want, have in zip(reversed(shape), reversed(x.shape)):
        if have not in (None, 1, want):
            raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to {shape}.")
    return emit("Expand", [x, int64s(shape)], shapes=[shape], dtypes_=[x.dtype])


@keras_op
def split(x, indices_or_sections, axis=0):
    """Split into equal sections (an int) or at the given indices, like numpy (ONNX Split).

    Returns:
        A list of tensors.
    """
    if not any_symbolic(x):
        return np.split(to_numpy(x), indices_or_sections, axis=axis)
    x = as_tensor(x)
    axis = normalize_axis(axis, x.ndim, "split")
    dim = x.shape[axis]
    if isinstance(indices_or_sections, (int, np.integer)):
        n = int(indices_or_sections)
        if dim is not None and dim % n:
            raise ValueError(f"split: axis {axis} of shape {x.shape} does not divide into {n} equal sections.")
        if dim is None:
            shape = tuple(None if i == axis else d for i, d in enumerate(x.shape))
            outs = emit("Split", [x], {"axis": axis, "num_outputs": n}, outputs=n,
                        shapes=[shape] * n, dtypes_=[x.dtype] * n)
            return list(outs) if n > 1 else [outs]
        sizes = [dim // n] * n
    else:
        bounds = [int(i) for i in indices_or_sections]
        if dim is None:
            from onnxgraph.ops._indexing import getitem

            edges = [0, *bounds, None]
            return [getitem(x, (slice(None),) * axis + (slice(a, b),)) for a, b in zip(edges[:-1], edges[1:])]
        edges = [min(max(b, 0), dim) for b in [0, *bounds, dim]]
        sizes = [max(b - a, 0) for a, b in zip(edges[:-1], edges[1:])]
    n = len(sizes)
    shapes = [tuple(s if i == axis else d for i, d in enumerate(x.shape)) for s in sizes]
    outs = emit("Split", [x, int64s(sizes)], {"axis": axis}, outputs=n, shapes=shapes, dtypes_=[x.dtype] * n)
    return list(outs) if n > 1 else [outs]


@keras_op
def unstack(x, num=None, axis=0):
    """Split along `axis` into a list of tensors without that axis (ONNX Split + Squeeze)."""
    if not any_symbolic(x):
        x = to_numpy(x)
        return [np.take(x, i, axis=axis) for i in range(x.shape[axis])]
    x = as_tensor(x)
    axis = normalize_axis(axis, x.ndim, "unstack")
    num = x.shape[axis] if num is None else int(num)
    if num is None:
        raise ValueError(f"unstack: axis {axis} of shape {x.shape} has unknown length; pass `num=`.")
    if num == 1:
        return [squeeze(x, axis)]
    parts = emit("Split", [x], {"axis": axis, "num_outputs": num}, outputs=num,
                 shapes=[tuple(1 if i == axis else d for i, d in enumerate(x.shape))] * num,
                 dtypes_=[x.dtype] * num)
    return [squeeze(p, axis) for p in parts]


@keras_op
def moveaxis(x, source, destination):
    """Move axes to new positions, numpy rules (ONNX Transpose)."""
    if not any_symbolic(x):
        return np.moveaxis(to_numpy(x), source, destination)
    x = as_tensor(x)
    source = [source] if isinstance(source, int) else list(source)
    destination = [destination] if isinstance(destination, int) else list(destination)
    source = [normalize_axis(a, x.ndim, "moveaxis") for a in source]
    destination = [normalize_axis(a, x.ndim, "moveaxis") for a in destination]
    order = [a for a in range(x.ndim) if a not in source]
    for dest, src in sorted(zip(destination, source)):
        order.insert(dest, src)
    return transpose(x, order)


@keras_op
def swapaxes(x, axis1, axis2):
    """Exchange two axes (ONNX Transpose)."""
    if not any_symbolic(x):
        return np.swapaxes(to_numpy(x), axis1, axis2)
    x = as_tensor(x)
    perm = list(range(x.ndim))
    a, b = normalize_axis(axis1, x.ndim, "swapaxes"), normalize_axis(axis2, x.ndim, "swapaxes")
    perm[a], perm[b] = perm[b], perm[a]
    return transpose(x, perm)


@keras_op
def flip(x, axis=None):
    """Reverse the order of elements along `axis` (None: all axes) (ONNX Slice, step -1)."""
    if not any_symbolic(x):
        return np.flip(to_numpy(x), axis=axis)
    x = as_tensor(x)
    axes = range(x.ndim) if axis is None else ([axis] if isinstance(axis, int) else axis)
    axes = [normalize_axis(a, x.ndim, "flip") for a in axes]
    n = len(axes)
    return emit("Slice", [x, int64s([-1] * n), int64s([-_INT_MAX] * n), int64s(axes), int64s([-1] * n)],
                shapes=[x.shape], dtypes_=[x.dtype])


_PAD_MODES = {"constant": "constant", "reflect": "reflect", "edge": "edge", "wrap": "wrap"}


@keras_op
def pad(x, pad_width, mode="constant", constant_values=None):
    """Pad with numpy's `pad_width` forms and modes constant/reflect/edge/wrap (ONNX Pad)."""
    if not any_symbolic(x):
        extra = {} if mode != "constant" else {"constant_values": constant_values or 0}
        return np.pad(to_numpy(x), pad_width, mode=mode, **extra)
    x = as_tensor(x)
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: mode {mode!r} is not available in ONNX; use one of {sorted(_PAD_MODES)}.")
    widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64).reshape(-1, 2)
                             if np.ndim(pad_width) else np.full((1, 2), pad_width, dtype=np.int64), (x.ndim, 2))
    shape = tuple(None if d is None else d + int(b + a) for d, (b, a) in zip(x.shape, widths))
    inputs = [x, int64s(np.concatenate([widths[:, 0], widths[:, 1]]))]
    if mode == "constant" and constant_values:
        inputs.append(constant(np.asarray(constant_values, dtype=dtypes.to_numpy(x.dtype))))
    return emit("Pad", inputs, {"mode": _PAD_MODES[mode]}, shapes=[shape], dtypes_=[x.dtype])


@keras_op
def ravel(x):
    """Flatten to one dimension (ONNX Reshape [-1])."""
    if not any_symbolic(x):
        return np.ravel(to_numpy(x))
    return reshape(x, (-1,))
