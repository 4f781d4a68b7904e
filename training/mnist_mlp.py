"""The guide's MNIST MLP: build it, print its summary, predict, save mnist_model.onnx.

Run:  python training/mnist_mlp.py [--out mnist_model.onnx]
"""

from __future__ import annotations

import argparse

import numpy as np

import onnxgraph as keras
from onnxgraph import layers


def build_model() -> keras.Model:
    inputs = keras.Input(shape=(784,))
    x = layers.Dense(64, activation="relu")(inputs)
    x = layers.Dense(64, activation="relu")(x)
    outputs = layers.Dense(10)(x)
    return keras.Model(inputs=inputs, outputs=outputs, name="mnist_model")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="mnist_model.onnx")
    args = parser.parse_args(argv)
    model = build_model()
    model.summary()
    x = np.random.default_rng(0).random((4, 784), dtype=np.float32)
    logits = model.predict(x, verbose=0)
    print("predicted classes for 4 random images:", logits.argmax(axis=1).tolist())
    model.save(args.out)
    print(f"saved {args.out}; open it in Netron: `pip install netron && netron {args.out}` "
          "(or https://netron.app)")


if __name__ == "__main__":
    main()
