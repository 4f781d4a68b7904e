"""DepthwiseConv1D/2D and SeparableConv1D/2D: shapes, Keras kernel layouts, numerics vs numpy and Keras 3."""

import pytest

import onnxgraph as og
from onnxgraph import layers, ops
from tests.conftest import check_onnx, rand
from tests.layers import _conv_reference as ref

keras = pytest.importorskip("keras")

GRID = [(strides, padding, dilation, multiplier)
        for strides in (1, 2) for padding in ("valid", "same") for dilation in (1, 2) for multiplier in (1, 3)
        if not (strides > 1 and dilation > 1)]


def _run(class_name, shape, data_format, **kwargs):
    kwargs["data_format"] = data_format
    layer = getattr(layers, class_name)(**kwargs)
    x = rand(2, *shape, seed=5)
    if data_format == "channels_first":
        x = ref.to_channels_first(x)
    layer.build((None, *x.shape[1:]))
    weights = ref.random_weights(layer, seed=6)
    got, model = ref.run_layer(layer, x)
    want_keras, keras_layer = ref.keras_output(keras, class_name, kwargs, x, weights)
    assert model.output_shape == tuple(keras_layer.compute_output_shape((None, *x.shape[1:])))
    ref.assert_close(got, want_keras)
    x_last = x if data_format == "channels_last" else ref.to_channels_last(x)
    return layer, weights, got, x_last


def _back(y, data_format):
    return (ref.to_channels_first(y) if data_format == "channels_first" else y).astype("float32")


@pytest.mark.parametrize("strides,padding,dilation,multiplier", GRID)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_depthwise_conv2d(strides, padding, dilation, multiplier, data_format):
    layer, (kernel, bias), got, x = _run("DepthwiseConv2D", (7, 8, 3), data_format, kernel_size=(3, 2),
                                         strides=strides, padding=padding, dilation_rate=dilation,
                                         depth_multiplier=multiplier)
    assert kernel.shape == (3, 2, 3, multiplier)  # Keras (kh, kw, in, depth_multiplier)
    want = ref.conv(x, ref.depthwise_as_grouped(kernel), layer.strides, padding, layer.dilation_rate, groups=3)
    ref.assert_close(got, _back(want + bias, data_format))


@pytest.mark.parametrize("strides,padding,dilation,multiplier", GRID)
def test_depthwise_conv1d(strides, padding, dilation, multiplier):
    layer, (kernel, bias), got, x = _run("DepthwiseConv1D", (9, 4), "channels_last", kernel_size=3, strides=strides,
                                         padding=padding, dilation_rate=dilation, depth_multiplier=multiplier)
    want = ref.conv(x, ref.depthwise_as_grouped(kernel), layer.strides, padding, layer.dilation_rate, groups=4)
    ref.assert_close(got, _back(want + bias, "channels_last"))


@pytest.mark.parametrize("strides,padding,dilation,multiplier", GRID)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_separable_conv2d(strides, padding, dilation, multiplier, data_format):
    layer, (depthwise, pointwise, bias), got, x = _run(
        "SeparableConv2D", (7, 8, 3), data_format, filters=5, kernel_size=3, strides=strides, padding=padding,
        dilation_rate=dilation, depth_multiplier=multiplier)
    assert pointwise.shape == (1, 1, 3 * multiplier, 5)
    mid = ref.conv(x, ref.depthwise_as_grouped(depthwise), layer.strides, padding, layer.dilation_rate, groups=3)
    want = ref.conv(mid, pointwise, (1, 1), "valid", (1, 1)) + bias
    ref.assert_close(got, _back(want, data_format))


@pytest.mark.parametrize("strides,padding,dilation,multiplier", GRID[::2])
def test_separable_conv1d(strides, padding, dilation, multiplier):
    layer, (depthwise, pointwise, bias), got, x = _run(
        "SeparableConv1D", (10, 2), "channels_last", filters=4, kernel_size=2, strides=strides, padding=padding,
        dilation_rate=dilation, depth_multiplier=multiplier)
    mid = ref.conv(x, ref.depthwise_as_grouped(depthwise), layer.strides, padding, layer.dilation_rate, groups=2)
    want = ref.conv(mid, pointwise, (1,), "valid", (1,)) + bias
    ref.assert_close(got, _back(want, "channels_last"))


def test_weights_names_and_grouped_conv_emission():
    x = og.Input(shape=(8, 8, 4))
    sep = layers.SeparableConv2D(6, 3, depth_multiplier=2, name="sep", use_bias=False)
    dw = layers.DepthwiseConv2D(3, name="dw", activation="relu")
    model = og.Model(x, dw(sep(x)))
    assert [w.name for w in sep.weights] == ["depthwise_kernel", "pointwise_kernel"]
    assert [w.name for w in dw.weights] == ["kernel", "bias"]
    proto = check_onnx(model)
    convs = [n for n in proto.graph.node if n.op_type == "Conv"]
    groups = [next((a.i for a in n.attribute if a.name == "group"), 1) for n in convs]
    assert groups == [4, 1, 6]
    dims = {t.name: list(t.dims) for t in proto.graph.initializer}
    assert dims["sep/depthwise_kernel"] == [8, 1, 3, 3] and dims["dw/kernel"] == [6, 1, 3, 3]
    assert [n.op_type for n in proto.graph.node].count("Transpose") == 2  # entry and exit only


def test_config_roundtrip():
    for layer in [layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu"),
                  layers.SeparableConv1D(4, 3, strides=2, depth_multiplier=3, use_bias=False)]:
        config = layer.get_config()
        assert type(layer).from_config(config).get_config() == config
        keras_config = getattr(keras.layers, type(layer).__name__)(**{
            k: v for k, v in config.items() if k not in ("name", "trainable", "dtype")}).get_config()
        assert keras_config["depth_multiplier"] == config["depth_multiplier"]
        assert keras_config["padding"] == config["padding"]


def test_ops_depthwise_and_separable_eager():
    data, dw, pw = rand(2, 6, 5, 3), rand(3, 3, 3, 2, seed=1), rand(1, 1, 6, 4, seed=2)
    want_dw = ref.conv(data, ref.depthwise_as_grouped(dw), (1, 1), "same", (1, 1), groups=3)
    ref.assert_close(ops.depthwise_conv(data, dw, padding="same"), want_dw.astype("float32"))
    want_sep = ref.conv(want_dw, pw, (1, 1), "valid", (1, 1))
    ref.assert_close(ops.separable_conv(data, dw, pw, padding="same"), want_sep.astype("float32"))
