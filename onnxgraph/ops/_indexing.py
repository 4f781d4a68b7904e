"""Indexing: x[...] (basic and one tensor index), take, take_along_axis, one_hot, triu/tril."""

from __future__ import annotations

import numpy as np

from onnxgraph.backend import dtypes
from onnxgraph.backend.ir import SymbolicTensor
from onnxgraph.ops._base import any_symbolic, as_tensor, constant, emit, int64s, normalize_axis, to_numpy
from onnxgraph.ops._dispatch import keras_op
from onnxgraph.ops._compare import equal
from onnxgraph.ops._math import cast
from onnxgraph.ops._shape import expand_dims, reshape

__all__ = ["getitem", "take", "take_along_axis", "one_hot", "triu", "tril"]

_INT_MAX = np.iinfo(np.int64).max


def _is_advanced(k) -> bool:
    return isinstance(k, (SymbolicTensor, list, np.ndarray))


@keras_op
def getitem(x, key):
    """numpy indexing: ints, slices (any step), None, Ellipsis and one integer tensor/array index.

    Basic indexing is ONNX Slice/Squeeze/Unsqueeze; a tensor, array or list index on one
    axis is a Gather there (x[:, t] with a tensor t of indices). A constant boolean mask is
    turned into its indices.

    Example:
        >>> getitem(np.arange(6).reshape(2, 3), (slice(None), 1))
        array([1, 4])
    """
    if not any_symbolic(x, key):
        return to_numpy(x)[tuple(to_numpy(k) if _is_advanced(k) else k for k in key)
                            if isinstance(key, tuple) else (to_numpy(key) if _is_advanced(key) else key)]
    x = as_tensor(x)
    key = key if isinstance(key, tuple) else (key,)
    advanced = [i for i, k in enumerate(key) if _is_advanced(k)]
    if len(advanced) > 1:
        raise IndexError("getitem: at most one tensor/array index is supported; index one axis at a time "
                         "(x[:, i][:, :, j]) or use ops.take / ops.take_along_axis.")
    if not advanced:
        return _basic_getitem(x, key)
    position = advanced[0]
    index = key[position]
    if not isinstance(index, SymbolicTensor):
        index = np.asarray(index)
        if index.dtype == bool:
            index = np.nonzero(index)[0]
        if index.dtype.kind not in "iu":
            raise IndexError(f"getitem: array indices must be integers or booleans, got dtype {index.dtype}.")
        index = index.astype(np.int64)
    elif not dtypes.is_int(index.dtype):
        raise IndexError(f"getitem: tensor indices must be integers, got {index.dtype}; a boolean mask "
                         "has a data-dependent shape: use ops.where(mask, x, 0) instead.")
    if Ellipsis in key[:position]:
        n_real = sum(1 for k in key if k is not None and k is not Ellipsis)
        e = key.index(Ellipsis)
        key = key[:e] + (slice(None),) * (x.ndim - n_real) + key[e + 1:]
        position = next(i for i, k in enumerate(key) if _is_advanced(k))
    # Slice everything else first; the indexed axis sits where its slice(None) left it.
    y = _basic_getitem(x, key[:position] + (slice(None),) + key[position + 1:])
    out_axis = sum(1 for k in key[:position] if not isinstance(k, (int, np.integer)))
    return take(y, index, axis=out_axis)


def _basic_getitem(x, key):
    n_real = sum(1 for k in key if k is not None and k is not Ellipsis)
    if n_real > x.ndim:
        raise IndexError(f"getitem: too many indices ({n_real}) for a tensor of rank {x.ndim}.")
    if Ellipsis in key:
        i = key.index(Ellipsis)
        key = key[:i] + (slice(None),) * (x.ndim - n_real) + key[i + 1:]
    key = key + (slice(None),) * (x.ndim - sum(1 for k in key if k is not None))
    starts, ends, axes, steps, squeeze_axes, new_axes = [], [], [], [], [], []
    axis, out_pos = 0, 0
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
            out_pos += 1
        else:
            raise TypeError(f"getitem: unsupported index {k!r}.")
        axis += 1
    y = x
    if axes:
        sliced = list(x.shape)
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
    if new_axes:
        y = expand_dims(y, tuple(new_axes))
    return y


@keras_op
def take(x, indices, axis=None):
    """Elements of x at integer `indices` along `axis` (None: of the flattened x) (ONNX Gather).

    Negative indices count from the end, as in numpy.
    """
    if not any_symbolic(x, indices):
        return np.take(to_numpy(x), to_numpy(indices), axis=axis)
    x = as_tensor(x)
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    axis = normalize_axis(axis, x.ndim, "take")
    indices = as_tensor(indices) if isinstance(indices, SymbolicTensor) else int64s(np.asarray(indices))
    if not dtypes.is_int(indices.dtype):
        indices = cast(indices, "int64")
    shape = x.shape[:axis] + indices.shape + x.shape[axis + 1:]
    return emit("Gather", [x, indices], {"axis": axis}, shapes=[shape], dtypes_=[x.dtype])


@keras_op
def take_along_axis(x, indices, axis=None):
    """numpy take_along_axis: pick along `axis` with an index tensor of the same rank (ONNX GatherElements).

    Indices broadcast against x on the other axes (an Expand when their shapes differ).
    """
    if not any_symbolic(x, indices):
        return np.take_along_axis(to_numpy(x), to_numpy(indices), axis=axis)
    x = as_tensor(x)
    indices = as_tensor(indices) if isinstance(indices, SymbolicTensor) else int64s(np.asarray(indices))
    if axis is None:
        x, indices, axis = reshape(x, (-1,)), reshape(indices, (-1,)), 0
    if indices.ndim != x.ndim:
        raise ValueError(f"take_along_axis: indices need the rank of x ({x.ndim}); got shapes "
                         f"{x.shape} and {indices.shape}.")
    axis = normalize_axis(axis, x.ndim, "take_along_axis")
    if not dtypes.is_int(indices.dtype):
        indices = cast(indices, "int64")
    out = tuple(i_d if a == axis else (x_d if i_d in (1, None) and x_d is not None else i_d)
                for a, (x_d, i_d) in enumerate(zip(x.shape, indices.shape)))
    if any(i_d != x_d for a, (x_d, i_d) in enumerate(zip(x.shape, indices.shape)) if a != axis):
        # Expand to x's shape except on `axis` (1 there keeps the indices' own length).
        before = emit("Shape", [x], {"end": axis}, shapes=[(axis,)], dtypes_=["int64"])
        after = emit("Shape", [x], {"start": axis + 1}, shapes=[(x.ndim - axis - 1,)], dtypes_=["int64"])
        target = emit("Concat", [before, int64s([1]), after], {"axis": 0}, shapes=[(x.ndim,)], dtypes_=["int64"])
        indices = emit("Expand", [indices, target], shapes=[out], dtypes_=[indices.dtype])
    return emit("GatherElements", [x, indices], {"axis": axis}, shapes=[out], dtypes_=[x.dtype])


@keras_op
def one_hot(x, num_classes, axis=-1, dtype=None):
    """One-hot encode integer `x` into a new axis of length `num_classes` (Equal + Cast).

    Out-of-range and negative indices give all-zero rows, as in Keras.
    """
    dtype = dtypes.standardize(dtype)
    if not any_symbolic(x):
        x = np.asarray(to_numpy(x))
        axis_ = axis % (x.ndim + 1)
        classes = np.arange(num_classes).reshape((-1,) + (1,) * (x.ndim - axis_))
        return (np.expand_dims(x, axis_) == classes).astype(dtypes.to_numpy(dtype))
    x = as_tensor(x)
    axis = normalize_axis(axis, x.ndim + 1, "one_hot")
    classes = np.arange(num_classes, dtype=dtypes.to_numpy(x.dtype)).reshape((-1,) + (1,) * (x.ndim - axis))
    return cast(equal(expand_dims(x, axis), constant(classes)), dtype)


def _trilu(x, k: int, upper: bool):
    x = as_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"{'triu' if upper else 'tril'}: needs a tensor of rank >= 2, got shape {x.shape}.")
    return emit("Trilu", [x, int64s(int(k))], {"upper": int(upper)}, shapes=[x.shape], dtypes_=[x.dtype])


@keras_op
def triu(x, k=0):
    """Zero the elements below the k-th diagonal of the last two axes (ONNX Trilu, upper=1)."""
    if not any_symbolic(x):
        return np.triu(to_numpy(x), k)
    return _trilu(x, k, upper=True)


@keras_op
def tril(x, k=0):
    """Zero the elements above the k-th diagonal of the last two axes (ONNX Trilu, upper=0)."""
    if not any_symbolic(x):
        return np.tril(to_numpy(x), k)
    return _trilu(x, k, upper=False)
