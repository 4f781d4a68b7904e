"""Comparisons, logic, NaN/inf tests and where (boolean results, ONNX comparison ops)."""

from __future__ import annotations

import numpy as np

from onnxgraph.ops._base import (any_symbolic, as_tensor, binary_operands, broadcast_shapes, emit,
                                 keras_float, to_numpy)
from onnxgraph.ops._dispatch import keras_op
from onnxgraph.ops._math import _binary, _unary

__all__ = ["less", "less_equal", "greater", "greater_equal", "equal", "not_equal", "logical_and",
           "logical_or", "logical_xor", "logical_not", "isnan", "isinf", "isfinite", "where"]


@keras_op
def less(x1, x2):
    """Elementwise x1 < x2 (ONNX Less), bool."""
    return _binary("Less", np.less, x1, x2, boolean=True)


@keras_op
def less_equal(x1, x2):
    """Elementwise x1 <= x2 (ONNX LessOrEqual), bool."""
    return _binary("LessOrEqual", np.less_equal, x1, x2, boolean=True)


@keras_op
def greater(x1, x2):
    """Elementwise x1 > x2 (ONNX Greater), bool."""
    return _binary("Greater", np.greater, x1, x2, boolean=True)


@keras_op
def greater_equal(x1, x2):
    """Elementwise x1 >= x2 (ONNX GreaterOrEqual), bool."""
    return _binary("GreaterOrEqual", np.greater_equal, x1, x2, boolean=True)


@keras_op
def equal(x1, x2):
    """Elementwise x1 == x2 (ONNX Equal), bool."""
    return _binary("Equal", np.equal, x1, x2, boolean=True)


@keras_op
def not_equal(x1, x2):
    """Elementwise x1 != x2 (ONNX Equal + Not), bool."""
    if not any_symbolic(x1, x2):
        return np.not_equal(to_numpy(x1), to_numpy(x2))
    return logical_not(equal(x1, x2))


def _as_bool(x):
    x = as_tensor(x)
    return x if x.dtype == "bool" else not_equal(x, 0)


def _logical(onnx_op: str, np_fn, x1, x2):
    if not any_symbolic(x1, x2):
        return np_fn(to_numpy(x1), to_numpy(x2))
    x1, x2 = _as_bool(x1), _as_bool(x2)
    return emit(onnx_op, [x1, x2], shapes=[broadcast_shapes(x1.shape, x2.shape)], dtypes_=["bool"])


@keras_op
def logical_and(x1, x2):
    """Elementwise AND of truth values (ONNX And)."""
    return _logical("And", np.logical_and, x1, x2)


@keras_op
def logical_or(x1, x2):
    """Elementwise OR of truth values (ONNX Or)."""
    return _logical("Or", np.logical_or, x1, x2)


@keras_op
def logical_xor(x1, x2):
    """Elementwise XOR of truth values (ONNX Xor)."""
    return _logical("Xor", np.logical_xor, x1, x2)


@keras_op
def logical_not(x):
    """Elementwise NOT of truth values (ONNX Not)."""
    if not any_symbolic(x):
        return np.logical_not(to_numpy(x))
    return _unary("Not", None, _as_bool(x), boolean=True)


@keras_op
def isnan(x):
    """True where x is NaN (ONNX IsNaN)."""
    return _unary("IsNaN", np.isnan, x, boolean=True)


@keras_op
def isinf(x):
    """True where x is +-inf (ONNX IsInf)."""
    return _unary("IsInf", np.isinf, x, boolean=True)


@keras_op
def isfinite(x):
    """True where x is neither NaN nor +-inf (ONNX IsNaN, IsInf, Or, Not)."""
    if not any_symbolic(x):
        return np.isfinite(to_numpy(x))
    return logical_not(logical_or(isnan(x), isinf(x)))


@keras_op
def where(condition, x1=None, x2=None):
    """Elements of x1 where condition holds, else of x2 (ONNX Where).

    With only `condition`, returns the indices of its nonzero elements, one int64 tensor per
    axis, like numpy (ONNX NonZero).
    """
    if (x1 is None) != (x2 is None):
        raise ValueError("where: give both `x1` and `x2`, or neither (to get nonzero indices).")
    if not any_symbolic(condition, x1, x2):
        if x1 is None:
            return np.nonzero(to_numpy(condition))
        a, b = to_numpy(x1), to_numpy(x2)
        return keras_float(np.where(to_numpy(condition), a, b), a, b)
    condition = _as_bool(condition)
    if x1 is None:
        from onnxgraph.ops._shape import unstack

        indices = emit("NonZero", [condition], shapes=[(condition.ndim, None)], dtypes_=["int64"])
        return tuple(unstack(indices, num=condition.ndim, axis=0))
    x1, x2 = binary_operands(x1, x2)
    shape = broadcast_shapes(condition.shape, broadcast_shapes(x1.shape, x2.shape, "where"), "where")
    return emit("Where", [condition, x1, x2], shapes=[shape], dtypes_=[x1.dtype])
