"""Error and cross-entropy metrics: running means of the loss functions (Keras 3 names)."""

from __future__ import annotations

import numpy as np

from onnxgraph import losses
from onnxgraph.metrics._metric import Mean, MeanMetricWrapper

__all__ = ["MeanSquaredError", "MeanAbsoluteError", "RootMeanSquaredError", "BinaryCrossentropy",
           "CategoricalCrossentropy", "SparseCategoricalCrossentropy"]


def _f32(fn):
    def wrapped(y_true, y_pred, **kwargs):
        return fn(np.asarray(y_true), np.asarray(y_pred, dtype=np.float32), **kwargs)

    wrapped.__name__ = fn.__name__
    return wrapped


class MeanSquaredError(MeanMetricWrapper):
    """Running mean of mean((y_true - y_pred)**2, axis=-1) (Keras metric `MeanSquaredError`)."""

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(_f32(losses.mean_squared_error), name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    """Running mean of mean(|y_true - y_pred|, axis=-1) (Keras metric `MeanAbsoluteError`)."""

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(_f32(losses.mean_absolute_error), name=name, dtype=dtype)


class RootMeanSquaredError(MeanMetricWrapper):
    """sqrt of the running weighted mean of squared errors (Keras `RootMeanSquaredError`)."""

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(lambda t, p: np.square(t.astype(np.float32) - p.astype(np.float32)), name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = losses._math.same_rank(np.asarray(y_true), np.asarray(y_pred))
        super().update_state(y_true, y_pred, sample_weight)

    def result(self):
        return float(np.sqrt(np.float32(super().result())))


class BinaryCrossentropy(MeanMetricWrapper):
    """Running mean of binary cross-entropy (Keras metric `BinaryCrossentropy`).

    Args:
        from_logits: bool.
        label_smoothing: float.
    """

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False, label_smoothing=0):
        super().__init__(_f32(losses.binary_crossentropy), name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)


class CategoricalCrossentropy(MeanMetricWrapper):
    """Running mean of categorical cross-entropy (Keras metric `CategoricalCrossentropy`).

    Args:
        from_logits: bool.
        label_smoothing: float.
        axis: int.
    """

    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False, label_smoothing=0, axis=-1):
        super().__init__(_f32(losses.categorical_crossentropy), name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """Running mean of sparse categorical cross-entropy (Keras metric `SparseCategoricalCrossentropy`).

    Args:
        from_logits: bool.
        ignore_class: int or None; entries with this label are not counted.
        axis: int.
    """

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False, ignore_class=None,
                 axis=-1):
        super().__init__(_f32(losses.sparse_categorical_crossentropy), name=name, dtype=dtype,
                         from_logits=from_logits, ignore_class=ignore_class, axis=axis)
        self.ignore_class = ignore_class

    def update_state(self, y_true, y_pred, sample_weight=None):
        if self.ignore_class is None or sample_weight is None:
            # Keras 3 applies the ignore_class mask only together with sample weights: without them an
            # ignored entry counts as a loss of 0.
            return super().update_state(y_true, y_pred, sample_weight)
        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred, dtype=np.float32)
        values = self._fn(y_true, y_pred, **self._fn_kwargs)
        weights = losses._functions.valid_mask(y_true.reshape(values.shape), self.ignore_class)
        sample_weight = np.asarray(sample_weight, dtype=np.float32)
        weights = weights * sample_weight.reshape(sample_weight.shape + (1,) * (weights.ndim - sample_weight.ndim))
        Mean.update_state(self, values, sample_weight=weights)
