"""Gradient checks for every trainable layer: onnxruntime-training vs finite differences.

Each model is Input -> Scale -> layer, so the check covers the layer's own weights and its
input gradient (through Scale's weights). The training graph's forward values must equal the
inference model's (except where training mode differs: Dropout, BatchNormalization).
"""

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph import layers
from tests.trainer.gradcheck import Scale, gradient_check

ACTIVATIONS = ["relu", "sigmoid", "tanh", "elu", "selu", "softplus", "softsign", "hard_sigmoid", "hard_silu",
               "gelu", "silu", "mish", "leaky_relu", "relu6", "softmax", "log_softmax", "exponential", "linear"]

CASES = {
    # core and activation layers
    "Dense": ((5,), lambda: layers.Dense(4)),
    "ReLU(max,slope,threshold)": ((5,), lambda: layers.ReLU(max_value=1.5, negative_slope=0.1, threshold=0.2)),
    "LeakyReLU": ((5,), lambda: layers.LeakyReLU(0.3)),
    "PReLU": ((4, 3), lambda: layers.PReLU(alpha_initializer=og.initializers.Constant(0.25), shared_axes=[1])),
    "ELU": ((5,), lambda: layers.ELU(0.5)),
    "Softmax": ((5,), lambda: layers.Softmax()),
    "TimeDistributed(Dense)": ((3, 4), lambda: layers.TimeDistributed(layers.Dense(2))),
    # convolutions
    "Conv1D same stride 2": ((7, 2), lambda: layers.Conv1D(3, 3, strides=2, padding="same")),
    "Conv2D same stride 2": ((7, 7, 2), lambda: layers.Conv2D(3, 3, strides=2, padding="same")),
    "Conv2D same even kernel": ((6, 6, 2), lambda: layers.Conv2D(2, 4, padding="same")),
    "Conv2D valid dilation 2": ((7, 7, 2), lambda: layers.Conv2D(2, 3, dilation_rate=2)),
    "Conv3D same stride 2": ((4, 4, 4, 1), lambda: layers.Conv3D(2, 3, strides=2, padding="same")),
    "DepthwiseConv2D same": ((5, 5, 2), lambda: layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2)),
    "SeparableConv2D same": ((5, 5, 2), lambda: layers.SeparableConv2D(3, 3, padding="same")),
    "Conv2DTranspose same stride 2": ((4, 4, 2), lambda: layers.Conv2DTranspose(3, 3, strides=2, padding="same")),
    "Conv2DTranspose valid": ((4, 4, 2), lambda: layers.Conv2DTranspose(2, 3)),
    "Conv1DTranspose stride 2": ((4, 2), lambda: layers.Conv1DTranspose(2, 3, strides=2)),
    "Conv3DTranspose same": ((3, 3, 3, 1), lambda: layers.Conv3DTranspose(2, 2, strides=2, padding="same")),
    # pooling, resampling, padding
    "MaxPooling2D": ((6, 6, 2), lambda: layers.MaxPooling2D(2)),
    "MaxPooling2D same stride 2": ((7, 7, 2), lambda: layers.MaxPooling2D(3, strides=2, padding="same")),
    "MaxPooling1D": ((6, 2), lambda: layers.MaxPooling1D(2)),
    "AveragePooling2D": ((6, 6, 2), lambda: layers.AveragePooling2D(2)),
    "AveragePooling2D same": ((5, 5, 2), lambda: layers.AveragePooling2D(2, padding="same")),
    "AveragePooling1D same": ((5, 2), lambda: layers.AveragePooling1D(2, padding="same")),
    "GlobalMaxPooling2D": ((4, 4, 3), lambda: layers.GlobalMaxPooling2D()),
    "GlobalMaxPooling1D": ((5, 3), lambda: layers.GlobalMaxPooling1D()),
    "GlobalAveragePooling2D": ((4, 4, 3), lambda: layers.GlobalAveragePooling2D()),
    "UpSampling2D nearest": ((3, 3, 2), lambda: layers.UpSampling2D(2)),
    "UpSampling2D bilinear": ((3, 3, 2), lambda: layers.UpSampling2D(2, interpolation="bilinear")),
    "UpSampling1D": ((3, 2), lambda: layers.UpSampling1D(3)),
    "MaxPooling3D": ((4, 4, 4, 1), lambda: layers.MaxPooling3D(2)),
    "AveragePooling3D same": ((3, 3, 3, 1), lambda: layers.AveragePooling3D(2, padding="same")),
    "UpSampling3D": ((2, 2, 2, 1), lambda: layers.UpSampling3D(2)),
    "Conv2D channels_first": ((2, 5, 5), lambda: layers.Conv2D(2, 3, padding="same", data_format="channels_first")),
    "SeparableConv1D": ((6, 2), lambda: layers.SeparableConv1D(3, 3, strides=2, padding="same")),
    "ZeroPadding2D": ((3, 3, 2), lambda: layers.ZeroPadding2D(1)),
    "Cropping2D": ((5, 5, 2), lambda: layers.Cropping2D(1)),
    # recurrent
    "SimpleRNN": ((5, 3), lambda: layers.SimpleRNN(4)),
    "LSTM": ((5, 3), lambda: layers.LSTM(4)),
    "LSTM go_backwards sequences": ((5, 3), lambda: layers.LSTM(3, go_backwards=True, return_sequences=True)),
    "GRU go_backwards": ((5, 3), lambda: layers.GRU(4, go_backwards=True)),
    "GRU reset_after=False": ((5, 3), lambda: layers.GRU(3, reset_after=False)),
    "Bidirectional(LSTM)": ((5, 3), lambda: layers.Bidirectional(layers.LSTM(3))),
    "Bidirectional(GRU sequences)": ((4, 3), lambda: layers.Bidirectional(layers.GRU(2, return_sequences=True))),
    # normalization and attention
    "LayerNormalization": ((4, 5), lambda: layers.LayerNormalization()),
    "GroupNormalization": ((3, 3, 4), lambda: layers.GroupNormalization(groups=2)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_gradients(name):
    shape, make = CASES[name]
    inputs = og.Input(shape=shape)
    model = og.Model(inputs, make()(Scale()(inputs)))
    x = np.random.default_rng(1).standard_normal((3, *shape)).astype(np.float32)
    gradient_check(model, x, coords=4, forward_atol=2e-4)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activation_gradients(activation):
    inputs = og.Input(shape=(5,))
    model = og.Model(inputs, layers.Dense(4, activation=activation)(Scale()(inputs)))
    gradient_check(model, np.random.default_rng(2).standard_normal((3, 5)).astype(np.float32), coords=4)


def test_embedding_gradient():
    inputs = og.Input(shape=(4,), dtype="int64")
    model = og.Model(inputs, layers.Dense(2)(layers.Embedding(7, 3)(inputs)))
    x = np.array([[1, 2, 2, 6], [0, 1, 5, 5], [3, 3, 3, 3]], np.int64)
    grads = gradient_check(model, x, coords=6)
    # Rows of the table that no id selects get no gradient.
    assert np.all(grads["embedding/embeddings"][4] == 0)


def test_lstm_on_variable_length_sequences():
    inputs = og.Input(shape=(None, 3))
    model = og.Model(inputs, layers.LSTM(4)(Scale()(inputs)))
    gradient_check(model, np.random.default_rng(3).standard_normal((2, 6, 3)).astype(np.float32), coords=4)


def test_multi_head_attention_gradients():
    inputs = og.Input(shape=(4, 6))
    x = Scale()(inputs)
    model = og.Model(inputs, layers.MultiHeadAttention(num_heads=2, key_dim=3)(x, x, use_causal_mask=True))
    gradient_check(model, np.random.default_rng(4).standard_normal((2, 4, 6)).astype(np.float32), coords=3)


def test_cross_attention_gradients():
    query, value = og.Input(shape=(3, 4)), og.Input(shape=(5, 6))
    out = layers.MultiHeadAttention(num_heads=2, key_dim=2, value_dim=3)(Scale()(query), Scale()(value))
    model = og.Model([query, value], out)
    rng = np.random.default_rng(5)
    gradient_check(model, [rng.standard_normal((2, 3, 4)).astype(np.float32),
                           rng.standard_normal((2, 5, 6)).astype(np.float32)], coords=3)


def test_batch_normalization_training_mode_gradients():
    inputs = og.Input(shape=(3, 3, 2))
    model = og.Model(inputs, layers.BatchNormalization(momentum=0.9)(Scale()(inputs)))
    # Training mode normalizes with the batch's statistics, so it differs from predict().
    gradient_check(model, np.random.default_rng(6).standard_normal((4, 3, 3, 2)).astype(np.float32),
                   check_forward=False)


def test_frozen_batch_normalization_runs_in_inference_mode():
    inputs = og.Input(shape=(3, 2))
    bn = layers.BatchNormalization()
    model = og.Model(inputs, bn(Scale()(inputs)))
    bn.set_weights([np.array([1.5, 0.5], np.float32), np.array([0.1, -0.2], np.float32),
                    np.array([0.3, -0.1], np.float32), np.array([2.0, 0.5], np.float32)])
    bn.trainable = False
    # Keras 3: a frozen BatchNormalization uses its moving statistics even in fit().
    gradient_check(model, np.random.default_rng(7).standard_normal((4, 3, 2)).astype(np.float32))


def test_dropout_gradient_uses_the_same_mask_as_the_forward_pass():
    inputs = og.Input(shape=(6,))
    model = og.Model(inputs, layers.Dense(3)(layers.Dropout(0.5, seed=3)(Scale()(inputs))))
    gradient_check(model, np.random.default_rng(8).standard_normal((4, 6)).astype(np.float32), check_forward=False)
