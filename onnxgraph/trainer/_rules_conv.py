"""Training-graph rules for convolutions and pooling.

Measured in onnxruntime-training 1.19.2: Conv with auto_pad SAME_* and MaxPool with
ceil_mode=1 get wrong gradients; AveragePool with a symbolic batch crashes; GlobalMaxPool
and ConvTranspose have no (CPU) gradient. The rules give explicit pads, pool by depthwise
Conv, reduce by ArgMax + GatherElements, and transpose-convolve by zero insertion + Pad +
Conv with the flipped kernel.
"""

from __future__ import annotations

import math

import numpy as np

from onnxgraph.trainer._rewrite import E, attr, const
from onnxgraph.trainer._rules_basic import _arg_reduce

__all__ = ["RULES"]


def _spatial(node, x, kernel):
    n = len(kernel)
    strides = list(attr(node, "strides", None) or [1] * n)
    dilations = list(attr(node, "dilations", None) or [1] * n)
    return n, strides, dilations


def _need_dims(node, x, why: str):
    if None in x.shape[2:]:
        raise NotImplementedError(
            f"{'/'.join(node.scope)}: {why} needs known spatial dimensions in the training graph, got input "
            f"shape {x.shape} (NC... layout). Give the model Input a fixed spatial shape to train it."
        )


def _explicit_pads(node, x, kernel, strides, dilations) -> list[int]:
    """Pads as [begin..., end...], resolving auto_pad like ONNX does."""
    n = len(kernel)
    auto_pad = attr(node, "auto_pad", "NOTSET")
    if auto_pad == "VALID":
        return [0] * (2 * n)
    if auto_pad not in ("SAME_UPPER", "SAME_LOWER"):
        return list(attr(node, "pads", None) or [0] * (2 * n))
    begins, ends = [], []
    for i in range(n):
        size, k, s, d = x.shape[2 + i], kernel[i], strides[i], dilations[i]
        if size is None and s != 1:
            _need_dims(node, x, f"auto_pad={auto_pad} with stride {s}")
        effective = (k - 1) * d + 1
        total = effective - 1 if size is None else max((math.ceil(size / s) - 1) * s + effective - size, 0)
        small, large = total // 2, total - total // 2
        begins.append(small if auto_pad == "SAME_UPPER" else large)
        ends.append(large if auto_pad == "SAME_UPPER" else small)
    return begins + ends


def _ceil_extra(node, x, out, kernel, strides, dilations, pads) -> list[int]:
    """End padding that makes floor mode produce ceil mode's output size."""
    if not attr(node, "ceil_mode", 0):
        return [0] * len(kernel)
    _need_dims(node, x, "ceil_mode=1")
    extra = []
    for i, (k, s, d) in enumerate(zip(kernel, strides, dilations)):
        padded = x.shape[2 + i] + pads[i] + pads[len(kernel) + i]
        extra.append(max(0, (out.shape[2 + i] - 1) * s + (k - 1) * d + 1 - padded))
    return extra


def _conv(node, ctx):
    if attr(node, "auto_pad", "NOTSET") == "NOTSET":
        return None
    x, w = node.inputs[0], node.inputs[1]
    kernel = list(attr(node, "kernel_shape", None) or w.shape[2:])
    _, strides, dilations = _spatial(node, x, kernel)
    attrs = {k: v for k, v in node.attrs.items() if k != "auto_pad"}
    attrs["pads"] = _explicit_pads(node, x, kernel, strides, dilations)
    out = node.outputs[0]
    return [E("Conv", node.inputs, attrs, out.shape, out.dtype)]


def _max_pool(node, ctx):
    if attr(node, "auto_pad", "NOTSET") == "NOTSET" and not attr(node, "ceil_mode", 0):
        return None
    x, out = node.inputs[0], node.outputs[0]
    kernel = list(attr(node, "kernel_shape"))
    n, strides, dilations = _spatial(node, x, kernel)
    pads = _explicit_pads(node, x, kernel, strides, dilations)
    extra = _ceil_extra(node, x, out, kernel, strides, dilations, pads)
    pads = pads[:n] + [p + e for p, e in zip(pads[n:], extra)]
    attrs = {k: v for k, v in node.attrs.items() if k not in ("auto_pad", "ceil_mode")}
    attrs["pads"] = pads
    if len(node.outputs) == 1:
        return [E("MaxPool", [x], attrs, out.shape, out.dtype)]
    return list(E("MaxPool", [x], attrs, outputs=len(node.outputs)))


def _window_counts(size, k, s, d, begin, end, n_out, include_pad) -> np.ndarray:
    """Per output position: how many window taps AveragePool divides by along one axis."""
    starts = np.arange(n_out) * s - begin
    taps = starts[:, None] + np.arange(k)[None, :] * d
    low, high = (-begin, size + end) if include_pad else (0, size)
    return ((taps >= low) & (taps < high)).sum(axis=1).astype(np.float64)


def _average_pool(node, ctx):
    """Sum by depthwise Conv with ones, then divide by AveragePool's own window counts."""
    x, out = node.inputs[0], node.outputs[0]
    kernel = list(attr(node, "kernel_shape"))
    n, strides, dilations = _spatial(node, x, kernel)
    channels = x.shape[1]
    if channels is None:
        raise NotImplementedError(f"{'/'.join(node.scope)}: AveragePool needs a known channel count to train.")
    pads = _explicit_pads(node, x, kernel, strides, dilations)
    extra = _ceil_extra(node, x, out, kernel, strides, dilations, pads)
    conv_pads = pads[:n] + [p + e for p, e in zip(pads[n:], extra)]
    ones = const(np.ones((channels, 1, *kernel)), x.dtype)
    summed = E("Conv", [x, ones], {"group": channels, "kernel_shape": kernel, "strides": strides,
                                   "dilations": dilations, "pads": conv_pads}, out.shape, out.dtype)
    include_pad = bool(attr(node, "count_include_pad", 0))
    if not any(conv_pads) or (include_pad and not any(extra)):
        return [E("Mul", [summed, const(1.0 / math.prod(kernel), x.dtype)], None, out.shape, out.dtype)]
    _need_dims(node, x, "AveragePool with padding")
    counts = np.ones(())
    for i in range(n):
        axis_counts = _window_counts(x.shape[2 + i], kernel[i], strides[i], dilations[i], pads[i], pads[n + i],
                                     out.shape[2 + i], include_pad)
        counts = np.multiply.outer(counts, axis_counts)
    scale = const((1.0 / counts)[None, None], x.dtype)
    return [E("Mul", [summed, scale], None, out.shape, out.dtype)]


def _global_max_pool(node, ctx):
    x = node.inputs[0]
    return [_arg_reduce(x, list(range(2, x.ndim)), "ArgMax")]


def _reverse(x, axis: int):
    index = const(np.arange(x.shape[axis])[::-1].copy(), "int64")
    return E("Gather", [x, index], {"axis": axis}, x.shape, x.dtype)


def _conv_transpose_weight(w, groups: int):
    """(C_in, C_out/g, *k) ConvTranspose kernel -> (C_out, C_in/g, *k) Conv kernel, spatially flipped."""
    c_in, c_out_g, *k = w.shape
    rank = w.ndim
    if groups == 1:
        perm = [1, 0, *range(2, rank)]
        w = E("Transpose", [w], {"perm": perm}, tuple(w.shape[p] for p in perm), w.dtype)
    else:
        grouped = (groups, c_in // groups, c_out_g, *k)
        w = E("Reshape", [w, const(grouped, "int64")], None, grouped, w.dtype)
        perm = [0, 2, 1, *range(3, rank + 1)]
        w = E("Transpose", [w], {"perm": perm}, tuple(grouped[p] for p in perm), w.dtype)
        final = (groups * c_out_g, c_in // groups, *k)
        w = E("Reshape", [w, const(final, "int64")], None, final, w.dtype)
    for axis in range(2, rank):
        w = _reverse(w, axis)
    return w


def _insert_zeros(x, strides):
    """Put s-1 zeros between neighbours along each spatial axis (s = stride)."""
    n = len(strides)
    if all(s == 1 for s in strides):
        return x
    batch, channels, *sizes = x.shape
    axes = [3 + 2 * i for i in range(n)]
    interleaved = [batch, channels]
    for size in sizes:
        interleaved += [size, 1]
    y = E("Unsqueeze", [x, const(axes, "int64")], None, tuple(interleaved), x.dtype)
    pad_end = [0] * (2 + 2 * n)
    for i, s in enumerate(strides):
        pad_end[3 + 2 * i] = s - 1
        interleaved[3 + 2 * i] = s
    y = E("Pad", [y, const([0] * (2 + 2 * n) + pad_end, "int64")], {"mode": "constant"}, tuple(interleaved), x.dtype)
    widened = (batch, channels, *[size * s for size, s in zip(sizes, strides)])
    y = E("Reshape", [y, const([0, channels, *widened[2:]], "int64")], None, widened, x.dtype)
    trimmed = (batch, channels, *[(size - 1) * s + 1 for size, s in zip(sizes, strides)])
    return E("Slice", [y, const([0] * n, "int64"), const(trimmed[2:], "int64"), const(list(range(2, 2 + n)), "int64")],
             None, trimmed, x.dtype)


def _pad_or_crop(x, begins, ends):
    n = len(begins)
    if any(b > 0 for b in begins) or any(e > 0 for e in ends):
        pads = [0, 0] + [max(b, 0) for b in begins] + [0, 0] + [max(e, 0) for e in ends]
        shape = (*x.shape[:2], *[s + max(b, 0) + max(e, 0) for s, b, e in zip(x.shape[2:], begins, ends)])
        x = E("Pad", [x, const(pads, "int64")], {"mode": "constant"}, shape, x.dtype)
    if any(b < 0 for b in begins) or any(e < 0 for e in ends):
        starts = [max(-b, 0) for b in begins]
        stops = [s - max(-e, 0) for s, e in zip(x.shape[2:], ends)]
        shape = (*x.shape[:2], *[b - a for a, b in zip(starts, stops)])
        x = E("Slice", [x, const(starts, "int64"), const(stops, "int64"), const(list(range(2, 2 + n)), "int64")],
              None, shape, x.dtype)
    return x


def _conv_transpose(node, ctx):
    x, w = node.inputs[0], node.inputs[1]
    bias = node.inputs[2] if len(node.inputs) > 2 else None
    out = node.outputs[0]
    _need_dims(node, x, "ConvTranspose")
    kernel = list(attr(node, "kernel_shape", None) or w.shape[2:])
    n, strides, dilations = _spatial(node, x, kernel)
    groups = int(attr(node, "group", 1))
    out_pad = list(attr(node, "output_padding", None) or [0] * n)
    begins, ends = _transpose_pads(node, x, out, kernel, strides, dilations, out_pad)
    y = _insert_zeros(x, strides)
    y = _pad_or_crop(y, [(k - 1) * d - b for k, d, b in zip(kernel, dilations, begins)],
                     [(k - 1) * d - e + p for k, d, e, p in zip(kernel, dilations, ends, out_pad)])
    inputs = [y, _conv_transpose_weight(w, groups)] + ([bias] if bias is not None else [])
    attrs = {"group": groups, "kernel_shape": kernel, "dilations": dilations, "strides": [1] * n, "pads": [0] * (2 * n)}
    return [E("Conv", inputs, attrs, out.shape, out.dtype)]


def _transpose_pads(node, x, out, kernel, strides, dilations, out_pad):
    n = len(kernel)
    auto_pad = attr(node, "auto_pad", "NOTSET")
    output_shape = attr(node, "output_shape", None)
    if output_shape is None and auto_pad in ("NOTSET", "VALID"):
        pads = list(attr(node, "pads", None) or [0] * (2 * n)) if auto_pad == "NOTSET" else [0] * (2 * n)
        return pads[:n], pads[n:]
    if output_shape is not None:
        targets = list(output_shape)[-n:]
    else:
        targets = [s * size for s, size in zip(strides, x.shape[2:])]
    begins, ends = [], []
    for i in range(n):
        total = strides[i] * (x.shape[2 + i] - 1) + out_pad[i] + (kernel[i] - 1) * dilations[i] + 1 - targets[i]
        if auto_pad == "SAME_UPPER":
            begins.append(total // 2)
            ends.append(total - total // 2)
        else:
            begins.append(total - total // 2)
            ends.append(total // 2)
    return begins, ends


RULES = {
    "Conv": _conv, "MaxPool": _max_pool, "AveragePool": _average_pool, "GlobalMaxPool": _global_max_pool,
    "ConvTranspose": _conv_transpose,
}
