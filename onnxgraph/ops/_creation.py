"""Creating tensors (zeros, ones, full, arange, eye, ...) and reading shapes.

Creation ops with static arguments return numpy arrays: used inside a layer's `call` they
become graph constants (one shared initializer per distinct value), and a sublayer called on
such an array inside a call is emitted on it as a constant. The `*_like` ops on symbolic
tensors follow the tensor's runtime shape (ONNX Shape + Expand), so a dynamic batch works.
"""

from __future__ import annotations

import numpy as np

from onnxgraph.backend import dtypes
from onnxgraph.backend.ir import SymbolicTensor
from onnxgraph.ops._base import any_symbolic, as_tensor, constant, emit, to_numpy
from onnxgraph.ops._dispatch import keras_op
from onnxgraph.ops._math import cast

__all__ = ["zeros", "ones", "full", "zeros_like", "ones_like", "full_like", "arange", "linspace", "eye",
           "shape", "ndim", "size", "convert_to_tensor", "convert_to_numpy"]


def _static_shape(shape, op: str) -> tuple:
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if any(d is None or isinstance(d, SymbolicTensor) for d in shape):
        raise ValueError(
            f"{op}: shape {shape} has an unknown dimension. Give the Input a static `batch_shape=` "
            f"(as in the guide's CustomRNN), or use {op}_like on a tensor of the shape you need."
        )
    return tuple(int(d) for d in shape)


def _default_dtype(value) -> str:
    """Keras's dtype for a Python fill value: bool, int32 for ints, floatx for floats."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, np.integer)) and not isinstance(value, np.ndarray):
        return "int32"
    if isinstance(value, np.ndarray):
        return dtypes.standardize(value.dtype) if value.dtype != np.float64 else dtypes.FLOATX
    return dtypes.FLOATX


def zeros(shape, dtype=None):
    """A zero array of a static shape (float32 by default).

    Example:
        >>> zeros((2, 3)).shape
        (2, 3)
    """
    return np.zeros(_static_shape(shape, "zeros"), dtype=dtypes.to_numpy(dtype or dtypes.FLOATX))


def ones(shape, dtype=None):
    """An array of ones of a static shape (float32 by default)."""
    return np.ones(_static_shape(shape, "ones"), dtype=dtypes.to_numpy(dtype or dtypes.FLOATX))


@keras_op
def full(shape, fill_value, dtype=None):
    """An array of a static shape filled with `fill_value` (Expand when the value is symbolic)."""
    shape = _static_shape(shape, "full")
    if not any_symbolic(fill_value):
        dtype = dtype or _default_dtype(fill_value)
        return np.full(shape, to_numpy(fill_value), dtype=dtypes.to_numpy(dtype))
    value = as_tensor(fill_value) if dtype is None else cast(fill_value, dtype)
    return emit("Expand", [value, constant(np.asarray(shape, dtype=np.int64))], shapes=[shape],
                dtypes_=[value.dtype])


def _fill_like(x, value, dtype, op: str):
    if not any_symbolic(x, value):
        x = np.asarray(to_numpy(x))
        return np.full(x.shape, to_numpy(value), dtype=dtypes.to_numpy(dtype) if dtype else x.dtype)
    x = as_tensor(x)
    dtype = dtypes.standardize(dtype or x.dtype)
    fill = cast(value, dtype) if isinstance(value, SymbolicTensor) else constant(np.asarray(value, dtypes.to_numpy(dtype)))
    if fill.ndim:
        raise ValueError(f"{op}: the fill value must be a scalar, got shape {fill.shape}.")
    target = emit("Shape", [x], shapes=[(x.ndim,)], dtypes_=["int64"])
    return emit("Expand", [fill, target], shapes=[x.shape], dtypes_=[dtype])


@keras_op
def zeros_like(x, dtype=None):
    """Zeros of x's (runtime) shape, in x's dtype unless `dtype` is given (Shape + Expand)."""
    return _fill_like(x, 0, dtype, "zeros_like")


@keras_op
def ones_like(x, dtype=None):
    """Ones of x's (runtime) shape, in x's dtype unless `dtype` is given (Shape + Expand)."""
    return _fill_like(x, 1, dtype, "ones_like")


@keras_op
def full_like(x, fill_value, dtype=None):
    """`fill_value` in x's (runtime) shape (Shape + Expand)."""
    return _fill_like(x, fill_value, dtype, "full_like")


@keras_op
def arange(start, stop=None, step=1, dtype=None):
    """Evenly spaced values in [start, stop) like numpy; int32 for ints, float32 for floats (Keras).

    Symbolic scalar bounds emit ONNX Range (its length is then unknown).
    """
    if stop is None:
        start, stop = 0, start
    if dtype is None:
        is_int = all(dtypes.is_int(v.dtype) if isinstance(v, SymbolicTensor) else np.asarray(v).dtype.kind in "iu"
                     for v in (start, stop, step))
        dtype = "int32" if is_int else dtypes.FLOATX
    if not any_symbolic(start, stop, step):
        return np.arange(start, stop, step, dtype=dtypes.to_numpy(dtype))
    bounds = [cast(v, dtype) if isinstance(v, SymbolicTensor) else constant(np.asarray(v, dtypes.to_numpy(dtype)))
              for v in (start, stop, step)]
    for b in bounds:
        if b.ndim:
            raise ValueError(f"arange: start, stop and step must be scalars, got shape {b.shape}.")
    return emit("Range", bounds, shapes=[(None,)], dtypes_=[dtypes.standardize(dtype)])


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """`num` evenly spaced values from start to stop (numpy; float32 by default)."""
    if any_symbolic(start, stop):
        raise ValueError("linspace: start and stop must be known numbers (not symbolic tensors).")
    result = np.linspace(start, stop, num, endpoint=endpoint, retstep=retstep, axis=axis)
    np_dtype = dtypes.to_numpy(dtype or dtypes.FLOATX)
    if retstep:
        return result[0].astype(np_dtype), result[1]
    return result.astype(np_dtype)


def eye(N, M=None, k=0, dtype=None):  # noqa: N803 - keras.ops signature
    """A 2-D array with ones on the k-th diagonal (float32 by default)."""
    return np.eye(N, M, k, dtype=dtypes.to_numpy(dtype or dtypes.FLOATX))


def shape(x) -> tuple:
    """The shape as a tuple, None for dimensions unknown until run time (like Keras symbolic tensors)."""
    if isinstance(x, SymbolicTensor):
        return tuple(x.shape)
    return tuple(np.shape(to_numpy(x)))


def ndim(x) -> int:
    """The number of dimensions."""
    return len(shape(x))


def size(x):
    """The number of elements (None if a dimension is unknown)."""
    dims = shape(x)
    return None if None in dims else int(np.prod(dims, dtype=np.int64))


def convert_to_tensor(x, dtype=None, sparse=None):
    """Symbolic tensors pass through (cast to `dtype` if given); anything else becomes a numpy array.

    Python floats and lists of floats become float32, as in Keras.
    """
    if sparse:
        raise ValueError("convert_to_tensor: sparse tensors are not supported by ONNX models.")
    if isinstance(x, SymbolicTensor):
        return x if dtype is None else cast(x, dtype)
    value = to_numpy(x)
    if dtype is not None:
        return np.asarray(value, dtype=dtypes.to_numpy(dtype))
    array = np.asarray(value)
    return array.astype(np.float32) if array.dtype == np.float64 and not isinstance(x, np.ndarray) else array


def convert_to_numpy(x) -> np.ndarray:
    """A numpy array of `x`; symbolic tensors have no value yet and raise."""
    if isinstance(x, SymbolicTensor):
        raise ValueError("convert_to_numpy: a symbolic tensor has no value; call the model on arrays instead.")
    return np.asarray(to_numpy(x))
