"""Gradients of Conv and ConvTranspose (1D/2D/3D; pads, strides, dilations, groups, bias).

Formulations, measured on the toy ResNet's conv shapes (tools/bench_conv_backward.py,
onnxruntime 1.19 and 1.32, one thread):
- input gradient: ConvTranspose(dY, W) with the forward's pads/strides/dilations/group and the
  output_padding that gives back the input's size (a padded Conv with the flipped kernel was
  1.3x slower; with the padding as the Conv's pads attribute instead of a Pad node it won only on
  the 'same' 9x9 blocks on 1.19 (1.17x) and lost there on 1.32 (0.95x), and lost on the valid
  convs on both: tools/bench_conv_backward.py --only dX);
- weight gradient: im2col by ONE Gather of every patch from x in (N, H*W, C) layout, then ONE
  MatMul with dY as (O, N*P). It beat one MatMul per kernel offset over Slices (the earlier
  prototype's choice) by ~1.2x, a Conv with batch and channel axes swapped by ~1.8x, and
  patches by a one-hot grouped Conv by ~1.3x. Its indices need known spatial sizes; with a
  runtime-sized spatial axis the weight gradient is the swapped-axes Conv (re-measured in the
  whole toy-ResNet graph, --model, onnxruntime 1.32: 0.84x the im2col speed), which works on
  any size, and above IM2COL_MAX_PER_SAMPLE patch elements per sample it goes one kernel
  offset at a time (memory).
ConvTranspose is the adjoint of Conv with the same attributes, so its input gradient is that
Conv and its weight gradient is the Conv weight gradient with the roles of x and dY exchanged.
"""

from __future__ import annotations

import math

import numpy as np

from onnxgraph.autodiff import _util
from onnxgraph.autodiff._registry import register_gradient
from onnxgraph.backend.emit import emit

__all__ = ["conv_params", "conv_input_grad", "conv_weight_grad", "bias_grad", "concat_shape", "where"]


def where(node) -> str:
    return "/".join(node.scope + (node.op_type,))


def concat_shape(parts) -> object:
    """A 1-D int64 shape from ints and int64 vectors: a constant when every part is an int."""
    if all(isinstance(p, (int, np.integer)) for p in parts):
        return _util.const(np.asarray(parts, np.int64), "int64")
    pieces, run = [], []
    for p in parts:
        if isinstance(p, (int, np.integer)):
            run.append(int(p))
            continue
        if run:
            pieces.append(_util.const(np.asarray(run, np.int64), "int64"))
            run = []
        pieces.append(p)
    if run:
        pieces.append(_util.const(np.asarray(run, np.int64), "int64"))
    return emit("Concat", pieces, {"axis": 0}, shapes=[(len(parts) if all(_len1(p) for p in parts) else None,)],
                dtypes_=["int64"]) if len(pieces) > 1 else pieces[0]


def _len1(p) -> bool:
    return isinstance(p, (int, np.integer)) or p.shape == (1,)


def _dim(x, axis: int):
    """x.shape[axis] as an int when known, else a (1,) int64 tensor read at runtime."""
    d = x.shape[axis]
    return d if d is not None else _util.shape_of(x, axis, axis + 1)


def _reshape(x, parts, shape):
    return emit("Reshape", [x, concat_shape(parts)], shapes=[tuple(shape)], dtypes_=[x.dtype])


def conv_params(node, x, weight_shape, transpose: bool = False):
    """(kernel, strides, dilations, pads [begins..., ends...], group) with auto_pad resolved.

    `weight_shape` gives the kernel when the node has no kernel_shape (pools always have one).
    """
    kernel = [int(k) for k in (_util.attr(node, "kernel_shape", None) or weight_shape[2:])]
    n = len(kernel)
    strides = [int(s) for s in (_util.attr(node, "strides", None) or [1] * n)]
    dilations = [int(d) for d in (_util.attr(node, "dilations", None) or [1] * n)]
    group = int(_util.attr(node, "group", 1))
    auto_pad = _util.attr(node, "auto_pad", "NOTSET")
    if transpose:
        return kernel, strides, dilations, _transpose_pads(node, x, kernel, strides, dilations), group
    if auto_pad == "VALID":
        return kernel, strides, dilations, [0] * (2 * n), group
    if auto_pad not in ("SAME_UPPER", "SAME_LOWER"):
        return kernel, strides, dilations, [int(p) for p in (_util.attr(node, "pads", None) or [0] * (2 * n))], group
    begins, ends = [], []
    for i in range(n):
        size, s, eff = x.shape[2 + i], strides[i], (kernel[i] - 1) * dilations[i] + 1
        if size is None and s != 1:
            raise NotImplementedError(f"{where(node)}: auto_pad={auto_pad} with stride {s} on an axis of unknown "
                                      f"size (input {x.shape}) has no static padding to differentiate; give the "
                                      "model Input a fixed spatial shape or use explicit pads.")
        total = eff - 1 if size is None else max((math.ceil(size / s) - 1) * s + eff - size, 0)
        small, large = total // 2, total - total // 2
        begins.append(small if auto_pad == "SAME_UPPER" else large)
        ends.append(large if auto_pad == "SAME_UPPER" else small)
    return kernel, strides, dilations, begins + ends, group


def _transpose_pads(node, x, kernel, strides, dilations):
    """ConvTranspose pads with output_shape / auto_pad resolved to explicit begin/end crops."""
    n = len(kernel)
    auto_pad = _util.attr(node, "auto_pad", "NOTSET")
    output_shape = _util.attr(node, "output_shape", None)
    if output_shape is None and auto_pad in ("NOTSET", "VALID"):
        return [int(p) for p in (_util.attr(node, "pads", None) or [0] * (2 * n))] if auto_pad == "NOTSET" \
            else [0] * (2 * n)
    if None in x.shape[2:]:
        raise NotImplementedError(f"{where(node)}: ConvTranspose with output_shape/auto_pad on an input of unknown "
                                  f"spatial size {x.shape} cannot be differentiated; use explicit pads.")
    out_pad = list(_util.attr(node, "output_padding", None) or [0] * n)
    targets = list(output_shape)[-n:] if output_shape is not None else \
        [s * size for s, size in zip(strides, x.shape[2:])]
    begins, ends = [], []
    for i in range(n):
        total = strides[i] * (x.shape[2 + i] - 1) + out_pad[i] + (kernel[i] - 1) * dilations[i] + 1 - targets[i]
        small, large = total // 2, total - total // 2
        begins.append(small if auto_pad == "SAME_UPPER" else large)  # ONNX: the odd pixel at the start
        ends.append(large if auto_pad == "SAME_UPPER" else small)    # unless SAME_UPPER
    return begins + ends


def bias_grad(dy):
    """dB of a per-channel bias on (N, C, ...) data.

    Summed over the last axis of dY as (C, N*P), the layout the weight gradient transposes dY to
    anyway (onnxruntime merges the two Transposes): a ReduceSum over axes (0, 2, ...) was 2-8x
    slower (onnxruntime 1.32 / 1.19, 64x64x28x28).
    """
    channels = dy.shape[1]
    if channels is None:
        return _util.reduce_sum(dy, [0] + list(range(2, dy.ndim)), keepdims=False)
    rows = _reshape(_util.transpose(dy, [1, 0, *range(2, dy.ndim)]), [channels, -1], (channels, None))
    return _util.reduce_sum(rows, [1], keepdims=False)


def conv_input_grad(dy, w, x, kernel, strides, dilations, pads, group):
    """d(Conv(x, w))/dx applied to dy: a ConvTranspose sized back to x's spatial shape.

    output_padding restores the rows a stride skipped at the end. With an unknown input size and
    stride > 1 it takes its largest value (stride - 1) and a Slice trims to x's runtime size.
    """
    n = len(kernel)
    out_pad, trim = [], False
    for i in range(n):
        size, out = x.shape[2 + i], dy.shape[2 + i]
        if size is None or out is None:
            out_pad.append(strides[i] - 1)
            trim = trim or strides[i] > 1
            continue
        full = strides[i] * (out - 1) + (kernel[i] - 1) * dilations[i] + 1 - pads[i] - pads[n + i]
        out_pad.append(size - full)
    attrs = {"kernel_shape": kernel, "strides": strides, "dilations": dilations, "pads": pads, "group": group}
    if any(out_pad):
        attrs["output_padding"] = out_pad
    shape = x.shape if not trim else x.shape[:2] + (None,) * n
    dx = emit("ConvTranspose", [dy, w], attrs, shapes=[shape], dtypes_=[dy.dtype])
    if trim:
        axes = _util.const(np.arange(2, 2 + n, dtype=np.int64), "int64")
        dx = emit("Slice", [dx, _util.const(np.zeros(n, np.int64), "int64"), _util.shape_of(x, 2), axes],
                  shapes=[x.shape], dtypes_=[dy.dtype])
    return dx


# im2col materializes every patch: kernel-size times the input. Above this many patch elements
# per sample (8 MB in float32; 512 MB for a batch of 64) the weight gradient takes one kernel
# offset at a time instead (a Slice and a MatMul each; ~1.2x slower, input-sized memory).
IM2COL_MAX_PER_SAMPLE = 2 ** 21


def conv_weight_grad(x, dy, w_shape, kernel, strides, dilations, pads, group):
    """d(Conv(x, w))/dw applied to dy, w of shape (O, C/group, *kernel)."""
    if None in x.shape[1:] or None in dy.shape[1:]:
        return _weight_grad_swapped(x, dy, w_shape, kernel, strides, dilations, pads, group)
    if math.prod(dy.shape[2:]) * math.prod(kernel) * x.shape[1] > IM2COL_MAX_PER_SAMPLE:
        return _weight_grad_offsets(x, dy, w_shape, kernel, strides, dilations, pads, group)
    return _weight_grad_im2col(x, dy, w_shape, kernel, strides, dilations, pads, group)


def _weight_grad_offsets(x, dy, w_shape, kernel, strides, dilations, pads, group):
    """dW one kernel offset at a time: Slice of x as (g, C/g, N, *S), MatMul with dY as (g, N*P, O/g)."""
    n = len(kernel)
    batch, channels, *sizes = x.shape
    out_ch, out_sizes = dy.shape[1], list(dy.shape[2:])
    cg, og, positions = channels // group, out_ch // group, math.prod(out_sizes)
    padded = [s + pads[i] + pads[n + i] for i, s in enumerate(sizes)]
    if any(pads):
        x = emit("Pad", [x, _util.const([0, 0, *pads[:n], 0, 0, *pads[n:]], "int64")], {"mode": "constant"},
                 shapes=[(batch, channels, *padded)], dtypes_=[x.dtype])
    xg = _reshape(x, [0, group, cg, *padded], (batch, group, cg, *padded))
    xg = _util.transpose(xg, [1, 2, 0, *range(3, 3 + n)])  # (g, Cg, N, *S)
    dyg = _reshape(dy, [0, group, og, positions], (dy.shape[0], group, og, positions))
    dyg = _reshape(_util.transpose(dyg, [1, 0, 3, 2]), [group, -1, og], (group, None, og))  # (g, N*P, Og)
    axes = _util.const(np.arange(3, 3 + n), "int64")
    steps = _util.const(strides, "int64")
    parts = []
    for tap in np.ndindex(*kernel):
        starts = [t * d for t, d in zip(tap, dilations)]
        ends = [a + (o - 1) * s + 1 for a, o, s in zip(starts, out_sizes, strides)]
        window = emit("Slice", [xg, _util.const(starts, "int64"), _util.const(ends, "int64"), axes, steps],
                      shapes=[(group, cg, batch, *out_sizes)], dtypes_=[x.dtype])
        flat = _reshape(window, [group, cg, -1], (group, cg, None))
        parts.append(_util.matmul(flat, dyg))  # (g, Cg, Og)
    taps = len(parts)
    stacked = emit("Concat", parts, {"axis": 0}, shapes=[(taps * group, cg, og)], dtypes_=[x.dtype])
    stacked = _reshape(stacked, [taps, group, cg, og], (taps, group, cg, og))
    dw = _util.transpose(stacked, [1, 3, 2, 0])  # (g, Og, Cg, K)
    return _reshape(dw, list(w_shape), w_shape)


def _patch_index(sizes, out_sizes, kernel, strides, dilations) -> np.ndarray:
    """(P, K) flat indices into the padded spatial grid: output position p, kernel tap k."""
    n = len(sizes)
    flat_out = np.zeros([1] * (2 * n), np.int64)
    row = 1
    for i in reversed(range(n)):
        shape = [1] * (2 * n)
        shape[i], shape[n + i] = out_sizes[i], kernel[i]
        pos = (np.arange(out_sizes[i])[:, None] * strides[i] + np.arange(kernel[i])[None, :] * dilations[i])
        flat_out = flat_out + pos.reshape([out_sizes[i] if j == i else kernel[i] if j == n + i else 1
                                           for j in range(2 * n)]) * row
        row *= sizes[i]
    return flat_out.reshape(math.prod(out_sizes), math.prod(kernel))


def _weight_grad_im2col(x, dy, w_shape, kernel, strides, dilations, pads, group):
    n = len(kernel)
    batch, channels, *sizes = x.shape
    out_ch, out_sizes = dy.shape[1], list(dy.shape[2:])
    padded = [s + pads[i] + pads[n + i] for i, s in enumerate(sizes)]
    taps, positions, cg, og = math.prod(kernel), math.prod(out_sizes), channels // group, out_ch // group
    index = _util.const(_patch_index(padded, out_sizes, kernel, strides, dilations), "int64")
    spatial_pads = any(pads)
    if group == 1:
        xt = _util.transpose(x, [0, *range(2, 2 + n), 1])  # (N, *S, C)
        if spatial_pads:
            xt = emit("Pad", [xt, _util.const([0, *pads[:n], 0, 0, *pads[n:], 0], "int64")], {"mode": "constant"},
                      shapes=[(batch, *padded, channels)], dtypes_=[x.dtype])
        flat = _reshape(xt, [0, math.prod(padded), channels], (batch, math.prod(padded), channels))
        patches = emit("Gather", [flat, index], {"axis": 1}, shapes=[(batch, positions, taps, channels)],
                       dtypes_=[x.dtype])
        patches = _reshape(patches, [-1, taps * channels], (None, taps * channels))
        dym = _reshape(_util.transpose(dy, [1, 0, *range(2, 2 + n)]), [out_ch, -1], (out_ch, None))
        dw = _util.matmul(dym, patches)  # (O, K*C)
        dw = _reshape(dw, [out_ch, *kernel, channels], (out_ch, *kernel, channels))
        return _util.transpose(dw, [0, n + 1, *range(1, n + 1)])
    if spatial_pads:
        x = emit("Pad", [x, _util.const([0, 0, *pads[:n], 0, 0, *pads[n:]], "int64")], {"mode": "constant"},
                 shapes=[(batch, channels, *padded)], dtypes_=[x.dtype])
    grouped = _reshape(x, [0, group, cg, math.prod(padded)], (batch, group, cg, math.prod(padded)))
    grouped = _util.transpose(grouped, [1, 0, 3, 2])  # (g, N, L, Cg)
    patches = emit("Gather", [grouped, index], {"axis": 2}, shapes=[(group, batch, positions, taps, cg)],
                   dtypes_=[x.dtype])
    patches = _reshape(patches, [group, -1, taps * cg], (group, None, taps * cg))
    dyg = _reshape(dy, [0, group, og, positions], (dy.shape[0], group, og, positions))
    dyg = _reshape(_util.transpose(dyg, [1, 2, 0, 3]), [group, og, -1], (group, og, None))
    dw = _util.matmul(dyg, patches)  # (g, Og, K*Cg)
    dw = _reshape(dw, [out_ch, taps, cg], (out_ch, taps, cg))
    dw = _util.transpose(dw, [0, 2, 1])
    return _reshape(dw, list(w_shape), w_shape)


def _weight_grad_swapped(x, dy, w_shape, kernel, strides, dilations, pads, group):
    """dW as one Conv of x (channels as batch) with dY (batch as channels); any runtime sizes."""
    n = len(kernel)
    channels, out_ch = x.shape[1], dy.shape[1]
    if channels is None or out_ch is None:
        raise NotImplementedError(f"Conv weight gradient needs known channel counts, got x {x.shape}, dY {dy.shape}.")
    cg, og = channels // group, out_ch // group
    spatial = [_dim(x, 2 + i) for i in range(n)]
    out_spatial = [_dim(dy, 2 + i) for i in range(n)]
    if group == 1:
        xs = _util.transpose(x, [1, 0, *range(2, 2 + n)])      # (C, N, *S)
        ks = _util.transpose(dy, [1, 0, *range(2, 2 + n)])     # (O, N, *S')
    else:
        xg = _reshape(x, [0, group, cg, *spatial], (x.shape[0], group, cg, *x.shape[2:]))
        xg = _util.transpose(xg, [2, 1, 0, *range(3, 3 + n)])  # (Cg, g, N, *S)
        xs = _reshape(xg, [cg, -1, *spatial], (cg, None, *x.shape[2:]))
        kg = _reshape(dy, [0, group, og, *out_spatial], (dy.shape[0], group, og, *dy.shape[2:]))
        kg = _util.transpose(kg, [1, 2, 0, *range(3, 3 + n)])  # (g, Og, N, *S')
        ks = _reshape(kg, [out_ch, -1, *out_spatial], (out_ch, None, *dy.shape[2:]))
    corr = emit("Conv", [xs, ks], {"strides": dilations, "dilations": strides, "pads": pads, "group": group},
                shapes=[(cg, out_ch) + (None,) * n], dtypes_=[x.dtype])
    # Uneven strides leave a few extra rows past the kernel's extent: keep the first `kernel`.
    corr = emit("Slice", [corr, _util.const(np.zeros(n, np.int64), "int64"), _util.const(kernel, "int64"),
                          _util.const(np.arange(2, 2 + n), "int64")], shapes=[(cg, out_ch, *kernel)],
                dtypes_=[x.dtype])
    return _util.transpose(corr, [1, 0, *range(2, 2 + n)])


def _skip(x) -> bool:
    """No gradient is needed for absent, constant or integer inputs."""
    return x is None or x.kind == "constant" or not _util.is_float(x)


@register_gradient("Conv")
def conv(node, grads):
    x, w = node.inputs[0], node.inputs[1]
    b = node.inputs[2] if len(node.inputs) > 2 else None
    dy = grads[0]
    kernel, strides, dilations, pads, group = conv_params(node, x, w.shape)
    dx = None if _skip(x) else conv_input_grad(dy, w, x, kernel, strides, dilations, pads, group)
    dw = None if _skip(w) else conv_weight_grad(x, dy, w.shape, kernel, strides, dilations, pads, group)
    db = None if _skip(b) else bias_grad(dy)
    return [dx, dw, db][:len(node.inputs)]


@register_gradient("ConvTranspose")
def conv_transpose(node, grads):
    x, w = node.inputs[0], node.inputs[1]
    b = node.inputs[2] if len(node.inputs) > 2 else None
    dy = grads[0]
    kernel, strides, dilations, pads, group = conv_params(node, x, w.shape, transpose=True)
    dx = None
    if not _skip(x):
        attrs = {"kernel_shape": kernel, "strides": strides, "dilations": dilations, "pads": pads, "group": group}
        dx = emit("Conv", [dy, w], attrs, shapes=[x.shape], dtypes_=[x.dtype])
    # Y = Conv(., w)^T x, so <dY, Y> = <Conv(dY, w), x>: the weight gradient of a Conv reading dY.
    dw = None if _skip(w) else conv_weight_grad(dy, x, w.shape, kernel, strides, dilations, pads, group)
    db = None if _skip(b) else bias_grad(dy)
    return [dx, dw, db][:len(node.inputs)]
