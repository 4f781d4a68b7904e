"""Regularized training equals Keras 3 (torch): the loss of every step and the final weights.

Keras adds `model.losses` (weight penalties, activity penalties divided by the batch size,
`add_loss` terms) to the compiled loss, and its logged `loss` includes them.
"""

import numpy as np
import pytest

import onnxgraph as og
from tests.trainer.keras_parity import assert_same_training, keras

pytest.importorskip("keras")

RNG = np.random.default_rng(0)
X = RNG.standard_normal((16, 5)).astype(np.float32)
Y = RNG.standard_normal((16, 3)).astype(np.float32)


def dense_model(K):
    inputs = K.Input(shape=(5,))
    h = K.layers.Dense(8, activation="tanh", kernel_regularizer=K.regularizers.L2(0.05),
                       bias_regularizer=K.regularizers.L1(0.02),
                       activity_regularizer=K.regularizers.L1L2(0.01, 0.02))(inputs)
    h = K.layers.Dense(6, kernel_regularizer=K.regularizers.OrthogonalRegularizer(0.2, mode="columns"))(h)
    outputs = K.layers.Dense(3, kernel_regularizer=K.regularizers.OrthogonalRegularizer(0.1))(h)
    return K.Model(inputs, outputs)


def conv_model(K):
    inputs = K.Input(shape=(6, 6, 2))
    h = K.layers.Conv2D(3, 3, kernel_regularizer=K.regularizers.L1L2(0.01, 0.03),
                        activity_regularizer=K.regularizers.L2(0.001))(inputs)
    h = K.layers.BatchNormalization(gamma_regularizer=K.regularizers.L2(0.1),
                                    beta_regularizer=K.regularizers.L1(0.05))(h)
    h = K.layers.SeparableConv2D(2, 3, depthwise_regularizer=K.regularizers.L2(0.02),
                                 pointwise_regularizer=K.regularizers.L1(0.02))(h)
    return K.Model(inputs, K.layers.Dense(3)(K.layers.Flatten()(h)))


def sequence_model(K):
    inputs = K.Input(shape=(5,), dtype="int32")
    h = K.layers.Embedding(12, 4, embeddings_regularizer=K.regularizers.L2(0.05))(inputs)
    h = K.layers.LSTM(3, kernel_regularizer=K.regularizers.L1(0.01), recurrent_regularizer=K.regularizers.L2(0.1),
                      bias_regularizer=K.regularizers.L2(0.1))(h)
    return K.Model(inputs, K.layers.Dense(3, activity_regularizer=K.regularizers.L2(0.05))(h))


def add_loss_model(K):
    class Penalized(K.layers.Layer):
        def call(self, x):
            self.add_loss(0.3 * K.ops.mean(K.ops.square(x)))
            return x

    inputs = K.Input(shape=(5,))
    return K.Model(inputs, K.layers.Dense(3)(Penalized()(K.layers.Dense(4)(inputs))))


@pytest.mark.parametrize("optimizer,lr", [("sgd", 0.05), ("adam", 0.02)])
@pytest.mark.parametrize("build", [dense_model, add_loss_model], ids=["dense", "add_loss"])
def test_dense_training_equals_keras(build, optimizer, lr):
    og_losses, _ = assert_same_training(build, X, Y, optimizer, lr)
    assert og_losses[0] > og_losses[-1]


@pytest.mark.parametrize("optimizer,lr", [("sgd", 0.05), ("adam", 0.02)])
def test_conv_and_batchnorm_training_equals_keras(optimizer, lr):
    x = RNG.standard_normal((8, 6, 6, 2)).astype(np.float32)
    assert_same_training(conv_model, x, Y[:8], optimizer, lr, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("optimizer,lr", [("sgd", 0.1), ("adam", 0.02)])
def test_embedding_and_lstm_training_equals_keras(optimizer, lr):
    ids = RNG.integers(0, 12, size=(16, 5)).astype(np.int32)
    assert_same_training(sequence_model, ids, Y, optimizer, lr)


@pytest.mark.parametrize("build", [dense_model, add_loss_model], ids=["dense", "add_loss"])
def test_penalty_is_in_the_loss_and_evaluate(build):
    model = build(og)
    k_model = build(keras())
    k_model.set_weights(model.get_weights())
    for m in (model, k_model):
        m.compile(optimizer="sgd", loss="mse")
    ours, theirs = model.evaluate(X, Y, verbose=0), k_model.evaluate(X, Y, verbose=0)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)
    for m in (model, k_model):  # after training too (the training replay must not drop the terms)
        m.fit(X, Y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    np.testing.assert_allclose(model.evaluate(X, Y, verbose=0), k_model.evaluate(X, Y, verbose=0), rtol=1e-5)
    mse = float(np.mean((model.predict(X, verbose=0) - Y) ** 2))
    weight_penalties = sum(float(v) for v in model.losses if not hasattr(v, "producer"))
    assert ours > mse + weight_penalties - 1e-6  # activity penalties on top


def test_model_with_regularizers_saves_loads_and_trains_the_same(tmp_path):
    model = dense_model(og)
    path = str(tmp_path / "regularized.onnx")
    model.save(path)
    loaded = og.load_model(path)
    layer = loaded.layers[1]
    assert isinstance(layer.kernel_regularizer, og.regularizers.L2) and layer.kernel_regularizer.l2 == 0.05
    assert isinstance(layer.activity_regularizer, og.regularizers.L1L2)
    assert loaded.get_config() == model.get_config()
    for m in (model, loaded):
        m.compile(optimizer=og.optimizers.SGD(0.05), loss="mse")
    a = model.fit(X, Y, batch_size=16, epochs=3, shuffle=False, verbose=0).history["loss"]
    b = loaded.fit(X, Y, batch_size=16, epochs=3, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(a, b, rtol=1e-6)
    keras_layer = keras().layers.Dense.from_config(
        {k: v for k, v in layer.get_config().items() if k not in ("dtype",)})
    assert keras_layer.kernel_regularizer.get_config() == layer.kernel_regularizer.get_config()
