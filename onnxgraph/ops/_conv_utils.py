"""Shared pieces of the convolution and pooling ops: argument checks, layouts, padding, kernels.

ONNX convolutions and pools are channels_first (N, C, spatial...). A channels_last op is
emitted as Transpose -> op -> Transpose; the layout export pass (`backend/layout.py`)
removes the pairs that meet between consecutive ops, so a chain of layers pays for one
layout change at its entry and one at its exit.
"""

from __future__ import annotations

import numpy as np

from onnxgraph.backend import layout, transforms
from onnxgraph.backend.ir import SymbolicTensor
from onnxgraph.ops._base import as_tensor, constant, emit, int64s

__all__ = ["standardize_data_format", "standardize_tuple", "standardize_padding", "to_channels_first",
           "from_channels_first", "channels_first_shape", "same_pads", "explicit_pads", "pad_same_dynamic",
           "kernel_operand", "conv_output_size", "run_eagerly", "effective_kernel"]

layout.register()


def standardize_data_format(data_format) -> str:
    """None -> "channels_last" (the Keras default); anything else must be a Keras format name."""
    if data_format is None:
        return "channels_last"
    value = str(data_format).lower()
    if value not in ("channels_last", "channels_first"):
        raise ValueError(
            f"`data_format` must be 'channels_last' or 'channels_first', got {data_format!r}."
        )
    return value


def standardize_tuple(value, n: int, name: str, allow_zero: bool = False) -> tuple:
    """An int or n ints -> a tuple of n positive ints (Keras `standardize_tuple`)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        result = (int(value),) * n
    else:
        try:
            items = tuple(value)
        except TypeError:
            raise ValueError(f"`{name}` must be an int or a tuple of {n} ints, got {value!r}.") from None
        if isinstance(value, (str, bytes)) or any(isinstance(v, bool) or not isinstance(v, (int, np.integer))
                                                  for v in items):
            raise ValueError(f"`{name}` must be an int or a tuple of {n} ints, got {value!r}.")
        result = tuple(int(v) for v in items)
        if len(result) != n:
            raise ValueError(f"`{name}` must be an int or a tuple of {n} ints, got {value!r}.")
    low = 0 if allow_zero else 1
    if any(v < low for v in result):
        kind = "non-negative" if allow_zero else "positive"
        bad = {v for v in result if v < low}
        raise ValueError(f"`{name}` must contain {kind} ints, got {value!r}. (The `{name}` argument must be a tuple "
                         f"of {n} integers. Received {name}={value!r}, including values {bad} that do not satisfy "
                         f"`value {'>=' if allow_zero else '>'} 0`.)")
    return result


def standardize_padding(padding, allow_causal: bool = False) -> str:
    value = str(padding).lower()
    allowed = ("valid", "same", "causal") if allow_causal else ("valid", "same")
    if value not in allowed:
        raise ValueError(f"`padding` must be one of {allowed}, got {padding!r}.")
    return value


def to_channels_first(x: SymbolicTensor, data_format: str) -> SymbolicTensor:
    """(N, spatial..., C) -> (N, C, spatial...) for channels_last; identity otherwise."""
    if data_format == "channels_first":
        return x
    r = x.ndim
    perm = [0, r - 1, *range(1, r - 1)]
    return emit("Transpose", [x], {"perm": perm}, shapes=[tuple(x.shape[p] for p in perm)], dtypes_=[x.dtype])


def from_channels_first(y: SymbolicTensor, data_format: str) -> SymbolicTensor:
    """(N, C, spatial...) -> (N, spatial..., C) for channels_last; identity otherwise."""
    if data_format == "channels_first":
        return y
    r = y.ndim
    perm = [0, *range(2, r), 1]
    return emit("Transpose", [y], {"perm": perm}, shapes=[tuple(y.shape[p] for p in perm)], dtypes_=[y.dtype])


def channels_first_shape(shape: tuple, data_format: str) -> tuple:
    if data_format == "channels_first":
        return tuple(shape)
    return (shape[0], shape[-1], *shape[1:-1])


def effective_kernel(kernel_size, dilation_rate) -> tuple:
    return tuple((k - 1) * d + 1 for k, d in zip(kernel_size, dilation_rate))


def same_pads(size, k_eff: int, stride: int):
    """Keras/TF "same" padding (begin, end), the odd pixel at the end; None if size unknown and stride > 1."""
    if stride == 1:
        total = k_eff - 1
    elif size is None:
        return None
    else:
        out = -(-size // stride)
        total = max((out - 1) * stride + k_eff - size, 0)
    return total // 2, total - total // 2


def explicit_pads(spatial, k_eff, strides, padding: str):
    """ONNX `pads` (begins then ends) for valid/same/causal, or None when they depend on runtime sizes."""
    n = len(k_eff)
    if padding == "valid":
        return [0] * (2 * n)
    if padding == "causal":
        return [k_eff[0] - 1] + [0] * (2 * n - 1)
    pairs = [same_pads(size, k, s) for size, k, s in zip(spatial, k_eff, strides)]
    if any(p is None for p in pairs):
        return None
    return [p[0] for p in pairs] + [p[1] for p in pairs]


def conv_output_size(size, k_eff: int, stride: int, padding: str):
    """Keras output length of a conv/pool along one axis (None stays None)."""
    if size is None:
        return None
    if padding == "valid":
        return (size - k_eff) // stride + 1
    return (size - 1) // stride + 1


def pad_same_dynamic(x_cf: SymbolicTensor, k_eff, strides, value: float = 0.0) -> SymbolicTensor:
    """Pad a channels_first tensor for "same" when its spatial sizes are only known at run time.

    Emits Shape -> arithmetic -> Pad, the explicit form of TF's SAME_UPPER (ONNX auto_pad gives
    wrong gradients in onnxruntime-training).
    """
    r = x_cf.ndim
    shape = emit("Shape", [x_cf], {"start": 2}, shapes=[(r - 2,)], dtypes_=["int64"])
    s, k = int64s(strides), int64s(k_eff)
    out = emit("Div", [emit("Add", [shape, int64s(np.asarray(strides) - 1)]), s])
    total = emit("Sub", [emit("Add", [emit("Mul", [emit("Sub", [out, int64s([1] * (r - 2))]), s]), k]), shape])
    total = emit("Max", [total, int64s([0] * (r - 2))])
    begin = emit("Div", [total, int64s([2] * (r - 2))])
    end = emit("Sub", [total, begin])
    zeros = int64s([0, 0])
    pads = emit("Concat", [zeros, begin, zeros, end], {"axis": 0}, shapes=[(2 * r,)], dtypes_=["int64"])
    fill = constant(np.array(value, dtype=x_cf.dtype))
    shape_out = tuple(d if i < 2 else None for i, d in enumerate(x_cf.shape))
    return emit("Pad", [x_cf, pads, fill], {"mode": "constant"}, shapes=[shape_out], dtypes_=[x_cf.dtype])


def kernel_operand(kernel, transform: tuple) -> SymbolicTensor:
    """A Keras-layout kernel in ONNX layout.

    A weight gets the transform on its initializer (no runtime node); a numpy kernel is
    transformed once here; only a kernel computed inside the graph costs runtime nodes.
    """
    if hasattr(kernel, "graph_value"):
        return kernel.graph_value(transform)
    if isinstance(kernel, SymbolicTensor):
        if kernel.kind == "constant":
            return constant(transforms.apply(kernel.const, transform))
        x = kernel
        for step in transform:
            if step[0] == "transpose":
                perm = list(step[1])
                x = emit("Transpose", [x], {"perm": perm}, shapes=[tuple(x.shape[p] for p in perm)],
                         dtypes_=[x.dtype])
            elif step[0] == "reshape":
                x = emit("Reshape", [x, int64s(step[1])], shapes=[tuple(step[1])], dtypes_=[x.dtype])
            else:
                raise ValueError(f"kernel_operand: unsupported transform step {step!r}.")
        return x
    array = np.asarray(kernel)
    if array.dtype == np.float64:
        array = array.astype(np.float32)
    return constant(transforms.apply(array, transform))


def run_eagerly(fn, data: dict):
    """Run `fn(**symbolic)` on numpy arrays: emit once on placeholders, execute with onnxruntime."""
    from onnxgraph.layers._input_layer import placeholder
    from onnxgraph.runtime import GraphRunner

    arrays = {k: np.asarray(v, dtype=np.float32) if np.asarray(v).dtype == np.float64 else np.asarray(v)
              for k, v in data.items()}
    holders = {k: placeholder(a.shape, a.dtype.name, k) for k, a in arrays.items()}
    out = as_tensor(fn(**holders))
    runner = GraphRunner(list(holders.values()), [out], list(holders), ["y"], [], name="eager")
    return runner.run_feeds(arrays)[0]
