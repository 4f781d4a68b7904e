"""The guide's convolutional autoencoder, trained on scikit-learn's bundled digits.

The 8x8 digits are upsampled to the guide's 28x28 input (bilinear), then the guide's encoder
(Conv2D, MaxPooling2D, GlobalMaxPooling2D -> 16 numbers) and decoder (Conv2DTranspose,
UpSampling2D) are trained to reconstruct them with mean squared error. The program reports
the test reconstruction error next to the error of always predicting the mean image, and
writes the trained `autoencoder.onnx` and the weight-sharing `encoder.onnx`.

Run:  python training/autoencoder_digits.py [--epochs 8] [--limit N] [--out-dir .]
"""

from __future__ import annotations

import argparse
import os

import numpy as np

import onnxgraph as keras
from onnxgraph import layers


def build_models():
    """(encoder, autoencoder) exactly as in the guide: 28x28x1 -> 16 -> 28x28x1."""
    encoder_input = keras.Input(shape=(28, 28, 1), name="img")
    x = layers.Conv2D(16, 3, activation="relu")(encoder_input)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.MaxPooling2D(3)(x)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.Conv2D(16, 3, activation="relu")(x)
    encoder_output = layers.GlobalMaxPooling2D()(x)
    encoder = keras.Model(encoder_input, encoder_output, name="encoder")

    x = layers.Reshape((4, 4, 1))(encoder_output)
    x = layers.Conv2DTranspose(16, 3, activation="relu")(x)
    x = layers.Conv2DTranspose(32, 3, activation="relu")(x)
    x = layers.UpSampling2D(3)(x)
    x = layers.Conv2DTranspose(16, 3, activation="relu")(x)
    decoder_output = layers.Conv2DTranspose(1, 3, activation="relu")(x)
    autoencoder = keras.Model(encoder_input, decoder_output, name="autoencoder")
    return encoder, autoencoder


def load_digit_images(limit: int | None = None, seed: int = 0):
    """Digits as (N, 28, 28, 1) float32 images in [0, 1], split 80/20 into train and test."""
    from scipy.ndimage import zoom
    from sklearn.datasets import load_digits

    images = load_digits().images.astype("float32") / 16.0
    rng = np.random.default_rng(seed)
    images = images[rng.permutation(len(images))][:limit]
    big = zoom(images, (1, 3.5, 3.5), order=1).clip(0.0, 1.0)[..., None].astype("float32")
    split = int(0.8 * len(big))
    return big[:split], big[split:]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--limit", type=int, default=None, help="use only the first N digits")
    parser.add_argument("--verbose", type=int, default=2)
    parser.add_argument("--out-dir", default=".")
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(0)
    x_train, x_test = load_digit_images(args.limit)
    encoder, autoencoder = build_models()
    autoencoder.summary()
    autoencoder.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    history = autoencoder.fit(x_train, x_train, batch_size=args.batch_size, epochs=args.epochs,
                              validation_split=0.1, verbose=args.verbose)
    test_mse = float(autoencoder.evaluate(x_test, x_test, verbose=0))
    baseline = float(np.mean((x_test - x_train.mean(axis=0)) ** 2))
    print(f"test reconstruction MSE: {test_mse:.4f} (mean-image baseline: {baseline:.4f})")
    codes = encoder.predict(x_test[:2], verbose=0)
    print("16-number codes of 2 test digits:\n", np.array2string(codes, precision=2, suppress_small=True))
    os.makedirs(args.out_dir, exist_ok=True)
    autoencoder.save(os.path.join(args.out_dir, "autoencoder.onnx"))
    encoder.save(os.path.join(args.out_dir, "encoder.onnx"))
    print(f"saved autoencoder.onnx and encoder.onnx in {os.path.abspath(args.out_dir)}")
    return {"test_mse": test_mse, "baseline_mse": baseline, "history": history.history}


if __name__ == "__main__":
    main()
