"""All models are callable: an encoder model and a decoder model chained into an autoencoder.

Run:  python samples/nested_models.py
"""

import numpy as np

import onnxgraph as keras
from onnxgraph import layers


def main():
    encoder_input = keras.Input(shape=(28, 28, 1), name="original_img")
    x = layers.Conv2D(16, 3, activation="relu")(encoder_input)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.MaxPooling2D(3)(x)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.Conv2D(16, 3, activation="relu")(x)
    encoder_output = layers.GlobalMaxPooling2D()(x)
    encoder = keras.Model(encoder_input, encoder_output, name="encoder")
    encoder.summary()

    decoder_input = keras.Input(shape=(16,), name="encoded_img")
    x = layers.Reshape((4, 4, 1))(decoder_input)
    x = layers.Conv2DTranspose(16, 3, activation="relu")(x)
    x = layers.Conv2DTranspose(32, 3, activation="relu")(x)
    x = layers.UpSampling2D(3)(x)
    x = layers.Conv2DTranspose(16, 3, activation="relu")(x)
    decoder_output = layers.Conv2DTranspose(1, 3, activation="relu")(x)
    decoder = keras.Model(decoder_input, decoder_output, name="decoder")
    decoder.summary()

    autoencoder_input = keras.Input(shape=(28, 28, 1), name="img")
    encoded_img = encoder(autoencoder_input)
    decoded_img = decoder(encoded_img)
    autoencoder = keras.Model(autoencoder_input, decoded_img, name="autoencoder")
    autoencoder.summary()

    # Calling a model reuses its weights: chaining the parts gives the whole.
    images = np.random.default_rng(0).random((2, 28, 28, 1)).astype("float32")
    chained = decoder.predict(encoder.predict(images, verbose=0), verbose=0)
    np.testing.assert_allclose(autoencoder.predict(images, verbose=0), chained, rtol=1e-5, atol=1e-6)
    autoencoder.save("autoencoder.onnx", layer_functions=True)  # Netron: encoder and decoder as two nodes
    print("autoencoder == decoder(encoder(x)); wrote autoencoder.onnx (open with `onnxgraph view`)")


if __name__ == "__main__":
    main()
