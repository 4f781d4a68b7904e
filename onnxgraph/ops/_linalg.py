"""Products and norms: matmul, dot, outer, tensordot, norm."""

from __future__ import annotations

import string

import numpy as np

from onnxgraph.backend import dtypes
from onnxgraph.ops._base import any_symbolic, as_tensor, binary_operands, broadcast_shapes, emit, to_numpy
from onnxgraph.ops._dispatch import keras_op
from onnxgraph.ops._einsum import einsum
from onnxgraph.ops._compare import not_equal
from onnxgraph.ops._math import absolute, cast, multiply, power, sqrt, square
from onnxgraph.ops._reduce import max as reduce_max
from onnxgraph.ops._reduce import min as reduce_min
from onnxgraph.ops._reduce import sum as reduce_sum
from onnxgraph.ops._shape import reshape, squeeze

__all__ = ["matmul", "dot", "outer", "tensordot", "norm"]


@keras_op
def matmul(x1, x2):
    """Matrix product with numpy semantics (ONNX MatMul).

    Example:
        >>> matmul(np.ones((2, 3)), np.ones((3, 4))).shape
        (2, 4)
    """
    if not any_symbolic(x1, x2):
        return np.matmul(to_numpy(x1), to_numpy(x2))
    a, b = binary_operands(x1, x2)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul: operands must have rank >= 1; use multiply for scalars.")
    if a.ndim == 1 or b.ndim == 1:
        return emit("MatMul", [a, b], dtypes_=[a.dtype])
    if a.shape[-1] is not None and b.shape[-2] is not None and a.shape[-1] != b.shape[-2]:
        raise ValueError(
            f"matmul: inner dimensions differ: x1 has shape {a.shape}, x2 has shape {b.shape} "
            f"(x1.shape[-1]={a.shape[-1]} must equal x2.shape[-2]={b.shape[-2]})."
        )
    batch = broadcast_shapes(a.shape[:-2], b.shape[:-2], "matmul")
    return emit("MatMul", [a, b], shapes=[batch + (a.shape[-2], b.shape[-1])], dtypes_=[a.dtype])


@keras_op
def dot(x1, x2):
    """numpy dot: products of scalars, inner products, matmul for 2-D, sum over last/second-to-last axes."""
    if not any_symbolic(x1, x2):
        return np.dot(to_numpy(x1), to_numpy(x2))
    a, b = as_tensor(x1), as_tensor(x2)
    if a.ndim == 0 or b.ndim == 0:
        return multiply(a, b)
    if b.ndim <= 2:
        return matmul(a, b)
    letters = iter(string.ascii_letters)
    ta = "".join(next(letters) for _ in range(a.ndim))
    tb = "".join(next(letters) for _ in range(b.ndim - 2)) + ta[-1] + next(letters)
    return einsum(f"{ta},{tb}->{ta[:-1]}{tb[:-2]}{tb[-1]}", a, b)


@keras_op
def outer(x1, x2):
    """Outer product of the flattened inputs (Reshape + broadcast Mul)."""
    if not any_symbolic(x1, x2):
        return np.outer(to_numpy(x1), to_numpy(x2))
    return multiply(reshape(x1, (-1, 1)), reshape(x2, (1, -1)))


@keras_op
def tensordot(x1, x2, axes=2):
    """Sum products over the last `axes` axes of x1 and the first of x2, or the given axis pairs (einsum)."""
    if not any_symbolic(x1, x2):
        return np.tensordot(to_numpy(x1), to_numpy(x2), axes)
    a, b = as_tensor(x1), as_tensor(x2)
    if isinstance(axes, int):
        axes_a, axes_b = list(range(a.ndim - axes, a.ndim)), list(range(axes))
    else:
        axes_a, axes_b = ([axes[0]] if isinstance(axes[0], int) else list(axes[0]),
                          [axes[1]] if isinstance(axes[1], int) else list(axes[1]))
    axes_a, axes_b = [x % a.ndim for x in axes_a], [x % b.ndim for x in axes_b]
    letters = iter(string.ascii_letters)
    ta = [next(letters) for _ in range(a.ndim)]
    tb = [next(letters) for _ in range(b.ndim)]
    for i, j in zip(axes_a, axes_b):
        tb[j] = ta[i]
    out = [c for i, c in enumerate(ta) if i not in axes_a] + [c for j, c in enumerate(tb) if j not in axes_b]
    return einsum(f"{''.join(ta)},{''.join(tb)}->{''.join(out)}", a, b)


@keras_op
def norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002 - keras.ops name
    """Vector or matrix norm with numpy's `ord` conventions (2-norm, 1, inf, -inf, 0, p, 'fro').

    Matrix norms ('fro', 1, -1, inf, -inf) apply when `axis` is a pair (or x is 2-D and axis
    is None with an explicit `ord`); spectral and nuclear norms need an SVD and are refused.
    """
    if not any_symbolic(x):
        return np.linalg.norm(to_numpy(x), ord=ord, axis=axis, keepdims=keepdims)
    x = as_tensor(x)
    if not dtypes.is_float(x.dtype):
        x = cast(x, dtypes.FLOATX)
    if axis is None:
        if ord is None:
            return sqrt(reduce_sum(square(x), None, keepdims))
        if x.ndim not in (1, 2):
            raise ValueError(f"norm: with ord={ord!r} and axis=None, x must be 1-D or 2-D; got shape {x.shape}.")
        axis = tuple(range(x.ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    if len(axes) == 1:
        return _vector_norm(x, ord, axes[0], keepdims)
    if len(axes) != 2:
        raise ValueError(f"norm: axis must be an int or a pair of ints, got {axis!r}.")
    return _matrix_norm(x, ord, axes, keepdims)


def _vector_norm(x, ord, axis, keepdims):  # noqa: A002
    if ord is None or ord == 2:
        return sqrt(reduce_sum(square(x), axis, keepdims))
    if ord == np.inf:
        return reduce_max(absolute(x), axis, keepdims)
    if ord == -np.inf:
        return reduce_min(absolute(x), axis, keepdims)
    if ord == 0:
        return reduce_sum(cast(not_equal(x, 0), x.dtype), axis, keepdims)
    if ord == 1:
        return reduce_sum(absolute(x), axis, keepdims)
    if isinstance(ord, str):
        raise ValueError(f"norm: ord={ord!r} is a matrix norm; give a pair of axes.")
    return power(reduce_sum(power(absolute(x), float(ord)), axis, keepdims), 1.0 / float(ord))


def _matrix_norm(x, ord, axes, keepdims):  # noqa: A002
    row, col = (a % x.ndim for a in axes)
    if ord in (None, "fro"):
        return sqrt(reduce_sum(square(x), (row, col), keepdims))
    if ord in (1, -1, np.inf, -np.inf):
        # 1-norms sum over rows, then take the max (or min) over columns; inf-norms the reverse.
        summed_axis, extreme_axis = (row, col) if ord in (1, -1) else (col, row)
        sums = reduce_sum(absolute(x), summed_axis, keepdims=True)
        pick = reduce_max if ord in (1, np.inf) else reduce_min
        result = pick(sums, extreme_axis, keepdims=True)
        return result if keepdims else squeeze(result, (row, col))
    raise ValueError(f"norm: matrix ord={ord!r} needs singular values, which ONNX has no op for; "
                     "use 'fro', 1, -1, inf or -inf.")
