"""Conv1D/2D/3DTranspose: Keras output sizes (padding, output_padding), numerics vs numpy adjoint and Keras 3."""

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph import layers, ops
from tests.conftest import check_onnx, rand
from tests.layers import _conv_reference as ref

keras = pytest.importorskip("keras")


def _grid():
    cases = []
    for shape in [(5, 6, 3), (4, 7, 2)]:
        for kernel in [3, (2, 3), 1]:
            for strides in [1, 2, (3, 2)]:
                for padding in ["valid", "same"]:
                    for output_padding in [None, 0, 1]:
                        if output_padding is not None and min(np.atleast_1d(strides)) <= output_padding:
                            continue  # Keras requires output_padding < strides
                        cases.append((shape, kernel, strides, padding, output_padding, 1))
        cases.append((shape, 3, 1, "same", None, 2))
        cases.append((shape, (2, 3), 1, "valid", None, (2, 1)))
    return cases


def _has_adjoint(shape, kernel, strides, padding, output_padding, dilation, rank):
    """TF defines the transposed conv as a conv's adjoint only when that conv maps the output size back."""
    ks = np.broadcast_to(kernel, rank)
    ss = np.broadcast_to(strides, rank)
    ds = np.broadcast_to(dilation, rank)
    for n, k, s, d in zip(shape[:-1], ks, ss, ds):
        size = ref.conv_transpose_output_size(n, k, s, padding, output_padding, d)
        k_eff = (k - 1) * d + 1
        back = -(-size // s) if padding == "same" else (size - k_eff) // s + 1
        if back != n:
            return False
    return True


def _check(class_name, shape, kernel, strides, padding, output_padding, dilation, data_format="channels_last"):
    kwargs = dict(filters=4, kernel_size=kernel, strides=strides, padding=padding, output_padding=output_padding,
                  dilation_rate=dilation, data_format=data_format)
    layer = getattr(layers, class_name)(**kwargs)
    x = rand(2, *shape, seed=3)
    if data_format == "channels_first":
        x = ref.to_channels_first(x)
    layer.build((None, *x.shape[1:]))
    weights = ref.random_weights(layer, seed=4)
    got, model = ref.run_layer(layer, x)
    want_keras, keras_layer = ref.keras_output(keras, class_name, kwargs, x, weights)
    assert model.output_shape == tuple(keras_layer.compute_output_shape((None, *x.shape[1:])))
    ref.assert_close(got, want_keras)
    rank = len(shape) - 1
    if _has_adjoint(shape, kernel, strides, padding, output_padding, dilation, rank):
        x_last = x if data_format == "channels_last" else ref.to_channels_last(x)
        ops_ = None if output_padding is None else layer.output_padding
        want = ref.conv_transpose(x_last, weights[0], layer.strides, padding, ops_, layer.dilation_rate) + weights[1]
        if data_format == "channels_first":
            want = ref.to_channels_first(want)
        ref.assert_close(got, want.astype("float32"))
    assert layer.kernel.shape == layer.kernel_size + (4, shape[-1])


@pytest.mark.parametrize("shape,kernel,strides,padding,output_padding,dilation", _grid())
def test_conv2d_transpose_grid(shape, kernel, strides, padding, output_padding, dilation):
    _check("Conv2DTranspose", shape, kernel, strides, padding, output_padding, dilation)


@pytest.mark.parametrize("kernel,strides,padding,output_padding", [
    (3, 2, "same", None), (4, 3, "same", 1), (2, 2, "valid", None), (5, 1, "valid", None), (3, 3, "valid", 2)])
def test_conv1d_transpose(kernel, strides, padding, output_padding):
    _check("Conv1DTranspose", (7, 3), kernel, strides, padding, output_padding, 1)


@pytest.mark.parametrize("kernel,strides,padding", [(3, 2, "same"), (2, (1, 2, 3), "valid"), ((1, 2, 3), 1, "same")])
def test_conv3d_transpose(kernel, strides, padding):
    _check("Conv3DTranspose", (3, 4, 5, 2), kernel, strides, padding, None, 1)


@pytest.mark.parametrize("strides,padding", [(2, "same"), (1, "valid"), ((2, 3), "valid")])
def test_channels_first(strides, padding):
    _check("Conv2DTranspose", (5, 6, 3), 3, strides, padding, None, 1, data_format="channels_first")


def test_guide_decoder_shapes_and_weights_layout():
    x = og.Input(shape=(4, 4, 1))
    layer = layers.Conv2DTranspose(16, 3, activation="relu", name="t")
    model = og.Model(x, layer(x))
    assert model.output_shape == (None, 6, 6, 16)
    assert layer.count_params() == 160
    proto = check_onnx(model)
    dims = {t.name: list(t.dims) for t in proto.graph.initializer}
    assert dims["t/kernel"] == [1, 16, 3, 3]  # ONNX ConvTranspose (in, out, kh, kw)
    assert [n.op_type for n in proto.graph.node].count("ConvTranspose") == 1


def test_config_roundtrip_and_errors():
    layer = layers.Conv2DTranspose(3, (2, 3), strides=(2, 3), padding="same", output_padding=(1, 2))
    config = layer.get_config()
    assert config["output_padding"] == [1, 2]
    assert layers.Conv2DTranspose.from_config(config).get_config() == config
    keras_config = keras.layers.Conv2DTranspose(3, (2, 3), strides=(2, 3), padding="same",
                                                output_padding=(1, 2)).get_config()
    assert tuple(keras_config["output_padding"]) == (1, 2)
    with pytest.raises(ValueError, match="must be smaller than the stride"):
        layers.Conv2DTranspose(3, 3, strides=2, output_padding=2)
    with pytest.raises(ValueError, match=r"Layer 'tt' needs a known channel dimension"):
        layers.Conv2DTranspose(3, 3, name="tt")(og.Input(shape=(4, 4, None)))


def test_ops_conv_transpose_eager():
    data, kernel = rand(2, 5, 4, 3), rand(3, 3, 2, 3, seed=1)
    got = ops.conv_transpose(data, kernel, strides=2, padding="same")
    ref.assert_close(got, ref.conv_transpose(data, kernel, (2, 2), "same", None, (1, 1)).astype("float32"))
