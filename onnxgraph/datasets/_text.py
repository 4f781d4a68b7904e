"""Keras's word-index preprocessing for the imdb and reuters sequences (same order of steps)."""

from __future__ import annotations

import json

import numpy as np

from onnxgraph.datasets._cache import KERAS_ORIGIN, find

__all__ = ["shift", "remove_long", "clip_vocabulary", "word_index"]


def shift(sequences, start_char, index_from) -> list:
    """Prepend `start_char` and offset every word index by `index_from`."""
    if start_char is not None:
        return [[start_char] + [w + index_from for w in x] for x in sequences]
    if index_from:
        return [[w + index_from for w in x] for x in sequences]
    return [list(x) for x in sequences]


def remove_long(maxlen, sequences, labels):
    """Keep the sequences shorter than `maxlen` (Keras drops those of length >= maxlen)."""
    kept = [(x, y) for x, y in zip(sequences, labels) if len(x) < maxlen]
    return [x for x, _ in kept], [y for _, y in kept]


def clip_vocabulary(sequences, num_words, skip_top, oov_char) -> list:
    """Words outside `[skip_top, num_words)` become `oov_char` (dropped when it is None)."""
    if not num_words:
        num_words = max((max(x) for x in sequences if len(x)), default=0)
    if oov_char is not None:
        return [[w if skip_top <= w < num_words else oov_char for w in x] for x in sequences]
    return [[w for w in x if skip_top <= w < num_words] for x in sequences]


def word_index(dataset: str, path: str) -> dict:
    """The word -> index JSON Keras caches beside the dataset."""
    file = find(dataset, [path], KERAS_ORIGIN + path)
    with open(file) as f:
        index = json.load(f)
    if not isinstance(index, dict):
        raise ValueError(f"{file}: a word index is a JSON object of word -> index.")
    return index


def object_array(sequences) -> np.ndarray:
    """A 1-d object array of lists (np.array of equal-length lists would make a 2-d int array)."""
    result = np.empty(len(sequences), dtype="object")
    result[:] = [list(x) for x in sequences]
    return result
