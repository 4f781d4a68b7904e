"""Accuracy metrics (Keras 3 formulas): exact match, thresholded, argmax and top-k."""

from __future__ import annotations

import numpy as np

from onnxgraph.losses._math import same_rank
from onnxgraph.metrics._metric import MeanMetricWrapper

__all__ = ["accuracy", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
           "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy", "Accuracy", "BinaryAccuracy",
           "CategoricalAccuracy", "SparseCategoricalAccuracy", "TopKCategoricalAccuracy",
           "SparseTopKCategoricalAccuracy"]


def accuracy(y_true, y_pred):
    """1.0 where y_true == y_pred exactly."""
    y_pred = np.asarray(y_pred)
    y_true, y_pred = same_rank(np.asarray(y_true).astype(y_pred.dtype), y_pred)
    return (y_true == y_pred).astype(np.float32)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1.0 where (y_pred > threshold) equals y_true."""
    y_true, y_pred = same_rank(np.asarray(y_true), np.asarray(y_pred))
    return (y_true == (y_pred > threshold).astype(y_true.dtype)).astype(np.float32)


def categorical_accuracy(y_true, y_pred):
    """1.0 where argmax(y_true) == argmax(y_pred) over the last axis."""
    return (np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)).astype(np.float32)


def _sparse_labels(y_true, y_pred):
    y_true = np.asarray(y_true)
    if y_true.ndim == np.ndim(y_pred) and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    return y_true


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where the integer label equals argmax(y_pred); labels (batch,) or (batch, 1)."""
    y_pred = np.asarray(y_pred)
    y_true = _sparse_labels(y_true, y_pred)
    return (y_true.astype(np.float32) == np.argmax(y_pred, axis=-1).astype(np.float32)).astype(np.float32)


def _in_top_k(targets, predictions, k):
    # Keras (torch backend): the target's score is >= the k-th largest score, so ties count as hits.
    predictions = np.asarray(predictions, dtype=np.float32).reshape(-1, np.shape(predictions)[-1])
    targets = np.asarray(targets).reshape(-1).astype(np.int64)
    k = min(k, predictions.shape[-1])
    kth = -np.partition(-predictions, k - 1, axis=-1)[:, k - 1]
    return np.take_along_axis(predictions, targets[:, None], axis=-1)[:, 0] >= kth


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where the one-hot label's class is among the k highest scores."""
    targets = np.argmax(y_true, axis=-1)
    return _in_top_k(targets, y_pred, k).astype(np.float32).reshape(targets.shape)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where the integer label is among the k highest scores."""
    y_pred = np.asarray(y_pred)
    targets = _sparse_labels(y_true, y_pred)
    return _in_top_k(targets, y_pred, k).astype(np.float32).reshape(targets.shape)


class Accuracy(MeanMetricWrapper):
    """How often predictions equal labels exactly (Keras `Accuracy`)."""

    direction = "up"

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name=name, dtype=dtype)


class BinaryAccuracy(MeanMetricWrapper):
    """How often `y_pred > threshold` matches 0/1 labels (Keras `BinaryAccuracy`).

    Args:
        threshold: float (default 0.5); use 0.0 for logits.
    """

    direction = "up"

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold


class CategoricalAccuracy(MeanMetricWrapper):
    """How often argmax of the scores matches argmax of one-hot labels (Keras `CategoricalAccuracy`)."""

    direction = "up"

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often argmax of the scores matches integer labels (Keras `SparseCategoricalAccuracy`)."""

    direction = "up"

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the one-hot label is in the top `k` scores (Keras `TopKCategoricalAccuracy`).

    Args:
        k: int (default 5).
    """

    direction = "up"

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=k)
        self.k = k


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer label is in the top `k` scores (Keras `SparseTopKCategoricalAccuracy`).

    Args:
        k: int (default 5).
    """

    direction = "up"

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None):
        super().__init__(sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=k)
        self.k = k
