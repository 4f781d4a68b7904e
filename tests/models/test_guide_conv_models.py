"""The functional API guide's convolutional models: summary tables, parameter counts, Keras predictions.

Each model is written once against a library (`onnxgraph` or `keras`) exactly as in the Keras 3
guide; the tables are the guide's (layer names as produced in a fresh session).
"""

import numpy as np
import pytest

import onnxgraph as og
from tests.conftest import check_onnx, rand

keras = pytest.importorskip("keras")


def encoder_layers(lib, x):
    layers = lib.layers
    x = layers.Conv2D(16, 3, activation="relu")(x)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.MaxPooling2D(3)(x)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.Conv2D(16, 3, activation="relu")(x)
    return layers.GlobalMaxPooling2D()(x)


def decoder_layers(lib, x):
    layers = lib.layers
    x = layers.Reshape((4, 4, 1))(x)
    x = layers.Conv2DTranspose(16, 3, activation="relu")(x)
    x = layers.Conv2DTranspose(32, 3, activation="relu")(x)
    x = layers.UpSampling2D(3)(x)
    x = layers.Conv2DTranspose(16, 3, activation="relu")(x)
    return layers.Conv2DTranspose(1, 3, activation="relu")(x)


def shared_graph_models(lib):
    """Guide: 'Use the same graph of layers to define multiple models'."""
    encoder_input = lib.Input(shape=(28, 28, 1), name="img")
    encoder_output = encoder_layers(lib, encoder_input)
    encoder = lib.Model(encoder_input, encoder_output, name="encoder")
    autoencoder = lib.Model(encoder_input, decoder_layers(lib, encoder_output), name="autoencoder")
    return encoder, autoencoder


def nested_models(lib):
    """Guide: 'All models are callable, just like layers'."""
    encoder_input = lib.Input(shape=(28, 28, 1), name="original_img")
    encoder = lib.Model(encoder_input, encoder_layers(lib, encoder_input), name="encoder")
    decoder_input = lib.Input(shape=(16,), name="encoded_img")
    decoder = lib.Model(decoder_input, decoder_layers(lib, decoder_input), name="decoder")
    autoencoder_input = lib.Input(shape=(28, 28, 1), name="img")
    autoencoder = lib.Model(autoencoder_input, decoder(encoder(autoencoder_input)), name="autoencoder")
    return encoder, decoder, autoencoder


def toy_resnet(lib):
    layers = lib.layers
    inputs = lib.Input(shape=(32, 32, 3), name="img")
    x = layers.Conv2D(32, 3, activation="relu")(inputs)
    x = layers.Conv2D(64, 3, activation="relu")(x)
    block_1_output = layers.MaxPooling2D(3)(x)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(block_1_output)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
    block_2_output = layers.add([x, block_1_output])
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(block_2_output)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
    block_3_output = layers.add([x, block_2_output])
    x = layers.Conv2D(64, 3, activation="relu")(block_3_output)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(256, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(10)(x)
    return lib.Model(inputs, outputs, name="toy_resnet")


ENCODER_ROWS = [
    ["img (InputLayer)", "(None, 28, 28, 1)", "0"],
    ["conv2d (Conv2D)", "(None, 26, 26, 16)", "160"],
    ["conv2d_1 (Conv2D)", "(None, 24, 24, 32)", "4,640"],
    ["max_pooling2d (MaxPooling2D)", "(None, 8, 8, 32)", "0"],
    ["conv2d_2 (Conv2D)", "(None, 6, 6, 32)", "9,248"],
    ["conv2d_3 (Conv2D)", "(None, 4, 4, 16)", "4,624"],
    ["global_max_pooling2d (GlobalMaxPooling2D)", "(None, 16)", "0"],
]
DECODER_ROWS = [
    ["reshape (Reshape)", "(None, 4, 4, 1)", "0"],
    ["conv2d_transpose (Conv2DTranspose)", "(None, 6, 6, 16)", "160"],
    ["conv2d_transpose_1 (Conv2DTranspose)", "(None, 8, 8, 32)", "4,640"],
    ["up_sampling2d (UpSampling2D)", "(None, 24, 24, 32)", "0"],
    ["conv2d_transpose_2 (Conv2DTranspose)", "(None, 26, 26, 16)", "4,624"],
    ["conv2d_transpose_3 (Conv2DTranspose)", "(None, 28, 28, 1)", "145"],
]
RESNET_ROWS = [
    ["img (InputLayer)", "(None, 32, 32, 3)", "0", "-"],
    ["conv2d (Conv2D)", "(None, 30, 30, 32)", "896", "img[0][0]"],
    ["conv2d_1 (Conv2D)", "(None, 28, 28, 64)", "18,496", "conv2d[0][0]"],
    ["max_pooling2d (MaxPooling2D)", "(None, 9, 9, 64)", "0", "conv2d_1[0][0]"],
    ["conv2d_2 (Conv2D)", "(None, 9, 9, 64)", "36,928", "max_pooling2d[0][0]"],
    ["conv2d_3 (Conv2D)", "(None, 9, 9, 64)", "36,928", "conv2d_2[0][0]"],
    ["add (Add)", "(None, 9, 9, 64)", "0", "conv2d_3[0][0], max_pooling2d[0][0]"],
    ["conv2d_4 (Conv2D)", "(None, 9, 9, 64)", "36,928", "add[0][0]"],
    ["conv2d_5 (Conv2D)", "(None, 9, 9, 64)", "36,928", "conv2d_4[0][0]"],
    ["add_1 (Add)", "(None, 9, 9, 64)", "0", "conv2d_5[0][0], add[0][0]"],
    ["conv2d_6 (Conv2D)", "(None, 7, 7, 64)", "36,928", "add_1[0][0]"],
    ["global_average_pooling2d (GlobalAveragePooling2D)", "(None, 64)", "0", "conv2d_6[0][0]"],
    ["dense (Dense)", "(None, 256)", "16,640", "global_average_pooling2d[0][0]"],
    ["dropout (Dropout)", "(None, 256)", "0", "dense[0][0]"],
    ["dense_1 (Dense)", "(None, 10)", "2,570", "dropout[0][0]"],
]


def summary(model):
    lines = []
    model.summary(print_fn=lines.append)
    text = lines[0]
    rows = [[c.strip() for c in line.strip("│").split("│")] for line in text.splitlines() if line.startswith("│")]
    totals = [line for line in text.splitlines() if "params:" in line]
    return rows, totals


def totals(n, size):
    return [f" Total params: {n:,} ({size})", f" Trainable params: {n:,} ({size})", " Non-trainable params: 0 (0.00 B)"]


def assert_matches_keras(ours, theirs, data):
    assert ours.count_params() == theirs.count_params()
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]
    rng = np.random.default_rng(0)
    # The layers' own (Glorot) scale keeps activations O(1); the noise makes biases non-zero.
    weights = [w + rng.standard_normal(w.shape).astype("float32") * 0.05 for w in ours.get_weights()]
    ours.set_weights(weights)
    theirs.set_weights(weights)
    got, want = ours.predict(data, verbose=0), theirs.predict(data, verbose=0)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    check_onnx(ours)


def test_shared_graph_encoder_and_autoencoder():
    encoder, autoencoder = shared_graph_models(og)
    rows, lines = summary(encoder)
    assert rows == ENCODER_ROWS and lines == totals(18_672, "72.94 KB")
    rows, lines = summary(autoencoder)
    assert rows == ENCODER_ROWS + DECODER_ROWS and lines == totals(28_241, "110.32 KB")
    keras.backend.clear_session()
    k_encoder, k_autoencoder = shared_graph_models(keras)
    data = np.abs(rand(3, 28, 28, 1))
    assert_matches_keras(autoencoder, k_autoencoder, data)
    np.testing.assert_allclose(encoder.predict(data, verbose=0), k_encoder.predict(data, verbose=0),
                               rtol=1e-5, atol=1e-5)  # the encoder shares the autoencoder's weights


def test_nested_encoder_decoder_autoencoder(tmp_path):
    encoder, decoder, autoencoder = nested_models(og)
    rows, lines = summary(encoder)
    assert rows == [["original_img (InputLayer)", "(None, 28, 28, 1)", "0"]] + ENCODER_ROWS[1:]
    assert lines == totals(18_672, "72.94 KB")
    rows, lines = summary(decoder)
    assert rows == [["encoded_img (InputLayer)", "(None, 16)", "0"]] + DECODER_ROWS
    assert lines == totals(9_569, "37.38 KB")
    rows, lines = summary(autoencoder)
    assert rows == [["img (InputLayer)", "(None, 28, 28, 1)", "0"], ["encoder (Functional)", "(None, 16)", "18,672"],
                    ["decoder (Functional)", "(None, 28, 28, 1)", "9,569"]]
    assert lines == totals(28_241, "110.32 KB")
    keras.backend.clear_session()
    _, _, k_autoencoder = nested_models(keras)
    data = np.abs(rand(2, 28, 28, 1, seed=1))
    assert_matches_keras(autoencoder, k_autoencoder, data)
    autoencoder.save(tmp_path / "autoencoder.onnx")
    restored = og.load_model(tmp_path / "autoencoder.onnx")
    np.testing.assert_allclose(restored.predict(data, verbose=0), autoencoder.predict(data, verbose=0), rtol=1e-6)


def test_toy_resnet_summary_and_predictions(tmp_path):
    model = toy_resnet(og)
    rows, lines = summary(model)
    assert rows == RESNET_ROWS and lines == totals(223_242, "872.04 KB")
    keras.backend.clear_session()
    data = rand(4, 32, 32, 3)
    assert_matches_keras(model, toy_resnet(keras), data)
    proto = check_onnx(model)
    assert sum(n.op_type == "Transpose" for n in proto.graph.node) == 1
    model.save(tmp_path / "toy_resnet.onnx")
    restored = og.load_model(tmp_path / "toy_resnet.onnx")
    np.testing.assert_allclose(restored.predict(data, verbose=0), model.predict(data, verbose=0), rtol=1e-6)
