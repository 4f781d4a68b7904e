"""Core layers: shapes, weights, config round trip, numerics vs numpy, on onnxruntime."""

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph import layers
from tests.conftest import check_onnx, rand


def run(layer, *shapes, x=None, dtype="float32"):
    inputs = [og.Input(shape=s, dtype=dtype) for s in shapes]
    out = layer(inputs if len(inputs) > 1 else inputs[0])
    model = og.Model(inputs, out)
    check_onnx(model)
    xs = x if x is not None else [rand(3, *s, seed=i) for i, s in enumerate(shapes)]
    return model, xs, model.predict(xs if len(xs) > 1 else xs[0], verbose=0)


@pytest.mark.parametrize("shape", [(5,), (4, 5), (2, 3, 5)])
@pytest.mark.parametrize("use_bias", [True, False])
def test_dense_any_rank(shape, use_bias):
    layer = layers.Dense(7, use_bias=use_bias, bias_initializer="random_normal" if use_bias else "zeros")
    _, xs, y = run(layer, shape)
    weights = layer.get_weights()
    expected = xs[0] @ weights[0] + (weights[1] if use_bias else 0)
    assert y.shape == (3, *shape[:-1], 7)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    assert [w.shape for w in weights] == ([(5, 7), (7,)] if use_bias else [(5, 7)])
    assert layer.count_params() == 5 * 7 + (7 if use_bias else 0)


def test_dense_weights_round_trip_and_session_rebuild():
    layer = layers.Dense(3)
    model, xs, y0 = run(layer, (4,))
    new = [np.arange(12, dtype="float32").reshape(4, 3) / 10, np.array([1, 2, 3], "float32")]
    layer.set_weights(new)
    for got, want in zip(layer.get_weights(), new):
        np.testing.assert_array_equal(got, want)
    y1 = model.predict(xs[0], verbose=0)
    np.testing.assert_allclose(y1, xs[0] @ new[0] + new[1], rtol=1e-6)
    assert not np.allclose(y0, y1)


def test_set_weights_errors_name_layer_and_shapes():
    layer = layers.Dense(3, name="head")
    layer(og.Input(shape=(4,)))
    with pytest.raises(ValueError, match=r"Layer 'head'.*2 weights.*received 1"):
        layer.set_weights([np.zeros((4, 3))])
    with pytest.raises(ValueError, match=r"'head'.*'kernel' has shape \(4, 3\).*\(3, 4\)"):
        layer.set_weights([np.zeros((3, 4)), np.zeros(3)])


def test_dense_config_round_trip():
    layer = layers.Dense(5, activation="tanh", use_bias=False, kernel_initializer="he_normal", name="d")
    clone = layers.Dense.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    assert clone.get_config()["activation"] == "tanh"
    assert clone.get_config()["kernel_initializer"]["class_name"] == "HeNormal"


def test_dense_integer_input_is_cast_like_keras():
    layer = layers.Dense(2)
    _, _, y = run(layer, (3,), x=[np.array([[1, 2, 3]], "int32")], dtype="int32")
    np.testing.assert_allclose(y, np.array([[1, 2, 3]], "float32") @ layer.get_weights()[0], rtol=1e-6)


def test_incompatible_input_raises_at_call_time():
    dense = layers.Dense(4, name="dense_2")
    dense(og.Input(shape=(64,)))
    with pytest.raises(ValueError, match=r"Layer 'dense_2' expects an input whose last dimension is 64, got shape \(None, 32\)"):
        dense(og.Input(shape=(32,)))
    with pytest.raises(ValueError, match=r"Layer 'dense_3' expects an input of rank >= 2, got shape \(None,\)"):
        layers.Dense(4, name="dense_3")(og.Input(batch_shape=(None,)))


def test_layer_shared_twice_has_one_set_of_weights():
    shared = layers.Dense(3)
    a, b = og.Input(shape=(4,)), og.Input(shape=(4,))
    model = og.Model([a, b], [shared(a), shared(b)])
    proto = check_onnx(model)
    assert len(model.weights) == 2
    assert sorted(i.name for i in proto.graph.initializer) == ["dense/bias", "dense/kernel"]
    xa, xb = rand(2, 4), rand(2, 4, seed=1)
    ya, yb = model.predict([xa, xb], verbose=0)
    k, bias = shared.get_weights()
    np.testing.assert_allclose(ya, xa @ k + bias, rtol=1e-5)
    np.testing.assert_allclose(yb, xb @ k + bias, rtol=1e-5)


def test_activation_and_identity_and_dropout_inference():
    x = rand(3, 6)
    for layer, ref in [(layers.Activation("relu"), np.maximum(x, 0)), (layers.Identity(), x),
                       (layers.Dropout(0.5), x), (layers.Activation("softmax"), None)]:
        _, _, y = run(layer, (6,), x=[x])
        if ref is None:
            ref = np.exp(x) / np.exp(x).sum(-1, keepdims=True)
        np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-6)


def test_dropout_is_visible_as_identity_node():
    inputs = og.Input(shape=(4,))
    model = og.Model(inputs, layers.Dropout(0.3)(layers.Dense(2)(inputs)))
    assert "dropout/Identity" in [n.name for n in check_onnx(model).graph.node]


@pytest.mark.parametrize("layer,shape,ref", [
    (layers.Flatten(), (2, 3, 4), lambda x: x.reshape(3, -1)),
    (layers.Flatten(), (5,), lambda x: x),
    (layers.Reshape((3, 8)), (4, 6), lambda x: x.reshape(3, 3, 8)),
    (layers.Reshape((-1, 2)), (4, 6), lambda x: x.reshape(3, 12, 2)),
    (layers.Permute((2, 1)), (4, 6), lambda x: x.transpose(0, 2, 1)),
    (layers.Permute((3, 1, 2)), (2, 3, 4), lambda x: x.transpose(0, 3, 1, 2)),
    (layers.RepeatVector(3), (5,), lambda x: np.repeat(x[:, None, :], 3, axis=1)),
])
def test_reshaping_layers(layer, shape, ref):
    _, xs, y = run(layer, shape)
    want = ref(xs[0])
    assert y.shape == want.shape
    assert layer.output.shape == (None, *want.shape[1:])
    np.testing.assert_array_equal(y, want)


def test_reshape_mismatch_error_names_layer():
    with pytest.raises(ValueError, match=r"Layer 'reshape' cannot reshape an input of shape \(None, 10\)"):
        layers.Reshape((3, 3))(og.Input(shape=(10,)))


MERGES = [
    (layers.Add, layers.add, lambda xs: xs[0] + xs[1] + xs[2]),
    (layers.Multiply, layers.multiply, lambda xs: xs[0] * xs[1] * xs[2]),
    (layers.Average, layers.average, lambda xs: (xs[0] + xs[1] + xs[2]) / 3),
    (layers.Maximum, layers.maximum, lambda xs: np.maximum(np.maximum(xs[0], xs[1]), xs[2])),
    (layers.Minimum, layers.minimum, lambda xs: np.minimum(np.minimum(xs[0], xs[1]), xs[2])),
    (layers.Concatenate, layers.concatenate, lambda xs: np.concatenate(xs, axis=-1)),
]


@pytest.mark.parametrize("cls,fn,ref", MERGES)
def test_merge_layers_and_functional_forms(cls, fn, ref):
    shapes = [(4, 5)] * 3
    _, xs, y = run(cls(), *shapes)
    np.testing.assert_allclose(y, ref(xs), rtol=1e-6)
    inputs = [og.Input(shape=s) for s in shapes]
    model = og.Model(inputs, fn(inputs))
    np.testing.assert_allclose(model.predict(xs, verbose=0), ref(xs), rtol=1e-6)


def test_subtract_and_merge_errors():
    _, xs, y = run(layers.Subtract(), (3,), (3,))
    np.testing.assert_allclose(y, xs[0] - xs[1], rtol=1e-6)
    with pytest.raises(ValueError, match=r"Layer 'subtract_1' needs exactly 2 inputs, got 3"):
        layers.Subtract()([og.Input(shape=(3,)) for _ in range(3)])
    with pytest.raises(ValueError, match=r"Layer 'add' needs inputs of compatible shapes.*\(None, 3\).*\(None, 4\)"):
        layers.Add()([og.Input(shape=(3,)), og.Input(shape=(4,))])
    with pytest.raises(ValueError, match=r"Layer 'concatenate' needs inputs that match on every axis"):
        layers.Concatenate(axis=1)([og.Input(shape=(2, 3)), og.Input(shape=(4, 5))])


def test_concatenate_other_axis():
    _, xs, y = run(layers.Concatenate(axis=1), (2, 3), (4, 3))
    np.testing.assert_array_equal(y, np.concatenate(xs, axis=1))


@pytest.mark.parametrize("shapes,axes,ref", [
    (((5,), (5,)), 1, lambda a, b: (a * b).sum(-1, keepdims=True)),
    (((4, 5), (6, 5)), (2, 2), lambda a, b: np.einsum("bik,bjk->bij", a, b)),
    (((4, 5), (4, 6)), (1, 1), lambda a, b: np.einsum("bki,bkj->bij", a, b)),
])
def test_dot(shapes, axes, ref):
    _, xs, y = run(layers.Dot(axes=axes), *shapes)
    np.testing.assert_allclose(y, ref(*xs), rtol=1e-5, atol=1e-6)


def test_dot_normalize_is_cosine_similarity():
    _, (a, b), y = run(layers.Dot(axes=1, normalize=True), (5,), (5,))
    cos = (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
    np.testing.assert_allclose(y[:, 0], cos, rtol=1e-5)


def test_layer_properties_before_and_after_call():
    layer = layers.Dense(2)
    with pytest.raises(ValueError, match="not built yet"):
        layer.count_params()
    with pytest.raises(AttributeError, match="has never been called"):
        _ = layer.output
    x = og.Input(shape=(3,))
    y = layer(x)
    assert layer.input is x and layer.output is y
    assert layer.built and layer.input_shape == (None, 3) and layer.output_shape == (None, 2)
    layer.trainable = False
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 2


def test_auto_names_follow_keras():
    names = [layers.Dense(1).name, layers.Dense(1).name, layers.Conv2D(1, 1).name if hasattr(layers, "Conv2D") else "conv2d",
             layers.Activation("relu").name, og.Input(shape=(1,))._keras_history.layer.name,
             og.Input(shape=(1,))._keras_history.layer.name]
    assert names == ["dense", "dense_1", "conv2d", "activation", "input_layer", "input_layer_1"]


def test_direct_build_marks_built_and_keeps_set_weights():
    layer = layers.Dense(2)
    layer.build((None, 3))
    assert layer.built
    values = [np.arange(6, dtype="float32").reshape(3, 2), np.array([1.0, -1.0], "float32")]
    layer.set_weights(values)
    x = rand(4, 3)
    y = og.Model(inp := og.Input(shape=(3,)), layer(inp)).predict(x, verbose=0)
    np.testing.assert_allclose(y, x @ values[0] + values[1], rtol=1e-6)
    assert len(layer.weights) == 2


def test_weights_used_in_call_stay_weights_not_constants():
    class Scaled(layers.Layer):
        def build(self, shape):
            self.w = self.add_weight((shape[-1],), "ones", name="w")

        def call(self, x):
            return x * (self.w * 2.0) + (-self.w) + og.ops.exp(self.w)

    inp = og.Input(shape=(3,))
    layer = Scaled()
    model = og.Model(inp, layer(inp))
    assert sorted(i.name for i in check_onnx(model).graph.initializer if i.name.endswith("/w")) == ["scaled/w"]
    layer.set_weights([np.full(3, 0.5, "float32")])
    x = rand(2, 3)
    np.testing.assert_allclose(model.predict(x, verbose=0), x * 1.0 - 0.5 + np.exp(0.5), rtol=1e-6)
    # Outside a layer's call, variables still compute eagerly with numpy.
    np.testing.assert_allclose(layer.w * 2.0, np.full(3, 1.0))
    np.testing.assert_allclose(og.ops.exp(layer.w), np.exp(np.full(3, 0.5)), rtol=1e-6)
