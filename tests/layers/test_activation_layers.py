"""ReLU, LeakyReLU, PReLU, ELU, Softmax layers: numpy formulas, emitted ops, config, Keras parity."""

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph import layers
from tests.conftest import check_onnx, rand


def run(layer, shape, data=None, dtype="float32"):
    x = og.Input(shape=shape, dtype=dtype)
    model = og.Model(x, layer(x))
    proto = check_onnx(model)
    data = rand(4, *shape) * 4 if data is None else data
    return model.predict(data, verbose=0), data, [n.op_type for n in proto.graph.node]


def relu_reference(x, max_value=None, negative_slope=0.0, threshold=0.0):
    """The Keras ReLU formula read off its docstring, piece by piece."""
    y = np.where(x > threshold, x, negative_slope * (x - threshold))
    if max_value is not None:
        y = np.where(x >= max_value, max_value, y)
    return y


@pytest.mark.parametrize("kwargs,ops", [
    ({}, ["Relu"]),
    ({"max_value": 6.0}, ["Clip"]),
    ({"max_value": 1.5}, ["Clip"]),
    ({"negative_slope": 0.1}, ["LeakyRelu"]),
    ({"threshold": 0.5}, None),
    ({"max_value": 2.0, "negative_slope": 0.2}, None),
    ({"max_value": 2.5, "negative_slope": 0.3, "threshold": 1.0}, None),
])
def test_relu_variants(kwargs, ops):
    y, x, types = run(layers.ReLU(**kwargs), (3, 5))
    np.testing.assert_allclose(y, relu_reference(x, **kwargs), rtol=1e-6, atol=1e-6)
    if ops is not None:
        assert types == ops


def test_relu_rejects_negative_arguments():
    with pytest.raises(ValueError, match="max_value"):
        layers.ReLU(max_value=-1)
    with pytest.raises(ValueError, match="negative_slope"):
        layers.ReLU(negative_slope=-0.1)


def test_leaky_relu_default_slope_is_keras_layer_default():
    y, x, types = run(layers.LeakyReLU(), (6,))
    assert types == ["LeakyRelu"]
    np.testing.assert_allclose(y, np.where(x > 0, x, 0.3 * x), rtol=1e-6)
    assert layers.LeakyReLU(alpha=0.1).negative_slope == 0.1  # Keras 2 argument name


def test_elu():
    y, x, types = run(layers.ELU(alpha=0.7), (2, 3))
    assert types == ["Elu"]
    np.testing.assert_allclose(y, np.where(x > 0, x, 0.7 * np.expm1(x)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape,shared_axes,alpha_shape", [((5,), None, (5,)), ((4, 5, 3), [1, 2], (1, 1, 3)),
                                                          ((4, 5, 3), None, (4, 5, 3)), ((4, 5, 3), 1, (1, 5, 3))])
def test_prelu_weights_and_numerics(shape, shared_axes, alpha_shape):
    layer = layers.PReLU(shared_axes=shared_axes)
    x = og.Input(shape=shape)
    model = og.Model(x, layer(x))
    assert [n.op_type for n in check_onnx(model).graph.node] == ["PRelu"]
    assert layer.alpha.shape == alpha_shape and layer.count_params() == int(np.prod(alpha_shape))
    np.testing.assert_array_equal(layer.get_weights()[0], 0)
    alpha = rand(*alpha_shape, seed=3)
    layer.set_weights([alpha])
    data = rand(2, *shape)
    np.testing.assert_allclose(model.predict(data, verbose=0), np.where(data >= 0, data, alpha * data), rtol=1e-6)


def test_prelu_unknown_axis_must_be_shared():
    with pytest.raises(ValueError, match=r"Layer 'p_re_lu'.*known sizes.*shared_axes"):
        layers.PReLU()(og.Input(shape=(None, 3)))
    out = layers.PReLU(shared_axes=[1], name="p2")(og.Input(shape=(None, 3)))
    assert out.shape == (None, None, 3)


def softmax_reference(x, axes):
    e = np.exp(x - x.max(axis=axes, keepdims=True))
    return e / e.sum(axis=axes, keepdims=True)


@pytest.mark.parametrize("axis", [-1, 1, [1, 2], (-2, -1)])
def test_softmax_axes(axis):
    y, x, types = run(layers.Softmax(axis=axis), (3, 4))
    axes = tuple(axis) if isinstance(axis, (list, tuple)) else axis
    np.testing.assert_allclose(y, softmax_reference(x, axes), rtol=1e-5, atol=1e-7)
    if not isinstance(axis, (list, tuple)):
        assert types == ["Softmax"]


def test_softmax_mask_gives_zero_probability():
    x = og.Input(shape=(5,))
    m = og.Input(shape=(5,), dtype="bool")
    model = og.Model([x, m], layers.Softmax()(x, mask=m))
    check_onnx(model)
    data = rand(3, 5)
    mask = np.array([[1, 1, 0, 1, 0], [1, 0, 0, 0, 0], [1, 1, 1, 1, 1]], bool)
    got = model.predict([data, mask], verbose=0)
    want = np.where(mask, np.exp(data), 0)
    np.testing.assert_allclose(got, want / want.sum(-1, keepdims=True), rtol=1e-5, atol=1e-7)


def test_integer_inputs_are_cast_to_float():
    y, _, _ = run(layers.ReLU(), (3,), data=np.array([[-2, 0, 3]], "int32"), dtype="int32")
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, [[0, 0, 3]])


@pytest.mark.parametrize("layer", [layers.ReLU(max_value=6.0, negative_slope=0.1, threshold=0.5),
                                   layers.LeakyReLU(0.2), layers.ELU(0.5), layers.Softmax(axis=[1, 2]),
                                   layers.PReLU(alpha_initializer="ones", shared_axes=[1])])
def test_config_round_trip(layer):
    config = layer.get_config()
    assert type(layer).from_config(config).get_config() == config


def test_eager_call_on_numpy():
    np.testing.assert_array_equal(layers.ReLU(max_value=6.0)(np.array([-1.0, 3.0, 9.0], "float32")), [0, 3, 6])


keras = pytest.importorskip("keras")


@pytest.mark.parametrize("name,kwargs", [
    ("ReLU", {}), ("ReLU", {"max_value": 6.0}), ("ReLU", {"negative_slope": 0.2, "threshold": 0.3}),
    ("ReLU", {"max_value": 3.0, "negative_slope": 0.1}), ("ReLU", {"max_value": 3.0, "threshold": 1.0}),
    ("LeakyReLU", {}), ("ELU", {}), ("ELU", {"alpha": 0.4}), ("Softmax", {}), ("Softmax", {"axis": 1}),
    ("Softmax", {"axis": [1, 2]}), ("PReLU", {"shared_axes": [1]}), ("PReLU", {}),
])
def test_matches_keras(name, kwargs):
    ours, theirs = getattr(layers, name)(**kwargs), getattr(keras.layers, name)(**kwargs)
    x = og.Input(shape=(4, 5))
    model = og.Model(x, ours(x))
    theirs.build((None, 4, 5))
    if ours.weights:
        ours.set_weights([rand(*w.shape, seed=7) for w in ours.weights])
        theirs.set_weights(ours.get_weights())
    assert ours.count_params() == theirs.count_params()
    data = rand(3, 4, 5, seed=1) * 4
    want = keras.ops.convert_to_numpy(theirs(data))
    np.testing.assert_allclose(model.predict(data, verbose=0), want, rtol=1e-5, atol=1e-6)
    theirs_config = {k: v for k, v in theirs.get_config().items() if k in ours.get_config()}
    ours_config = {k: v for k, v in ours.get_config().items() if k in theirs_config}
    assert ours_config.keys() - {"dtype"} == theirs_config.keys() - {"dtype"}


def test_auto_names_match_keras():
    names = ["ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax"]
    keras.backend.clear_session()
    assert [getattr(layers, n)().name for n in names] == [getattr(keras.layers, n)().name for n in names]
