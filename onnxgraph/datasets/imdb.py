"""IMDB movie-review sentiment from Keras's cache file `imdb.npz` (never downloaded)."""

from __future__ import annotations

import numpy as np

from onnxgraph.datasets import _text
from onnxgraph.datasets._cache import KERAS_ORIGIN, find
from onnxgraph.datasets._pickle import load_npz

__all__ = ["load_data", "get_word_index"]


def load_data(path: str = "imdb.npz", num_words: int | None = None, skip_top: int = 0, maxlen: int | None = None,
              seed: int = 113, start_char: int | None = 1, oov_char: int | None = 2, index_from: int = 3, **kwargs):
    """`((x_train, y_train), (x_test, y_test))` exactly as `keras.datasets.imdb.load_data`.

    x arrays are object arrays of word-index lists; y arrays are 0/1 labels. Each split is
    shuffled with `seed`; words are shifted by `index_from` after `start_char`, sequences of
    `maxlen` words or more dropped, and words outside `[skip_top, num_words)` become `oov_char`.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = imdb.load_data(num_words=10000)
    """
    if kwargs:
        raise TypeError(f"imdb.load_data: unrecognized keyword arguments {sorted(kwargs)}.")
    file = find("imdb", [path], KERAS_ORIGIN + "imdb.npz")
    arrays = load_npz(file)
    missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in arrays]
    if missing:
        raise ValueError(f"{file} lacks {missing}: it is not Keras's imdb.npz.")
    rng = np.random.RandomState(seed)
    splits = []
    for part in ("train", "test"):
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
        indices = np.arange(len(x))
        rng.shuffle(indices)
        splits.append((x[indices], y[indices]))
    (x_train, labels_train), (x_test, labels_test) = splits
    x_train = _text.shift(x_train, start_char, index_from)
    x_test = _text.shift(x_test, start_char, index_from)
    if maxlen:
        x_train, labels_train = _text.remove_long(maxlen, x_train, labels_train)
        x_test, labels_test = _text.remove_long(maxlen, x_test, labels_test)
        if not x_train or not x_test:
            raise ValueError(f"imdb.load_data: no sequence is shorter than maxlen={maxlen}; increase maxlen.")
    xs = _text.clip_vocabulary(x_train + x_test, num_words, skip_top, oov_char)
    labels = np.concatenate([np.asarray(labels_train), np.asarray(labels_test)])
    idx = len(x_train)
    return (_text.object_array(xs[:idx]), labels[:idx]), (_text.object_array(xs[idx:]), labels[idx:])


def get_word_index(path: str = "imdb_word_index.json") -> dict:
    """word -> index (the indices before `index_from` is added) from Keras's cached JSON."""
    return _text.word_index("imdb", path)
