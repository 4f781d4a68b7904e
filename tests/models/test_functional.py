"""Functional models from the guide's core sections: numerics vs numpy, structure, errors."""

import numpy as np
import pytest

import onnxgraph as keras
from onnxgraph import layers
from tests.conftest import check_onnx, rand


def relu(x):
    return np.maximum(x, 0)


def dense(layer, x, act=lambda v: v):
    w = layer.get_weights()
    return act(x @ w[0] + (w[1] if len(w) > 1 else 0))


def mnist_mlp():
    inputs = keras.Input(shape=(784,))
    x = layers.Dense(64, activation="relu")(inputs)
    x = layers.Dense(64, activation="relu")(x)
    outputs = layers.Dense(10)(x)
    return keras.Model(inputs=inputs, outputs=outputs, name="mnist_model")


def test_mnist_mlp_predicts_like_numpy():
    model = mnist_mlp()
    assert model.input.shape == (None, 784) and model.input.dtype == "float32"
    assert [layer.name for layer in model.layers] == ["input_layer", "dense", "dense_1", "dense_2"]
    check_onnx(model)
    x = rand(10, 784)
    d0, d1, d2 = model.layers[1:]
    ref = dense(d2, dense(d1, dense(d0, x, relu), relu))
    np.testing.assert_allclose(model.predict(x, verbose=0), ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(model(x), ref, rtol=1e-5, atol=1e-5)


def test_same_graph_of_layers_defines_several_models():
    inp = keras.Input(shape=(16,), name="img")
    code = layers.Dense(4, activation="relu")(layers.Dense(8, activation="relu")(inp))
    encoder = keras.Model(inp, code, name="encoder")
    out = layers.Dense(16)(layers.Dense(8, activation="relu")(code))
    autoencoder = keras.Model(inp, out, name="autoencoder")
    assert encoder.count_params() == 16 * 8 + 8 + 8 * 4 + 4
    assert autoencoder.count_params() == encoder.count_params() + 4 * 8 + 8 + 8 * 16 + 16
    x = rand(5, 16)
    e = encoder.predict(x, verbose=0)
    d = autoencoder.layers
    np.testing.assert_allclose(autoencoder.predict(x, verbose=0), dense(d[4], dense(d[3], e, relu)), rtol=1e-5, atol=1e-5)
    # shared weights: changing one layer changes both models
    d[1].set_weights([w * 0 for w in d[1].get_weights()])
    assert np.all(encoder.predict(x, verbose=0) == dense(d[2], np.zeros((5, 8), "float32"), relu))


def test_models_are_callable_like_layers_and_share_weights():
    enc_in = keras.Input(shape=(12,), name="original_img")
    encoder = keras.Model(enc_in, layers.Dense(4, activation="relu")(enc_in), name="encoder")
    dec_in = keras.Input(shape=(4,), name="encoded_img")
    decoder = keras.Model(dec_in, layers.Dense(12)(dec_in), name="decoder")
    inp = keras.Input(shape=(12,), name="img")
    autoencoder = keras.Model(inp, decoder(encoder(inp)), name="autoencoder")
    lines = []
    autoencoder.summary(print_fn=lines.append)
    text = lines[0]
    assert "encoder (Functional)" in text and "decoder (Functional)" in text
    assert "Total params: 112 (448.00 B)" in text
    proto = check_onnx(autoencoder)
    assert {n.name for n in proto.graph.node} >= {"encoder/dense/MatMul", "decoder/dense_1/MatMul"}
    x = rand(3, 12)
    ref = dense(decoder.layers[1], dense(encoder.layers[1], x, relu))
    np.testing.assert_allclose(autoencoder.predict(x, verbose=0), ref, rtol=1e-5, atol=1e-5)
    encoder.layers[1].set_weights([np.ones((12, 4), "float32"), np.zeros(4, "float32")])
    ref = dense(decoder.layers[1], relu(x @ np.ones((12, 4), "float32")))
    np.testing.assert_allclose(autoencoder.predict(x, verbose=0), ref, rtol=1e-5, atol=1e-5)


def test_ensemble_with_average():
    def get_model():
        inputs = keras.Input(shape=(128,))
        outputs = layers.Dense(1)(inputs)
        return keras.Model(inputs, outputs)

    model1, model2, model3 = get_model(), get_model(), get_model()
    inputs = keras.Input(shape=(128,))
    outputs = layers.average([model1(inputs), model2(inputs), model3(inputs)])
    ensemble_model = keras.Model(inputs=inputs, outputs=outputs)
    check_onnx(ensemble_model)
    x = rand(6, 128)
    ref = np.mean([dense(m.layers[1], x) for m in (model1, model2, model3)], axis=0)
    np.testing.assert_allclose(ensemble_model.predict(x, verbose=0), ref, rtol=1e-5, atol=1e-6)
    assert ensemble_model.count_params() == 3 * 129


def test_multi_input_multi_output_dict_and_shared_layer():
    a = keras.Input(shape=(6,), name="a")
    b = keras.Input(shape=(6,), name="b")
    shared = layers.Dense(5, activation="tanh", name="shared")
    fa, fb = shared(a), shared(b)
    merged = layers.concatenate([fa, fb])
    model = keras.Model([a, b], {"score": layers.Dense(1, name="score")(merged),
                                  "diff": layers.subtract([fa, fb], name="diff")})
    proto = check_onnx(model)
    assert [i.name for i in proto.graph.input] == ["a", "b"]
    assert [o.name for o in proto.graph.output] == ["score", "diff"]
    xa, xb = rand(4, 6), rand(4, 6, seed=1)
    ha, hb = dense(shared, xa, np.tanh), dense(shared, xb, np.tanh)
    score = dense(model.get_layer("score"), np.concatenate([ha, hb], -1))
    for x in ([xa, xb], {"b": xb, "a": xa}):
        out = model.predict(x, verbose=0)
        assert set(out) == {"score", "diff"}
        np.testing.assert_allclose(out["score"], score, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(out["diff"], ha - hb, rtol=1e-5, atol=1e-6)
    lines = []
    model.summary(print_fn=lines.append)
    assert "shared[0][0], shared[1][0]" in lines[0] and "Connected to" in lines[0]


def test_list_outputs_return_list():
    x_in = keras.Input(shape=(3,))
    model = keras.Model(x_in, [layers.Dense(2)(x_in), layers.Dense(1)(x_in)])
    out = model.predict(rand(2, 3), verbose=0)
    assert isinstance(out, list) and [o.shape for o in out] == [(2, 2), (2, 1)]


def test_feature_extraction_keeps_only_needed_nodes_and_shares_weights():
    inputs = keras.Input(shape=(8,))
    h1 = layers.Dense(6, activation="relu", name="h1")(inputs)
    h2 = layers.Dense(4, activation="relu", name="h2")(h1)
    side = layers.Dense(3, name="side")(inputs)
    model = keras.Model(inputs, [layers.Dense(2, name="out")(h2), side])
    extractor = keras.Model(inputs=model.input, outputs=model.get_layer("h1").output)
    proto = check_onnx(extractor)
    assert {n.name.split("/")[0] for n in proto.graph.node} == {"h1"}
    assert sorted(i.name for i in proto.graph.initializer) == ["h1/bias", "h1/kernel"]
    x = rand(5, 8)
    np.testing.assert_allclose(extractor.predict(x, verbose=0), dense(model.get_layer("h1"), x, relu), rtol=1e-5)
    model.get_layer("h1").set_weights([np.eye(8, 6, dtype="float32"), np.zeros(6, "float32")])
    np.testing.assert_allclose(extractor.predict(x, verbose=0), relu(x[:, :6]), rtol=1e-6)
    all_features = keras.Model(inputs=model.input, outputs=[layer.output for layer in model.layers])
    feats = all_features.predict(x, verbose=0)
    assert [layer.name for layer in model.layers] == ["input_layer", "h1", "h2", "out", "side"]
    assert [f.shape for f in feats] == [(5, 8), (5, 6), (5, 4), (5, 2), (5, 3)]
    np.testing.assert_array_equal(feats[0], x)


def test_get_layer_and_errors():
    model = mnist_mlp()
    assert model.get_layer("dense_1") is model.layers[2]
    assert model.get_layer(index=-1).name == "dense_2"
    with pytest.raises(ValueError, match="No layer named 'nope'"):
        model.get_layer("nope")
    with pytest.raises(ValueError, match="exactly one of"):
        model.get_layer()


def test_graph_disconnected_and_duplicate_names():
    a, b = keras.Input(shape=(2,), name="a"), keras.Input(shape=(2,), name="b")
    y = layers.add([a, b])
    with pytest.raises(ValueError, match="Graph disconnected|not among the model's inputs"):
        keras.Model(a, y).predict(np.zeros((1, 2), "float32"), verbose=0)
    x = keras.Input(shape=(2,))
    z = layers.Dense(2, name="same")(layers.Dense(2, name="same")(x))
    with pytest.raises(ValueError, match="The name 'same' is used 2 times"):
        keras.Model(x, z)


def test_model_called_on_wrong_shape_names_model_and_input():
    model = mnist_mlp()
    with pytest.raises(ValueError, match=r"Layer 'mnist_model'.*shape \(None, 784\).*\(None, 32\)"):
        model(keras.Input(shape=(32,)))


def test_sequential_add_pop_and_summary():
    model = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(8, activation="relu"), layers.Dense(3)], name="seq")
    assert [layer.name for layer in model.layers] == ["dense", "dense_1"]
    x = rand(2, 4)
    d0, d1 = model.layers
    np.testing.assert_allclose(model.predict(x, verbose=0), dense(d1, dense(d0, x, relu)), rtol=1e-5)
    lines = []
    model.summary(print_fn=lines.append)
    assert "InputLayer" not in lines[0] and "Connected to" not in lines[0] and "Total params: 67" in lines[0]
    model.add(layers.Dense(1))
    assert model.output.shape == (None, 1)
    popped = model.pop()
    assert popped.name == "dense_2" and model.output.shape == (None, 3)
    lazy = keras.Sequential([layers.Dense(2)])
    assert lazy(rand(3, 5)).shape == (3, 2) and lazy.count_params() == 12
    shaped = keras.Sequential([layers.Dense(2, input_shape=(7,))])
    assert shaped.input.shape == (None, 7)


def test_deep_stack_builds_without_recursion_limits():
    inputs = keras.Input(shape=(3,))
    x = inputs
    for _ in range(1200):
        x = layers.Dense(3, kernel_initializer="orthogonal")(x)
    model = keras.Model(inputs, x)
    assert len(model.layers) == 1201
    v = rand(2, 3)
    ref = v
    for layer in model.layers[1:]:
        ref = dense(layer, ref)
    np.testing.assert_allclose(model.predict(v, verbose=0), ref, rtol=1e-3, atol=1e-4)
