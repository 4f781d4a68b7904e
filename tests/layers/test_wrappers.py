"""Wrapper base class and TimeDistributed per-step masks, against Keras 3 (torch backend)."""

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph import layers, ops

keras = pytest.importorskip("keras")


def _masked_dense(lib, lib_ops):
    class MaskedDense(lib.layers.Wrapper):
        def __init__(self, units, **kwargs):
            super().__init__(lib.layers.Dense(units, kernel_initializer="ones", use_bias=False), **kwargs)
            self.supports_masking = True

        def call(self, inputs, training=False, mask=None):
            y = self.layer.call(inputs)
            return y if mask is None else y * lib_ops.expand_dims(lib_ops.cast(mask, inputs.dtype), -1)

    return MaskedDense


def test_time_distributed_gives_the_inner_layer_per_step_masks_like_keras():
    x = np.random.default_rng(0).standard_normal((3, 4, 5)).astype("float32")
    mask = np.array([[1, 1, 0, 0], [1, 0, 1, 0], [0, 0, 0, 1]], dtype=bool)
    ours = layers.TimeDistributed(_masked_dense(og, ops)(2))(x, mask=mask)
    ref = keras.layers.TimeDistributed(_masked_dense(keras, keras.ops)(2))(x, mask=mask)
    np.testing.assert_allclose(np.asarray(ours), keras.ops.convert_to_numpy(ref), rtol=1e-5, atol=1e-6)
    assert np.all(np.asarray(ours)[~mask] == 0) and np.all(np.asarray(ours)[mask] != 0)


def test_wrapper_builds_the_inner_layer_and_serializes_it():
    wrapper = _masked_dense(og, ops)(3, name="md")
    model = og.Model(inp := og.Input(shape=(4,)), wrapper(inp))
    assert [w.shape for w in wrapper.weights] == [(4, 3)]
    assert wrapper.get_config()["layer"]["config"]["units"] == 3
    np.testing.assert_allclose(model.predict(np.ones((2, 4), "float32"), verbose=0), np.full((2, 3), 4.0))


def test_wrapper_rejects_a_non_layer():
    with pytest.raises(ValueError, match="Wrapper"):
        layers.Wrapper(object())
