"""save_own_variables / load_own_variables: Keras's per-layer store ("0", "1", ...), numerics vs Keras."""

import os

import numpy as np
import pytest

import onnxgraph as og


def test_round_trip_dense():
    layer = og.layers.Dense(4)
    layer.build((None, 3))
    store = {}
    layer.save_own_variables(store)
    assert sorted(store) == ["0", "1"]
    other = og.layers.Dense(4)
    other.build((None, 3))
    other.load_own_variables(store)
    np.testing.assert_array_equal(other.kernel.numpy(), layer.kernel.numpy())
    np.testing.assert_array_equal(other.bias.numpy(), layer.bias.numpy())


def test_wrong_count_and_shape_are_named():
    layer = og.layers.Dense(4)
    layer.build((None, 3))
    with pytest.raises(ValueError, match="expected 2 variables"):
        layer.load_own_variables({"0": np.zeros((3, 4), "float32")})
    with pytest.raises(ValueError, match="has shape"):
        layer.load_own_variables({"0": np.zeros((5, 4), "float32"), "1": np.zeros(4, "float32")})


def test_batchnorm_store_matches_keras_layout():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    k = keras.layers.BatchNormalization()
    k.build((None, 5))
    for w in k.weights:
        w.assign(np.random.rand(*w.shape).astype("float32"))
    store = {}
    k.save_own_variables(store)
    store = {key: keras.ops.convert_to_numpy(value) for key, value in store.items()}
    ours = og.layers.BatchNormalization()
    ours.build((None, 5))
    ours.load_own_variables(store)
    x = np.random.rand(2, 5).astype("float32")
    np.testing.assert_allclose(og.Model(i := og.Input((5,)), ours(i)).predict(x, verbose=0),
                               keras.ops.convert_to_numpy(k(x)), rtol=1e-5, atol=1e-6)
