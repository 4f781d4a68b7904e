"""Keras 3's loss functions: unreduced values (mean over the last axis), numpy in -> numpy out,
symbolic in -> ONNX nodes out. Formulas follow keras/src/losses/losses.py and the torch backend."""

from __future__ import annotations

import numpy as np

from onnxgraph import ops
from onnxgraph.losses._math import EPSILON, cast, clip, is_symbolic, same_rank, take_class

__all__ = ["mean_squared_error", "mean_absolute_error", "huber", "binary_crossentropy",
           "categorical_crossentropy", "sparse_categorical_crossentropy", "valid_mask"]


def _prepare(y_true, y_pred):
    if not is_symbolic(y_pred):
        y_pred = np.asarray(y_pred)
        if not np.issubdtype(y_pred.dtype, np.floating):
            y_pred = y_pred.astype(np.float32)
    if not is_symbolic(y_true):
        y_true = np.asarray(y_true)
    return cast(y_true, y_pred.dtype), y_pred


def mean_squared_error(y_true, y_pred):
    """mean((y_true - y_pred)**2, axis=-1).

    Example:
        >>> float(mean_squared_error(np.zeros((1, 2)), np.ones((1, 2)))[0])
        1.0
    """
    y_true, y_pred = same_rank(*_prepare(y_true, y_pred))
    return ops.mean(ops.square(ops.subtract(y_true, y_pred)), axis=-1)


def mean_absolute_error(y_true, y_pred):
    """mean(|y_true - y_pred|, axis=-1).

    Example:
        >>> float(mean_absolute_error(np.zeros((1, 2)), np.full((1, 2), 2.0))[0])
        2.0
    """
    y_true, y_pred = same_rank(*_prepare(y_true, y_pred))
    return ops.mean(ops.absolute(ops.subtract(y_true, y_pred)), axis=-1)


def huber(y_true, y_pred, delta=1.0):
    """mean of 0.5*e**2 where |e| <= delta else delta*|e| - 0.5*delta**2, over the last axis.

    Written as 0.5*q**2 + delta*(|e| - q) with q = min(|e|, delta): the same values, and Min
    has a correct gradient in onnxruntime-training where Where with a broadcast scalar does not.

    Example:
        >>> float(huber(np.zeros((1, 1)), np.full((1, 1), 3.0))[0])
        2.5
    """
    y_true, y_pred = same_rank(*_prepare(y_true, y_pred))
    abs_error = ops.absolute(ops.subtract(y_pred, y_true))
    quadratic = ops.minimum(abs_error, float(delta))
    linear = ops.subtract(abs_error, quadratic)
    values = ops.add(ops.multiply(0.5, ops.square(quadratic)), ops.multiply(float(delta), linear))
    return ops.mean(values, axis=-1)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Binary cross-entropy averaged over `axis`; stable for any logit when `from_logits`.

    Logits x: max(x, 0) - x*z + log(1 + exp(-|x|)) (finite at |x| = 1e4). Probabilities are
    clipped to [1e-7, 1 - 1e-7] like Keras. Label smoothing: z*(1 - s) + 0.5*s.

    Example:
        >>> round(float(binary_crossentropy(np.ones((1, 1)), np.zeros((1, 1)), from_logits=True)[0]), 4)
        0.6931
    """
    y_true, y_pred = same_rank(*_prepare(y_true, y_pred))
    if label_smoothing:
        y_true = ops.add(ops.multiply(y_true, 1.0 - label_smoothing), 0.5 * label_smoothing)
    if from_logits:
        x = y_pred
        values = ops.add(ops.subtract(ops.relu(x), ops.multiply(x, y_true)),
                         ops.log(ops.add(ops.exp(ops.negative(ops.absolute(x))), 1.0)))
    else:
        p = clip(y_pred, EPSILON, 1.0 - EPSILON)
        values = ops.negative(ops.add(ops.multiply(y_true, ops.log(p)),
                                      ops.multiply(ops.subtract(1.0, y_true), ops.log(ops.subtract(1.0, p)))))
    return ops.mean(values, axis=axis)


def _log_probs(y_pred, from_logits, axis=-1):
    if from_logits:
        return ops.log_softmax(y_pred, axis=axis)
    p = ops.divide(y_pred, ops.sum(y_pred, axis=axis, keepdims=True))
    return ops.log(clip(p, EPSILON, 1.0 - EPSILON))


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """-sum(y_true * log_softmax(y_pred)) over `axis` (probabilities: normalized, clipped, log).

    Label smoothing: y*(1 - s) + s/num_classes.

    Example:
        >>> round(float(categorical_crossentropy(np.eye(2)[:1], np.zeros((1, 2)), from_logits=True)[0]), 4)
        0.6931
    """
    y_true, y_pred = _prepare(y_true, y_pred)
    if label_smoothing:
        num_classes = y_pred.shape[axis]
        if num_classes is None:
            raise ValueError("categorical_crossentropy: label_smoothing needs a known number of classes "
                             f"(y_pred shape {tuple(y_pred.shape)}).")
        y_true = ops.add(ops.multiply(y_true, 1.0 - label_smoothing), label_smoothing / num_classes)
    return ops.negative(ops.sum(ops.multiply(y_true, _log_probs(y_pred, from_logits, axis)), axis=axis))


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """-log_softmax(y_pred)[label] with integer labels of shape y_pred.shape[:-1] (or with a trailing 1).

    With `ignore_class`, entries whose label equals it give 0 (Keras then averages over the
    other entries only; the Loss object does that reduction).

    Example:
        >>> round(float(sparse_categorical_crossentropy(np.array([1]), np.zeros((1, 4)), from_logits=True)[0]), 4)
        1.3863
    """
    if axis not in (-1, len(y_pred.shape) - 1):
        raise ValueError(f"sparse_categorical_crossentropy: only the last axis can hold classes, got axis={axis}.")
    if not is_symbolic(y_pred):
        y_pred = np.asarray(y_pred, dtype=np.result_type(np.asarray(y_pred).dtype, np.float32))
    if not is_symbolic(y_true):
        y_true = np.asarray(y_true)
    if len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] == 1:
        y_true = ops.squeeze(y_true, -1)
    valid = None
    if ignore_class is not None:
        valid = valid_mask(y_true, ignore_class)
        y_true = ops.multiply(y_true, cast(valid, y_true.dtype))  # ignored entries read class 0, then are zeroed
    values = ops.negative(take_class(_log_probs(y_pred, from_logits), y_true))
    return values if valid is None else ops.multiply(values, cast(valid, values.dtype))


def valid_mask(labels, ignore_class):
    """1 where labels != ignore_class, else 0 (float32), with a trailing length-1 label axis removed."""
    if not is_symbolic(labels):
        labels = np.asarray(labels)
        if labels.dtype.kind == "f":
            labels = labels.astype(np.int64)
    return cast(ops.not_equal(labels, int(ignore_class)), "float32")
