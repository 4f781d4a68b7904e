"""UpSampling, ZeroPadding and Cropping (1D/2D/3D): shapes, numerics vs numpy and Keras 3, configs."""

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph import layers
from tests.conftest import check_onnx, rand
from tests.layers import _conv_reference as ref

keras = pytest.importorskip("keras")


def _both(class_name, kwargs, shape, data_format=None):
    if data_format is not None:
        kwargs = {**kwargs, "data_format": data_format}
    x = rand(2, *shape, seed=len(shape))
    got, model = ref.run_layer(getattr(layers, class_name)(**kwargs), x)
    want_keras, keras_layer = ref.keras_output(keras, class_name, kwargs, x)
    assert model.output_shape == tuple(keras_layer.compute_output_shape((None, *x.shape[1:])))
    ref.assert_close(got, want_keras)
    return x, got


def _last(x, data_format):
    return ref.to_channels_last(x) if data_format == "channels_first" else x


def _first(y, data_format):
    return ref.to_channels_first(y) if data_format == "channels_first" else y


@pytest.mark.parametrize("size", [2, (1, 3), (3, 2)])
@pytest.mark.parametrize("interpolation", ["nearest", "bilinear", "bicubic"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_upsampling2d(size, interpolation, data_format):
    shape = (5, 3, 4) if data_format == "channels_first" else (3, 4, 5)
    x, got = _both("UpSampling2D", dict(size=size, interpolation=interpolation), shape, data_format)
    sizes = (size, size) if isinstance(size, int) else size
    want = ref.upsample(_last(x, data_format), sizes, interpolation)
    ref.assert_close(got, _first(want, data_format).astype("float32"))


@pytest.mark.parametrize("size", [1, 2, 3])
def test_upsampling1d(size):
    x, got = _both("UpSampling1D", dict(size=size), (4, 3))
    ref.assert_close(got, np.repeat(x, size, axis=1))


@pytest.mark.parametrize("size,data_format", [(2, "channels_last"), ((1, 2, 3), "channels_last"),
                                              ((2, 1, 2), "channels_first")])
def test_upsampling3d(size, data_format):
    x, got = _both("UpSampling3D", dict(size=size), (2, 3, 4, 2), data_format)
    sizes = (size,) * 3 if isinstance(size, int) else size
    ref.assert_close(got, _first(ref.upsample(_last(x, data_format), sizes), data_format).astype("float32"))


def test_upsampling2d_runtime_sizes():
    x = og.Input(shape=(None, None, 2))
    for interpolation in ("nearest", "bilinear", "bicubic"):
        model = og.Model(x, layers.UpSampling2D(2, interpolation=interpolation)(x))
        check_onnx(model)
        data = rand(1, 3, 5, 2)
        ref.assert_close(model.predict(data, verbose=0), ref.upsample(data, (2, 2), interpolation).astype("float32"))


PAD_2D = [1, (2, 0), ((1, 2), (0, 3))]


@pytest.mark.parametrize("padding", PAD_2D)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_zero_padding2d(padding, data_format):
    x, got = _both("ZeroPadding2D", dict(padding=padding), (3, 4, 2), data_format)
    pairs = layers.ZeroPadding2D(padding).padding
    want = np.pad(_last(x, data_format), [(0, 0), *pairs, (0, 0)])
    ref.assert_close(got, _first(want, data_format))


@pytest.mark.parametrize("class_name,padding,shape", [("ZeroPadding1D", 2, (4, 3)), ("ZeroPadding1D", (0, 3), (4, 3)),
                                                      ("ZeroPadding3D", 1, (2, 3, 2, 2)),
                                                      ("ZeroPadding3D", ((0, 1), (2, 0), (1, 1)), (2, 3, 2, 2))])
def test_zero_padding_1d_3d(class_name, padding, shape):
    x, got = _both(class_name, dict(padding=padding), shape)
    pairs = getattr(layers, class_name)(padding).padding
    ref.assert_close(got, np.pad(x, [(0, 0), *pairs, (0, 0)]))


@pytest.mark.parametrize("cropping", [1, (2, 0), ((1, 2), (0, 3))])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_cropping2d(cropping, data_format):
    shape = (7, 6, 2) if data_format == "channels_last" else (2, 7, 6)
    x, got = _both("Cropping2D", dict(cropping=cropping), shape, data_format)
    (t, b), (left, r) = layers.Cropping2D(cropping).cropping
    want = _last(x, data_format)[:, t:7 - b, left:6 - r]
    ref.assert_close(got, _first(want, data_format))


@pytest.mark.parametrize("class_name,cropping,shape", [("Cropping1D", (1, 1), (6, 3)), ("Cropping1D", (0, 2), (6, 3)),
                                                       ("Cropping3D", 1, (4, 5, 3, 2)),
                                                       ("Cropping3D", ((0, 1), (2, 0), (1, 1)), (4, 5, 3, 2))])
def test_cropping_1d_3d(class_name, cropping, shape):
    x, got = _both(class_name, dict(cropping=cropping), shape)
    pairs = getattr(layers, class_name)(cropping).cropping
    index = tuple(slice(a, n - b) for (a, b), n in zip(pairs, shape))
    ref.assert_close(got, x[(slice(None), *index)])


@pytest.mark.parametrize("layer", [layers.UpSampling2D((2, 3), interpolation="bilinear"), layers.UpSampling1D(3),
                                   layers.UpSampling3D((1, 2, 2)), layers.ZeroPadding2D(((1, 2), (3, 4))),
                                   layers.ZeroPadding1D((1, 2)), layers.Cropping2D(((1, 0), (2, 3))),
                                   layers.Cropping1D((2, 1)), layers.Cropping3D(2)])
def test_configs_match_keras(layer):
    config = layer.get_config()
    assert type(layer).from_config(config).get_config() == config
    kwargs = {k: v for k, v in config.items() if k not in ("name", "trainable", "dtype")}
    keras_config = getattr(keras.layers, type(layer).__name__)(**kwargs).get_config()
    for key, value in kwargs.items():
        assert np.array_equal(np.asarray(keras_config[key], dtype=object), np.asarray(value, dtype=object)), key


def test_errors():
    with pytest.raises(ValueError, match=r"Layer 'crop': cropping .* removes all of axis 1 of input shape \(None, 3, 4, 1\)"):
        layers.Cropping2D(((2, 1), (0, 0)), name="crop")(og.Input(shape=(3, 4, 1)))
    with pytest.raises(ValueError, match=r"`interpolation` must be one of \['bicubic', 'bilinear', 'nearest'\]"):
        layers.UpSampling2D(interpolation="lanczos3")
    with pytest.raises(ValueError, match=r"`padding` must be an int, a tuple of 2 ints"):
        layers.ZeroPadding2D((1, 2, 3))
