"""Fashion-MNIST from Keras's cache folder `fashion-mnist/` (four idx gz files; never downloaded)."""

from __future__ import annotations

import gzip
import os

import numpy as np

from onnxgraph.datasets._cache import KERAS_ORIGIN, find

__all__ = ["load_data"]

FILES = ["train-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz"]


def _read(name: str, offset: int) -> np.ndarray:
    path = find("fashion_mnist", [os.path.join("fashion-mnist", name)], KERAS_ORIGIN + name)
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def load_data():
    """`((x_train, y_train), (x_test, y_test))`: uint8 images (N, 28, 28), uint8 labels (N,).

    Example:
        >>> (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    """
    y_train = _read(FILES[0], 8)
    x_train = _read(FILES[1], 16).reshape(len(y_train), 28, 28)
    y_test = _read(FILES[2], 8)
    x_test = _read(FILES[3], 16).reshape(len(y_test), 28, 28)
    return (x_train, y_train), (x_test, y_test)
