"""A prediction mask of higher rank than a custom loss's values (loss returned a scalar) vs Keras."""

import os

import numpy as np
import pytest

import onnxgraph as og


class _SumLoss(og.losses.Loss):
    def call(self, y_true, y_pred):
        return og.ops.sum(y_pred)


def test_scalar_loss_on_masked_prediction_matches_keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")

    class KSumLoss(keras.losses.Loss):
        def call(self, y_true, y_pred):
            return keras.ops.sum(y_pred)

    y_pred = np.random.rand(2, 3, 4).astype("float32")
    mask = np.array([[1, 1, 0], [1, 0, 0]], bool)
    k_pred = keras.ops.convert_to_tensor(y_pred)
    k_pred._keras_mask = keras.ops.convert_to_tensor(mask)
    expected = float(keras.ops.convert_to_numpy(KSumLoss()(y_pred, k_pred)))

    tokens = og.Input(batch_shape=(2, 3), dtype="int64")
    out = og.layers.Embedding(5, 4, mask_zero=True)(tokens)
    model = og.Model(tokens, out)
    model.compile(optimizer="sgd", loss=_SumLoss())
    ids = np.where(mask, 1, 0).astype("int64")
    np.testing.assert_allclose(model.evaluate(ids, model.predict(ids, verbose=0), verbose=0),
                               float(model.predict(ids, verbose=0).sum()), rtol=1e-5)
    np.testing.assert_allclose(float(_SumLoss()(y_pred, y_pred)), expected, rtol=1e-4)
