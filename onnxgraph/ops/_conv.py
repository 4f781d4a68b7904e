"""Convolutions in the style of `keras.ops`: conv, depthwise_conv, separable_conv, conv_transpose.

Kernels are in Keras layout: conv (k..., in/groups, out), depthwise (k..., in, multiplier),
conv_transpose (k..., out, in). They are emitted as ONNX Conv / ConvTranspose (opset 21)
with explicit `pads` (never `auto_pad`: onnxruntime-training computes wrong gradients with it).
`emit_conv` / `emit_conv_transpose` take an ONNX-layout weight and a bias, for layers.
"""

from __future__ import annotations

import numpy as np

from onnxgraph.ops._base import any_symbolic, as_tensor, emit
from onnxgraph.ops._dispatch import keras_op
from onnxgraph.ops._conv_utils import (channels_first_shape, conv_output_size, effective_kernel,
                                       explicit_pads, from_channels_first, kernel_operand,
                                       pad_same_dynamic, run_eagerly, standardize_data_format,
                                       standardize_padding, standardize_tuple, to_channels_first)

__all__ = ["conv", "depthwise_conv", "separable_conv", "conv_transpose", "emit_conv",
           "emit_conv_transpose", "conv_kernel_transform", "depthwise_kernel_transform",
           "conv_transpose_output_size"]


def conv_kernel_transform(rank: int) -> tuple:
    """Keras (k..., in, out) -> ONNX (out, in, k...); also (k..., out, in) -> (in, out, k...)."""
    return (("transpose", (rank + 1, rank, *range(rank))),)


def depthwise_kernel_transform(kernel_shape: tuple) -> tuple:
    """Keras (k..., C, M) -> ONNX grouped-conv weight (C*M, 1, k...); output channel c*M + m."""
    rank = len(kernel_shape) - 2
    c, m = kernel_shape[-2], kernel_shape[-1]
    return (("transpose", (rank, rank + 1, *range(rank))), ("reshape", (c * m, 1, *kernel_shape[:rank])))


def emit_conv(x, weight, bias=None, *, kernel_size, strides, padding, dilation_rate, groups,
              data_format, filters):
    """ONNX Conv on `x` (Keras layout given by data_format) with an ONNX-layout weight (O, I/g, k...)."""
    rank = len(kernel_size)
    x_cf = to_channels_first(x, data_format)
    spatial = x_cf.shape[2:]
    k_eff = effective_kernel(kernel_size, dilation_rate)
    pads = explicit_pads(spatial, k_eff, strides, padding)
    if pads is None:
        x_cf = pad_same_dynamic(x_cf, k_eff, strides)
        pads = [0] * (2 * rank)
    out_spatial = tuple(conv_output_size(d, k, s, padding) for d, k, s in zip(spatial, k_eff, strides))
    attrs = {"kernel_shape": list(kernel_size), "strides": list(strides), "dilations": list(dilation_rate),
             "pads": pads, "group": int(groups)}
    inputs = [x_cf, weight] + ([bias] if bias is not None else [])
    y = emit("Conv", inputs, attrs, shapes=[(x.shape[0], filters, *out_spatial)], dtypes_=[x.dtype])
    return from_channels_first(y, data_format)


def _kernel_shape(kernel) -> tuple:
    shape = getattr(kernel, "shape", None)
    return tuple(shape) if shape is not None else np.asarray(kernel).shape


def _conv_args(x, kernel_shape, strides, padding, data_format, dilation_rate, allow_causal=False):
    rank = len(kernel_shape) - 2
    if x.ndim != rank + 2:
        raise ValueError(
            f"A {rank}D convolution needs an input of rank {rank + 2} (batch, spatial..., channels); "
            f"got shape {x.shape} for a kernel of shape {tuple(kernel_shape)}."
        )
    return (standardize_tuple(strides, rank, "strides"), standardize_padding(padding, allow_causal),
            standardize_data_format(data_format), standardize_tuple(dilation_rate, rank, "dilation_rate"))


@keras_op
def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """N-D convolution with a Keras-layout kernel (k..., in/groups, out) (ONNX Conv).

    Groups follow from the input channels divided by the kernel's input channels.

    Example:
        >>> y = ops.conv(x, np.ones((3, 3, 1, 8), "float32"), padding="same")   # x: (None, 28, 28, 1)
    """
    if not any_symbolic(inputs, kernel):
        return run_eagerly(lambda x: conv(x, kernel, strides, padding, data_format, dilation_rate),
                           {"x": inputs})
    x = as_tensor(inputs)
    shape = _kernel_shape(kernel)
    strides, padding, data_format, dilation_rate = _conv_args(x, shape, strides, padding, data_format,
                                                              dilation_rate)
    in_channels = channels_first_shape(x.shape, data_format)[1]
    if in_channels is None or in_channels % shape[-2]:
        raise ValueError(f"ops.conv: input channels {in_channels} (shape {x.shape}) must be a multiple "
                         f"of the kernel's input channels {shape[-2]} (kernel shape {shape}).")
    rank = len(shape) - 2
    weight = kernel_operand(kernel, conv_kernel_transform(rank))
    return emit_conv(x, weight, kernel_size=shape[:rank], strides=strides, padding=padding,
                     dilation_rate=dilation_rate, groups=in_channels // shape[-2],
                     data_format=data_format, filters=shape[-1])


@keras_op
def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """Depthwise convolution, kernel (k..., in, multiplier); output channel c*multiplier + m.

    Example:
        >>> y = ops.depthwise_conv(x, np.ones((3, 3, 4, 2), "float32"))   # 4 -> 8 channels
    """
    if not any_symbolic(inputs, kernel):
        return run_eagerly(lambda x: depthwise_conv(x, kernel, strides, padding, data_format, dilation_rate),
                           {"x": inputs})
    x = as_tensor(inputs)
    shape = _kernel_shape(kernel)
    strides, padding, data_format, dilation_rate = _conv_args(x, shape, strides, padding, data_format,
                                                              dilation_rate)
    in_channels = channels_first_shape(x.shape, data_format)[1]
    if in_channels != shape[-2]:
        raise ValueError(f"ops.depthwise_conv: input channels {in_channels} (shape {x.shape}) must equal "
                         f"the kernel's channels {shape[-2]} (kernel shape {shape}).")
    rank = len(shape) - 2
    weight = kernel_operand(kernel, depthwise_kernel_transform(shape))
    return emit_conv(x, weight, kernel_size=shape[:rank], strides=strides, padding=padding,
                     dilation_rate=dilation_rate, groups=in_channels, data_format=data_format,
                     filters=shape[-2] * shape[-1])


@keras_op
def separable_conv(inputs, depthwise_kernel, pointwise_kernel, strides=1, padding="valid",
                   data_format=None, dilation_rate=1):
    """Depthwise convolution followed by a 1x1 convolution (two ONNX Conv nodes).

    Example:
        >>> y = ops.separable_conv(x, np.ones((3, 3, 4, 1), "float32"), np.ones((1, 1, 4, 16), "float32"))
    """
    if not any_symbolic(inputs, depthwise_kernel, pointwise_kernel):
        return run_eagerly(lambda x: separable_conv(x, depthwise_kernel, pointwise_kernel, strides, padding,
                                                    data_format, dilation_rate), {"x": inputs})
    y = depthwise_conv(inputs, depthwise_kernel, strides, padding, data_format, dilation_rate)
    return conv(y, pointwise_kernel, 1, "valid", data_format, 1)


def conv_transpose_output_size(size, kernel: int, stride: int, padding: str, output_padding, dilation: int):
    """Keras's transposed-conv output length along one axis (None stays None)."""
    if size is None:
        return None
    k_eff = (kernel - 1) * dilation + 1
    if padding == "valid":
        extra = max(k_eff, stride) - k_eff if output_padding is None else output_padding
        return (size - 1) * stride + k_eff + extra
    if output_padding is None:
        return size * stride
    return (size - 1) * stride + k_eff % 2 + output_padding


def _conv_transpose_pads(k_eff: int, stride: int, padding: str, output_padding):
    """(crop_begin, crop_end, extra_end) of ONNX ConvTranspose's full output, from Keras's padding.

    Keras (its JAX reference) pads the stride-dilated input by (left, right); ONNX's full output
    corresponds to (k_eff-1, k_eff-1), so ONNX crops k_eff-1-left at the start, k_eff-1-right at
    the end, and a negative crop at the end becomes `output_padding` (zeros plus bias).
    """
    if padding == "valid":
        extra = max(k_eff, stride) - k_eff if output_padding is None else output_padding
        left, right = k_eff - 1, k_eff - 1 + extra
    else:
        total = stride + k_eff - 2 if output_padding is None else k_eff + k_eff % 2 - 2 + output_padding
        left = min(total // 2 + total % 2, k_eff - 1)
        right = total - left
    crop_end = k_eff - 1 - right
    return k_eff - 1 - left, max(crop_end, 0), max(-crop_end, 0)


def emit_conv_transpose(x, weight, bias=None, *, kernel_size, strides, padding, output_padding,
                        dilation_rate, data_format, filters):
    """ONNX ConvTranspose with an ONNX-layout weight (in, out, k...) and Keras output sizes."""
    x_cf = to_channels_first(x, data_format)
    rank = len(kernel_size)
    ops = [output_padding[i] if output_padding is not None else None for i in range(rank)]
    k_eff = effective_kernel(kernel_size, dilation_rate)
    parts = [_conv_transpose_pads(k, s, padding, op) for k, s, op in zip(k_eff, strides, ops)]
    out_spatial = tuple(conv_transpose_output_size(d, k, s, padding, op, dl) for d, k, s, op, dl
                        in zip(x_cf.shape[2:], kernel_size, strides, ops, dilation_rate))
    attrs = {"kernel_shape": list(kernel_size), "strides": list(strides), "dilations": list(dilation_rate),
             "pads": [p[0] for p in parts] + [p[1] for p in parts], "output_padding": [p[2] for p in parts]}
    inputs = [x_cf, weight] + ([bias] if bias is not None else [])
    y = emit("ConvTranspose", inputs, attrs, shapes=[(x.shape[0], filters, *out_spatial)], dtypes_=[x.dtype])
    return from_channels_first(y, data_format)


@keras_op
def conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None, data_format=None,
                   dilation_rate=1):
    """Transposed convolution, kernel (k..., out, in), Keras output sizes (ONNX ConvTranspose).

    Example:
        >>> y = ops.conv_transpose(x, np.ones((3, 3, 8, 4), "float32"), strides=2, padding="same")
    """
    if not any_symbolic(inputs, kernel):
        return run_eagerly(lambda x: conv_transpose(x, kernel, strides, padding, output_padding, data_format,
                                                    dilation_rate), {"x": inputs})
    x = as_tensor(inputs)
    shape = _kernel_shape(kernel)
    strides, padding, data_format, dilation_rate = _conv_args(x, shape, strides, padding, data_format,
                                                              dilation_rate)
    rank = len(shape) - 2
    if output_padding is not None:
        output_padding = standardize_tuple(output_padding, rank, "output_padding", allow_zero=True)
    in_channels = channels_first_shape(x.shape, data_format)[1]
    if in_channels != shape[-1]:
        raise ValueError(f"ops.conv_transpose: input channels {in_channels} (shape {x.shape}) must equal "
                         f"the kernel's last dimension {shape[-1]} (kernel shape {shape}).")
    weight = kernel_operand(kernel, conv_kernel_transform(rank))
    return emit_conv_transpose(x, weight, kernel_size=shape[:rank], strides=strides, padding=padding,
                               output_padding=output_padding, dilation_rate=dilation_rate,
                               data_format=data_format, filters=shape[-2])
