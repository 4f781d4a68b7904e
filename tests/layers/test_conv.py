"""Conv1D/2D/3D: output shapes, weights layout, numerics vs numpy and Keras 3, config, errors, ops.conv."""

import re

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph import layers, ops
from tests.conftest import check_onnx, rand
from tests.layers import _conv_reference as ref

keras = pytest.importorskip("keras")


def _grid(rank, sizes, kernels):
    cases = []
    for shape in sizes:
        for kernel in kernels:
            for strides in (1, 2, (2, 3, 1)[:rank] if rank > 1 else 3):
                for padding in ("valid", "same") + (("causal",) if rank == 1 else ()):
                    for dilation in (1, 2):
                        if dilation > 1 and strides != 1:
                            continue  # Keras rejects strides > 1 with dilation > 1
                        cases.append((shape, kernel, strides, padding, dilation))
    return cases


CONV2D = _grid(2, [(7, 9, 3), (8, 5, 4)], [3, (2, 3)])
CONV1D = _grid(1, [(11, 3), (6, 2)], [3, 2])
CONV3D = _grid(3, [(5, 6, 7, 2)], [2, (3, 1, 2)])


def _check_conv(class_name, shape, kernel, strides, padding, dilation, data_format, groups=1, filters=6):
    kwargs = dict(filters=filters, kernel_size=kernel, strides=strides, padding=padding, dilation_rate=dilation,
                  data_format=data_format, groups=groups)
    layer = getattr(layers, class_name)(**kwargs)
    x = rand(2, *shape, seed=1)
    if data_format == "channels_first":
        x = ref.to_channels_first(x)
    layer.build((None, *x.shape[1:]))
    weights = ref.random_weights(layer, seed=2)
    got, model = ref.run_layer(layer, x)
    want_keras, keras_layer = ref.keras_output(keras, class_name, kwargs, x, weights)
    assert model.output_shape == tuple(keras_layer.compute_output_shape((None, *x.shape[1:])))
    ref.assert_close(got, want_keras)
    rank = len(shape) - 1
    x_last = x if data_format == "channels_last" else ref.to_channels_last(x)
    want = ref.conv(x_last, weights[0], layer.strides, padding, layer.dilation_rate, groups) + weights[1]
    if data_format == "channels_first":
        want = ref.to_channels_first(want)
    ref.assert_close(got, want.astype("float32"))
    assert layer.kernel.shape == layer.kernel_size + (shape[-1] // groups, filters)
    assert rank == layer.rank


@pytest.mark.parametrize("shape,kernel,strides,padding,dilation", CONV2D)
def test_conv2d_grid(shape, kernel, strides, padding, dilation):
    _check_conv("Conv2D", shape, kernel, strides, padding, dilation, "channels_last")


@pytest.mark.parametrize("shape,kernel,strides,padding,dilation", CONV2D[::3])
def test_conv2d_channels_first(shape, kernel, strides, padding, dilation):
    _check_conv("Conv2D", shape, kernel, strides, padding, dilation, "channels_first")


@pytest.mark.parametrize("shape,kernel,strides,padding,dilation", CONV1D)
def test_conv1d_grid(shape, kernel, strides, padding, dilation):
    data_format = "channels_first" if dilation == 1 and padding != "valid" else "channels_last"
    _check_conv("Conv1D", shape, kernel, strides, padding, dilation, data_format)


@pytest.mark.parametrize("shape,kernel,strides,padding,dilation", CONV3D)
def test_conv3d_grid(shape, kernel, strides, padding, dilation):
    _check_conv("Conv3D", shape, kernel, strides, padding, dilation, "channels_last", filters=3)


@pytest.mark.parametrize("groups,data_format", [(2, "channels_last"), (4, "channels_last"), (2, "channels_first")])
def test_grouped_conv(groups, data_format):
    _check_conv("Conv2D", (7, 6, 8), 3, 1, "same", 1, data_format, groups=groups, filters=12)


def test_kernel_is_stored_pre_transposed_and_no_weight_transposes():
    x = og.Input(shape=(9, 9, 3))
    layer = layers.Conv2D(5, (3, 2), name="c")
    model = og.Model(x, layer(x))
    proto = check_onnx(model)
    inits = {t.name: t for t in proto.graph.initializer}
    assert list(inits["c/kernel"].dims) == [5, 3, 3, 2]  # ONNX (out, in, kh, kw)
    assert layer.get_weights()[0].shape == (3, 2, 3, 5)  # Keras (kh, kw, in, out)
    conv = next(n for n in proto.graph.node if n.op_type == "Conv")
    assert conv.input[1:] == ["c/kernel", "c/bias"]
    transposes = [n for n in proto.graph.node if n.op_type == "Transpose"]
    assert all(n.input[0] not in inits for n in transposes)
    assert all(a.name != "auto_pad" for n in proto.graph.node for a in n.attribute)


def test_activation_no_bias_and_save_load_roundtrip(tmp_path):
    x = og.Input(shape=(8, 8, 2))
    layer = layers.Conv2D(4, 3, strides=2, padding="same", activation="relu", use_bias=False)
    model = og.Model(x, layer(x))
    (kernel,) = ref.random_weights(layer)
    data = rand(3, 8, 8, 2)
    want = np.maximum(ref.conv(data, kernel, (2, 2), "same", (1, 1)), 0)
    ref.assert_close(model.predict(data, verbose=0), want.astype("float32"))
    model.save(tmp_path / "conv.onnx")
    restored = og.load_model(tmp_path / "conv.onnx")
    np.testing.assert_array_equal(restored.layers[1].get_weights()[0], kernel)
    ref.assert_close(restored.predict(data, verbose=0), want.astype("float32"))


@pytest.mark.parametrize("class_name,kwargs", [
    ("Conv1D", dict(filters=3, kernel_size=2, padding="causal", dilation_rate=2)),
    ("Conv2D", dict(filters=3, kernel_size=(3, 1), strides=(2, 1), padding="same", groups=1, activation="relu",
                    use_bias=False, data_format="channels_first", kernel_initializer="he_normal")),
    ("Conv3D", dict(filters=2, kernel_size=2, dilation_rate=(1, 2, 1))),
])
def test_config_roundtrip_matches_keras_keys(class_name, kwargs):
    layer = getattr(layers, class_name)(**kwargs)
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    keras_config = getattr(keras.layers, class_name)(**kwargs).get_config()
    for key in ("filters", "padding", "data_format", "groups", "activation", "use_bias"):
        assert config[key] == keras_config[key]
    for key in ("kernel_size", "strides", "dilation_rate"):
        assert tuple(config[key]) == tuple(keras_config[key])


def test_same_padding_with_runtime_sizes():
    """Unknown spatial sizes with stride 2: the "same" pads are computed in the graph (no auto_pad)."""
    x = og.Input(shape=(None, None, 3))
    layer = layers.Conv2D(4, 3, strides=2, padding="same")
    model = og.Model(x, layer(x))
    proto = check_onnx(model)
    assert model.output_shape == (None, None, None, 4)
    assert all(a.name != "auto_pad" for n in proto.graph.node for a in n.attribute)
    kernel, bias = ref.random_weights(layer)
    for h, w in [(7, 9), (8, 6), (1, 2)]:
        data = rand(2, h, w, 3, seed=h)
        want = ref.conv(data, kernel, (2, 2), "same", (1, 1)) + bias
        ref.assert_close(model.predict(data, verbose=0), want.astype("float32"))


def test_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"Layer 'c1' expects an input of rank 4, got shape \(None, 8, 3\)"):
        layers.Conv2D(2, 3, name="c1")(og.Input(shape=(8, 3)))
    with pytest.raises(ValueError, match=r"Layer 'c2': input shape \(None, 2, 2, 1\) is too small"):
        layers.Conv2D(2, 3, name="c2")(og.Input(shape=(2, 2, 1)))
    with pytest.raises(ValueError, match=r"Layer 'c3' needs a known channel dimension"):
        layers.Conv2D(2, 3, name="c3")(og.Input(shape=(8, 8, None)))
    with pytest.raises(ValueError, match="divisible by groups=2"):
        layers.Conv2D(4, 3, groups=2)(og.Input(shape=(8, 8, 3)))
    with pytest.raises(ValueError, match="strides > 1 together with dilation_rate > 1"):
        layers.Conv2D(4, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match=r"`padding` must be one of \('valid', 'same'\)"):
        layers.Conv2D(4, 3, padding="causal")
    layer = layers.Conv2D(2, 3, name="c4")
    layer(og.Input(shape=(8, 8, 3)))
    with pytest.raises(ValueError, match=r"Layer 'c4' expects an input whose last dimension is 3"):
        layer(og.Input(shape=(8, 8, 5)))


def test_ops_conv_eager_and_symbolic():
    data, kernel = rand(2, 7, 6, 4), rand(3, 2, 2, 6, seed=3)  # groups = 4 / 2
    want = ref.conv(data, kernel, (1, 2), "same", (1, 1), groups=2).astype("float32")
    ref.assert_close(ops.conv(data, kernel, strides=(1, 2), padding="same"), want)
    x = og.Input(shape=(7, 6, 4))
    model = og.Model(x, ops.conv(layers.Identity()(x), kernel, strides=(1, 2), padding="same"))
    check_onnx(model)
    ref.assert_close(model.predict(data, verbose=0), want)
    cf = ops.conv(ref.to_channels_first(data), kernel, strides=(1, 2), padding="same", data_format="channels_first")
    ref.assert_close(cf, ref.to_channels_first(want))
    with pytest.raises(ValueError, match="must be a multiple of the kernel's input channels"):
        ops.conv(og.Input(shape=(7, 6, 3)), kernel)


def test_custom_layer_calling_ops_conv_on_its_weight(tmp_path):
    """The Keras pattern `ops.conv(x, self.kernel)` stores the kernel pre-transposed and loads it back."""
    @og.saving.register_serializable(package="test_conv")
    class MyConv(og.Layer):
        def build(self, input_shape):
            self.kernel = self.add_weight((3, 3, input_shape[-1], 5), name="kernel")

        def call(self, x):
            return ops.max_pool(ops.conv(x, self.kernel, padding="same"), 2)

    x = og.Input(shape=(8, 8, 2))
    layer = MyConv()
    model = og.Model(x, layer(x))
    proto = check_onnx(model)
    assert [list(t.dims) for t in proto.graph.initializer if t.name.endswith("kernel")] == [[5, 2, 3, 3]]
    (kernel,) = ref.random_weights(layer)
    data = rand(2, 8, 8, 2)
    want = ref.pool(ref.conv(data, kernel, (1, 1), "same", (1, 1)), (2, 2), (2, 2), "valid", "max").astype("float32")
    ref.assert_close(model.predict(data, verbose=0), want)
    model.save(tmp_path / "custom.onnx")
    restored = og.load_model(tmp_path / "custom.onnx")
    np.testing.assert_array_equal(restored.layers[1].get_weights()[0], kernel)


KERAS_CONFIGS = [
    ("Conv1D", dict(filters=3, kernel_size=2, padding="causal")),
    ("Conv2D", dict(filters=3, kernel_size=3, strides=2, padding="same", activation="relu")),
    ("Conv3D", dict(filters=2, kernel_size=2)),
    ("Conv2DTranspose", dict(filters=3, kernel_size=3, strides=2, padding="same", output_padding=1)),
    ("Conv1DTranspose", dict(filters=2, kernel_size=3)),
    ("DepthwiseConv2D", dict(kernel_size=3, depth_multiplier=2)),
    ("SeparableConv2D", dict(filters=4, kernel_size=3, padding="same")),
    ("SeparableConv1D", dict(filters=4, kernel_size=3)),
    ("MaxPooling2D", dict(pool_size=2, strides=1, padding="same")),
    ("AveragePooling1D", dict(pool_size=3)),
    ("GlobalAveragePooling2D", dict(keepdims=True)),
    ("GlobalMaxPooling3D", dict()),
    ("UpSampling2D", dict(size=2, interpolation="bilinear")),
    ("ZeroPadding2D", dict(padding=((1, 0), (2, 1)))),
    ("Cropping1D", dict(cropping=(1, 2))),
]


@pytest.mark.parametrize("class_name,kwargs", KERAS_CONFIGS)
def test_layers_rebuild_from_keras_configs(class_name, kwargs):
    """A Keras 3 get_config() (DTypePolicy dict, initializer axes, regularizer keys) rebuilds the same layer."""
    theirs = getattr(keras.layers, class_name)(**kwargs)
    ours = getattr(layers, class_name).from_config(theirs.get_config())
    rank = int(re.search(r"(\d)D", class_name).group(1))
    data = rand(2, *(6, 7, 5, 3)[-(rank + 1):])
    theirs.build(data.shape)
    if theirs.weights:
        ours.build(data.shape)
        theirs.set_weights(ref.random_weights(ours))
    got, _ = ref.run_layer(ours, data)
    ref.assert_close(got, keras.ops.convert_to_numpy(theirs(data)))


def test_keras_initializer_config_with_axes():
    layer = layers.Conv2D.from_config(keras.layers.Conv2D(3, 3).get_config())
    assert layer.get_config()["kernel_initializer"]["config"]["input_axes"] is None
