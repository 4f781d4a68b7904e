"""Reductions, arg-reductions, cumulative sums and sorting."""

from __future__ import annotations

import numpy as np

from onnxgraph.backend import dtypes
from onnxgraph.ops._base import any_symbolic, as_tensor, emit, int64s, keras_float, normalize_axis, to_numpy
from onnxgraph.ops._dispatch import keras_op
from onnxgraph.ops._compare import not_equal
from onnxgraph.ops._math import cast, sqrt, square, subtract

__all__ = ["sum", "mean", "max", "min", "prod", "any", "all", "argmax", "argmin", "var", "std",
           "logsumexp", "cumsum", "sort", "argsort", "top_k"]


def _axes(x, axis, op: str) -> list[int]:
    if axis is None:
        return list(range(x.ndim))
    axes = [axis] if isinstance(axis, (int, np.integer)) else list(axis)
    return sorted({normalize_axis(int(a), x.ndim, op) for a in axes})


def _reduced_shape(shape, axes, keepdims) -> tuple:
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _np_axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


def _reduce(onnx_op: str, np_fn, x, axis, keepdims: bool):
    if not any_symbolic(x):
        return np_fn(to_numpy(x), axis=_np_axis(axis), keepdims=keepdims)
    x = as_tensor(x)
    axes = _axes(x, axis, onnx_op)
    return emit(onnx_op, [x, int64s(axes)], {"keepdims": int(keepdims)},
                shapes=[_reduced_shape(x.shape, axes, keepdims)], dtypes_=[x.dtype])


@keras_op
def sum(x, axis=None, keepdims=False):  # noqa: A001 - keras.ops name
    """Sum over `axis` (an int, a tuple or None for all) (ONNX ReduceSum).

    Example:
        >>> sum(np.ones((2, 3)), axis=1)
        array([3., 3.])
    """
    return _reduce("ReduceSum", np.sum, x, axis, keepdims)


@keras_op
def mean(x, axis=None, keepdims=False):
    """Mean over `axis` (ONNX ReduceMean); integer inputs give float32 like Keras."""
    if not any_symbolic(x):
        x = to_numpy(x)
        return keras_float(np.mean(x, axis=_np_axis(axis), keepdims=keepdims), x)
    if not dtypes.is_float(as_tensor(x).dtype):
        x = cast(x, dtypes.FLOATX)
    return _reduce("ReduceMean", np.mean, x, axis, keepdims)


@keras_op
def max(x, axis=None, keepdims=False, initial=None):  # noqa: A001 - keras.ops name
    """Maximum over `axis` (ONNX ReduceMax)."""
    if initial is not None:
        from onnxgraph.ops._math import maximum

        return maximum(max(x, axis, keepdims), initial)
    return _reduce("ReduceMax", np.max, x, axis, keepdims)


@keras_op
def min(x, axis=None, keepdims=False, initial=None):  # noqa: A001 - keras.ops name
    """Minimum over `axis` (ONNX ReduceMin)."""
    if initial is not None:
        from onnxgraph.ops._math import minimum

        return minimum(min(x, axis, keepdims), initial)
    return _reduce("ReduceMin", np.min, x, axis, keepdims)


@keras_op
def prod(x, axis=None, keepdims=False, dtype=None):
    """Product over `axis` (ONNX ReduceProd)."""
    if dtype is not None:
        x = cast(x, dtype)
    return _reduce("ReduceProd", np.prod, x, axis, keepdims)


def _bool_reduce(onnx_op: str, np_fn, x, axis, keepdims):
    if not any_symbolic(x):
        return np_fn(to_numpy(x), axis=_np_axis(axis), keepdims=keepdims)
    # ReduceMax/Min on bool needs opset 20 kernels that not every runtime has: reduce 0/1 ints.
    flags = cast(not_equal(x, 0) if as_tensor(x).dtype != "bool" else x, "int32")
    return cast(_reduce(onnx_op, None, flags, axis, keepdims), "bool")


@keras_op
def any(x, axis=None, keepdims=False):  # noqa: A001 - keras.ops name
    """True where any element along `axis` is nonzero (ReduceMax on 0/1)."""
    return _bool_reduce("ReduceMax", np.any, x, axis, keepdims)


@keras_op
def all(x, axis=None, keepdims=False):  # noqa: A001 - keras.ops name
    """True where every element along `axis` is nonzero (ReduceMin on 0/1)."""
    return _bool_reduce("ReduceMin", np.all, x, axis, keepdims)


def _arg_reduce(onnx_op: str, np_fn, x, axis, keepdims):
    if not any_symbolic(x):
        return np_fn(to_numpy(x), axis=axis, keepdims=keepdims).astype(np.int32)
    x = as_tensor(x)
    if x.dtype not in ("float32", "float64", "float16", "int32", "int8", "uint8"):
        x = cast(x, "float64")  # onnxruntime's ArgMax/ArgMin kernels stop at these types
    if axis is None:
        from onnxgraph.ops._shape import reshape

        flat = reshape(x, (-1,))
        y = emit(onnx_op, [flat], {"axis": 0, "keepdims": 0}, shapes=[()], dtypes_=["int64"])
        if keepdims:
            y = reshape(y, (1,) * x.ndim)
        return cast(y, "int32")
    axis = normalize_axis(axis, x.ndim, onnx_op)
    y = emit(onnx_op, [x], {"axis": axis, "keepdims": int(keepdims)},
             shapes=[_reduced_shape(x.shape, [axis], keepdims)], dtypes_=["int64"])
    return cast(y, "int32")


@keras_op
def argmax(x, axis=None, keepdims=False):
    """Index of the first maximum along `axis` (None: of the flattened tensor), int32 (ONNX ArgMax)."""
    return _arg_reduce("ArgMax", np.argmax, x, axis, keepdims)


@keras_op
def argmin(x, axis=None, keepdims=False):
    """Index of the first minimum along `axis` (None: of the flattened tensor), int32 (ONNX ArgMin)."""
    return _arg_reduce("ArgMin", np.argmin, x, axis, keepdims)


@keras_op
def var(x, axis=None, keepdims=False):
    """Population variance over `axis`: mean((x - mean(x))**2)."""
    if not any_symbolic(x):
        x = to_numpy(x)
        return keras_float(np.var(x, axis=_np_axis(axis), keepdims=keepdims), x)
    centered = subtract(x, mean(x, axis, keepdims=True))
    return mean(square(centered), axis, keepdims)


@keras_op
def std(x, axis=None, keepdims=False):
    """Population standard deviation over `axis`: sqrt(var(x))."""
    if not any_symbolic(x):
        x = to_numpy(x)
        return keras_float(np.std(x, axis=_np_axis(axis), keepdims=keepdims), x)
    return sqrt(var(x, axis, keepdims))


@keras_op
def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) over `axis`, computed stably (ONNX ReduceLogSumExp)."""
    if not any_symbolic(x):
        x = to_numpy(x)
        m = np.max(x, axis=_np_axis(axis), keepdims=True)
        out = np.log(np.sum(np.exp(x - m), axis=_np_axis(axis), keepdims=True)) + m
        return out if keepdims else np.squeeze(out, axis=_np_axis(axis))
    return _reduce("ReduceLogSumExp", None, x, axis, keepdims)


@keras_op
def cumsum(x, axis=None, dtype=None):
    """Cumulative sum along `axis` (None: of the flattened tensor) (ONNX CumSum)."""
    if not any_symbolic(x):
        return np.cumsum(to_numpy(x), axis=axis, dtype=dtype)
    x = as_tensor(x) if dtype is None else cast(x, dtype)
    if axis is None:
        from onnxgraph.ops._shape import reshape

        x, axis = reshape(x, (-1,)), 0
    axis = normalize_axis(axis, x.ndim, "cumsum")
    return emit("CumSum", [x, int64s(axis)], shapes=[x.shape], dtypes_=[x.dtype])


def _top_k(x, k, axis: int, largest: bool):
    """ONNX TopK (sorted); `k` None means the whole axis (read from Shape when unknown)."""
    if k is None and x.shape[axis] is not None:
        k = x.shape[axis]
    if k is None:
        shape = emit("Shape", [x], {"start": axis, "end": axis + 1}, shapes=[(1,)], dtypes_=["int64"])
        k_input, size = shape, None
    else:
        k_input, size = int64s([k]), int(k)
    out_shape = tuple(size if i == axis else d for i, d in enumerate(x.shape))
    return emit("TopK", [x, k_input], {"axis": axis, "largest": int(largest), "sorted": 1}, outputs=2,
                shapes=[out_shape, out_shape], dtypes_=[x.dtype, "int64"])


@keras_op
def sort(x, axis=-1):
    """Values sorted ascending along `axis` (ONNX TopK, largest=0)."""
    if not any_symbolic(x):
        return np.sort(to_numpy(x), axis=axis)
    x = as_tensor(x)
    return _top_k(x, None, normalize_axis(axis, x.ndim, "sort"), largest=False)[0]


@keras_op
def argsort(x, axis=-1):
    """Indices that sort `x` ascending along `axis`, int32 (ONNX TopK, largest=0)."""
    if not any_symbolic(x):
        return np.argsort(to_numpy(x), axis=axis, kind="stable").astype(np.int32)
    x = as_tensor(x)
    return cast(_top_k(x, None, normalize_axis(axis, x.ndim, "argsort"), largest=False)[1], "int32")


@keras_op
def top_k(x, k, sorted=True):  # noqa: A002 - keras.ops name
    """The `k` largest values on the last axis and their int32 indices (ONNX TopK).

    Returns:
        (values, indices), both of shape x.shape[:-1] + (k,).
    """
    if not any_symbolic(x):
        x = to_numpy(x)
        order = np.argsort(-x, axis=-1, kind="stable")[..., :k]
        return np.take_along_axis(x, order, axis=-1), order.astype(np.int32)
    x = as_tensor(x)
    if x.shape[-1] is not None and k > x.shape[-1]:
        raise ValueError(f"top_k: k={k} is larger than the last dimension of shape {x.shape}.")
    values, indices = _top_k(x, int(k), x.ndim - 1, largest=True)
    return values, cast(indices, "int32")
