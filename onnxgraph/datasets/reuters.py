"""Reuters newswire topics from Keras's cache file `reuters.npz` (never downloaded)."""

from __future__ import annotations

import numpy as np

from onnxgraph.datasets import _text
from onnxgraph.datasets._cache import KERAS_ORIGIN, find
from onnxgraph.datasets._pickle import load_npz

__all__ = ["load_data", "get_word_index", "get_label_names"]


def load_data(path: str = "reuters.npz", num_words: int | None = None, skip_top: int = 0,
              maxlen: int | None = None, test_split: float = 0.2, seed: int = 113, start_char: int | None = 1,
              oov_char: int | None = 2, index_from: int = 3):
    """`((x_train, y_train), (x_test, y_test))` exactly as `keras.datasets.reuters.load_data`.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = reuters.load_data(num_words=10000, test_split=0.2)
    """
    file = find("reuters", [path], KERAS_ORIGIN + "reuters.npz")
    arrays = load_npz(file)
    if "x" not in arrays or "y" not in arrays:
        raise ValueError(f"{file} lacks 'x'/'y': it is not Keras's reuters.npz.")
    xs, labels = arrays["x"], arrays["y"]
    indices = np.arange(len(xs))
    np.random.RandomState(seed).shuffle(indices)
    xs, labels = xs[indices], labels[indices]
    xs = _text.shift(xs, start_char, index_from)
    if maxlen:
        xs, labels = _text.remove_long(maxlen, xs, labels)
    xs = _text.clip_vocabulary(xs, num_words, skip_top, oov_char)
    idx = int(len(xs) * (1 - test_split))
    labels = np.asarray(labels)
    return (_text.object_array(xs[:idx]), np.array(labels[:idx])), (_text.object_array(xs[idx:]),
                                                                    np.array(labels[idx:]))


def get_word_index(path: str = "reuters_word_index.json") -> dict:
    """word -> index from Keras's cached JSON."""
    return _text.word_index("reuters", path)


def get_label_names() -> tuple:
    """The 46 topic names, index = label."""
    return _LABELS


_LABELS = ("cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing", "money-supply", "coffee",
           "sugar", "trade", "reserves", "ship", "cotton", "carcass", "crude", "nat-gas", "cpi", "money-fx",
           "interest", "gnp", "meal-feed", "alum", "oilseed", "gold", "tin", "strategic-metal", "livestock",
           "retail", "ipi", "iron-steel", "rubber", "heat", "jobs", "lei", "bop", "zinc", "orange", "pet-chem",
           "dlr", "gas", "silver", "wpi", "hog", "lead")
