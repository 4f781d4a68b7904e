"""Elementwise arithmetic, exponentials and logarithms, rounding, trigonometry, clip and cast."""

from __future__ import annotations

import numpy as np

from onnxgraph.backend import dtypes
from onnxgraph.ops._base import (any_symbolic, as_tensor, binary_operands, broadcast_shapes, constant,
                                 emit, keras_float, to_numpy)
from onnxgraph.ops._dispatch import keras_op

__all__ = ["add", "subtract", "multiply", "divide", "true_divide", "floor_divide", "mod", "power",
           "maximum", "minimum", "negative", "absolute", "abs", "exp", "expm1", "log", "log1p", "log2",
           "log10", "sqrt", "rsqrt", "square", "sign", "floor", "ceil", "round", "reciprocal", "erf",
           "sin", "cos", "tan", "clip", "cast"]


def _binary(onnx_op: str, np_fn, a, b, *, boolean: bool = False):
    if not any_symbolic(a, b):
        a, b = to_numpy(a), to_numpy(b)
        return keras_float(np_fn(a, b), a, b)
    a, b = binary_operands(a, b)
    shape = broadcast_shapes(a.shape, b.shape, onnx_op)
    return emit(onnx_op, [a, b], shapes=[shape], dtypes_=["bool" if boolean else a.dtype])


def _unary(onnx_op: str, np_fn, x, *, boolean: bool = False):
    if not any_symbolic(x):
        return np_fn(to_numpy(x))
    x = as_tensor(x)
    return emit(onnx_op, [x], shapes=[x.shape], dtypes_=["bool" if boolean else x.dtype])


def _float_unary(onnx_op: str, np_fn, x):
    """exp/log/sqrt/...: integer inputs compute in float32, as in Keras."""
    if not any_symbolic(x):
        x = np.asarray(to_numpy(x))
        return np_fn(x if x.dtype.kind in "fc" else x.astype(np.float32))
    return _unary(onnx_op, None, _float_operand(x))


def _float_operand(x):
    """Integer tensors become float32 first, as Keras does for exp/log/sqrt/... on ints."""
    x = as_tensor(x)
    return x if dtypes.is_float(x.dtype) else cast(x, dtypes.FLOATX)


@keras_op
def add(x1, x2):
    """Elementwise x1 + x2 (ONNX Add).

    Example:
        >>> add(np.ones(2), 1.0)
        array([2., 2.])
    """
    return _binary("Add", np.add, x1, x2)


@keras_op
def subtract(x1, x2):
    """Elementwise x1 - x2 (ONNX Sub)."""
    return _binary("Sub", np.subtract, x1, x2)


@keras_op
def multiply(x1, x2):
    """Elementwise x1 * x2 (ONNX Mul)."""
    return _binary("Mul", np.multiply, x1, x2)


@keras_op
def divide(x1, x2):
    """Elementwise true division (ONNX Div); integer inputs divide as float32 like Keras."""
    if not any_symbolic(x1, x2):
        a, b = to_numpy(x1), to_numpy(x2)
        return keras_float(np.true_divide(a, b), a, b)
    x1, x2 = binary_operands(x1, x2)
    if not dtypes.is_float(x1.dtype):
        x1, x2 = cast(x1, dtypes.FLOATX), cast(x2, dtypes.FLOATX)
    return _binary("Div", np.true_divide, x1, x2)


true_divide = divide


@keras_op
def floor_divide(x1, x2):
    """numpy floor division (Div + Floor; integers go through float64 and back)."""
    if not any_symbolic(x1, x2):
        return np.floor_divide(to_numpy(x1), to_numpy(x2))
    x1, x2 = binary_operands(x1, x2)
    if dtypes.is_float(x1.dtype):
        return floor(_binary("Div", None, x1, x2))
    q = floor(_binary("Div", None, cast(x1, "float64"), cast(x2, "float64")))
    return cast(q, x1.dtype)


@keras_op
def mod(x1, x2):
    """numpy remainder: the sign follows the divisor (ONNX Mod for ints, x - floor(x/y)*y for floats)."""
    if not any_symbolic(x1, x2):
        return np.mod(to_numpy(x1), to_numpy(x2))
    x1, x2 = binary_operands(x1, x2)
    if not dtypes.is_float(x1.dtype):
        return emit("Mod", [x1, x2], {"fmod": 0}, shapes=[broadcast_shapes(x1.shape, x2.shape)],
                    dtypes_=[x1.dtype])
    return subtract(x1, multiply(floor(divide(x1, x2)), x2))


@keras_op
def power(x1, x2):
    """Elementwise x1 ** x2 (ONNX Pow)."""
    return _binary("Pow", np.power, x1, x2)


@keras_op
def maximum(x1, x2):
    """Elementwise maximum (ONNX Max)."""
    return _binary("Max", np.maximum, x1, x2)


@keras_op
def minimum(x1, x2):
    """Elementwise minimum (ONNX Min)."""
    return _binary("Min", np.minimum, x1, x2)


@keras_op
def negative(x):
    """-x (ONNX Neg)."""
    return _unary("Neg", np.negative, x)


@keras_op
def absolute(x):
    """|x| (ONNX Abs)."""
    return _unary("Abs", np.abs, x)


abs = absolute  # noqa: A001 - keras.ops name


@keras_op
def sign(x):
    """-1, 0 or 1 by the sign of x (ONNX Sign)."""
    return _unary("Sign", np.sign, x)


@keras_op
def floor(x):
    """Round down (ONNX Floor)."""
    return _unary("Floor", np.floor, x)


@keras_op
def ceil(x):
    """Round up (ONNX Ceil)."""
    return _unary("Ceil", np.ceil, x)


@keras_op
def round(x, decimals=0):  # noqa: A001 - keras.ops name
    """Round half to even like numpy (ONNX Round; `decimals` scales by 10**decimals around it)."""
    if not any_symbolic(x):
        return np.round(to_numpy(x), decimals)
    if decimals:
        scale = 10.0 ** decimals
        return divide(_unary("Round", None, multiply(x, scale)), scale)
    return _unary("Round", None, x)


@keras_op
def exp(x):
    """e ** x (ONNX Exp)."""
    return _float_unary("Exp", np.exp, x)


@keras_op
def expm1(x):
    """exp(x) - 1 (ONNX Exp, Sub)."""
    if not any_symbolic(x):
        return np.expm1(to_numpy(x))
    return subtract(exp(x), 1.0)


@keras_op
def log(x):
    """Natural logarithm (ONNX Log)."""
    return _float_unary("Log", np.log, x)


@keras_op
def log1p(x):
    """log(1 + x) (ONNX Add, Log)."""
    if not any_symbolic(x):
        return np.log1p(to_numpy(x))
    return log(add(_float_operand(x), 1.0))


@keras_op
def log2(x):
    """Base-2 logarithm (ONNX Log, Div)."""
    if not any_symbolic(x):
        return np.log2(to_numpy(x))
    return divide(log(x), float(np.log(2.0)))


@keras_op
def log10(x):
    """Base-10 logarithm (ONNX Log, Div)."""
    if not any_symbolic(x):
        return np.log10(to_numpy(x))
    return divide(log(x), float(np.log(10.0)))


@keras_op
def sqrt(x):
    """Square root (ONNX Sqrt)."""
    return _float_unary("Sqrt", np.sqrt, x)


@keras_op
def rsqrt(x):
    """1 / sqrt(x) (ONNX Sqrt, Reciprocal)."""
    if not any_symbolic(x):
        return 1.0 / np.sqrt(to_numpy(x))
    return reciprocal(sqrt(x))


@keras_op
def reciprocal(x):
    """1 / x (ONNX Reciprocal)."""
    return _unary("Reciprocal", np.reciprocal, x)


@keras_op
def square(x):
    """x * x (ONNX Mul; differentiable everywhere, unlike Pow with a tensor exponent)."""
    if not any_symbolic(x):
        return np.square(to_numpy(x))
    return multiply(x, x)


@keras_op
def erf(x):
    """The error function (ONNX Erf)."""
    if not any_symbolic(x):
        from scipy.special import erf as _erf

        return _erf(to_numpy(x)).astype(np.asarray(x).dtype)
    return _unary("Erf", None, _float_operand(x))


@keras_op
def sin(x):
    """Sine (ONNX Sin)."""
    return _float_unary("Sin", np.sin, x)


@keras_op
def cos(x):
    """Cosine (ONNX Cos)."""
    return _float_unary("Cos", np.cos, x)


@keras_op
def tan(x):
    """Tangent (ONNX Tan)."""
    return _float_unary("Tan", np.tan, x)


@keras_op
def clip(x, x_min, x_max):
    """Limit values to [x_min, x_max] (ONNX Clip with scalar bounds, else Max + Min)."""
    if not any_symbolic(x, x_min, x_max):
        return np.clip(to_numpy(x), x_min, x_max)
    x = as_tensor(x)
    if any_symbolic(x_min, x_max) or np.ndim(x_min) or np.ndim(x_max):
        return minimum(maximum(x, x_min), x_max)
    np_dtype = dtypes.to_numpy(x.dtype)
    bounds = [constant(np.asarray(v, dtype=np_dtype)) for v in (x_min, x_max)]
    return emit("Clip", [x, *bounds], shapes=[x.shape], dtypes_=[x.dtype])


@keras_op
def cast(x, dtype):
    """Cast to a dtype (ONNX Cast)."""
    dtype = dtypes.standardize(dtype)
    if not any_symbolic(x):
        return np.asarray(to_numpy(x)).astype(dtypes.to_numpy(dtype))
    x = as_tensor(x)
    if x.dtype == dtype:
        return x
    return emit("Cast", [x], {"to": dtypes.to_onnx(dtype)}, shapes=[x.shape], dtypes_=[dtype])
