"""Keras 3 layer behaviours that Keras's own test suite checks (tests/keras_compat), pinned here."""

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph import layers


@pytest.mark.parametrize("make", [lambda: layers.ReLU(), lambda: layers.LeakyReLU(), lambda: layers.ELU(),
                                  lambda: layers.Softmax(), lambda: layers.Activation("tanh"),
                                  lambda: layers.Dropout(0.5), lambda: layers.Identity(),
                                  lambda: layers.MaxPooling2D(), lambda: layers.GlobalAveragePooling1D(),
                                  lambda: layers.Masking(), lambda: layers.Reshape((2, 3))])
def test_stateless_layers_are_built_at_instantiation(make):
    assert make().built


def test_layers_with_weights_or_own_build_are_not_built_at_instantiation():
    class MyReLU(layers.ReLU):
        def build(self, input_shape):
            self.scale = self.add_weight((), initializer="ones", name="scale")

    assert not layers.Dense(2).built
    layer = MyReLU()
    assert not layer.built
    layer(og.Input(shape=(3,)))
    assert layer.built and len(layer.weights) == 1


def test_first_input_by_keyword_symbolic_and_eager():
    x = np.array([[-1.0, 2.0, -3.0]], "float32")
    assert layers.ReLU()(inputs=og.Input(shape=(3,))).shape == (None, 3)
    np.testing.assert_array_equal(layers.ReLU()(inputs=x), [[0.0, 2.0, 0.0]])


def test_attention_query_value_by_keyword_equals_positional():
    rng = np.random.default_rng(0)
    q, v = rng.normal(size=(2, 4, 8)).astype("float32"), rng.normal(size=(2, 3, 8)).astype("float32")
    layer = layers.MultiHeadAttention(num_heads=2, key_dim=4)
    np.testing.assert_allclose(layer(query=q, value=v), layer(q, v), rtol=1e-6, atol=1e-6)


def test_eager_training_call_updates_batchnorm_moving_statistics():
    rng = np.random.default_rng(0)
    x = rng.normal(5.0, 10.0, size=(64, 3)).astype("float32")
    layer = layers.BatchNormalization(momentum=0.25)
    out = layer(x, training=True)
    np.testing.assert_allclose(out, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-3), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(layer.moving_mean.numpy(), 0.75 * x.mean(0), rtol=1e-5)
    np.testing.assert_allclose(layer.moving_variance.numpy(), 0.25 + 0.75 * x.var(0), rtol=1e-5)
    before = layer.moving_mean.numpy().copy()
    layer(x, training=False)  # inference leaves the statistics alone
    np.testing.assert_array_equal(layer.moving_mean.numpy(), before)


def test_eager_batchnorm_follows_trainable_changes():
    x = np.random.default_rng(1).normal(5.0, 10.0, size=(32, 2)).astype("float32")
    layer = layers.BatchNormalization(epsilon=1e-7)
    layer.build((32, 2))
    layer.trainable = False
    np.testing.assert_allclose(layer(x, training=True), x, rtol=1e-5, atol=1e-5)  # frozen: inference mode
    layer.trainable = True
    np.testing.assert_allclose(layer(x, training=True).mean(0), 0.0, atol=1e-4)  # same shapes, new graph


def test_batchnorm_mask_broadcast_over_features_counts_every_position():
    # Keras broadcasts a (batch, steps, 1) mask to the inputs before counting.
    x = np.ones((1, 2, 3, 4), "float32")
    layer = layers.BatchNormalization(momentum=0.0, epsilon=1e-3)
    y = layer(x, training=True, mask=np.ones((1, 2, 1), "float32"))
    np.testing.assert_allclose(y, 0.0, atol=1e-6)
    np.testing.assert_allclose(layer.moving_mean.numpy(), 1.0, atol=1e-6)
    np.testing.assert_allclose(layer.moving_variance.numpy(), 0.0, atol=1e-6)


def test_relu_errors_carry_keras_wording():
    with pytest.raises(ValueError, match="max_value of a ReLU layer cannot be a negative value"):
        layers.ReLU(max_value=-1)
    with pytest.raises(ValueError, match="threshold of a ReLU layer cannot be None or a negative value"):
        layers.ReLU(threshold=None)
    with pytest.raises(ValueError, match="The negative_slope value of a Leaky ReLU layer cannot be None"):
        layers.LeakyReLU(negative_slope=None)
