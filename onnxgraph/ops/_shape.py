"""Shape manipulation: reshape, transpose, concatenate, stack, squeeze, slicing, tiling."""

from __future__ import annotations

import math

import numpy as np

from onnxgraph.ops._base import any_symbolic, as_tensor, binary_operands, emit, int64s, normalize_axis, to_numpy

__all__ = ["reshape", "transpose", "concatenate", "stack", "expand_dims", "squeeze", "getitem",
           "tile", "identity", "flatten_batch", "zeros", "ones"]

_INT_MAX = np.iinfo(np.int64).max


def identity(x):
    """A new tensor equal to x (ONNX Identity)."""
    if not any_symbolic(x):
        return np.array(to_numpy(x))
    x = as_tensor(x)
    return emit("Identity", [x], shapes=[x.shape], dtypes_=[x.dtype])


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


def flatten_batch(x):
    """(batch, d1, d2, ...) -> (batch, d1*d2*...) (ONNX Flatten axis=1)."""
    x = as_tensor(x)
    rest = x.shape[1:]
    size = math.prod(rest) if None not in rest else None
    return emit("Flatten", [x], {"axis": 1}, shapes=[(x.shape[0], size)], dtypes_=[x.dtype])


def transpose(x, axes=None):
    """Permute dimensions (ONNX Transpose); axes=None reverses them."""
    if not any_symbolic(x):
        return np.transpose(to_numpy(x), axes)
    x = as_tensor(x)
    perm = list(reversed(range(x.ndim))) if axes is None else [normalize_axis(a, x.ndim, "transpose") for a in axes]
    if sorted(perm) != list(range(x.ndim)):
        raise ValueError(f"transpose: axes {axes} is not a permutation of {x.ndim} dimensions.")
    return emit("Transpose", [x], {"perm": perm}, shapes=[tuple(x.shape[p] for p in perm)], dtypes_=[x.dtype])


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


def expand_dims(x, axis):
    """Insert a length-1 axis (ONNX Unsqueeze)."""
    if not any_symbolic(x):
        return np.expand_dims(to_numpy(x), axis)
    x = as_tensor(x)
    axis = normalize_axis(axis, x.ndim + 1, "expand_dims")
    shape = x.shape[:axis] + (1,) + x.shape[axis:]
    return emit("Unsqueeze", [x, int64s([axis])], shapes=[shape], dtypes_=[x.dtype])


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


def stack(xs, axis=0):
    """Join tensors along a new axis (Unsqueeze each + Concat)."""
    if not any_symbolic(*xs):
        return np.stack([to_numpy(x) for x in xs], axis=axis)
    xs = [as_tensor(x) for x in xs]
    axis = normalize_axis(axis, xs[0].ndim + 1, "stack")
    return concatenate([expand_dims(x, axis) for x in xs], axis=axis)


def tile(x, repeats):
    """Repeat the whole tensor along each axis (ONNX Tile)."""
    if not any_symbolic(x):
        return np.tile(to_numpy(x), repeats)
    x = as_tensor(x)
    repeats = list(repeats)
    if len(repeats) != x.ndim:
        raise ValueError(f"tile: need one repeat per axis ({x.ndim}), got {repeats}.")
    shape = tuple(None if d is None else d * r for d, r in zip(x.shape, repeats))
    return emit("Tile", [x, int64s(repeats)], shapes=[shape], dtypes_=[x.dtype])


def zeros(shape, dtype="float32"):
    """A constant array of zeros (numpy; becomes an initializer when used in a graph)."""
    _check_static(shape, "zeros")
    return np.zeros(shape, dtype=dtype)


def ones(shape, dtype="float32"):
    """A constant array of ones (numpy; becomes an initializer when used in a graph)."""
    _check_static(shape, "ones")
    return np.ones(shape, dtype=dtype)


def _check_static(shape, op):
    if any(d is None for d in shape):
        raise ValueError(
            f"{op}: shape {tuple(shape)} has an unknown dimension. Give the Input a static "
            "`batch_shape=` (as in the guide's CustomRNN), or use zeros_like on a tensor."
        )


def getitem(x, key):
    """numpy basic indexing: ints, slices (any step), None and Ellipsis (ONNX Slice/Squeeze/Unsqueeze)."""
    if not any_symbolic(x):
        return to_numpy(x)[key]
    x = as_tensor(x)
    key = key if isinstance(key, tuple) else (key,)
    if any(isinstance(k, (list, np.ndarray)) or any_symbolic(k) for k in key):
        raise TypeError("getitem: tensor/array indices need ops.take; basic indexing only here.")
    n_real = sum(1 for k in key if k is not None and k is not Ellipsis)
    if n_real > x.ndim:
        raise IndexError(f"getitem: too many indices ({n_real}) for a tensor of rank {x.ndim}.")
    if Ellipsis in key:
        i = key.index(Ellipsis)
        key = key[:i] + (slice(None),) * (x.ndim - n_real) + key[i + 1:]
    key = key + (slice(None),) * (x.ndim - sum(1 for k in key if k is not None))
    starts, ends, axes, steps, squeeze_axes, new_axes = [], [], [], [], [], []
    shape, axis, out_pos = [], 0, 0
    for k in key:
        if k is None:
            new_axes.append(out_pos)
            out_pos += 1
            continue
        dim = x.shape[axis]
        if isinstance(k, (int, np.integer)):
            k = int(k)
            if dim is not None and not -dim <= k < dim:
                raise IndexError(f"getitem: index {k} is out of bounds for axis {axis} with size {dim}.")
            starts.append(k)
            ends.append(_INT_MAX if k == -1 else k + 1)
            axes.append(axis)
            steps.append(1)
            squeeze_axes.append(axis)
        elif isinstance(k, slice):
            if k != slice(None):
                step = 1 if k.step is None else int(k.step)
                if step == 0:
                    raise ValueError("getitem: slice step cannot be zero.")
                default_start, default_end = (0, _INT_MAX) if step > 0 else (-1, -_INT_MAX)
                starts.append(default_start if k.start is None else int(k.start))
                ends.append(default_end if k.stop is None else int(k.stop))
                axes.append(axis)
                steps.append(step)
                dim = None if dim is None else len(range(*k.indices(dim)))
            shape.append(dim)
            out_pos += 1
        else:
            raise TypeError(f"getitem: unsupported index {k!r}.")
        axis += 1
    y = x
    if axes:
        sliced = [x.shape[a] for a in range(x.ndim)]
        for a, s, e, st in zip(axes, starts, ends, steps):
            if a in squeeze_axes:
                sliced[a] = 1
            elif sliced[a] is not None:
                sliced[a] = len(range(*slice(s, e, st).indices(sliced[a])))
        y = emit("Slice", [x, int64s(starts), int64s(ends), int64s(axes), int64s(steps)],
                 shapes=[tuple(sliced)], dtypes_=[x.dtype])
    if squeeze_axes:
        y = emit("Squeeze", [y, int64s(squeeze_axes)],
                 shapes=[tuple(d for i, d in enumerate(y.shape) if i not in squeeze_axes)], dtypes_=[x.dtype])
    for pos in new_axes:
        y = expand_dims(y, pos)
    return y
