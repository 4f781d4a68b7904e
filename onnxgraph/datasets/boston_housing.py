"""Boston housing prices from Keras's cache file `boston_housing.npz` (never downloaded)."""

from __future__ import annotations

import numpy as np

from onnxgraph.datasets._cache import KERAS_ORIGIN, find

__all__ = ["load_data"]


def load_data(path: str = "boston_housing.npz", test_split: float = 0.2, seed: int = 113):
    """`((x_train, y_train), (x_test, y_test))`, shuffled with `seed` and split like Keras.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = boston_housing.load_data()
    """
    if not 0 <= test_split < 1:
        raise ValueError(f"boston_housing.load_data: test_split must be in [0, 1), got {test_split}.")
    file = find("boston_housing", [path], KERAS_ORIGIN + "boston_housing.npz")
    with np.load(file, allow_pickle=False) as f:
        x, y = f["x"], f["y"]
    indices = np.arange(len(x))
    np.random.RandomState(seed).shuffle(indices)
    x, y = x[indices], y[indices]
    cut = int(len(x) * (1 - test_split))
    return (np.array(x[:cut]), np.array(y[:cut])), (np.array(x[cut:]), np.array(y[cut:]))
