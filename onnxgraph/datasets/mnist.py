"""MNIST digits from Keras's cache file `mnist.npz` (never downloaded)."""

from __future__ import annotations

import numpy as np

from onnxgraph.datasets._cache import KERAS_ORIGIN, find

__all__ = ["load_data"]


def load_data(path: str = "mnist.npz"):
    """`((x_train, y_train), (x_test, y_test))`: uint8 images (N, 28, 28), uint8 labels (N,).

    Reads `path` from Keras's datasets folder (`~/.keras/datasets`, or `$KERAS_HOME/datasets`),
    or from `path` itself when it is absolute, exactly as `keras.datasets.mnist.load_data`.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = mnist.load_data()
    """
    file = find("mnist", [path], KERAS_ORIGIN + "mnist.npz")
    with np.load(file, allow_pickle=False) as f:
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])
