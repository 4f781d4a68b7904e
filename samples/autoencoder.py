"""One graph of layers, two models: an encoder (image -> 16-d vector) and an end-to-end autoencoder.

Run:  python samples/autoencoder.py
"""

import numpy as np

import onnxgraph as keras
from onnxgraph import layers


def main():
    encoder_input = keras.Input(shape=(28, 28, 1), name="img")
    x = layers.Conv2D(16, 3, activation="relu")(encoder_input)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.MaxPooling2D(3)(x)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.Conv2D(16, 3, activation="relu")(x)
    encoder_output = layers.GlobalMaxPooling2D()(x)

    encoder = keras.Model(encoder_input, encoder_output, name="encoder")
    encoder.summary()

    x = layers.Reshape((4, 4, 1))(encoder_output)
    x = layers.Conv2DTranspose(16, 3, activation="relu")(x)
    x = layers.Conv2DTranspose(32, 3, activation="relu")(x)
    x = layers.UpSampling2D(3)(x)
    x = layers.Conv2DTranspose(16, 3, activation="relu")(x)
    decoder_output = layers.Conv2DTranspose(1, 3, activation="relu")(x)

    autoencoder = keras.Model(encoder_input, decoder_output, name="autoencoder")
    autoencoder.summary()

    assert encoder.count_params() == 18_672 and autoencoder.count_params() == 28_241  # the guide's counts
    images = np.random.default_rng(0).random((2, 28, 28, 1)).astype("float32")
    codes, reconstructions = encoder.predict(images, verbose=0), autoencoder.predict(images, verbose=0)
    print("codes:", codes.shape, "reconstructions:", reconstructions.shape)
    assert codes.shape == (2, 16) and reconstructions.shape == (2, 28, 28, 1)
    encoder.save("encoder.onnx")  # the encoder file holds only the encoder's nodes and weights


if __name__ == "__main__":
    main()
