"""Activation layers: ReLU, LeakyReLU, PReLU, ELU and Softmax (Keras formulas and defaults).

Each picks the single ONNX op that computes the Keras formula exactly where one exists
(Relu, LeakyRelu, Clip, PRelu, Elu, Softmax) and a short decomposition otherwise.
"""

from __future__ import annotations

import numpy as np

from onnxgraph import initializers, ops
from onnxgraph.backend import dtypes
from onnxgraph.backend.emit import constant, emit
from onnxgraph.layers._input_spec import InputSpec
from onnxgraph.layers._layer import Layer

__all__ = ["ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax"]


def _float_input(layer, x):
    """Activations compute in the layer dtype; integer inputs are cast like Keras does."""
    return x if dtypes.is_float(x.dtype) else ops.cast(x, layer.dtype)


def _scalar(value, dtype):
    return constant(np.asarray(value, dtype=dtypes.to_numpy(dtype)))


class ReLU(Layer):
    """Rectified linear unit with optional cap, leak and threshold.

    f(x) = max_value for x >= max_value; x for threshold < x < max_value;
    negative_slope * (x - threshold) otherwise.

    Args:
        max_value: upper cap (>= 0) or None for no cap.
        negative_slope: slope (>= 0) below the threshold.
        threshold: values at or below it are "off" (>= 0).

    Example:
        >>> ReLU(max_value=6.0)(np.array([-1.0, 3.0, 9.0], "float32"))
        array([0., 3., 6.], dtype=float32)
    """

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        for arg, value in (("max_value", max_value), ("negative_slope", negative_slope), ("threshold", threshold)):
            if (value is None and arg != "max_value") or (value is not None and value < 0):
                keras_words = "a negative value" if arg == "max_value" else "None or a negative value"
                raise ValueError(f"ReLU: `{arg}` must be a float >= 0, got {value!r} ({arg} of a ReLU layer "
                                 f"cannot be {keras_words}).")
        self.max_value = None if max_value is None else float(max_value)
        self.negative_slope = float(negative_slope)
        self.threshold = float(threshold)
        self.supports_masking = True
        self._build_at_init()

    def call(self, inputs):
        x = _float_input(self, inputs)
        slope, cap, t = self.negative_slope, self.max_value, self.threshold
        if t == 0.0 and cap is None:
            return ops.leaky_relu(x, slope) if slope else ops.relu(x)
        if t == 0.0 and slope == 0.0:  # relu6 and friends: one Clip
            return emit("Clip", [x, _scalar(0, x.dtype), _scalar(cap, x.dtype)], shapes=[x.shape],
                        dtypes_=[x.dtype])
        # General form, following Keras's formula term by term.
        zero = _scalar(0, x.dtype)
        y = emit("Where", [ops.greater(x, _scalar(t, x.dtype)), x, zero], shapes=[x.shape],
                 dtypes_=[x.dtype]) if t else ops.relu(x)
        if cap is not None:
            y = ops.minimum(y, _scalar(cap, x.dtype))
        if slope:
            y = ops.subtract(y, ops.multiply(_scalar(slope, x.dtype), ops.relu(ops.subtract(_scalar(t, x.dtype), x))))
        return y

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value,
                "negative_slope": self.negative_slope, "threshold": self.threshold}


class LeakyReLU(Layer):
    """x for x >= 0, negative_slope * x otherwise (ONNX LeakyRelu).

    Args:
        negative_slope: slope (>= 0) for negative inputs; Keras's default is 0.3.

    Example:
        >>> LeakyReLU()(np.array([-1.0, 2.0], "float32"))
        array([-0.3,  2. ], dtype=float32)
    """

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:  # Keras 2 name, still accepted by Keras 3
            negative_slope = kwargs.pop("alpha")
        super().__init__(**kwargs)
        if negative_slope is None or negative_slope < 0:
            raise ValueError(f"LeakyReLU: `negative_slope` must be a float >= 0, got {negative_slope!r} (The "
                             "negative_slope value of a Leaky ReLU layer cannot be None or negative value.)")
        self.negative_slope = float(negative_slope)
        self.supports_masking = True
        self._build_at_init()

    def call(self, inputs):
        return ops.leaky_relu(_float_input(self, inputs), self.negative_slope)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


class PReLU(Layer):
    """Leaky ReLU with a learned slope `alpha` per input position (ONNX PRelu).

    Args:
        alpha_initializer: initializer of `alpha` (Keras default "zeros").
        shared_axes: 1-based axes along which one slope is shared, e.g. [1, 2] for one
            slope per channel of an image.

    Example:
        >>> x = Input(shape=(8, 8, 3))
        >>> layer = PReLU(shared_axes=[1, 2]); y = layer(x)
        >>> layer.alpha.shape
        (1, 1, 3)
    """

    def __init__(self, alpha_initializer="Zeros", alpha_regularizer=None, alpha_constraint=None,
                 shared_axes=None, **kwargs):
        super().__init__(**kwargs)
        self._weight_options(alpha_regularizer=alpha_regularizer, alpha_constraint=alpha_constraint)
        self.alpha_initializer = initializers.get(alpha_initializer)
        if shared_axes is None:
            self.shared_axes = None
        else:
            self.shared_axes = [int(a) for a in (shared_axes if isinstance(shared_axes, (list, tuple))
                                                 else [shared_axes])]
        self.supports_masking = True

    def build(self, input_shape):
        param_shape = list(input_shape[1:])
        for axis in self.shared_axes or []:
            if not 1 <= axis < len(input_shape):
                raise ValueError(
                    f"Layer '{self.name}': shared_axes {self.shared_axes} must be 1-based axes of the "
                    f"input (1..{len(input_shape) - 1}), got input shape {tuple(input_shape)}."
                )
            param_shape[axis - 1] = 1
        if any(d is None for d in param_shape):
            raise ValueError(
                f"Layer '{self.name}' needs known sizes for the axes it learns a slope on; got input "
                f"shape {tuple(input_shape)}. Share the unknown axes with `shared_axes=`."
            )
        self.alpha = self.add_weight(param_shape, self.alpha_initializer, name="alpha",
                                     regularizer=self.alpha_regularizer, constraint=self.alpha_constraint)
        axes = {i: input_shape[i] for i in range(1, len(input_shape)) if i not in (self.shared_axes or [])}
        self.input_spec = InputSpec(ndim=len(input_shape), axes=axes)

    def call(self, inputs):
        # PRelu broadcasts the slope numpy-style against the input: (H, W, C) vs (N, H, W, C).
        x = _float_input(self, inputs)
        return emit("PRelu", [x, self.alpha.graph_value()], shapes=[x.shape], dtypes_=[x.dtype])

    def get_config(self):
        return {**super().get_config(), "alpha_initializer": initializers.serialize(self.alpha_initializer),
                "shared_axes": self.shared_axes}


class ELU(Layer):
    """x for x > 0, alpha * (exp(x) - 1) otherwise (ONNX Elu).

    Args:
        alpha: scale of the negative part (default 1.0).

    Example:
        >>> ELU()(np.array([-1.0, 2.0], "float32"))
        array([-0.63212055,  2.        ], dtype=float32)
    """

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = float(alpha)
        self.supports_masking = True
        self._build_at_init()

    def call(self, inputs):
        return ops.elu(_float_input(self, inputs), self.alpha)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class Softmax(Layer):
    """Softmax over `axis` (an int, or a list of axes normalized together).

    Args:
        axis: axis or axes to normalize over (default -1).

    Call arguments:
        inputs: the logits.
        mask: optional boolean (or 0/1) mask broadcastable to `inputs`; masked positions get
            probability 0.

    Example:
        >>> Softmax()(np.array([[1.0, 2.0, 1.0]], "float32")).round(4)
        array([[0.2119, 0.5761, 0.2119]], dtype=float32)
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = list(axis) if isinstance(axis, (list, tuple)) else int(axis)
        self.supports_masking = True
        self._build_at_init()

    def call(self, inputs, mask=None):
        x = _float_input(self, inputs)
        if mask is not None:
            mask = self._bool_mask(mask, x)
            x = emit("Where", [mask, x, _scalar(-3e4 if x.dtype == "float16" else -1e9, x.dtype)],
                     shapes=[x.shape], dtypes_=[x.dtype])
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        for a in axes:
            if not -x.ndim <= a < x.ndim:
                raise ValueError(f"Layer '{self.name}': axis {a} is out of range for input shape {x.shape}.")
        if len(axes) == 1:
            y = ops.softmax(x, axes[0])
        else:  # ONNX Softmax takes one axis: exp(x - logsumexp(x, axes))
            shifted = ops.subtract(x, ops.max(x, axis=axes, keepdims=True))
            e = ops.exp(shifted)
            y = ops.divide(e, ops.sum(e, axis=axes, keepdims=True))
        if mask is not None:
            y = emit("Where", [mask, y, _scalar(0, y.dtype)], shapes=[y.shape], dtypes_=[y.dtype])
        return y

    def _bool_mask(self, mask, x):
        from onnxgraph.backend.emit import as_tensor

        mask = as_tensor(mask)
        if mask.ndim > x.ndim:
            raise ValueError(f"Layer '{self.name}': the mask (shape {mask.shape}) must be broadcastable to "
                             f"the inputs (shape {x.shape}) and must not have more dimensions.")
        for m, i in zip(reversed(mask.shape), reversed(x.shape)):
            if m is not None and i is not None and m not in (1, i):
                raise ValueError(f"Layer '{self.name}': the mask (shape {mask.shape}) does not broadcast to "
                                 f"the inputs (shape {x.shape}); each mask dimension must be 1 or match (the "
                                 "mask must be broadcastable to the inputs).")
        if mask.dtype == "bool":
            return mask
        return ops.greater(mask, _scalar(0.5, mask.dtype))

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
