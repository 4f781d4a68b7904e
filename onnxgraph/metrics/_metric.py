"""Metric base classes: streaming state in numpy, Keras 3's sample-weight rules."""

from __future__ import annotations

import numpy as np

from onnxgraph.losses._math import same_rank
from onnxgraph.utils._naming import auto_name

__all__ = ["Metric", "Mean", "Sum", "MeanMetricWrapper"]


class Metric:
    """Base class: `update_state(y_true, y_pred, sample_weight=None)`, `result()`, `reset_state()`.

    State lives in numpy; results are Python floats. `direction` is "up" when larger is
    better (accuracy, AUC) and "down" otherwise, for callbacks' mode="auto".

    Args:
        name: str; auto-named from the class when None.
        dtype: accumulator dtype (float32, like Keras).

    Example:
        >>> class Count(Metric):
        ...     def __init__(self, name="count"): super().__init__(name); self.n = 0
        ...     def update_state(self, y_true, y_pred, sample_weight=None): self.n += len(y_pred)
        ...     def result(self): return float(self.n)
        ...     def reset_state(self): self.n = 0
    """

    direction = "down"

    def __init__(self, name=None, dtype=None):
        self.name = name or auto_name(type(self).__name__)
        self.dtype = dtype or "float32"

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement update_state.")

    def result(self) -> float:
        raise NotImplementedError(f"{type(self).__name__} must implement result.")

    def reset_state(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement reset_state.")

    def __call__(self, y_true, y_pred, sample_weight=None) -> float:
        """Update with one batch and return the running result (like Keras's `metric(...)`)."""
        self.update_state(y_true, y_pred, sample_weight=sample_weight)
        return self.result()

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


def _samplewise(values, sample_weight, reduce_fn):
    """Keras's reduce_to_samplewise_values: per-sample values and weights."""
    values = np.asarray(values, dtype=np.float32)
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight, dtype=np.float32)
        values, sample_weight = same_rank(values, sample_weight)
        if values.ndim > sample_weight.ndim:
            values = reduce_fn(values, axis=tuple(range(sample_weight.ndim, values.ndim)))
        sample_weight = np.broadcast_to(sample_weight, values.shape)
        values = values * sample_weight
        if sample_weight.ndim > 1:
            sample_weight = reduce_fn(sample_weight, axis=tuple(range(1, sample_weight.ndim)))
    if values.ndim > 1:
        values = reduce_fn(values, axis=tuple(range(1, values.ndim)))
    return values, sample_weight


class Sum(Metric):
    """Running (weighted) sum of values (Keras `Sum`); `update_state(values, sample_weight=None)`."""

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = np.float32(0)

    def update_state(self, values, sample_weight=None):
        values, _ = _samplewise(values, sample_weight, np.sum)
        self.total = np.float32(self.total + np.sum(values, dtype=np.float32))

    def result(self):
        return float(self.total)

    def reset_state(self):
        self.total = np.float32(0)


class Mean(Metric):
    """Running (weighted) mean of values (Keras `Mean`); `update_state(values, sample_weight=None)`.

    Example:
        >>> m = Mean(); m.update_state([1, 3]); m.update_state([5], sample_weight=[2]); m.result()
        3.5
    """

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.reset_state()

    def update_state(self, values, sample_weight=None):
        values, sample_weight = _samplewise(values, sample_weight, np.mean)
        self.total = np.float32(self.total + np.sum(values, dtype=np.float32))
        if sample_weight is not None:
            count = np.sum(sample_weight, dtype=np.float32)
        else:
            count = values.shape[0] if values.ndim >= 1 else 1
        self.count = np.float32(self.count + count)

    def result(self):
        return float(self.total / self.count) if self.count != 0 else 0.0

    def reset_state(self):
        self.total = np.float32(0)
        self.count = np.float32(0)


class MeanMetricWrapper(Mean):
    """Mean over batches of a per-sample function `fn(y_true, y_pred, **kwargs)` (Keras's wrapper).

    Args:
        fn: numpy function returning one value per sample (or per element).
        name: str (default: fn's name).
        **kwargs: passed to fn.

    Example:
        >>> m = MeanMetricWrapper(lambda t, p: np.abs(t - p), name="l1")
    """

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", None), dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = self._fn(np.asarray(y_true), np.asarray(y_pred), **self._fn_kwargs)
        super().update_state(values, sample_weight=sample_weight)

    def get_config(self):
        return {**super().get_config(), **self._fn_kwargs}
