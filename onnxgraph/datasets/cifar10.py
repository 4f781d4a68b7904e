"""CIFAR-10 from Keras's cache (`cifar-10-batches-py`, extracted or as the tarball; never downloaded)."""

from __future__ import annotations

import numpy as np

from onnxgraph.datasets._cifar import CifarSource

__all__ = ["load_data"]

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"


def load_data():
    """`((x_train, y_train), (x_test, y_test))`: uint8 (N, 32, 32, 3) images, uint8 (N, 1) labels.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = cifar10.load_data()
    """
    source = CifarSource("cifar10", "cifar-10-batches-py", "cifar-10-python.tar.gz", ORIGIN)
    parts = [source.batch(f"data_batch_{i}", "labels") for i in range(1, 6)]
    x_train = np.concatenate([data for data, _ in parts]).astype("uint8")
    y_train = np.concatenate([np.asarray(labels) for _, labels in parts]).astype("uint8")
    x_test, y_test = source.batch("test_batch", "labels")
    y_train = y_train.reshape(len(y_train), 1)
    y_test = np.asarray(y_test).reshape(len(y_test), 1).astype(y_train.dtype)
    return (x_train.transpose(0, 2, 3, 1), y_train), (x_test.transpose(0, 2, 3, 1).astype(x_train.dtype), y_test)
