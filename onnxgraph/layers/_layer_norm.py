"""LayerNormalization (ONNX LayerNormalization) and GroupNormalization (ReduceMean decomposition).

ONNX LayerNormalization normalizes a trailing block of axes; the layer uses it whenever the
Keras `axis` is such a block (the usual `axis=-1`) and declares all three outputs (Y, Mean,
InvStdDev), which ORT-training's gradient needs. Other axes, `scale=False` (a constant
Scale shared by two such nodes breaks ORT-training's gradient builder: both emit the same
`<const>_grad` name), the deprecated `rms_scaling` and GroupNormalization (ONNX GroupNormalization has no gradient in ORT-training) use
ReduceMean/Sub/Mul/Sqrt/Div, which train everywhere.
"""

from __future__ import annotations

import numpy as np

from onnxgraph import initializers, ops
from onnxgraph.backend import dtypes
from onnxgraph.backend.emit import constant, emit
from onnxgraph.layers._input_spec import InputSpec
from onnxgraph.layers._layer import Layer

__all__ = ["LayerNormalization", "GroupNormalization"]


def _normalize(x, axes: list, epsilon: float, subtract_mean: bool = True):
    """(x - mean) / sqrt(var + eps) over `axes`; subtract_mean=False gives x / sqrt(var + eps)."""
    centered = ops.subtract(x, ops.mean(x, axis=axes, keepdims=True))
    variance = ops.mean(ops.square(centered), axis=axes, keepdims=True)
    eps = constant(np.array(epsilon, dtype=dtypes.to_numpy(x.dtype)))
    return ops.divide(centered if subtract_mean else x, ops.sqrt(ops.add(variance, eps)))


class LayerNormalization(Layer):
    """Normalizes each sample over `axis`, then scales by gamma and shifts by beta (Keras 3).

    Args:
        axis: Axis or list of axes to normalize over (default -1).
        epsilon: Added to the variance (default 1e-3, Keras's default).
        center: Add the learned offset `beta`.
        scale: Multiply by the learned `gamma`.

    Returns:
        A tensor of the input's shape.

    Example:
        >>> x = Input(shape=(10, 64))
        >>> LayerNormalization()(x).shape
        (None, 10, 64)
    """

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, rms_scaling=False, **kwargs):
        super().__init__(**kwargs)
        self._weight_options(beta_regularizer=beta_regularizer, gamma_regularizer=gamma_regularizer,
                             beta_constraint=beta_constraint, gamma_constraint=gamma_constraint)
        self.supports_masking = True
        if not isinstance(axis, (int, list, tuple)):
            raise TypeError(f"LayerNormalization: `axis` must be an int or a list of ints, got {axis!r}. (Expected an "
                            "int or a list/tuple of ints for the argument 'axis'.)")
        self.axis = list(axis) if isinstance(axis, (list, tuple)) else axis
        self.epsilon = float(epsilon)
        self.center = center
        self.scale = scale
        self.rms_scaling = rms_scaling
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)

    def build(self, input_shape):
        rank = len(input_shape)
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        for a in axes:
            if not -rank <= a < rank:
                raise ValueError(f"Layer '{self.name}': axis {a} is out of range for input shape {tuple(input_shape)}.")
        self.axis = sorted(axes)  # Keras keeps the sorted list (it shows in get_config)
        shape = tuple(input_shape[a] for a in self.axis)
        if None in shape:
            raise ValueError(
                f"Layer '{self.name}' normalizes over axes {self.axis}, which need known sizes; got input "
                f"shape {tuple(input_shape)}."
            )
        self.gamma = self.add_weight(shape, self.gamma_initializer, name="gamma", regularizer=self.gamma_regularizer,
                                     constraint=self.gamma_constraint) if (self.scale or self.rms_scaling) else None
        self.beta = self.add_weight(shape, self.beta_initializer, name="beta", regularizer=self.beta_regularizer,
                                    constraint=self.beta_constraint) if (self.center and not self.rms_scaling) else None
        # As Keras: axes counted from the end (the default -1) fit inputs of any rank with those sizes.
        from_end = all(a < 0 for a in self.axis)
        self.input_spec = InputSpec(ndim=None if from_end else rank, min_ndim=-min(self.axis) if from_end else None,
                                    axes={a: input_shape[a] for a in self.axis})

    def call(self, inputs):
        x = inputs if dtypes.is_float(inputs.dtype) else ops.cast(inputs, self.dtype)
        rank = x.ndim
        axes = sorted(a % rank for a in self.axis)
        if self.gamma is not None and not self.rms_scaling and axes == list(range(axes[0], rank)):
            return self._onnx_layer_norm(x, axes[0])
        broadcast = tuple(x.shape[i] if i in axes else 1 for i in range(rank))
        y = _normalize(x, axes, self.epsilon, subtract_mean=not self.rms_scaling)
        if self.gamma is not None:
            y = ops.multiply(y, self.gamma.graph_value((("reshape", broadcast),)))
        if self.beta is not None:
            y = ops.add(y, self.beta.graph_value((("reshape", broadcast),)))
        return y

    def _onnx_layer_norm(self, x, first_axis: int):
        trailing = x.shape[first_axis:]
        scale = self.gamma.graph_value()
        # Without beta the optional B input is left off entirely: an empty-named B input
        # segfaults onnxruntime 1.19 at ORT_ENABLE_ALL (measured).
        inputs = [x, scale] + ([self.beta.graph_value()] if self.beta is not None else [])
        stats_shape = x.shape[:first_axis] + (1,) * len(trailing)
        y, _, _ = emit("LayerNormalization", inputs, {"axis": first_axis, "epsilon": self.epsilon},
                       outputs=3, shapes=[x.shape, stats_shape, stats_shape], dtypes_=[x.dtype, "float32", "float32"])
        return y

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon, "center": self.center,
                "scale": self.scale, "rms_scaling": self.rms_scaling,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer)}


class GroupNormalization(Layer):
    """Normalizes over groups of channels (and all other non-batch axes) per sample (Keras 3).

    Args:
        groups: Number of channel groups (must divide the channels; -1 = one per channel).
        axis: The channel axis (default -1).
        epsilon: Added to the variance (default 1e-3).
        center: Add the learned per-channel `beta`.
        scale: Multiply by the learned per-channel `gamma`.

    Returns:
        A tensor of the input's shape.

    Example:
        >>> x = Input(shape=(32, 32, 64))
        >>> GroupNormalization(groups=8)(x).shape
        (None, 32, 32, 64)
    """

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self._weight_options(beta_regularizer=beta_regularizer, gamma_regularizer=gamma_regularizer,
                             beta_constraint=beta_constraint, gamma_constraint=gamma_constraint)
        self.supports_masking = True
        if not isinstance(groups, int) or isinstance(groups, bool) or (groups <= 0 and groups != -1):
            raise ValueError(f"GroupNormalization: `groups` must be a positive int (or -1), got {groups!r}. "
                             "(Received an invalid value for argument `groups`.)")
        self.groups = groups
        self.axis = axis
        self.epsilon = float(epsilon)
        self.center = center
        self.scale = scale
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)

    def build(self, input_shape):
        rank = len(input_shape)
        if not -rank <= self.axis < rank:
            raise ValueError(f"Layer '{self.name}': axis {self.axis} is out of range for input shape "
                             f"{tuple(input_shape)}.")
        dim = input_shape[self.axis]
        if dim is None:
            raise ValueError(f"Layer '{self.name}' needs a known channel dimension (axis {self.axis}), got input "
                             f"shape {tuple(input_shape)}. (Axis {self.axis} of input tensor should have a defined "
                             f"dimension but the layer received an input with shape {tuple(input_shape)}.)")
        if self.groups == -1:
            self.groups = dim
        if dim < self.groups or dim % self.groups:
            keras_words = ("cannot be more than the number of channels" if dim < self.groups else
                           "must be a multiple of the number of channels")
            raise ValueError(f"Layer '{self.name}': groups={self.groups} must divide the {dim} channels of input "
                             f"shape {tuple(input_shape)}. (Number of groups ({self.groups}) {keras_words} ({dim}).)")
        self.input_spec = InputSpec(ndim=rank, axes={self.axis: dim})
        self.gamma = self.add_weight((dim,), self.gamma_initializer, name="gamma", regularizer=self.gamma_regularizer,
                                     constraint=self.gamma_constraint) if self.scale else None
        self.beta = self.add_weight((dim,), self.beta_initializer, name="beta", regularizer=self.beta_regularizer,
                                    constraint=self.beta_constraint) if self.center else None

    def call(self, inputs):
        x = inputs if dtypes.is_float(inputs.dtype) else ops.cast(inputs, self.dtype)
        rank, axis = x.ndim, self.axis % x.ndim
        channels = x.shape[axis]
        grouped_shape = x.shape[:axis] + (self.groups, channels // self.groups) + x.shape[axis + 1:]
        if None not in x.shape[1:]:
            grouped = ops.reshape(x, (None,) + grouped_shape[1:])
        else:
            parts = [emit("Shape", [x], {"start": 0, "end": axis}, shapes=[(axis,)], dtypes_=["int64"]),
                     constant(np.array([self.groups, channels // self.groups], dtype=np.int64))]
            if axis + 1 < rank:
                parts.append(emit("Shape", [x], {"start": axis + 1}, shapes=[(rank - axis - 1,)], dtypes_=["int64"]))
            target = emit("Concat", parts, {"axis": 0}, shapes=[(rank + 1,)], dtypes_=["int64"])
            grouped = emit("Reshape", [x, target], shapes=[grouped_shape], dtypes_=[x.dtype])
        reduce_axes = [i for i in range(1, rank + 1) if i != axis]
        y = _normalize(grouped, reduce_axes, self.epsilon)
        if None not in x.shape[1:]:
            y = ops.reshape(y, (None,) + x.shape[1:])
        else:
            y = emit("Reshape", [y, emit("Shape", [x], shapes=[(rank,)], dtypes_=["int64"])],
                     shapes=[x.shape], dtypes_=[x.dtype])
        # Per-channel gamma/beta broadcast from the channel axis: (C,) on the last axis, else
        # reshaped once on the initializer to (C, 1, ..., 1).
        transform = () if axis == rank - 1 else (("reshape", (channels,) + (1,) * (rank - axis - 1)),)
        if self.gamma is not None:
            y = ops.multiply(y, self.gamma.graph_value(transform))
        if self.beta is not None:
            y = ops.add(y, self.beta.graph_value(transform))
        return y

    def get_config(self):
        return {**super().get_config(), "groups": self.groups, "axis": self.axis, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer)}
