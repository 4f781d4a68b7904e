"""Preprocessing layers that belong inside the model graph: Rescaling and Normalization."""

from __future__ import annotations

import itertools
import math

import numpy as np

from onnxgraph import ops
from onnxgraph.backend.emit import constant
from onnxgraph.layers._input_spec import InputSpec
from onnxgraph.layers._layer import Layer

__all__ = ["Rescaling", "Normalization"]

_EPSILON = 1e-7  # keras.config.epsilon(): the floor of the standard deviation


def _float(layer, x):
    return x if x.dtype == layer.dtype else ops.cast(x, layer.dtype)


def _plain(value):
    """Config value: numbers stay numbers, arrays become (nested) lists; Keras's numpy dicts unwrap."""
    if isinstance(value, dict) and value.get("class_name") == "__numpy__":
        value = value["config"]["value"]
    if isinstance(value, (np.ndarray, np.generic, list, tuple)):
        return np.asarray(value).tolist()
    return value


class Rescaling(Layer):
    """`inputs * scale + offset`, in float (integer images in, floats out).

    Args:
        scale: a float, or an array broadcastable to the input (e.g. one value per channel).
        offset: a float or array added after scaling.

    Example:
        >>> Rescaling(1.0 / 255)(np.array([[0, 255]], "uint8"))
        array([[0., 1.]], dtype=float32)
    """

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = _plain(scale)
        self.offset = _plain(offset)
        self.supports_masking = True

    def call(self, inputs):
        x = _float(self, inputs)
        dtype = np.dtype(x.dtype)
        return ops.add(ops.multiply(x, constant(np.asarray(self.scale, dtype))),
                       constant(np.asarray(self.offset, dtype)))

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


class Normalization(Layer):
    """Standardize features: `(x - mean) / sqrt(variance)`, per position on `axis`.

    Give `mean` and `variance`, or call `adapt(data)` to compute them from numpy data
    (then they are non-trainable weights `mean`, `variance` and `count`, as in Keras).

    Args:
        axis: the axis or axes that keep separate statistics (default -1: per feature);
            None for one mean and variance over everything.
        mean, variance: fixed statistics (scalars or arrays broadcastable to the kept axes).
        invert: apply the inverse, `mean + x * sqrt(variance)`.

    Example:
        >>> norm = Normalization()
        >>> norm.adapt(np.array([[1.0, 10.0], [3.0, 30.0]], "float32"))
        >>> norm(np.array([[2.0, 20.0]], "float32"))
        array([[0., 0.]], dtype=float32)
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        self.axis = (int(axis),) if isinstance(axis, int) else tuple(int(a) for a in axis)
        if (mean is None) != (variance is None):
            raise ValueError(
                f"Normalization: give both `mean` and `variance`, or neither (and call adapt()); got "
                f"mean={mean!r}, variance={variance!r}. (When setting values directly, both `mean` and "
                "`variance` must be set.)"
            )
        if mean is not None:
            if np.shape(mean) != np.shape(variance):
                raise ValueError(f"Normalization: `mean` and `variance` must have the same shape, got "
                                 f"{np.shape(mean)} and {np.shape(variance)}.")
            if np.ndim(mean) > len(self.axis):
                raise ValueError(f"Normalization: `mean` has rank {np.ndim(mean)}, more than the number of "
                                 f"kept axes {self.axis}.")
        self.input_mean = _plain(mean)
        self.input_variance = _plain(variance)
        self.invert = bool(invert)
        self.supports_masking = True
        self._build_input_shape = None

    def build(self, input_shape):
        ndim = len(input_shape)
        if any(not -ndim <= a < ndim for a in self.axis):
            raise ValueError(f"Layer '{self.name}': axis {self.axis} is out of range for inputs of rank {ndim} "
                             f"(shape {tuple(input_shape)}). (All `axis` values must be in the range [-ndim, ndim).)")
        self._build_input_shape = tuple(input_shape)
        self._keep_axis = tuple(sorted(a % ndim for a in self.axis))
        for a in self._keep_axis:
            if input_shape[a] is None:
                raise ValueError(f"Layer '{self.name}' keeps statistics per position on axis {a}, so that axis "
                                 f"needs a known size; got input shape {tuple(input_shape)}. (All `axis` values to be "
                                 "kept must have a known shape.)")
        self._reduce_axis = tuple(d for d in range(ndim) if d not in self._keep_axis)
        self._broadcast_shape = tuple(input_shape[d] if d in self._keep_axis else 1 for d in range(ndim))
        stats_shape = tuple(input_shape[d] for d in self._keep_axis)
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(stats_shape, "zeros", name="mean", trainable=False)
            self.adapt_variance = self.add_weight(stats_shape, "ones", name="variance", trainable=False)
            # Kept for Keras weight-file compatibility (Keras stores it, never reads it).
            self.count = self.add_weight((), "zeros", dtype="int64", name="count", trainable=False)
        self.input_spec = InputSpec(ndim=ndim, axes={a: input_shape[a] for a in self._keep_axis})
        self.built = True

    def adapt(self, data) -> None:
        """Compute the mean and variance of `data` (a numpy array, or an iterable of batches)."""
        if self.input_mean is not None:
            raise ValueError(f"Layer '{self.name}' was given `mean` and `variance`; adapt() would ignore "
                             "them. Create Normalization() without them to adapt.")
        batches = iter([data]) if hasattr(data, "shape") else map(self._features_of, iter(data))
        first = next(batches, None)
        if first is None:
            raise ValueError(f"Layer '{self.name}': adapt() received no data (an empty iterable, no batches). "
                             "Pass an array or a non-empty iterable of batches, e.g. layer.adapt([x]).")
        if not self.built:
            self.build(np.shape(first))
        total_mean = total_var = None
        total_count = 0
        for batch in itertools.chain([first], batches):
            batch = np.asarray(batch, dtype=np.float64)
            self._check_adapt_shape(batch.shape)
            mean = batch.mean(axis=self._reduce_axis)
            var = batch.var(axis=self._reduce_axis)
            count = math.prod(batch.shape[d] for d in self._reduce_axis)
            if total_mean is None:
                total_mean, total_var, total_count = mean, var, count
                continue
            # Combine batches exactly (parallel variance formula), as Keras's iterable path does.
            total_count, weight = total_count + count, count / (total_count + count)
            new_mean = total_mean * (1 - weight) + mean * weight
            total_var = ((total_var + (total_mean - new_mean) ** 2) * (1 - weight)
                         + (var + (mean - new_mean) ** 2) * weight)
            total_mean = new_mean
        self.adapt_mean.assign(total_mean.astype(self.adapt_mean.value.dtype))
        self.adapt_variance.assign(total_var.astype(self.adapt_variance.value.dtype))

    def _features_of(self, batch):
        """Keras's iterable adapt: an (x, y) batch adapts on x; a batch must be an array."""
        if isinstance(batch, (tuple, list)) and batch:
            batch = batch[0]
        if not hasattr(batch, "shape"):
            raise TypeError(f"Layer '{self.name}': adapt() batches must be arrays (objects with a `.shape`), got "
                            f"{type(batch).__name__} {batch!r:.40}.")
        return batch

    def _check_adapt_shape(self, shape):
        if len(shape) != len(self._build_input_shape) or any(
                shape[d] != self._build_input_shape[d] for d in self._keep_axis):
            raise ValueError(f"Layer '{self.name}' was built for inputs of shape {self._build_input_shape}; "
                             f"adapt() received data of shape {tuple(shape)} (an incompatible shape).")

    @property
    def mean(self) -> np.ndarray:
        """Keras's `mean` once built: the statistics broadcast to the input rank, e.g. (1, features)."""
        return self._broadcast_statistic("mean")

    @property
    def variance(self) -> np.ndarray:
        return self._broadcast_statistic("variance")

    def _broadcast_statistic(self, which):
        if not self.built:
            raise AttributeError(f"Layer '{self.name}' has no `{which}` before it is built (call build() or adapt()).")
        given = self.input_mean if which == "mean" else self.input_variance
        if given is not None:
            return self._broadcast(given, "float32")
        variable = self.adapt_mean if which == "mean" else self.adapt_variance
        return variable.numpy().reshape(self._broadcast_shape)

    def call(self, inputs):
        x = _float(self, inputs)
        mean, variance = self._statistics(x.dtype)
        std = ops.maximum(ops.sqrt(variance), constant(np.asarray(_EPSILON, x.dtype)))
        if self.invert:
            return ops.add(mean, ops.multiply(x, std))
        return ops.divide(ops.subtract(x, mean), std)

    def _statistics(self, dtype):
        if self.input_mean is None:
            transform = (("reshape", self._broadcast_shape),)
            return self.adapt_mean.graph_value(transform), self.adapt_variance.graph_value(transform)
        return (constant(self._broadcast(self.input_mean, dtype)),
                constant(self._broadcast(self.input_variance, dtype)))

    def _broadcast(self, value, dtype):
        """Keras's placement of given statistics: align their dims with the kept axes, right to left."""
        value = np.asarray(value, dtype=dtype)
        expanded = [1] * len(self._broadcast_shape)
        for i in range(1, value.ndim + 1):
            expanded[self._keep_axis[-i]] = value.shape[-i]
        return np.broadcast_to(value.reshape(expanded), self._broadcast_shape).copy()

    def get_config(self):
        return {**super().get_config(), "axis": list(self.axis), "invert": self.invert,
                "mean": self.input_mean, "variance": self.input_variance}
