"""Loss objects: Keras 3's classes, reductions and configs, plus what the training graph needs
(per-sample values as ONNX, the label input's shape and dtype)."""

from __future__ import annotations

import math

import numpy as np

from onnxgraph import ops
from onnxgraph.losses import _functions as F
from onnxgraph.losses._math import is_symbolic, mean_except_batch
from onnxgraph.utils._naming import auto_name
from onnxgraph.utils._tree import flatten

__all__ = ["Loss", "LossFunctionWrapper", "MeanSquaredError", "MeanAbsoluteError", "Huber", "BinaryCrossentropy",
           "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "REDUCTIONS"]

REDUCTIONS = ("sum_over_batch_size", "sum", None, "none", "mean", "mean_with_sample_weight")


class Loss:
    """Base class: subclasses implement `call(y_true, y_pred)` with `onnxgraph.ops` (Keras's unreduced values).

    Because ops run numpy on arrays and emit ONNX on symbolic tensors, one `call` serves
    both `loss(y_true_array, y_pred_array)` and the training graph.

    Args:
        name: str; auto-named from the class when None.
        reduction: "sum_over_batch_size" (default), "sum", "mean", "mean_with_sample_weight", "none"/None.
        dtype: compute dtype (only float32 is used).

    Example:
        >>> class Cube(Loss):
        ...     def call(self, y_true, y_pred):
        ...         return ops.mean(ops.absolute(ops.subtract(y_true, y_pred)) ** 3, axis=-1)
    """

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction not in REDUCTIONS:
            raise ValueError(f"Invalid value for argument `reduction`. Expected one of {REDUCTIONS}. "
                             f"Received: reduction={reduction!r}")
        self.name = name or auto_name(type(self).__name__)
        self.reduction = reduction
        self.dtype = dtype or "float32"

    def call(self, y_true, y_pred):
        raise NotImplementedError(f"{type(self).__name__} must implement call(y_true, y_pred).")

    # -- what the training engine uses ----------------------------------------------------
    def label_spec(self, y_pred_shape) -> tuple[tuple, str]:
        """(shape, dtype) of the label input for an output of `y_pred_shape` (None = any size)."""
        return tuple(y_pred_shape), "float32"

    def coerce_labels(self, y, y_pred_shape) -> np.ndarray:
        """Labels as an array matching `label_spec` (dtype cast, a trailing length-1 axis added/removed)."""
        shape, dtype = self.label_spec(y_pred_shape)
        y = np.asarray(y)
        if y.ndim == len(shape) + 1 and y.shape[-1] == 1:
            y = y[..., 0]
        elif y.ndim + 1 == len(shape) and shape[-1] == 1:
            y = y[..., None]
        ok = y.ndim == len(shape) and all(s is None or s == d for s, d in zip(shape[1:], y.shape[1:]))
        if not ok:
            raise ValueError(
                f"Loss '{self.name}' expects labels of shape {_fmt(shape)} for an output of shape "
                f"{_fmt(y_pred_shape)}, got labels of shape {y.shape}. Reshape the targets `y`, or pick the "
                "loss that matches them (integer class ids: sparse_categorical_crossentropy; one-hot: "
                "categorical_crossentropy)."
            )
        return y.astype(dtype, copy=False)

    def emit(self, y_true, y_pred):
        """Per-sample losses, shape (batch,): the mean of `call` over all non-batch axes.

        With the default reduction, mean(per_sample * sample_weight) equals Keras's loss.
        """
        if not is_symbolic(y_true, y_pred):
            raise TypeError(f"Loss '{self.name}'.emit builds ONNX nodes and needs symbolic tensors; "
                            "call the loss itself on arrays.")
        return mean_except_batch(self.call(y_true, y_pred))

    def emit_reduced(self, y_true, y_pred, sample_weight=None):
        """The scalar training loss with this loss's reduction (symbolic); sample_weight shape (batch,)."""
        if not is_symbolic(*flatten(y_true), *flatten(y_pred)):  # structures for losses over several outputs
            raise TypeError(f"Loss '{self.name}'.emit_reduced needs symbolic tensors.")
        values = self.call(y_true, y_pred)
        return self._reduce(values, sample_weight, self._combined_mask(y_true, y_pred, values))

    def __call__(self, y_true, y_pred, sample_weight=None):
        """Keras's `loss(y_true, y_pred, sample_weight)`: reduced value (float array, or symbolic scalar)."""
        values = self.call(y_true, y_pred)
        out = self._reduce(values, sample_weight, self._combined_mask(y_true, y_pred, values))
        return out if is_symbolic(out) else np.asarray(out, dtype=np.float32)

    def _mask(self, y_true, y_pred):
        """Keras mask of the unreduced values (1 = counts), or None; sparse CE's ignore_class sets one."""
        return None

    def _combined_mask(self, y_true, y_pred, values):
        """The loss's own mask and the prediction's Keras mask (`y_pred._keras_mask`), as floats.

        Keras 3 treats a mask on the prediction as a sample weight: masked entries count zero and
        the mean runs over the unmasked ones (`losses.loss.apply_mask`).
        """
        own = self._mask(y_true, y_pred)
        keras_mask = getattr(y_pred, "_keras_mask", None)
        if keras_mask is None:
            return own
        keras_mask = ops.cast(keras_mask, values.dtype)
        if keras_mask.ndim == values.ndim + 1 and keras_mask.shape[-1] == 1:
            keras_mask = ops.squeeze(keras_mask, -1)
        if keras_mask.ndim > values.ndim:
            # The loss already reduced over masked axes (a custom loss returning a scalar): Keras's
            # apply_mask rescales the mask to mean 1 (sum_over_batch_size), which leaves it unchanged.
            return own
        while keras_mask.ndim < values.ndim:
            keras_mask = ops.expand_dims(keras_mask, -1)
        if own is None:
            return keras_mask
        return ops.multiply(ops.cast(own, values.dtype), keras_mask)

    def _reduce(self, values, sample_weight, mask=None):
        if mask is not None:
            return self._reduce_masked(values, sample_weight, mask)
        if self.reduction in (None, "none"):
            if sample_weight is None:
                return values
            return ops.multiply(values, _weights_like(sample_weight, values))
        per_sample = mean_except_batch(values)
        rest = tuple(values.shape[1:])
        per_element = None if None in rest else math.prod(rest)
        if sample_weight is not None:
            per_sample = ops.multiply(per_sample, _weights_like(sample_weight, per_sample))
        if self.reduction in ("sum_over_batch_size", "mean"):
            return ops.mean(per_sample)
        if self.reduction == "mean_with_sample_weight" and sample_weight is None:
            return ops.mean(per_sample)
        if per_element is None:
            raise ValueError(f"Loss '{self.name}': reduction='{self.reduction}' needs static non-batch dims, "
                             f"got {_fmt(values.shape)}; use the default reduction 'sum_over_batch_size'.")
        total = ops.multiply(ops.sum(per_sample), float(per_element))
        if self.reduction == "sum":
            return total
        # mean_with_sample_weight, Keras style: sum(values * w) / sum(w) with w per sample, so outputs
        # of rank > 2 divide an element sum by a sample count.
        return ops.divide(total, ops.sum(_weights_like(sample_weight, per_sample)))

    def _reduce_masked(self, values, sample_weight, mask):
        # Keras's apply_mask: averages run over unmasked entries only, which count zero.
        weights = None if sample_weight is None else _weights_like(sample_weight, values)
        values = ops.multiply(values, mask)
        weighted = values if weights is None else ops.multiply(values, weights)
        if self.reduction in (None, "none"):
            return weighted
        total = ops.sum(weighted)
        if self.reduction == "sum":
            return total
        if self.reduction == "mean_with_sample_weight" and weights is not None:
            count = ops.sum(ops.multiply(mask, weights))
        else:
            count = ops.sum(mask)
        return ops.divide(total, ops.maximum(count, 1e-12))  # all masked: 0, like divide_no_nan

    # -- config -----------------------------------------------------------------------------
    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


def _fmt(shape) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _weights_like(sample_weight, values):
    """Sample weights as (batch,) (or broadcastable to `values`), in the values' dtype."""
    if not is_symbolic(sample_weight):
        sample_weight = np.asarray(sample_weight, dtype=np.float32)
    else:
        sample_weight = ops.cast(sample_weight, "float32")
    while len(sample_weight.shape) > max(len(values.shape), 1) and sample_weight.shape[-1] == 1:
        sample_weight = ops.squeeze(sample_weight, -1)
    if len(values.shape) > len(sample_weight.shape) >= 1:
        for _ in range(len(values.shape) - len(sample_weight.shape)):
            sample_weight = ops.expand_dims(sample_weight, -1)
    return sample_weight


class LossFunctionWrapper(Loss):
    """A loss object around a function `fn(y_true, y_pred, **kwargs)` written with `onnxgraph.ops`.

    Args:
        fn: the function; it gets labels and predictions with a common rank.
        reduction, name, dtype: as in `Loss` (name defaults to `fn.__name__`).
        **kwargs: extra arguments passed to `fn`.

    Example:
        >>> loss = LossFunctionWrapper(F.mean_squared_error)
    """

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", None), reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        return {**super().get_config(), "fn": getattr(self.fn, "__name__", repr(self.fn)), **self._fn_kwargs}


class MeanSquaredError(LossFunctionWrapper):
    """Mean of squared errors over the last axis (Keras `MeanSquaredError`, alias "mse")."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(F.mean_squared_error, reduction=reduction, name=name, dtype=dtype)

    def get_config(self):
        return Loss.get_config(self)


class MeanAbsoluteError(LossFunctionWrapper):
    """Mean of absolute errors over the last axis (Keras `MeanAbsoluteError`, alias "mae")."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(F.mean_absolute_error, reduction=reduction, name=name, dtype=dtype)

    def get_config(self):
        return Loss.get_config(self)


class Huber(LossFunctionWrapper):
    """Huber loss with threshold `delta` (Keras `Huber`).

    Args:
        delta: float, where the loss turns from quadratic to linear (default 1.0).
    """

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        super().__init__(F.huber, reduction=reduction, name=name, dtype=dtype, delta=delta)
        self.delta = delta

    def get_config(self):
        return {**Loss.get_config(self), "delta": self.delta}


class BinaryCrossentropy(LossFunctionWrapper):
    """Binary cross-entropy (Keras `BinaryCrossentropy`); labels are 0/1 floats shaped like y_pred.

    Args:
        from_logits: bool, y_pred holds logits (numerically stable formulation).
        label_smoothing: float in [0, 1].
        axis: the axis averaged over (default -1).
    """

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="binary_crossentropy", dtype=None):
        super().__init__(F.binary_crossentropy, reduction=reduction, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis

    def get_config(self):
        return {**Loss.get_config(self), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}


class CategoricalCrossentropy(LossFunctionWrapper):
    """Categorical cross-entropy with one-hot labels (Keras `CategoricalCrossentropy`).

    Args:
        from_logits: bool, y_pred holds logits (log_softmax; stable at any scale).
        label_smoothing: float in [0, 1].
        axis: the class axis (default -1).
    """

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="categorical_crossentropy", dtype=None):
        super().__init__(F.categorical_crossentropy, reduction=reduction, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis

    def call(self, y_true, y_pred):
        # No rank fixing: one-hot labels must match y_pred exactly, as in Keras.
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        return {**Loss.get_config(self), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    """Cross-entropy with integer class labels (Keras `SparseCategoricalCrossentropy`).

    Labels have shape y_pred.shape[:-1] (or with a trailing 1) and are fed as int64.

    Args:
        from_logits: bool, y_pred holds logits.
        ignore_class: int or None; entries with this label are left out (loss 0, not counted).
        axis: the class axis; only -1.

    With `ignore_class`, `emit_reduced` and `__call__` follow Keras (average over counted
    entries); `emit`'s per-sample values are the plain mean with ignored entries as 0.
    """

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size", axis=-1,
                 name="sparse_categorical_crossentropy", dtype=None):
        super().__init__(F.sparse_categorical_crossentropy, reduction=reduction, name=name, dtype=dtype,
                         from_logits=from_logits, ignore_class=ignore_class, axis=axis)
        self.from_logits, self.ignore_class, self.axis = from_logits, ignore_class, axis

    def label_spec(self, y_pred_shape):
        return tuple(y_pred_shape[:-1]), "int64"

    def coerce_labels(self, y, y_pred_shape):
        y = np.asarray(y)
        if np.issubdtype(y.dtype, np.floating) and not np.all(np.mod(y, 1) == 0):
            raise ValueError(f"Loss '{self.name}' expects integer class ids, got non-integer values such as "
                             f"{y[np.mod(y, 1) != 0].flat[0]}. For one-hot or soft targets use "
                             "categorical_crossentropy.")
        y = super().coerce_labels(y, y_pred_shape)
        classes = y_pred_shape[-1]
        counted = y if self.ignore_class is None else y[y != self.ignore_class]
        if classes is not None and counted.size and (counted.min() < 0 or counted.max() >= classes):
            raise ValueError(f"Loss '{self.name}': class ids must be in [0, {classes}) for an output with "
                             f"{classes} classes; got values in [{counted.min()}, {counted.max()}].")
        return y

    def _mask(self, y_true, y_pred):
        if self.ignore_class is None:
            return None
        if len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] == 1:
            y_true = ops.squeeze(y_true, -1)
        return F.valid_mask(y_true, self.ignore_class)

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        return {**Loss.get_config(self), "from_logits": self.from_logits, "ignore_class": self.ignore_class}
