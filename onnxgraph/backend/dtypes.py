"""Keras dtype names and their ONNX / numpy counterparts."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto

__all__ = ["standardize", "to_onnx", "from_onnx", "to_numpy", "is_float", "is_int", "FLOATX"]

FLOATX = "float32"

_ONNX = {
    "float32": TensorProto.FLOAT,
    "float64": TensorProto.DOUBLE,
    "float16": TensorProto.FLOAT16,
    "bfloat16": TensorProto.BFLOAT16,
    "int8": TensorProto.INT8,
    "int16": TensorProto.INT16,
    "int32": TensorProto.INT32,
    "int64": TensorProto.INT64,
    "uint8": TensorProto.UINT8,
    "uint16": TensorProto.UINT16,
    "uint32": TensorProto.UINT32,
    "uint64": TensorProto.UINT64,
    "bool": TensorProto.BOOL,
    "string": TensorProto.STRING,
}
_FROM_ONNX = {v: k for k, v in _ONNX.items()}
_ALIASES = {"float": "float32", "double": "float64", "half": "float16", "int": "int64", "bool_": "bool"}


def standardize(dtype) -> str:
    """Return the Keras name ("float32", "int64", ...) of a dtype given in any common form."""
    if dtype is None:
        return FLOATX
    if isinstance(dtype, str):
        name = _ALIASES.get(dtype, dtype)
    elif isinstance(dtype, int) and dtype in _FROM_ONNX:
        return _FROM_ONNX[dtype]
    else:
        try:
            name = np.dtype(dtype).name
        except TypeError:
            name = getattr(dtype, "name", str(dtype))
    if name == "str" or name.startswith("<U") or name == "object":
        name = "string"
    if name not in _ONNX:
        raise ValueError(f"Unsupported dtype {dtype!r}. Use one of: {', '.join(sorted(_ONNX))}.")
    return name


def to_onnx(dtype) -> int:
    """ONNX TensorProto element type of a dtype."""
    return _ONNX[standardize(dtype)]


def from_onnx(elem_type: int) -> str:
    """Keras dtype name of an ONNX element type."""
    if elem_type not in _FROM_ONNX:
        raise ValueError(f"ONNX element type {elem_type} has no onnxgraph dtype.")
    return _FROM_ONNX[elem_type]


def to_numpy(dtype) -> np.dtype:
    """numpy dtype of a Keras dtype name (bfloat16 through ml_dtypes)."""
    name = standardize(dtype)
    if name == "bfloat16":
        import ml_dtypes

        return np.dtype(ml_dtypes.bfloat16)
    if name == "string":
        return np.dtype(object)
    return np.dtype(name)


def is_float(dtype) -> bool:
    return standardize(dtype) in ("float16", "bfloat16", "float32", "float64")


def is_int(dtype) -> bool:
    name = standardize(dtype)
    return name.startswith("int") or name.startswith("uint")
