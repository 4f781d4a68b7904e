"""Independent numpy references for convolution, pooling and resampling (channels_last).

Written from the Keras/TensorFlow definitions, not from the ONNX emission: convolution is a
sum of shifted slices times kernel taps; "same" pads total = max((ceil(n/s)-1)*s + k_eff - n, 0)
with the odd pixel at the end; a transposed convolution is the adjoint of the convolution
that maps its output size back to its input size (TF's conv_transpose definition).
"""

import numpy as np


def same_pad(n, k_eff, s):
    total = max((-(-n // s) - 1) * s + k_eff - n, 0)
    return total // 2, total - total // 2


def _pads(spatial, k_eff, strides, padding):
    if padding == "valid":
        return [(0, 0)] * len(spatial)
    if padding == "causal":
        return [(k_eff[0] - 1, 0)]
    return [same_pad(n, k, s) for n, k, s in zip(spatial, k_eff, strides)]


def _tap_slices(offset, dilation, strides, out_sizes):
    return tuple(slice(o * d, o * d + (m - 1) * s + 1, s) for o, d, s, m in zip(offset, dilation, strides, out_sizes))


def conv(x, kernel, strides, padding, dilation, groups=1):
    """x (N, *S, C), kernel (*k, C/groups, F) -> (N, *S', F), float64 accumulation."""
    ksize = kernel.shape[:-2]
    k_eff = [(k - 1) * d + 1 for k, d in zip(ksize, dilation)]
    pads = _pads(x.shape[1:-1], k_eff, strides, padding)
    xp = np.pad(x.astype(np.float64), [(0, 0), *pads, (0, 0)])
    out_sizes = [(n - k) // s + 1 for n, k, s in zip(xp.shape[1:-1], k_eff, strides)]
    cin, f = kernel.shape[-2], kernel.shape[-1]
    fg = f // groups
    out = np.zeros((x.shape[0], *out_sizes, f))
    for offset in np.ndindex(*ksize):
        patch = xp[(slice(None), *_tap_slices(offset, dilation, strides, out_sizes), slice(None))]
        tap = kernel[offset].astype(np.float64)
        for g in range(groups):
            out[..., g * fg:(g + 1) * fg] += patch[..., g * cin:(g + 1) * cin] @ tap[:, g * fg:(g + 1) * fg]
    return out


def depthwise_as_grouped(kernel):
    """(*k, C, M) depthwise kernel -> the grouped-conv kernel (*k, 1, C*M), output channel c*M + m."""
    *k, c, m = kernel.shape
    return kernel.reshape(*k, 1, c * m)


def conv_transpose_output_size(n, k, s, padding, output_padding, d):
    k_eff = (k - 1) * d + 1
    if padding == "valid":
        extra = max(k_eff, s) - k_eff if output_padding is None else output_padding
        return (n - 1) * s + k_eff + extra
    return n * s if output_padding is None else (n - 1) * s + k_eff % 2 + output_padding


def conv_transpose(x, kernel, strides, padding, output_padding, dilation):
    """Adjoint of `conv` (kernel (*k, F, C) read as a conv from F to C channels) at Keras's output size."""
    ksize = kernel.shape[:-2]
    ops = output_padding or [None] * len(ksize)
    sizes = [conv_transpose_output_size(n, k, s, padding, op, d)
             for n, k, s, op, d in zip(x.shape[1:-1], ksize, strides, ops, dilation)]
    k_eff = [(k - 1) * d + 1 for k, d in zip(ksize, dilation)]
    pads = _pads(sizes, k_eff, strides, padding)
    padded = [n + a + b for n, (a, b) in zip(sizes, pads)]
    out = np.zeros((x.shape[0], *padded, kernel.shape[-2]))
    n_in = x.shape[1:-1]
    for offset in np.ndindex(*ksize):
        region = (slice(None), *_tap_slices(offset, dilation, strides, n_in), slice(None))
        out[region] += x.astype(np.float64) @ kernel[offset].astype(np.float64).T
    crop = tuple(slice(a, a + n) for (a, _), n in zip(pads, sizes))
    return out[(slice(None), *crop, slice(None))]


def pool(x, pool_size, strides, padding, mode):
    """Max or average pooling; "same" averages only real pixels (TF/Keras semantics)."""
    pads = _pads(x.shape[1:-1], pool_size, strides, padding)
    fill = -np.inf if mode == "max" else 0.0
    xp = np.pad(x.astype(np.float64), [(0, 0), *pads, (0, 0)], constant_values=fill)
    ones = np.pad(np.ones(x.shape[1:-1]), pads)
    out_sizes = [(n - k) // s + 1 for n, k, s in zip(xp.shape[1:-1], pool_size, strides)]
    acc = np.full((x.shape[0], *out_sizes, x.shape[-1]), -np.inf if mode == "max" else 0.0)
    count = np.zeros(out_sizes)
    for offset in np.ndindex(*pool_size):
        taps = _tap_slices(offset, [1] * len(pool_size), strides, out_sizes)
        window = xp[(slice(None), *taps, slice(None))]
        acc = np.maximum(acc, window) if mode == "max" else acc + window
        count += ones[taps]
    return acc if mode == "max" else acc / count[None, ..., None]


def _resize_matrix(n, scale, mode):
    """(n*scale, n) interpolation matrix with torch's align_corners=False rules."""
    out = np.zeros((n * scale, n))
    for i in range(n * scale):
        src = (i + 0.5) / scale - 0.5
        if mode == "bilinear":
            src = max(src, 0.0)
            i0 = int(np.floor(src))
            w = src - i0
            out[i, min(i0, n - 1)] += 1 - w
            out[i, min(i0 + 1, n - 1)] += w
        else:  # bicubic, Keys kernel a = -0.75, edge indices clamped
            i0 = int(np.floor(src))
            t = src - i0
            a = -0.75
            for j, dist in zip(range(i0 - 1, i0 + 3), (1 + t, t, 1 - t, 2 - t)):
                dist = abs(dist)
                w = ((a + 2) * dist - (a + 3)) * dist * dist + 1 if dist <= 1 else ((a * dist - 5 * a) * dist + 8 * a) * dist - 4 * a
                out[i, min(max(j, 0), n - 1)] += w
    return out


def upsample(x, size, interpolation="nearest"):
    """x (N, *S, C) upsampled by integer factors along each spatial axis."""
    y = x.astype(np.float64)
    for axis, factor in enumerate(size, start=1):
        if interpolation == "nearest":
            y = np.repeat(y, factor, axis=axis)
        else:
            m = _resize_matrix(y.shape[axis], factor, interpolation)
            y = np.moveaxis(np.tensordot(m, np.moveaxis(y, axis, 0), axes=1), 0, axis)
    return y


def to_channels_first(x):
    return np.moveaxis(x, -1, 1)


def to_channels_last(x):
    return np.moveaxis(x, 1, -1)


# -- harness shared by the conv/pooling/spatial tests ------------------------------------------------
def run_layer(layer, x):
    """Call `layer` in a one-layer Model on data `x`; returns (output, model). The model passes full_check."""
    import onnxgraph as og
    from tests.conftest import check_onnx

    inputs = og.Input(shape=x.shape[1:])
    model = og.Model(inputs, layer(inputs))
    check_onnx(model)
    return model.predict(x, verbose=0), model


def keras_output(keras, class_name, kwargs, x, weights=None):
    """The same layer in Keras 3 (torch backend), weights copied in Keras layout."""
    layer = getattr(keras.layers, class_name)(**kwargs)
    layer.build(x.shape)
    if weights is not None:
        layer.set_weights(weights)
    return keras.ops.convert_to_numpy(layer(x)), layer


def random_weights(layer, seed=0):
    """Random values for every weight of a built layer (set in place; returned in Keras order)."""
    rng = np.random.default_rng(seed)
    values = [rng.standard_normal(w.shape).astype("float32") for w in layer.weights]
    layer.set_weights(values)
    return values


def assert_close(got, want, rtol=1e-5, atol=1e-5):
    assert got.shape == want.shape, f"shape {got.shape} != expected {want.shape}"
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
