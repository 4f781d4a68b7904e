"""Loss gradients of every trainable weight equal Keras 3's (torch backend) on the same weights.

Guide models (benchmarks/models.py builds each one with either library) and one small model
per layer family; see `_keras_reference` for how both sides compute them.
"""

from __future__ import annotations

import numpy as np
import pytest

import onnxgraph as og
from benchmarks.models import keras_like
from tests.autodiff._keras_reference import assert_gradients_match
from tests.conftest import rand

keras = pytest.importorskip("keras")


@pytest.fixture(autouse=True)
def _keras_seed():
    # No keras.backend.clear_session(): its gc pass costs ~1.5 s a test, and weights are copied by order.
    keras.utils.set_random_seed(0)


def _both(build):
    return build(og), build(keras)


def _ids(shape, vocab, seed=0):
    return np.random.default_rng(seed).integers(0, vocab, size=shape).astype(np.int64)


# -- guide models ------------------------------------------------------------------------------------------------


def test_mnist_mlp():
    assert_gradients_match(*_both(lambda lib: keras_like(lib, "mlp")), rand(4, 784))


@pytest.mark.slow
def test_toy_resnet():
    assert_gradients_match(*_both(lambda lib: keras_like(lib, "toy_resnet")), rand(2, 32, 32, 3), rtol=1e-3)


@pytest.mark.slow
def test_conv_autoencoder():
    assert_gradients_match(*_both(lambda lib: keras_like(lib, "autoencoder")), np.abs(rand(2, 28, 28, 1)), rtol=1e-3)


def test_ticket_router():
    feeds = [_ids((3, 12), 10000), _ids((3, 20), 10000, seed=1), (rand(3, 12) > 0).astype(np.float32)]
    assert_gradients_match(*_both(lambda lib: keras_like(lib, "ticket_router")), feeds)


# -- layer families ----------------------------------------------------------------------------------------------


def _sequential(lib, input_shape, *make_layers, dtype="float32"):
    x = lib.Input(shape=input_shape, dtype=dtype)
    y = x
    for make in make_layers:
        y = make(lib.layers)(y)
    return lib.Model(x, y)


LAYER_CASES = {
    "dense": ((5,), [lambda L: L.Dense(4, activation="tanh"), lambda L: L.Dense(3)]),
    "conv1d": ((9, 3), [lambda L: L.Conv1D(4, 3, strides=2, padding="same", activation="relu")]),
    "conv2d": ((7, 7, 2), [lambda L: L.Conv2D(3, 3, dilation_rate=2, activation="relu"), lambda L: L.Flatten()]),
    "pooling": ((8, 8, 2), [lambda L: L.Conv2D(3, 1), lambda L: L.MaxPooling2D(2), lambda L: L.AveragePooling2D(2),
                            lambda L: L.GlobalAveragePooling2D()]),
    "conv3d": ((4, 4, 4, 2), [lambda L: L.Conv3D(2, 2, strides=(1, 2, 1), padding="same"), lambda L: L.Flatten()]),
    "conv_transpose": ((4, 4, 2), [lambda L: L.Conv2DTranspose(3, 3, strides=2, padding="same"),
                                   lambda L: L.Flatten()]),
    "depthwise_separable": ((6, 6, 2), [lambda L: L.DepthwiseConv2D(3, depth_multiplier=2),
                                        lambda L: L.SeparableConv2D(3, 2, activation="relu"), lambda L: L.Flatten()]),
    "upsampling_padding_cropping": ((3, 3, 2), [lambda L: L.UpSampling2D(2), lambda L: L.ZeroPadding2D(1),
                                                lambda L: L.Cropping2D(((1, 0), (0, 2))), lambda L: L.Conv2D(2, 2),
                                                lambda L: L.GlobalMaxPooling2D()]),
    "pooling_1d": ((8, 3), [lambda L: L.Conv1D(3, 1), lambda L: L.AveragePooling1D(2), lambda L: L.MaxPooling1D(2, padding="same"),
                            lambda L: L.GlobalAveragePooling1D()]),
    "batch_norm_frozen": ((4,), [lambda L: L.Dense(3), lambda L: L.BatchNormalization()]),
    "group_norm": ((3, 4), [lambda L: L.Dense(4), lambda L: L.GroupNormalization(groups=2)]),
    "time_distributed": ((4, 3), [lambda L: L.TimeDistributed(L.Dense(2, activation="sigmoid")),
                                  lambda L: L.GRU(3)]),
    "layer_norm": ((3, 4), [lambda L: L.Dense(5), lambda L: L.LayerNormalization()]),
    "simple_rnn": ((5, 3), [lambda L: L.SimpleRNN(4, return_sequences=True)]),
    "lstm_backwards": ((5, 3), [lambda L: L.LSTM(4, go_backwards=True)]),
    "gru_reset_after": ((5, 3), [lambda L: L.GRU(4, return_sequences=True)]),
    "gru_reset_before": ((5, 3), [lambda L: L.GRU(4, reset_after=False)]),
    "bidirectional_concat": ((5, 3), [lambda L: L.Bidirectional(L.LSTM(4, return_sequences=True))]),
    "bidirectional_sum": ((5, 3), [lambda L: L.Bidirectional(L.GRU(3), merge_mode="sum")]),
    "bidirectional_mul": ((5, 3), [lambda L: L.Bidirectional(L.SimpleRNN(3, return_sequences=True),
                                                             merge_mode="mul")]),
    "bidirectional_ave": ((5, 3), [lambda L: L.Bidirectional(L.LSTM(3), merge_mode="ave")]),
}


@pytest.mark.parametrize("case", list(LAYER_CASES))
def test_layer_family(case):
    shape, makers = LAYER_CASES[case]
    assert_gradients_match(*_both(lambda lib: _sequential(lib, shape, *makers)), rand(3, *shape))


@pytest.mark.parametrize("case", ["simple_rnn", "lstm_backwards", "gru_reset_before", "bidirectional_mul"])
def test_recurrent_inference_form(case):
    """The graph without training rewrites (ONNX RNN for SimpleRNN) has Keras's gradients too."""
    shape, makers = LAYER_CASES[case]
    assert_gradients_match(*_both(lambda lib: _sequential(lib, shape, *makers)), rand(3, *shape), rewrite=False)


def test_batch_norm_training_statistics():
    build = lambda lib: _sequential(lib, (4,), lambda L: L.Dense(3), lambda L: L.BatchNormalization())  # noqa: E731
    assert_gradients_match(*_both(build), rand(6, 4), training=True)


def test_embedding_with_repeated_ids():
    def build(lib):
        ids = lib.Input(shape=(6,), dtype="int64")
        return lib.Model(ids, lib.layers.Dense(2)(lib.layers.Flatten()(lib.layers.Embedding(5, 3)(ids))))

    ids = np.array([[1, 1, 4, 0, 1, 4], [2, 2, 2, 2, 3, 1]], np.int64)
    assert_gradients_match(*_both(build), ids)


def test_recurrent_states_in_and_out():
    def build(lib):
        x = lib.Input(shape=(4, 3))
        h0, c0 = lib.Input(shape=(5,)), lib.Input(shape=(5,))
        seq, h, c = lib.layers.LSTM(5, return_sequences=True, return_state=True)(x, initial_state=[h0, c0])
        out, state = lib.layers.GRU(5, return_state=True, go_backwards=True)(seq, initial_state=h)
        return lib.Model([x, h0, c0], [out, state, c])

    assert_gradients_match(*_both(build), [rand(2, 4, 3), rand(2, 5, seed=1), rand(2, 5, seed=2)])


def test_bidirectional_merge_none_with_states():
    def build(lib):
        x = lib.Input(shape=(4, 3))
        outs = lib.layers.Bidirectional(lib.layers.LSTM(3, return_state=True), merge_mode=None)(x)
        return lib.Model(x, list(outs))

    assert_gradients_match(*_both(build), rand(2, 4, 3))


def test_multi_head_attention_with_mask():
    def build(lib):
        q, v = lib.Input(shape=(4, 6)), lib.Input(shape=(5, 6))
        mask = lib.Input(shape=(4, 5), dtype="bool")
        out = lib.layers.MultiHeadAttention(num_heads=2, key_dim=3)(q, v, attention_mask=mask)
        return lib.Model([q, v, mask], out)

    mask = np.random.default_rng(3).random((2, 4, 5)) > 0.3
    mask[:, :, 0] = True  # every query sees at least one key
    assert_gradients_match(*_both(build), [rand(2, 4, 6), rand(2, 5, 6, seed=1), mask])


def test_a_wrong_gradient_is_reported(monkeypatch):
    from tests.autodiff import _keras_reference

    original = _keras_reference.keras_gradients

    def skewed(*args, **kwargs):
        grads = original(*args, **kwargs)
        grads[0] = grads[0] * 1.01  # a 1% error in one kernel's gradient
        return grads

    monkeypatch.setattr(_keras_reference, "keras_gradients", skewed)
    with pytest.raises(AssertionError, match="Gradients differ from Keras"):
        assert_gradients_match(*_both(lambda lib: keras_like(lib, "mlp")), rand(4, 784))


def test_multi_head_attention_causal_with_key_and_scores():
    def build(lib):
        q, k, v = lib.Input(shape=(4, 6)), lib.Input(shape=(4, 5)), lib.Input(shape=(4, 5))
        out, scores = lib.layers.MultiHeadAttention(num_heads=3, key_dim=2, value_dim=3, output_shape=4)(
            q, v, key=k, use_causal_mask=True, return_attention_scores=True)
        return lib.Model([q, k, v], [out, scores])

    assert_gradients_match(*_both(build), [rand(2, 4, 6), rand(2, 4, 5, seed=1), rand(2, 4, 5, seed=2)])


def test_embedding_into_self_attention_and_layer_norm():
    def build(lib):
        ids = lib.Input(shape=(6,), dtype="int64")
        x = lib.layers.Embedding(9, 4)(ids)
        x = lib.layers.LayerNormalization()(x + lib.layers.MultiHeadAttention(num_heads=2, key_dim=2)(x, x))
        return lib.Model(ids, lib.layers.GlobalAveragePooling1D()(x))

    assert_gradients_match(*_both(build), _ids((3, 6), 9))
