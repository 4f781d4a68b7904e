"""Label and array helpers with Keras's semantics: `to_categorical`, `normalize`."""

from __future__ import annotations

import numpy as np

__all__ = ["to_categorical", "normalize"]


def to_categorical(x, num_classes: int | None = None) -> np.ndarray:
    """One-hot encode integer class labels (like `keras.utils.to_categorical`).

    A trailing axis of size 1 is dropped first (labels of shape `(n, 1)` give `(n, num_classes)`).

    Args:
        x: array-like of integer labels in `[0, num_classes)`.
        num_classes: number of classes; `max(x) + 1` when None.

    Returns:
        A float64 array of shape `x.shape + (num_classes,)`, the class axis last.

    Example:
        >>> to_categorical([0, 2], num_classes=3)
        array([[1., 0., 0.],
               [0., 0., 1.]])
    """
    raw = np.asarray(x)
    if raw.dtype.kind == "f" and raw.size and not np.all(np.equal(np.mod(raw, 1), 0)):
        raise ValueError(f"to_categorical: labels must be whole numbers, got values such as "
                         f"{raw[np.mod(raw, 1) != 0].ravel()[:3].tolist()}.")
    labels = np.array(raw, dtype="int64")
    shape = labels.shape
    if shape and shape[-1] == 1 and len(shape) > 1:
        shape = tuple(shape[:-1])
    labels = labels.reshape(-1)
    if not num_classes:
        num_classes = int(np.max(labels)) + 1 if labels.size else 0
    num_classes = int(num_classes)
    bad = labels[(labels < 0) | (labels >= num_classes)]
    if bad.size:
        raise ValueError(f"to_categorical: labels must lie in [0, {num_classes}) for num_classes={num_classes}; "
                         f"got {bad[:5].tolist()}. Pass the right num_classes, or remap the labels.")
    categorical = np.zeros((labels.shape[0], num_classes))
    categorical[np.arange(labels.shape[0]), labels] = 1
    return categorical.reshape(shape + (num_classes,))


def normalize(x, axis: int = -1, order: int = 2) -> np.ndarray:
    """Divide `x` by its `order`-norm along `axis` (zero norms leave the values as they are).

    Args:
        x: numpy array (other array-likes are converted).
        axis: the axis to normalize along.
        order: the norm's order (`ord` of `np.linalg.norm`): 2 for L2, 1 for L1.

    Returns:
        A normalized copy, the dtype of `x / norm`.

    Example:
        >>> normalize(np.array([[3.0, 4.0]]))
        array([[0.6, 0.8]])
    """
    x = np.asarray(x)
    norm = np.atleast_1d(np.linalg.norm(x, order, axis))
    norm[norm == 0] = 1
    return x / np.expand_dims(norm, axis if axis is not None else -1)
