"""LayerNormalization and GroupNormalization: numpy references, Keras 3, ONNX form, training."""

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph import layers
from tests.conftest import check_onnx, rand


def np_layer_norm(x, gamma, beta, axes, epsilon=1e-3, rms_scaling=False):
    x = x.astype(np.float64)
    shape = [x.shape[i] if i in axes else 1 for i in range(x.ndim)]
    mean = x.mean(axis=tuple(axes), keepdims=True)
    var = ((x - mean) ** 2).mean(axis=tuple(axes), keepdims=True)
    y = (x if rms_scaling else x - mean) / np.sqrt(var + epsilon)
    if gamma is not None:
        y = y * gamma.reshape(shape)
    if beta is not None:
        y = y + beta.reshape(shape)
    return y


def np_group_norm(x, gamma, beta, groups, axis=-1, epsilon=1e-3):
    x = x.astype(np.float64)
    axis = axis % x.ndim
    channels = x.shape[axis]
    grouped = np.moveaxis(x, axis, -1).reshape(x.shape[0], -1, groups, channels // groups)
    mean = grouped.mean(axis=(1, 3), keepdims=True)
    var = grouped.var(axis=(1, 3), keepdims=True)
    normed = ((grouped - mean) / np.sqrt(var + epsilon)).reshape(np.moveaxis(x, axis, -1).shape)
    normed = normed * (1 if gamma is None else gamma) + (0 if beta is None else beta)
    return np.moveaxis(normed, -1, axis)


def _model(layer, shape):
    x = og.Input(shape=shape)
    model = og.Model(x, layer(x))
    rng = np.random.default_rng(7)
    layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(np.float32) for w in layer.get_weights()])
    return model, check_onnx(model)


LN_CASES = [  # (axis, center, scale, input shape, uses the ONNX op)
    (-1, True, True, (5, 6), True),
    ([-2, -1], True, True, (5, 6), True),
    (-1, False, True, (4,), True),
    (-1, True, False, (3, 4), False),  # a constant Scale would break ORT-training's gradient builder
    (1, True, True, (5, 6), False),
    ([1, 3], True, False, (3, 4, 5), False),
]


@pytest.mark.parametrize("axis,center,scale,shape,onnx_op", LN_CASES)
def test_layer_norm_matches_numpy(axis, center, scale, shape, onnx_op):
    layer = layers.LayerNormalization(axis=axis, center=center, scale=scale)
    model, proto = _model(layer, shape)
    ops = [n.op_type for n in proto.graph.node]
    assert ("LayerNormalization" in ops) == onnx_op
    if onnx_op:  # ORT-training's gradient needs Mean and InvStdDev declared
        assert len(next(n for n in proto.graph.node if n.op_type == "LayerNormalization").output) == 3
    x = rand(2, *shape) * 3 + 1
    axes = [a % x.ndim for a in layer.axis]
    want = np_layer_norm(x, layer.gamma.numpy() if scale else None, layer.beta.numpy() if center else None, axes)
    np.testing.assert_allclose(model.predict(x, verbose=0), want, rtol=1e-5, atol=1e-5)


def test_layer_norm_rms_scaling_weights_and_config():
    layer = layers.LayerNormalization(rms_scaling=True, epsilon=1e-5)
    model, _ = _model(layer, (6,))
    assert [w.name for w in layer.weights] == ["gamma"]  # Keras: no beta with rms_scaling
    x = rand(3, 6) + 2
    want = np_layer_norm(x, layer.gamma.numpy(), None, [1], epsilon=1e-5, rms_scaling=True)
    np.testing.assert_allclose(model.predict(x, verbose=0), want, rtol=1e-5, atol=1e-6)
    config = layers.LayerNormalization(axis=(1, 2)).get_config()
    assert config["axis"] == [1, 2] and config["epsilon"] == 1e-3
    built = layers.LayerNormalization()
    built(og.Input(shape=(4,)))
    assert built.get_config()["axis"] == [-1]  # Keras stores the sorted list after build
    assert layers.LayerNormalization.from_config(built.get_config()).get_config() == built.get_config()
    with pytest.raises(ValueError, match="'layer_normalization_2'.*axis 3 is out of range"):
        layers.LayerNormalization(axis=3, name="layer_normalization_2")(og.Input(shape=(4,)))


GN_CASES = [  # (groups, axis, input shape)
    (2, -1, (5, 4)), (4, -1, (3, 3, 8)), (-1, -1, (6, 4)), (1, -1, (7, 2)), (3, 1, (6, 4, 5)),
]


@pytest.mark.parametrize("groups,axis,shape", GN_CASES)
def test_group_norm_matches_numpy(groups, axis, shape):
    layer = layers.GroupNormalization(groups=groups, axis=axis)
    model, proto = _model(layer, shape)
    assert "GroupNormalization" not in [n.op_type for n in proto.graph.node]  # no ORT-training gradient
    x = rand(2, *shape) * 2 - 1
    want = np_group_norm(x, layer.gamma.numpy(), layer.beta.numpy(), layer.groups, axis)
    np.testing.assert_allclose(model.predict(x, verbose=0), want, rtol=1e-5, atol=1e-5)


def test_group_norm_unknown_spatial_dims_and_errors():
    layer = layers.GroupNormalization(groups=2, center=False)
    model, _ = _model(layer, (None, None, 4))
    assert [w.name for w in layer.weights] == ["gamma"]
    for hw in [(3, 5), (1, 2)]:
        x = rand(2, *hw, 4)
        want = np_group_norm(x, layer.gamma.numpy(), None, 2)
        np.testing.assert_allclose(model.predict(x, verbose=0), want, rtol=1e-5, atol=1e-5)
    assert layers.GroupNormalization.from_config(layer.get_config()).get_config() == layer.get_config()
    with pytest.raises(ValueError, match="'group_normalization_1': groups=3 must divide the 4 channels"):
        layers.GroupNormalization(groups=3, name="group_normalization_1")(og.Input(shape=(2, 4)))


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


@pytest.mark.parametrize("make,shape", [
    (lambda lib: lib.LayerNormalization(), (5, 6)),
    (lambda lib: lib.LayerNormalization(axis=[1, 2], epsilon=1e-5), (3, 4)),
    (lambda lib: lib.LayerNormalization(center=False), (6,)),
    (lambda lib: lib.GroupNormalization(groups=2), (4, 4, 6)),
    (lambda lib: lib.GroupNormalization(groups=4, axis=1, scale=False), (8, 5)),
])
def test_matches_keras(keras, make, shape):
    keras.backend.clear_session()
    models = []
    for lib in (og, keras):
        x = lib.Input(shape=shape)
        layer = make(lib.layers)
        models.append((lib.Model(x, layer(x)), layer))
    (ours, our_layer), (theirs, their_layer) = models
    rng = np.random.default_rng(3)
    their_layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(np.float32) for w in their_layer.get_weights()])
    our_layer.set_weights(their_layer.get_weights())
    assert [w.path for w in our_layer.weights] == [w.path for w in their_layer.weights]
    data = rand(3, *shape) * 2 + 0.5
    assert ours.outputs[0].shape == tuple(theirs.outputs[0].shape)
    np.testing.assert_allclose(ours.predict(data, verbose=0), theirs.predict(data, verbose=0), rtol=1e-5, atol=1e-5)
    if type(their_layer).__name__ == "GroupNormalization":
        pytest.importorskip("torch")
        from tests.layers._training_reference import assert_same_gradients, keras_gradients, ort_gradients

        target = rand(3, *shape, seed=9)
        assert_same_gradients(ort_gradients(ours, data, target), keras_gradients(theirs, data, target))


def test_layer_norm_trains_like_keras(keras):
    pytest.importorskip("torch")
    from tests.layers._training_reference import assert_same_gradients, keras_gradients, ort_gradients

    keras.backend.clear_session()
    pair = []
    for lib in (og, keras):
        x = lib.Input(shape=(4, 6))
        h = lib.layers.LayerNormalization()(lib.layers.Dense(6)(x))
        # Two scale-free layers of one shape: a shared constant Scale would break ORT's gradient builder.
        h = lib.layers.LayerNormalization(scale=False)(lib.layers.Dense(6)(h))
        h = lib.layers.LayerNormalization(scale=False, center=False)(lib.layers.Dense(6)(h))
        pair.append(lib.Model(x, h))
    ours, theirs = pair
    ours.set_weights(theirs.get_weights())
    data, target = rand(3, 4, 6), rand(3, 4, 6, seed=2)
    assert_same_gradients(ort_gradients(ours, data, target), keras_gradients(theirs, data, target))
