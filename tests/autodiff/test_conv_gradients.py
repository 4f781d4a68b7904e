"""Conv / ConvTranspose gradient rules against finite differences: ops and layers."""

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph import layers
from onnxgraph.backend.emit import emit
from onnxgraph.backend.graph import collect
from onnxgraph.layers._input_layer import placeholder
from onnxgraph.trainer._rules import rewrite_for_training
from tests.autodiff.family_check import Scale, check_model, check_op, run_gradients

RNG = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _fresh_data():
    """The same data for a test however the suite is selected or ordered."""
    global RNG
    RNG = np.random.default_rng(0)


def rand(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


# (spatial, in ch, out ch, kernel, strides, dilations, pads, group, bias)
CONV_CASES = {
    "1d stride 3 end pad": ((9,), 4, 6, (3,), (3,), (1,), (0, 2), 1, True),
    "1d grouped": ((9,), 4, 6, (3,), (2,), (2,), (1, 1), 2, True),
    "2d asymmetric pads stride dilation": ((7, 8), 3, 4, (3, 2), (2, 1), (1, 2), (1, 0, 2, 1), 1, True),
    "2d uneven stride": ((8, 7), 2, 3, (3, 3), (3, 2), (1, 1), (0, 0, 0, 0), 1, False),
    "2d depthwise x2": ((6, 6), 4, 8, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 4, False),
    "2d same no bias": ((5, 5), 3, 2, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 1, False),
    "3d groups strides dilations": ((5, 6, 5), 4, 4, (2, 3, 2), (2, 2, 1), (1, 1, 2), (1, 0, 1, 0, 1, 1), 2, True),
}


def _conv(op, attrs):
    return lambda *inputs: emit(op, list(inputs), attrs)


@pytest.mark.parametrize("dynamic", ["static", "batch", "spatial"])
@pytest.mark.parametrize("case", list(CONV_CASES))
def test_conv_gradients(case, dynamic):
    spatial, c, o, k, s, d, p, g, bias = CONV_CASES[case]
    arrays = {"x": rand(2, c, *spatial), "w": rand(o, c // g, *k)}
    if bias:
        arrays["b"] = rand(o)
    shapes = {"batch": {"x": (None, c, *spatial)}, "spatial": {"x": (None, c) + (None,) * len(spatial)}}
    attrs = {"kernel_shape": list(k), "strides": list(s), "dilations": list(d), "pads": list(p), "group": g}
    check_op(_conv("Conv", attrs), arrays, shapes.get(dynamic))


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER", "VALID"])
def test_conv_auto_pad(auto_pad):
    attrs = {"kernel_shape": [4, 3], "strides": [2, 1], "auto_pad": auto_pad}
    check_op(_conv("Conv", attrs), {"x": rand(2, 2, 7, 6), "w": rand(3, 2, 4, 3)}, {"x": (None, 2, 7, 6)})


def test_runtime_sized_conv_gradient_matches_static_graph_at_two_sizes():
    """One graph with unknown spatial dims (swapped-axes weight grad, trimmed ConvTranspose) serves any size."""
    attrs = {"kernel_shape": [3, 2], "strides": [2, 3], "dilations": [1, 2], "pads": [1, 0, 0, 1], "group": 2}
    w = rand(4, 2, 3, 2)

    def grads(x, shape):
        inputs = [placeholder(shape, "float32", "x"), placeholder(w.shape, "float32", "w")]
        graph = collect(inputs, [emit("Conv", inputs, attrs)], ["x", "w"], ["y"])
        return run_gradients(graph, {"x": x, "w": w})[1]

    dynamic_graph = None
    for size in [(7, 9), (10, 8)]:
        x = rand(3, 4, *size)
        static = grads(x, x.shape)
        if dynamic_graph is None:
            inputs = [placeholder((None, 4, None, None), "float32", "x"), placeholder(w.shape, "float32", "w")]
            graph = collect(inputs, [emit("Conv", inputs, attrs)], ["x", "w"], ["y"])
            dynamic_graph, _ = run_gradients(graph, {"x": x, "w": w})
        got = dynamic_graph.run(["grad_x", "grad_w"], {"x": x, "w": w})
        np.testing.assert_allclose(got[0], static["x"], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(got[1], static["w"], rtol=1e-4, atol=1e-4)


# (spatial, in ch, out ch, kernel, strides, dilations, pads, group, output_padding)
TRANSPOSE_CASES = {
    "1d stride 3 output_padding": ((5,), 4, 6, (3,), (3,), (1,), (0, 2), 2, (2,)),
    "2d pads stride dilation": ((4, 5), 3, 4, (3, 2), (2, 1), (1, 2), (1, 0, 2, 1), 1, (1, 0)),
    "2d depthwise": ((4, 4), 3, 3, (3, 3), (2, 2), (1, 1), (1, 1, 1, 1), 3, None),
    "3d": ((3, 4, 3), 4, 4, (2, 3, 2), (2, 2, 1), (1, 1, 2), (1, 0, 1, 0, 1, 1), 4, None),
}


@pytest.mark.parametrize("dynamic", [False, True])
@pytest.mark.parametrize("case", list(TRANSPOSE_CASES))
def test_conv_transpose_gradients(case, dynamic):
    spatial, c, o, k, s, d, p, g, out_pad = TRANSPOSE_CASES[case]
    arrays = {"x": rand(2, c, *spatial), "w": rand(c, o // g, *k), "b": rand(o)}
    attrs = {"kernel_shape": list(k), "strides": list(s), "dilations": list(d), "pads": list(p), "group": g}
    if out_pad:
        attrs["output_padding"] = list(out_pad)
    check_op(_conv("ConvTranspose", attrs), arrays, {"x": (None, c, *spatial)} if dynamic else None)


@pytest.mark.parametrize("auto_pad", ["NOTSET", "SAME_UPPER", "SAME_LOWER"])
def test_conv_transpose_output_shape_and_auto_pad(auto_pad):
    attrs = {"kernel_shape": [3, 3], "strides": [2, 2], "auto_pad": auto_pad}
    if auto_pad == "NOTSET":
        attrs["output_shape"] = [8, 7]
    check_op(_conv("ConvTranspose", attrs), {"x": rand(2, 2, 4, 4), "w": rand(2, 3, 3, 3)})


LAYER_CASES = {
    "Conv1D same stride 2": ((7, 2), lambda: layers.Conv1D(3, 3, strides=2, padding="same")),
    "Conv1D causal dilated": ((8, 2), lambda: layers.Conv1D(2, 3, padding="causal", dilation_rate=2)),
    "Conv2D same stride 2": ((7, 7, 2), lambda: layers.Conv2D(3, 3, strides=2, padding="same")),
    "Conv2D same even kernel": ((6, 6, 2), lambda: layers.Conv2D(2, 4, padding="same")),
    "Conv2D valid dilation 2 relu": ((7, 7, 2), lambda: layers.Conv2D(2, 3, dilation_rate=2, activation="relu")),
    "Conv2D groups": ((5, 5, 4), lambda: layers.Conv2D(4, 3, groups=2)),
    "Conv2D channels_first": ((2, 5, 5), lambda: layers.Conv2D(2, 3, padding="same", data_format="channels_first")),
    "Conv3D same stride 2": ((4, 4, 4, 1), lambda: layers.Conv3D(2, 3, strides=2, padding="same")),
    "DepthwiseConv2D same": ((5, 5, 2), lambda: layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2)),
    "SeparableConv2D same": ((5, 5, 2), lambda: layers.SeparableConv2D(3, 3, padding="same")),
    "SeparableConv1D": ((6, 2), lambda: layers.SeparableConv1D(3, 3, strides=2, padding="same")),
    "Conv2DTranspose same stride 2": ((4, 4, 2), lambda: layers.Conv2DTranspose(3, 3, strides=2, padding="same")),
    "Conv2DTranspose valid": ((4, 4, 2), lambda: layers.Conv2DTranspose(2, 3)),
    "Conv1DTranspose stride 2": ((4, 2), lambda: layers.Conv1DTranspose(2, 3, strides=2)),
    "Conv3DTranspose same": ((3, 3, 3, 1), lambda: layers.Conv3DTranspose(2, 2, strides=2, padding="same")),
}


@pytest.mark.parametrize("rewrite", [None, rewrite_for_training], ids=["native", "trainer-rewrite"])
@pytest.mark.parametrize("case", list(LAYER_CASES))
def test_conv_layers(case, rewrite):
    shape, make = LAYER_CASES[case]
    inputs = og.Input(shape=shape)
    model = og.Model(inputs, make()(inputs))
    # ReLU's kink: a small step keeps pre-activations on their side of 0.
    grads = check_model(model, rand(3, *shape), eps=1e-4 if "relu" in case else 1e-2, rewrite=rewrite)
    assert len(grads) == 1 + len(model.trainable_weights)


@pytest.mark.parametrize("case", ["1d grouped", "2d asymmetric pads stride dilation", "2d depthwise x2",
                                  "3d groups strides dilations"])
def test_conv_weight_gradient_one_offset_at_a_time(case, monkeypatch):
    """The large-input formulation (per-offset Slice + MatMul), forced by a zero im2col budget."""
    from onnxgraph.autodiff import _conv as conv_rules

    monkeypatch.setattr(conv_rules, "IM2COL_MAX_PER_SAMPLE", 0)
    spatial, c, o, k, s, d, p, g, _ = CONV_CASES[case]
    attrs = {"kernel_shape": list(k), "strides": list(s), "dilations": list(d), "pads": list(p), "group": g}
    check_op(_conv("Conv", attrs), {"x": rand(2, c, *spatial), "w": rand(o, c // g, *k)}, {"x": (None, c, *spatial)})


def test_a_wrong_weight_gradient_is_caught(monkeypatch):
    """Negative control: a spatially flipped weight gradient must fail the check."""
    from onnxgraph.autodiff import _conv as conv_rules
    from tests.autodiff.gradcheck import GradientMismatch

    right = conv_rules._weight_grad_im2col

    def flipped(*args):
        dw = right(*args)
        index = conv_rules._util.const(np.arange(dw.shape[-1])[::-1].copy(), "int64")
        return emit("Gather", [dw, index], {"axis": dw.ndim - 1}, shapes=[dw.shape], dtypes_=[dw.dtype])

    monkeypatch.setattr(conv_rules, "_weight_grad_im2col", flipped)
    attrs = {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}
    with pytest.raises(GradientMismatch, match="w"):
        check_op(_conv("Conv", attrs), {"x": rand(2, 3, 5, 5), "w": rand(4, 3, 3, 3)})


RUNTIME_SIZED = {
    "Conv2D same stride 2": lambda: layers.Conv2D(3, 3, strides=2, padding="same"),
    "Conv2D valid dilation 2": lambda: layers.Conv2D(2, 3, dilation_rate=2),
    "DepthwiseConv2D same": lambda: layers.DepthwiseConv2D(3, padding="same"),
    "Conv2DTranspose same stride 2": lambda: layers.Conv2DTranspose(2, 3, strides=2, padding="same"),
    "MaxPooling2D same stride 2": lambda: layers.MaxPooling2D(3, strides=2, padding="same"),
    "AveragePooling2D same stride 2": lambda: layers.AveragePooling2D(3, strides=2, padding="same"),
    "UpSampling2D": lambda: layers.UpSampling2D(2),
    "GlobalAveragePooling2D": lambda: layers.GlobalAveragePooling2D(),
    "GlobalMaxPooling2D": lambda: layers.GlobalMaxPooling2D(),
}


@pytest.mark.parametrize("case", list(RUNTIME_SIZED))
def test_layers_on_runtime_sized_images(case):
    """Input(shape=(None, None, C)): "same" padding computed at runtime, the rules' dynamic paths."""
    inputs = og.Input(shape=(None, None, 2))
    model = og.Model(inputs, RUNTIME_SIZED[case]()(Scale()(inputs)))
    x = (RNG.permutation(2 * 7 * 6 * 2).reshape(2, 7, 6, 2) * 0.1).astype(np.float32)  # no max ties
    check_model(model, x, eps=1e-3)
