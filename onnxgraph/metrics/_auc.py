"""AUC (ROC or PR) from thresholded confusion counts, with Keras 3's buckets and interpolation."""

from __future__ import annotations

import numpy as np

from onnxgraph.losses._math import EPSILON, same_rank
from onnxgraph.metrics._metric import Metric

__all__ = ["AUC"]

_f32 = np.float32


def _div(a, b):
    """divide_no_nan."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b == 0, _f32(0), a / np.where(b == 0, _f32(1), b)).astype(np.float32)


class AUC(Metric):
    """Area under the ROC or PR curve, approximated on thresholds like Keras 3 `AUC`.

    Predictions are clipped to [0, 1] and counted above each of `num_thresholds` evenly
    spaced thresholds (bucketed like Keras); the area uses trapezoids ("interpolation"),
    "minoring" or "majoring" rectangles, and Keras's interpolation for PR curves.

    Args:
        num_thresholds: int > 1 (default 200).
        curve: "ROC" (default) or "PR".
        summation_method: "interpolation" (default), "minoring" or "majoring".
        name: str.
        thresholds: optional explicit thresholds in [0, 1].
        multi_label: bool, one curve per label column, averaged.
        num_labels: int, with multi_label.
        label_weights: optional per-label weights.
        from_logits: bool, apply a sigmoid first.

    Example:
        >>> m = AUC(); m.update_state([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]); round(m.result(), 3)
        0.75
    """

    direction = "up"

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation", name=None, dtype=None,
                 thresholds=None, multi_label=False, num_labels=None, label_weights=None, from_logits=False):
        super().__init__(name=name, dtype=dtype)
        if curve.upper() not in ("ROC", "PR"):
            raise ValueError(f'AUC: invalid `curve` argument value "{curve}". Expected one of: ROC, PR.')
        if summation_method.lower() not in ("interpolation", "minoring", "majoring"):
            raise ValueError(f'AUC: invalid `summation_method` "{summation_method}". Expected one of: '
                             "interpolation, minoring, majoring.")
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            self.num_thresholds = len(thresholds) + 2
            inner = sorted(thresholds)
            self._evenly = False
        else:
            if num_thresholds <= 1:
                raise ValueError(f"AUC: argument `num_thresholds` must be an integer > 1. Received: "
                                 f"num_thresholds={num_thresholds}")
            self.num_thresholds = num_thresholds
            inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self._evenly = True
        self._thresholds = np.array([0.0 - EPSILON] + inner + [1.0 + EPSILON])
        self.curve = curve.upper()
        self.summation_method = summation_method.lower()
        self.multi_label = multi_label
        self.num_labels = num_labels
        self.label_weights = None if label_weights is None else np.asarray(label_weights, dtype=np.float32)
        self._from_logits = from_logits
        if num_labels and not multi_label:
            raise ValueError("AUC: `num_labels` is needed only when `multi_label` is True.")
        self._num_labels = num_labels if multi_label else None
        self.reset_state()

    @property
    def thresholds(self):
        return list(self._thresholds)

    def reset_state(self):
        shape = (self.num_thresholds,) if not self.multi_label else (self.num_thresholds, self._num_labels or 0)
        self.true_positives = np.zeros(shape, np.float32)
        self.false_positives = np.zeros(shape, np.float32)
        self.true_negatives = np.zeros(shape, np.float32)
        self.false_negatives = np.zeros(shape, np.float32)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = np.asarray(y_true).astype(np.float32)
        y_pred = np.asarray(y_pred, dtype=np.float32)
        if self._from_logits:
            y_pred = (1 / (1 + np.exp(-y_pred))).astype(np.float32)
        if self.multi_label and self._num_labels is None:
            if y_pred.ndim != 2:
                raise ValueError(f"AUC: `y_pred` must have rank 2 when `multi_label=True`; got shape {y_pred.shape}.")
            self._num_labels = y_pred.shape[1]
            self.reset_state()
        y_pred, y_true = same_rank(y_pred, y_true)
        weights = np.ones(y_pred.shape, np.float32)
        if sample_weight is not None:
            sw = np.asarray(sample_weight, dtype=np.float32)[..., None]
            if sw.ndim == y_true.ndim + 1 and sw.shape[-1] == 1:
                sw = sw[..., 0]
            weights = np.broadcast_to(sw, y_pred.shape).astype(np.float32)
        if self.label_weights is not None and not self.multi_label:
            weights = weights * np.broadcast_to(self.label_weights, y_pred.shape)
        y_pred = np.clip(y_pred, 0.0, 1.0)
        y_true = (y_true != 0).astype(np.float32)
        if self.multi_label:
            cols = [self._counts(y_true[:, j], y_pred[:, j], weights[:, j]) for j in range(y_pred.shape[1])]
            tp, fp, tn, fn = (np.stack([c[i] for c in cols], axis=1) for i in range(4))
        else:
            tp, fp, tn, fn = self._counts(y_true.reshape(-1), y_pred.reshape(-1), weights.reshape(-1))
        self.true_positives += tp
        self.false_positives += fp
        self.true_negatives += tn
        self.false_negatives += fn

    def _counts(self, y_true, y_pred, weights):
        true_w, false_w = y_true * weights, (_f32(1) - y_true) * weights
        if self._evenly:
            # Keras's bucketed update: prediction p falls in bucket ceil(p * (T - 1)) - 1 (at least 0).
            buckets = np.maximum(np.ceil(y_pred * _f32(self.num_thresholds - 1)) - 1, 0).astype(np.int64)
            tp = np.bincount(buckets, true_w, self.num_thresholds)[::-1].cumsum()[::-1]
            fp = np.bincount(buckets, false_w, self.num_thresholds)[::-1].cumsum()[::-1]
        else:
            above = y_pred[None, :] > self._thresholds.astype(np.float32)[:, None]
            tp, fp = (above * true_w).sum(axis=1), (above * false_w).sum(axis=1)
        tp, fp = tp.astype(np.float32), fp.astype(np.float32)
        return tp, fp, np.float32(false_w.sum()) - fp, np.float32(true_w.sum()) - tp

    def _average(self, by_label):
        if not self.multi_label:
            return float(np.sum(by_label))
        by_label = np.sum(by_label, axis=0)
        if self.label_weights is None:
            return float(np.mean(by_label))
        return float(_div(np.sum(by_label * self.label_weights), np.sum(self.label_weights)))

    def _interpolate_pr_auc(self):
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        prec_slope = _div(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - prec_slope * p[1:]
        safe_p_ratio = np.where((p[:-1] > 0) & (p[1:] > 0), _div(p[:-1], np.maximum(p[1:], 0)), _f32(1))
        increment = _div(prec_slope * (dtp + intercept * np.log(safe_p_ratio)), np.maximum(tp[1:] + fn[1:], 0))
        return self._average(increment)

    def result(self):
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolate_pr_auc()
        tp, fp, tn, fn = self.true_positives, self.false_positives, self.true_negatives, self.false_negatives
        recall = _div(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _div(fp, fp + tn), recall
        else:
            x, y = recall, _div(tp, tp + fp)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / _f32(2)
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return self._average((x[:-1] - x[1:]) * heights)

    def get_config(self):
        config = {**super().get_config(), "num_thresholds": self.num_thresholds, "curve": self.curve,
                  "summation_method": self.summation_method, "multi_label": self.multi_label,
                  "num_labels": self.num_labels,
                  "label_weights": None if self.label_weights is None else self.label_weights.tolist(),
                  "from_logits": self._from_logits}
        if self._init_from_thresholds:
            config["thresholds"] = self.thresholds[1:-1]
        return config
