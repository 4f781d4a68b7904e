"""Core models against Keras 3 itself (torch backend), weights copied via get/set_weights."""

import numpy as np
import pytest

import onnxgraph as og
from tests.conftest import rand

keras = pytest.importorskip("keras")  # the dev extra installs it; absent only in runtime-only installs

ACTIVATIONS = ["relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "sigmoid", "hard_sigmoid", "silu",
               "hard_silu", "mish", "softplus", "softsign", "tanh", "softmax", "log_softmax", "exponential", "linear"]


def build(lib, activation):
    a = lib.Input(shape=(6,), name="a")
    b = lib.Input(shape=(6,), name="b")
    shared = lib.layers.Dense(5, activation=activation, name="shared")
    h = lib.layers.concatenate([shared(a), shared(b), lib.layers.multiply([a, b])])
    h = lib.layers.Reshape((4, 4))(h)
    h = lib.layers.Permute((2, 1))(h)
    h = lib.layers.Flatten()(h)
    out1 = lib.layers.Dense(3, name="out1")(h)
    out2 = lib.layers.average([lib.layers.Dense(2, name="p")(h), lib.layers.Dense(2, name="q")(h)])
    return lib.Model([a, b], [out1, out2])


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_predictions_equal_keras(activation):
    keras.backend.clear_session()
    ours, theirs = build(og, activation), build(keras, activation)
    assert ours.count_params() == theirs.count_params()
    assert [layer.name for layer in ours.layers] == [layer.name for layer in theirs.layers]
    theirs.set_weights(ours.get_weights())
    x = [rand(4, 6) * 3, rand(4, 6, seed=1) * 3]
    for got, want in zip(ours.predict(x, verbose=0), theirs.predict(x, verbose=0)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-6)


def test_dict_outputs_give_keras_layer_and_weight_order():
    def router(lib):
        a = lib.Input(shape=(4,), name="a")
        h = lib.layers.Dense(3, name="h")(a)
        return lib.Model(a, {"zeta": lib.layers.Dense(2, name="zeta")(h), "alpha": lib.layers.Dense(1, name="alpha")(h)})

    keras.backend.clear_session()
    ours, theirs = router(og), router(keras)
    assert [layer.name for layer in ours.layers] == [layer.name for layer in theirs.layers]
    theirs.set_weights(ours.get_weights())
    x = rand(3, 4)
    got, want = ours.predict(x, verbose=0), theirs.predict(x, verbose=0)
    assert list(got) == ["zeta", "alpha"]  # the file and predict keep the user's order
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-5, atol=1e-6)
