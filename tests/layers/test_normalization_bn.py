"""BatchNormalization: weights, shapes, emitted nodes, numerics vs numpy and Keras, training form."""

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph import layers
from onnxgraph.backend.scope import emit_options
from tests.conftest import check_onnx, rand


def bn_reference(x, gamma, beta, mean, var, axis, eps):
    shape = [1] * x.ndim
    shape[axis] = -1
    r = lambda v: np.reshape(v, shape)  # noqa: E731
    return (x - r(mean)) / np.sqrt(r(var) + eps) * r(gamma) + r(beta)


def randomize(layer, seed=0):
    rng = np.random.default_rng(seed)
    values = []
    for w in layer.weights:
        v = rng.standard_normal(w.shape).astype("float32")
        values.append(np.abs(v) + 0.5 if w.name == "moving_variance" else v)
    layer.set_weights(values)
    return values


def run_graph(x, outputs, variables, data):
    """Run tensors that are not layer outputs (state updates) through onnxruntime."""
    from onnxgraph.runtime import GraphRunner

    names = [f"y{i}" for i in range(len(outputs))]
    runner = GraphRunner([x], outputs, ["x"], names, variables)
    check_onnx(runner._export()[0])  # (proto, in-memory weights)
    return runner.run_feeds({"x": data})


def op_types(model):
    return [n.op_type for n in check_onnx(model).graph.node]


@pytest.mark.parametrize("shape,axis", [((6,), -1), ((5, 6), -1), ((5, 6), 1), ((4, 5, 6), -1),
                                        ((6, 4, 5), 1), ((4, 6, 5), 2), ((3, 4, 5, 6), -1), ((3, 4, 5, 6), 2)])
def test_inference_matches_numpy(shape, axis):
    x = og.Input(shape=shape)
    layer = layers.BatchNormalization(axis=axis, epsilon=1e-2)
    model = og.Model(x, layer(x))
    gamma, beta, mean, var = randomize(layer)
    data = rand(3, *shape) * 2
    y = model.predict(data, verbose=0)
    assert y.shape == data.shape
    np.testing.assert_allclose(y, bn_reference(data, gamma, beta, mean, var, axis % data.ndim, 1e-2),
                               rtol=1e-5, atol=1e-5)


def test_weights_order_shapes_and_trainability():
    layer = layers.BatchNormalization()
    layer(og.Input(shape=(8, 8, 16)))
    assert [w.name for w in layer.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert [w.path for w in layer.weights][0] == "batch_normalization/gamma"
    assert [w.name for w in layer.trainable_weights] == ["gamma", "beta"]
    assert [w.name for w in layer.non_trainable_weights] == ["moving_mean", "moving_variance"]
    assert all(w.shape == (16,) for w in layer.weights)
    assert layer.count_params() == 64
    np.testing.assert_array_equal(layer.get_weights()[0], np.ones(16))
    np.testing.assert_array_equal(layer.get_weights()[2], np.zeros(16))


@pytest.mark.parametrize("center,scale", [(True, False), (False, True), (False, False)])
def test_center_scale_off(center, scale):
    x = og.Input(shape=(4, 3))
    layer = layers.BatchNormalization(center=center, scale=scale)
    model = og.Model(x, layer(x))
    assert [w.name for w in layer.weights][-2:] == ["moving_mean", "moving_variance"]
    assert len(layer.weights) == 2 + center + scale
    values = dict(zip([w.name for w in layer.weights], randomize(layer)))
    data = rand(2, 4, 3)
    want = bn_reference(data, values.get("gamma", np.ones(3)), values.get("beta", np.zeros(3)),
                        values["moving_mean"], values["moving_variance"], 2, 1e-3)
    np.testing.assert_allclose(model.predict(data, verbose=0), want, rtol=1e-5, atol=1e-5)


def test_node_forms():
    # Channel on ONNX's axis 1 (features after Dense, channels_first): one node, no transposes.
    a = og.Input(shape=(6,))
    assert op_types(og.Model(a, layers.BatchNormalization()(a))) == ["BatchNormalization"]
    b = og.Input(shape=(6, 4, 4))
    assert op_types(og.Model(b, layers.BatchNormalization(axis=1)(b))) == ["BatchNormalization"]
    # Channel-last data on its own: per-channel Mul/Add on the NHWC data, no transposes
    # (about 3x faster than transposing to NCHW and back on a 16x56x56x64 batch).
    c = og.Input(shape=(4, 4, 6))
    layer = layers.BatchNormalization(name="bn")
    proto = check_onnx(og.Model(c, layer(c)))
    assert "Transpose" not in [n.op_type for n in proto.graph.node]
    assert [n.op_type for n in proto.graph.node][-2:] == ["Mul", "Add"]
    assert all(n.name.startswith("bn/") for n in proto.graph.node)
    assert {i.name for i in proto.graph.initializer} >= {"bn/gamma", "bn/beta", "bn/moving_mean", "bn/moving_variance"}


def test_next_to_convolutions_stays_one_fused_node_without_transposes():
    # The BN's transpose pair cancels against the convolutions' (layout pass): Conv -> BN -> Relu.
    x = og.Input(shape=(8, 8, 3))
    y = layers.Conv2D(4, 3, padding="same")(x)
    bn = layers.BatchNormalization()
    y = layers.ReLU()(bn(y))
    y = layers.Conv2D(4, 1)(y)
    model = og.Model(x, y)
    types = op_types(model)
    assert types == ["Transpose", "Conv", "BatchNormalization", "Relu", "Conv", "Transpose"]
    gamma, beta, mean, var = randomize(bn)
    data = rand(2, 8, 8, 3)
    conv1, conv2 = model.layers[1], model.layers[4]
    inner = og.Model(x, conv1.output)
    h = bn_reference(inner.predict(data, verbose=0), gamma, beta, mean, var, 3, 1e-3)
    w, b = conv2.get_weights()
    want = np.maximum(h, 0) @ w[0, 0] + b
    np.testing.assert_allclose(model.predict(data, verbose=0), want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape,axis", [((4, 6), -1), ((4, 6, 5), 2), ((4, 5, 6, 3), 1)])
def test_isolated_rewrite_numerics(shape, axis):
    x = og.Input(shape=shape)
    layer = layers.BatchNormalization(axis=axis, center=axis != 2)
    model = og.Model(x, layer(x))
    assert "Transpose" not in op_types(model)
    values = dict(zip([w.name for w in layer.weights], randomize(layer, seed=6)))
    data = rand(3, *shape)
    want = bn_reference(data, values["gamma"], values.get("beta", 0), values["moving_mean"],
                        values["moving_variance"], axis % data.ndim, 1e-3)
    np.testing.assert_allclose(model.predict(data, verbose=0), want, rtol=1e-5, atol=1e-5)


def test_training_graph_inference_form_has_no_batchnorm_node():
    # onnxruntime-training turns BatchNormalization into batch statistics: training graphs
    # get the equivalent Mul/Add form of the moving-statistics formula.
    x = og.Input(shape=(6, 3, 3))
    layer = layers.BatchNormalization(axis=1)
    with emit_options(training_graph=True):
        y = layer(x)
    model = og.Model(x, y)
    types = op_types(model)
    assert "BatchNormalization" not in types and "Transpose" not in types
    gamma, beta, mean, var = randomize(layer, seed=3)
    data = rand(2, 6, 3, 3)
    np.testing.assert_allclose(model.predict(data, verbose=0), bn_reference(data, gamma, beta, mean, var, 1, 1e-3),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape,axis", [((5, 4), -1), ((4, 3, 3), 1)])
def test_training_true_uses_batch_statistics_and_emits_updates(shape, axis):
    x = og.Input(shape=shape)
    layer = layers.BatchNormalization(axis=axis, momentum=0.9)
    updates = []
    with emit_options(training_graph=True, state_updates=updates):
        y = layer(x, training=True)
    assert [v.name for v, _ in updates] == ["moving_mean", "moving_variance"]
    gamma, beta, mean, var = randomize(layer, seed=1)
    data = rand(8, *shape, seed=2) * 3 + 1
    got_y, new_mean, new_var = run_graph(x, [y] + [t for _, t in updates], layer.weights, data)
    ax = axis % data.ndim
    axes = tuple(i for i in range(data.ndim) if i != ax)
    batch_mean, batch_var = data.mean(axis=axes), data.var(axis=axes)
    np.testing.assert_allclose(got_y, bn_reference(data, gamma, beta, batch_mean, batch_var, ax, 1e-3),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(new_mean, mean * 0.9 + batch_mean * 0.1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(new_var, var * 0.9 + batch_var * 0.1, rtol=1e-5, atol=1e-6)


def test_training_true_on_frozen_layer_uses_moving_statistics():
    x = og.Input(shape=(4,))
    layer = layers.BatchNormalization()
    layer(x)
    layer.trainable = False
    model = og.Model(x, layer(x, training=True))
    gamma, beta, mean, var = randomize(layer)
    data = rand(5, 4)
    np.testing.assert_allclose(model.predict(data, verbose=0), bn_reference(data, gamma, beta, mean, var, 1, 1e-3),
                               rtol=1e-5, atol=1e-5)


def test_masked_batch_statistics_ignore_masked_steps():
    x = og.Input(shape=(5, 3))
    m = og.Input(shape=(5,), dtype="bool")
    layer = layers.BatchNormalization(center=False, scale=False)
    model = og.Model([x, m], layer(x, training=True, mask=m))
    data = rand(4, 5, 3)
    mask = rand(4, 5, seed=9) > 0
    valid = data[mask]  # (n_valid, 3)
    want = (data - valid.mean(0)) / np.sqrt(valid.var(0) + 1e-3)
    np.testing.assert_allclose(model.predict([data, mask], verbose=0), want, rtol=1e-4, atol=1e-5)


def test_config_round_trip_and_save_load(tmp_path):
    layer = layers.BatchNormalization(axis=1, momentum=0.9, epsilon=1e-5, center=False,
                                      gamma_initializer="random_normal", name="bn1")
    clone = layers.BatchNormalization.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    x = og.Input(shape=(3, 4, 4))
    model = og.Model(x, layers.BatchNormalization(axis=1)(x))
    randomize(model.layers[1])
    model.save(tmp_path / "bn.onnx")
    loaded = og.load_model(tmp_path / "bn.onnx")
    data = rand(2, 3, 4, 4)
    np.testing.assert_array_equal(loaded.predict(data, verbose=0), model.predict(data, verbose=0))
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_errors_name_the_layer():
    with pytest.raises(ValueError, match="renorm"):
        layers.BatchNormalization(renorm=True)
    with pytest.raises(ValueError, match=r"Layer 'bn_x'.*axis 3 is out of range.*\(None, 4, 5\)"):
        layers.BatchNormalization(axis=3, name="bn_x")(og.Input(shape=(4, 5)))
    with pytest.raises(ValueError, match=r"Layer 'bn_y' needs a known size on its channel axis -1"):
        layers.BatchNormalization(name="bn_y")(og.Input(shape=(4, None)))
    bn = layers.BatchNormalization(name="bn_z")
    bn(og.Input(shape=(4, 5)))
    with pytest.raises(ValueError, match=r"Layer 'bn_z' expects an input whose last dimension is 5, got shape \(None, 4, 6\)"):
        bn(og.Input(shape=(4, 6)))


keras = pytest.importorskip("keras")


@pytest.mark.parametrize("shape,axis,training", [((4, 5, 6), -1, False), ((6, 4, 5), 1, False), ((7,), -1, False),
                                                 ((4, 5, 6), -1, True), ((6, 4, 5), 1, True)])
def test_matches_keras(shape, axis, training):
    kwargs = dict(axis=axis, momentum=0.8, epsilon=1e-3)
    ours, theirs = layers.BatchNormalization(**kwargs), keras.layers.BatchNormalization(**kwargs)
    x = og.Input(shape=shape)
    updates = []
    with emit_options(training_graph=training, state_updates=updates):
        y = ours(x, training=training)
    theirs.build((None, *shape))
    theirs.set_weights(randomize(ours, seed=4))
    data = rand(6, *shape, seed=5) * 2 + 0.5
    got = run_graph(x, [y] + [t for _, t in updates], ours.weights, data)
    want = keras.ops.convert_to_numpy(theirs(data, training=training))
    np.testing.assert_allclose(got[0], want, rtol=1e-5, atol=2e-5)
    if training:  # Keras updated its moving statistics in that call: ours are the update tensors
        for new, keras_var in zip(got[1:], [theirs.moving_mean, theirs.moving_variance]):
            np.testing.assert_allclose(new, keras.ops.convert_to_numpy(keras_var), rtol=1e-5, atol=1e-6)
