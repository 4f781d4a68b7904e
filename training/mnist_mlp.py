"""The guide's MNIST MLP, trained on scikit-learn's bundled digits (8x8 images -> 64 inputs).

Builds the functional model of the Keras guide, compiles it like the guide (RMSprop,
sparse categorical cross-entropy from logits, accuracy), trains it with a validation split,
evaluates it on held-out digits (>= 0.95 accuracy) and writes the trained `mnist_model.onnx`.

Run:  python training/mnist_mlp.py [--epochs 40] [--out mnist_model.onnx]
"""

from __future__ import annotations

import argparse

import onnxgraph as keras
from onnxgraph import layers


def build_model(input_dim: int = 64) -> keras.Model:
    """The guide's MLP: Dense(64, relu) -> Dense(64, relu) -> Dense(10) logits."""
    inputs = keras.Input(shape=(input_dim,))
    x = layers.Dense(64, activation="relu")(inputs)
    x = layers.Dense(64, activation="relu")(x)
    outputs = layers.Dense(10)(x)
    return keras.Model(inputs=inputs, outputs=outputs, name="mnist_model")


def load_digits_split(test_fraction: float = 0.25, seed: int = 0):
    """scikit-learn's 1,797 bundled 8x8 digits, scaled to [0, 1] and split into train/test."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")  # pixel values are 0..16
    return train_test_split(x, digits.target.astype("int64"), test_size=test_fraction, random_state=seed,
                            stratify=digits.target)


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--verbose", type=int, default=2)
    parser.add_argument("--out", default="mnist_model.onnx")
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(0)
    x_train, x_test, y_train, y_test = load_digits_split()
    model = build_model(x_train.shape[1])
    model.summary()
    model.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        optimizer=keras.optimizers.RMSprop(),
        metrics=["accuracy"],
    )
    model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs, validation_split=0.2,
              verbose=args.verbose)
    test_scores = model.evaluate(x_test, y_test, verbose=2)
    print("Test loss:", test_scores[0])
    print("Test accuracy:", test_scores[1])
    predicted = model.predict(x_test[:8], verbose=0).argmax(axis=1)
    print("predicted:", predicted.tolist(), "true:", y_test[:8].tolist())
    model.save(args.out)
    print(f"saved {args.out}; open it in Netron: `pip install netron && netron {args.out}` (or https://netron.app)")
    return float(test_scores[1])


if __name__ == "__main__":
    accuracy = main()
    if accuracy < 0.95:  # CI runs this program as the main job
        raise SystemExit(f"test accuracy {accuracy:.4f} is below 0.95")
