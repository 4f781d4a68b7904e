"""Constrained training equals Keras 3 (torch): constraints project each weight after every step.

The engine's parameter buffers hold the ONNX layout (Conv kernels transposed, LSTM gates
reordered and reshaped): the projection runs in Keras layout through the inverse transform.
"""

import numpy as np
import pytest

from tests.trainer.keras_parity import assert_same_training

pytest.importorskip("keras")

RNG = np.random.default_rng(3)
Y = RNG.standard_normal((12, 3)).astype(np.float32)


def dense_model(K):
    inputs = K.Input(shape=(5,))
    h = K.layers.Dense(6, activation="tanh", kernel_constraint=K.constraints.MaxNorm(0.6, axis=0),
                       bias_constraint=K.constraints.NonNeg())(inputs)
    h = K.layers.Dense(4, kernel_constraint=K.constraints.UnitNorm(axis=1))(h)
    return K.Model(inputs, K.layers.Dense(3, kernel_constraint=K.constraints.MinMaxNorm(0.2, 0.5, 0.8, axis=0))(h))


def conv_model(K):
    inputs = K.Input(shape=(5, 5, 2))
    # No biases before BatchNormalization: their true gradient is 0, and Adam would turn the
    # rounding noise of either framework into full-size steps.
    h = K.layers.Conv2D(4, 3, activation="tanh", kernel_constraint=K.constraints.MaxNorm(0.3, axis=[0, 1, 2]))(inputs)
    h = K.layers.DepthwiseConv2D(2, use_bias=False, depthwise_constraint=K.constraints.UnitNorm(axis=[0, 1]))(h)
    h = K.layers.BatchNormalization(gamma_constraint=K.constraints.NonNeg())(h)
    return K.Model(inputs, K.layers.Dense(3)(K.layers.Flatten()(h)))


def sequence_model(K):
    inputs = K.Input(shape=(6,), dtype="int32")
    h = K.layers.Embedding(10, 4, embeddings_constraint=K.constraints.UnitNorm(axis=1))(inputs)
    h = K.layers.LSTM(3, kernel_constraint=K.constraints.MaxNorm(0.4, axis=0),
                      recurrent_constraint=K.constraints.UnitNorm(axis=1),
                      bias_constraint=K.constraints.NonNeg())(h)
    h = K.layers.Dense(3, kernel_constraint=K.constraints.NonNeg())(h)
    return K.Model(inputs, h)


@pytest.mark.parametrize("optimizer,lr", [("sgd", 0.2), ("adam", 0.05)])
def test_dense_constraints_equal_keras(optimizer, lr):
    x = RNG.standard_normal((12, 5)).astype(np.float32)
    assert_same_training(dense_model, x, Y, optimizer, lr)


@pytest.mark.parametrize("optimizer,lr", [("sgd", 0.2), ("adam", 0.05)])
def test_conv_constraints_through_the_kernel_transform_equal_keras(optimizer, lr):
    x = RNG.standard_normal((12, 5, 5, 2)).astype(np.float32)
    assert_same_training(conv_model, x, Y, optimizer, lr, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("optimizer,lr", [("sgd", 0.3), ("adam", 0.05)])
def test_lstm_and_embedding_constraints_equal_keras(optimizer, lr):
    ids = RNG.integers(0, 10, size=(12, 6)).astype(np.int32)
    assert_same_training(sequence_model, ids, Y, optimizer, lr)


def test_constraint_holds_on_the_trained_weights():
    import onnxgraph as og

    model = dense_model(og)
    model.compile(optimizer=og.optimizers.SGD(0.5), loss="mse")
    model.fit(RNG.standard_normal((12, 5)).astype(np.float32), Y, epochs=3, verbose=0)
    kernel, bias = model.layers[1].get_weights()
    assert np.all(np.linalg.norm(kernel, axis=0) <= 0.6 + 1e-6) and np.all(bias >= 0)
    np.testing.assert_allclose(np.linalg.norm(model.layers[2].get_weights()[0], axis=1), 1.0, rtol=1e-5)


def test_in_graph_constraints_equal_the_engine_projection():
    # The hook for an engine that updates weights with ONNX nodes: same values as the numpy step.
    import onnxgraph as og
    from onnxgraph.backend import transforms
    from onnxgraph.layers._input_layer import placeholder
    from onnxgraph.runtime import GraphRunner
    from onnxgraph.trainer._engine import _apply_constraints, _constrained_params
    from onnxgraph.trainer._graph import build_graphs
    from onnxgraph.trainer._regularization import constrained_in_graph

    model = conv_model(og)
    model.compile(optimizer="sgd", loss="mse")
    losses = [og.losses.get("mse")]
    train, _, trainable, _ = build_graphs(model, losses, [None], [((None, 3), "float32")])
    values = {name: 3.0 * RNG.standard_normal(transforms.apply(train.params[name][0].value,
                                                                train.params[name][1]).shape).astype(np.float32)
              for name in trainable}
    holders = {name: placeholder(v.shape, "float32", f"w{i}") for i, (name, v) in enumerate(values.items())}
    projected = constrained_in_graph(train.params, holders)
    assert len(projected) == 3  # conv kernel, depthwise kernel, BN gamma
    names = list(projected)
    runner = GraphRunner([holders[n] for n in names], [projected[n] for n in names],
                         [holders[n].name for n in names], [f"p{i}" for i in range(len(names))], [], name="proj")
    got = runner.run_feeds({holders[n].name: values[n] for n in names})
    views = {name: v.copy() for name, v in values.items()}
    _apply_constraints(_constrained_params(trainable, train.params, views))
    for name, value in zip(names, got):
        np.testing.assert_allclose(value, views[name], rtol=1e-6, atol=1e-7)
