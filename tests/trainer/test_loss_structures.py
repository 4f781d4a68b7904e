"""Losses over output structures (Keras 3 CompileLoss rules) train like Keras: same logs, same weights."""

import os

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph import layers, losses

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")


def _struct_mae(y_true, y_pred, mae):
    return sum(mae(t, p) for t, p in zip(y_true, y_pred))


def _models():
    x = og.Input(shape=(3,), name="x")
    og_model = og.Model(x, (layers.Dense(1, name="y1")(x), layers.Dense(2, name="y2")(x)))
    kx = keras.Input(shape=(3,), name="x")
    k_model = keras.Model(kx, (keras.layers.Dense(1, name="y1")(kx), keras.layers.Dense(2, name="y2")(kx)))
    og_model.set_weights(k_model.get_weights())
    return og_model, k_model


@pytest.mark.parametrize("engine", ["onnx", "ort-training"])
def test_struct_losses_with_weights_train_like_keras(engine):
    if engine == "ort-training":
        pytest.importorskip("onnxruntime.training")
    rng = np.random.default_rng(0)
    x = rng.random((8, 3)).astype("float32")
    y = (rng.random((8, 1)).astype("float32"), rng.random((8, 2)).astype("float32"))
    og_model, k_model = _models()
    og_model.compile(optimizer=og.optimizers.SGD(0.1), engine=engine,
                     loss=[lambda t, p: _struct_mae(t, p, losses.mean_absolute_error), ("mse", ["mae", "mse"])],
                     loss_weights=[0.5, (2.0, [1.0, 0.25])])
    k_model.compile(optimizer=keras.optimizers.SGD(0.1),
                    loss=[lambda t, p: _struct_mae(t, p, keras.losses.mean_absolute_error), ("mse", ["mae", "mse"])],
                    loss_weights=[0.5, (2.0, [1.0, 0.25])])
    ours = og_model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history
    theirs = k_model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history
    assert sorted(ours) == sorted(theirs)
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-4, atol=1e-6, err_msg=key)
    for a, b in zip(og_model.get_weights(), k_model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_loss_structure_errors_are_keras_errors():
    x = og.Input(shape=(3,))
    model = og.Model(x, {"a": layers.Dense(1)(x), "b": layers.Dense(1)(x)})
    model.compile(optimizer="sgd", loss={"a": "mse", "c": "mse"})
    with pytest.raises(KeyError, match=r"The path: \('c',\) in the `loss` argument"):
        model.fit(x=np.ones((4, 3)), y={"a": np.ones((4, 1)), "b": np.ones((4, 1))}, verbose=0)
    listed = og.Model(x, [layers.Dense(1, name="p")(x), layers.Dense(1, name="q")(x)])
    listed.compile(optimizer="sgd", loss={"p": "mse", "r": "mse"})
    with pytest.raises(ValueError, match=r"Expected keys \['p', 'q'\] in loss dict"):
        listed.fit(np.ones((4, 3)), [np.ones((4, 1))] * 2, verbose=0)
