"""Shared helpers for op functions: symbolic detection, broadcasting, dtype promotion."""

from __future__ import annotations

import numpy as np

from onnxgraph.backend import dtypes
from onnxgraph.backend.emit import as_tensor, constant, emit
from onnxgraph.backend.ir import SymbolicTensor
from onnxgraph.backend.scope import current_scope

__all__ = ["any_symbolic", "to_numpy", "keras_float", "broadcast_shapes", "binary_operands", "emit", "as_tensor",
           "constant", "int64s", "normalize_axis"]


def any_symbolic(*args) -> bool:
    for a in args:
        if isinstance(a, SymbolicTensor):
            return True
        if hasattr(a, "graph_value") and current_scope():  # a weight read while emitting a layer
            return True
        if isinstance(a, (list, tuple)) and any_symbolic(*a):
            return True
    return False


def to_numpy(x):
    """Eager operand: numpy array (variables give their Keras-layout value)."""
    value = getattr(x, "value", None)
    if value is not None and hasattr(x, "graph_value"):
        return value
    return np.asarray(x) if not isinstance(x, (int, float, bool)) else x


def keras_float(result, *operands):
    """An eager numpy result under Keras's dtype rule: float64 only comes from float64 arrays.

    numpy turns Python floats and int/int division into float64; Keras (and the symbolic path)
    gives float32 there.
    """
    if getattr(result, "dtype", None) != np.float64:
        return result
    if any(isinstance(o, (np.ndarray, np.generic)) and o.dtype == np.float64 for o in operands):
        return result
    return result.astype(np.float32)


def broadcast_shapes(a: tuple, b: tuple, op: str = "op") -> tuple:
    """numpy broadcasting on Keras shapes (None = unknown)."""
    out = []
    for i in range(max(len(a), len(b))):
        x = a[len(a) - 1 - i] if i < len(a) else 1
        y = b[len(b) - 1 - i] if i < len(b) else 1
        if x == 1:
            out.append(y)
        elif y == 1:
            out.append(x)
        elif x is None:
            out.append(y)
        elif y is None or x == y:
            out.append(x)
        else:
            raise ValueError(f"{op}: shapes {a} and {b} cannot be broadcast together.")
    return tuple(reversed(out))


def _result_dtype(a, b) -> str:
    if a == b:
        return a
    fa, fb = dtypes.is_float(a), dtypes.is_float(b)
    if fa and not fb:
        return a
    if fb and not fa:
        return b
    return dtypes.standardize(np.result_type(dtypes.to_numpy(a), dtypes.to_numpy(b)))


def binary_operands(a, b):
    """Symbolic operands with a common dtype; Python scalars take the tensor's dtype."""
    scalar_a = isinstance(a, (bool, int, float))
    scalar_b = isinstance(b, (bool, int, float))
    if scalar_a and not scalar_b:
        b = as_tensor(b)
        dtype = b.dtype if (dtypes.is_float(b.dtype) or isinstance(a, int)) else dtypes.FLOATX
        return _cast(as_tensor(a, dtype), dtype), _cast(b, dtype)
    if scalar_b and not scalar_a:
        a = as_tensor(a)
        dtype = a.dtype if (dtypes.is_float(a.dtype) or isinstance(b, int)) else dtypes.FLOATX
        return _cast(a, dtype), _cast(as_tensor(b, dtype), dtype)
    a, b = as_tensor(a), as_tensor(b)
    dtype = _result_dtype(a.dtype, b.dtype)
    return _cast(a, dtype), _cast(b, dtype)


def _cast(x: SymbolicTensor, dtype: str) -> SymbolicTensor:
    if x.dtype == dtype:
        return x
    if x.kind == "constant":
        return constant(x.const.astype(dtypes.to_numpy(dtype)))
    return emit("Cast", [x], {"to": dtypes.to_onnx(dtype)}, shapes=[x.shape], dtypes_=[dtype])


def int64s(values) -> SymbolicTensor:
    return constant(np.asarray(values, dtype=np.int64))


def normalize_axis(axis: int, ndim: int, op: str = "op") -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(f"{op}: axis {axis} is out of range for a tensor of rank {ndim}.")
    return axis % ndim
