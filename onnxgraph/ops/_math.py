"""Elementwise arithmetic, comparisons, matmul and reductions."""

from __future__ import annotations

import numpy as np

from onnxgraph.backend import dtypes
from onnxgraph.ops._base import (any_symbolic, as_tensor, binary_operands, broadcast_shapes, emit,
                                 int64s, normalize_axis, to_numpy)

__all__ = ["add", "subtract", "multiply", "divide", "power", "maximum", "minimum", "negative",
           "absolute", "abs", "exp", "log", "sqrt", "square", "sign", "less", "less_equal",
           "greater", "greater_equal", "equal", "not_equal", "matmul", "sum", "mean", "max",
           "min", "prod", "cast", "erf", "floor", "ceil", "round", "reciprocal", "rsqrt"]


def _binary(onnx_op: str, np_fn, a, b, *, boolean: bool = False):
    if not any_symbolic(a, b):
        return np_fn(to_numpy(a), to_numpy(b))
    a, b = binary_operands(a, b)
    shape = broadcast_shapes(a.shape, b.shape, onnx_op)
    return emit(onnx_op, [a, b], shapes=[shape], dtypes_=["bool" if boolean else a.dtype])


def add(a, b):
    """Elementwise a + b (ONNX Add)."""
    return _binary("Add", np.add, a, b)


def subtract(a, b):
    """Elementwise a - b (ONNX Sub)."""
    return _binary("Sub", np.subtract, a, b)


def multiply(a, b):
    """Elementwise a * b (ONNX Mul)."""
    return _binary("Mul", np.multiply, a, b)


def divide(a, b):
    """Elementwise true division (ONNX Div); integer inputs divide as float32 like Keras."""
    if not any_symbolic(a, b):
        return np.true_divide(to_numpy(a), to_numpy(b))
    a, b = binary_operands(a, b)
    if not dtypes.is_float(a.dtype):
        a, b = cast(a, "float32"), cast(b, "float32")
    return _binary("Div", np.true_divide, a, b)


def power(a, b):
    """Elementwise a ** b (ONNX Pow)."""
    return _binary("Pow", np.power, a, b)


def maximum(a, b):
    """Elementwise maximum (ONNX Max)."""
    return _binary("Max", np.maximum, a, b)


def minimum(a, b):
    """Elementwise minimum (ONNX Min)."""
    return _binary("Min", np.minimum, a, b)


def less(a, b):
    return _binary("Less", np.less, a, b, boolean=True)


def less_equal(a, b):
    return _binary("LessOrEqual", np.less_equal, a, b, boolean=True)


def greater(a, b):
    return _binary("Greater", np.greater, a, b, boolean=True)


def greater_equal(a, b):
    return _binary("GreaterOrEqual", np.greater_equal, a, b, boolean=True)


def equal(a, b):
    return _binary("Equal", np.equal, a, b, boolean=True)


def not_equal(a, b):
    if not any_symbolic(a, b):
        return np.not_equal(to_numpy(a), to_numpy(b))
    eq = equal(a, b)
    return emit("Not", [eq], shapes=[eq.shape], dtypes_=["bool"])


def _unary(onnx_op: str, np_fn, x):
    if not any_symbolic(x):
        return np_fn(to_numpy(x))
    x = as_tensor(x)
    return emit(onnx_op, [x], shapes=[x.shape], dtypes_=[x.dtype])


def negative(x):
    return _unary("Neg", np.negative, x)


def absolute(x):
    return _unary("Abs", np.abs, x)


abs = absolute  # noqa: A001 - keras.ops name


def exp(x):
    return _unary("Exp", np.exp, x)


def log(x):
    return _unary("Log", np.log, x)


def sqrt(x):
    return _unary("Sqrt", np.sqrt, x)


def sign(x):
    return _unary("Sign", np.sign, x)


def floor(x):
    return _unary("Floor", np.floor, x)


def ceil(x):
    return _unary("Ceil", np.ceil, x)


def round(x):  # noqa: A001 - keras.ops name
    return _unary("Round", np.round, x)


def reciprocal(x):
    return _unary("Reciprocal", np.reciprocal, x)


def rsqrt(x):
    return reciprocal(sqrt(x))


def erf(x):
    if not any_symbolic(x):
        from scipy.special import erf as _erf

        return _erf(to_numpy(x)).astype(np.asarray(x).dtype)
    return _unary("Erf", None, x)


def square(x):
    """x * x (ONNX Mul; differentiable everywhere, unlike Pow with a tensor exponent)."""
    if not any_symbolic(x):
        return np.square(to_numpy(x))
    return multiply(x, x)


def matmul(a, b):
    """Matrix product with numpy semantics (ONNX MatMul)."""
    if not any_symbolic(a, b):
        return np.matmul(to_numpy(a), to_numpy(b))
    a, b = binary_operands(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul: operands must have rank >= 1; use multiply for scalars.")
    if a.ndim == 1 or b.ndim == 1:
        return emit("MatMul", [a, b], dtypes_=[a.dtype])
    if a.shape[-1] is not None and b.shape[-2] is not None and a.shape[-1] != b.shape[-2]:
        raise ValueError(
            f"matmul: inner dimensions differ: a has shape {a.shape}, b has shape {b.shape} "
            f"(a.shape[-1]={a.shape[-1]} must equal b.shape[-2]={b.shape[-2]})."
        )
    batch = broadcast_shapes(a.shape[:-2], b.shape[:-2], "matmul")
    return emit("MatMul", [a, b], shapes=[batch + (a.shape[-2], b.shape[-1])], dtypes_=[a.dtype])


def cast(x, dtype):
    """Cast to a dtype (ONNX Cast)."""
    dtype = dtypes.standardize(dtype)
    if not any_symbolic(x):
        return np.asarray(to_numpy(x)).astype(dtypes.to_numpy(dtype))
    x = as_tensor(x)
    if x.dtype == dtype:
        return x
    return emit("Cast", [x], {"to": dtypes.to_onnx(dtype)}, shapes=[x.shape], dtypes_=[dtype])


def _reduce(onnx_op: str, np_fn, x, axis, keepdims: bool):
    if not any_symbolic(x):
        return np_fn(to_numpy(x), axis=tuple(axis) if isinstance(axis, list) else axis, keepdims=keepdims)
    x = as_tensor(x)
    if axis is None:
        axes = list(range(x.ndim))
    else:
        axes = [axis] if isinstance(axis, int) else list(axis)
        axes = sorted(normalize_axis(a, x.ndim, onnx_op) for a in axes)
    if keepdims:
        shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
    else:
        shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
    return emit(onnx_op, [x, int64s(axes)], {"keepdims": int(keepdims)}, shapes=[shape],
                dtypes_=[x.dtype])


def sum(x, axis=None, keepdims=False):  # noqa: A001 - keras.ops name
    """Sum over `axis` (ONNX ReduceSum)."""
    return _reduce("ReduceSum", np.sum, x, axis, keepdims)


def mean(x, axis=None, keepdims=False):
    """Mean over `axis` (ONNX ReduceMean)."""
    return _reduce("ReduceMean", np.mean, x, axis, keepdims)


def max(x, axis=None, keepdims=False):  # noqa: A001 - keras.ops name
    """Maximum over `axis` (ONNX ReduceMax)."""
    return _reduce("ReduceMax", np.max, x, axis, keepdims)


def min(x, axis=None, keepdims=False):  # noqa: A001 - keras.ops name
    """Minimum over `axis` (ONNX ReduceMin)."""
    return _reduce("ReduceMin", np.min, x, axis, keepdims)


def prod(x, axis=None, keepdims=False):
    """Product over `axis` (ONNX ReduceProd)."""
    return _reduce("ReduceProd", np.prod, x, axis, keepdims)
