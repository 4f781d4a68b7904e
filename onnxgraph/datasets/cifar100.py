"""CIFAR-100 from Keras's cache (`cifar-100-python`, extracted or as the tarball; never downloaded)."""

from __future__ import annotations

import numpy as np

from onnxgraph.datasets._cifar import CifarSource

__all__ = ["load_data"]

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"


def load_data(label_mode: str = "fine"):
    """`((x_train, y_train), (x_test, y_test))`: uint8 (N, 32, 32, 3) images, (N, 1) labels.

    Args:
        label_mode: "fine" (100 classes) or "coarse" (20 superclasses).

    Example:
        >>> (x_train, y_train), (x_test, y_test) = cifar100.load_data(label_mode="coarse")
    """
    if label_mode not in ("fine", "coarse"):
        raise ValueError(f"cifar100.load_data: label_mode must be 'fine' or 'coarse', got {label_mode!r}.")
    source = CifarSource("cifar100", "cifar-100-python", "cifar-100-python.tar.gz", ORIGIN)
    x_train, y_train = source.batch("train", f"{label_mode}_labels")
    x_test, y_test = source.batch("test", f"{label_mode}_labels")
    y_train = np.reshape(y_train, (len(y_train), 1))
    y_test = np.reshape(y_test, (len(y_test), 1))
    return (x_train.transpose(0, 2, 3, 1), y_train), (x_test.transpose(0, 2, 3, 1), y_test)
