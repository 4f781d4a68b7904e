"""Rescaling and Normalization: numerics vs numpy, adapt, weights, config, save/load, Keras parity."""

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph import layers
from tests.conftest import check_onnx, rand


def predict(layer, data, dtype="float32"):
    x = og.Input(shape=data.shape[1:], dtype=dtype)
    model = og.Model(x, layer(x))
    check_onnx(model)
    return model, model.predict(data, verbose=0)


@pytest.mark.parametrize("scale,offset", [(1 / 255, 0.0), (1 / 127.5, -1.0), ([0.5, 2.0, -1.0], [1.0, 0.0, 3.0])])
def test_rescaling(scale, offset):
    data = np.random.default_rng(0).integers(0, 256, size=(2, 4, 4, 3)).astype("uint8")
    _, y = predict(layers.Rescaling(scale, offset), data, dtype="uint8")
    assert y.dtype == np.float32
    want = data.astype("float32") * np.asarray(scale, "float32") + np.asarray(offset, "float32")
    np.testing.assert_allclose(y, want, rtol=1e-6, atol=1e-6)


def test_rescaling_config_round_trip_with_arrays():
    layer = layers.Rescaling(np.array([0.5, 0.25]), offset=np.float32(1.0))
    config = layer.get_config()
    assert config["scale"] == [0.5, 0.25] and config["offset"] == 1.0
    assert layers.Rescaling.from_config(config).get_config() == config
    keras_numpy = {"class_name": "__numpy__", "config": {"value": [2.0, 3.0], "dtype": "float64"}}
    assert layers.Rescaling(keras_numpy).scale == [2.0, 3.0]


def test_normalization_with_given_statistics_has_no_weights():
    layer = layers.Normalization(mean=[1.0, 2.0, 3.0], variance=[4.0, 1.0, 0.25])
    data = rand(5, 3)
    _, y = predict(layer, data)
    assert layer.weights == [] and layer.count_params() == 0
    np.testing.assert_allclose(y, (data - [1, 2, 3]) / np.sqrt([4.0, 1.0, 0.25]), rtol=1e-6, atol=1e-6)


def test_normalization_scalar_statistics_and_invert():
    data = rand(4, 2, 3)
    _, y = predict(layers.Normalization(mean=2.0, variance=9.0), data)
    np.testing.assert_allclose(y, (data - 2) / 3, rtol=1e-6, atol=1e-6)
    _, back = predict(layers.Normalization(mean=2.0, variance=9.0, invert=True), y)
    np.testing.assert_allclose(back, data, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("axis,shape", [(-1, (6, 3)), (1, (6, 3)), (None, (6, 3)), ((1, 2), (4, 3)), (-1, (5,))])
def test_adapt_matches_numpy(axis, shape):
    data = rand(40, *shape) * 3 + 2
    layer = layers.Normalization(axis=axis)
    layer.adapt(data)
    keep = tuple(range(1, data.ndim)) if axis == (1, 2) else (() if axis is None else (axis % data.ndim,))
    reduce = tuple(i for i in range(data.ndim) if i not in keep)
    mean, var = data.mean(axis=reduce, keepdims=True), data.var(axis=reduce, keepdims=True)
    np.testing.assert_allclose(layer.adapt_mean.numpy(), np.squeeze(mean, reduce), rtol=1e-5)
    np.testing.assert_allclose(layer.adapt_variance.numpy(), np.squeeze(var, reduce), rtol=1e-5)
    _, y = predict(layer, data[:3])
    np.testing.assert_allclose(y, (data[:3] - mean) / np.sqrt(var), rtol=1e-5, atol=1e-5)


def test_adapt_over_batches_equals_adapt_over_all_data():
    data = rand(50, 4) * 2 - 1
    whole, batched = layers.Normalization(), layers.Normalization()
    whole.adapt(data)
    batched.adapt([data[:7], data[7:30], data[30:]])
    np.testing.assert_allclose(batched.adapt_mean.numpy(), whole.adapt_mean.numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(batched.adapt_variance.numpy(), whole.adapt_variance.numpy(), rtol=1e-5)


def test_adapted_weights_keras_layout_and_readapt_updates_model(tmp_path):
    x = og.Input(shape=(3,))
    layer = layers.Normalization()
    model = og.Model(x, layer(x))  # built first, adapted later: the exported graph follows
    assert [w.name for w in layer.weights] == ["mean", "variance", "count"]
    assert [w.shape for w in layer.weights] == [(3,), (3,), ()]
    assert layer.trainable_weights == [] and layer.count_params() == 7
    data = rand(30, 3) * 4 + 1
    layer.adapt(data)
    y = model.predict(data[:2], verbose=0)
    np.testing.assert_allclose(y, (data[:2] - data.mean(0)) / data.std(0), rtol=1e-5, atol=1e-5)
    model.save(tmp_path / "norm.onnx")
    loaded = og.load_model(tmp_path / "norm.onnx")
    np.testing.assert_allclose(loaded.predict(data[:2], verbose=0), y, rtol=1e-6)


def test_scalar_weight_survives_transform_inversion():
    # Regression: transforms.invert returned shape (1,) for a 0-d weight (Normalization's count).
    from onnxgraph.backend import transforms

    assert transforms.invert(np.array(5, "int64"), (), ()).shape == ()


def test_normalization_errors():
    with pytest.raises(ValueError, match="both `mean` and `variance`"):
        layers.Normalization(mean=1.0)
    with pytest.raises(ValueError, match="same shape"):
        layers.Normalization(mean=[1.0, 2.0], variance=[1.0])
    layer = layers.Normalization(name="norm")
    layer.adapt(rand(10, 3))
    with pytest.raises(ValueError, match=r"Layer 'norm' was built for inputs of shape \(10, 3\).*\(10, 4\)"):
        layer.adapt(rand(10, 4))
    with pytest.raises(ValueError, match=r"Layer 'norm' expects an input whose dimension 1 is 3"):
        layer(og.Input(shape=(4,)))


def test_normalization_config_round_trip():
    layer = layers.Normalization(axis=(1, 2), mean=[[1.0]], variance=[[2.0]], invert=True)
    config = layer.get_config()
    assert config["axis"] == [1, 2] and config["mean"] == [[1.0]]
    assert layers.Normalization.from_config(config).get_config() == config


keras = pytest.importorskip("keras")


@pytest.mark.parametrize("kwargs", [{}, {"axis": None}, {"axis": (1, 2)}, {"invert": True}])
def test_normalization_adapt_matches_keras(kwargs):
    data = rand(20, 4, 3) * 2 + 5
    ours, theirs = layers.Normalization(**kwargs), keras.layers.Normalization(**kwargs)
    ours.adapt(data)
    theirs.adapt(data)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    _, y = predict(ours, data[:3])
    np.testing.assert_allclose(y, keras.ops.convert_to_numpy(theirs(data[:3])), rtol=1e-5, atol=1e-5)


def test_given_statistics_and_rescaling_match_keras():
    data = rand(3, 4, 2)
    for name, kwargs in [("Normalization", {"mean": [1.0, -1.0], "variance": [2.0, 0.5]}),
                         ("Normalization", {"axis": 1, "mean": [1.0, 2, 3, 4], "variance": [1.0, 2, 3, 4]}),
                         ("Rescaling", {"scale": 0.5, "offset": -2.0})]:
        ours, theirs = getattr(layers, name)(**kwargs), getattr(keras.layers, name)(**kwargs)
        _, y = predict(ours, data)
        np.testing.assert_allclose(y, keras.ops.convert_to_numpy(theirs(data)), rtol=1e-5, atol=1e-6)
