"""Dense, Activation, Dropout and Identity."""

from __future__ import annotations

from onnxgraph import activations, initializers, ops
from onnxgraph.backend import dtypes
from onnxgraph.backend.emit import emit
from onnxgraph.layers._args import dropout_rate, positive_int
from onnxgraph.layers._input_spec import InputSpec
from onnxgraph.layers._layer import Layer

__all__ = ["Dense", "Activation", "Dropout", "Identity"]


class Dense(Layer):
    """`activation(inputs @ kernel + bias)` on the last axis of an input of any rank >= 2.

    Example:
        >>> x = Input(shape=(784,))
        >>> Dense(64, activation="relu")(x).shape
        (None, 64)
    """

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 lora_rank=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self._weight_options(kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                             kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
        self.supports_masking = True
        self.units = positive_int("Dense", "units", units)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.input_spec = InputSpec(min_ndim=2)

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(
                f"Layer '{self.name}' needs a known last dimension to create its kernel, got input "
                f"shape {tuple(input_shape)}."
            )
        self.kernel = self.add_weight((input_dim, self.units), self.kernel_initializer, name="kernel",
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.bias = self.add_weight((self.units,), self.bias_initializer, name="bias", regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None
        self.input_spec = InputSpec(min_ndim=2, axes={-1: input_dim})

    def call(self, inputs):
        if not dtypes.is_float(inputs.dtype):
            inputs = ops.cast(inputs, self.dtype)
        kernel = self.kernel.graph_value()
        y = emit("MatMul", [inputs, kernel], shapes=[inputs.shape[:-1] + (self.units,)], dtypes_=[self.dtype])
        if self.use_bias:
            y = emit("Add", [y, self.bias.graph_value()], shapes=[y.shape], dtypes_=[self.dtype])
        return y if self.activation is None else self.activation(y)  # Keras allows `layer.activation = None`

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer)}


class Activation(Layer):
    """Applies an activation function by Keras name or callable."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.activation = activations.get(activation)
        self._build_at_init()

    def call(self, inputs):
        return self.activation(inputs)

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class Dropout(Layer):
    """Randomly zeroes `rate` of the inputs during training; the identity at inference."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.rate = dropout_rate("Dropout", "rate", rate)
        self.noise_shape = _noise_shape(noise_shape)
        self.seed = seed
        self._build_at_init()

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return ops.identity(inputs)
        attrs = {"seed": int(self.seed)} if self.seed is not None else {}
        if self.noise_shape is not None:
            return self._broadcast_dropout(inputs, attrs)
        y, _ = emit("Dropout", [inputs, _scalar(self.rate, inputs.dtype), _scalar(True, "bool")], attrs, outputs=2,
                    shapes=[inputs.shape, inputs.shape], dtypes_=[inputs.dtype, "bool"])
        return y

    def _broadcast_dropout(self, inputs, attrs):
        """Keras's noise_shape: one keep/drop draw per noise position, broadcast over the 1-sized axes."""
        if len(self.noise_shape) != inputs.ndim:
            raise ValueError(f"Layer '{self.name}': noise_shape {self.noise_shape} has {len(self.noise_shape)} "
                             f"dims, the inputs {inputs.shape} have {inputs.ndim}.")
        shared = [i for i, d in enumerate(self.noise_shape) if d == 1 and inputs.shape[i] != 1]
        base = ops.max(inputs, axis=shared, keepdims=True) if shared else inputs
        # 1 wherever the input is a number, computed from the data (a Shape-based ones_like of a
        # static shape is a constant, and onnxruntime 1.32 folds a Dropout of a constant away).
        # Equal has no gradient, so no gradient path goes back to the inputs through the mask.
        ones = ops.cast(ops.equal(base, base), inputs.dtype)
        scale, _ = emit("Dropout", [ones, _scalar(self.rate, inputs.dtype), _scalar(True, "bool")], attrs,
                        outputs=2, shapes=[ones.shape, ones.shape], dtypes_=[inputs.dtype, "bool"])
        return ops.multiply(inputs, scale)  # 0 or 1 / (1 - rate), as the ONNX Dropout scales

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "noise_shape": self.noise_shape, "seed": self.seed}


def _noise_shape(noise_shape):
    """Keras's Dropout._validate_noise_shape: None, or a tuple of positive ints / None."""
    if noise_shape is None:
        return None
    bad = "Invalid value received for argument `noise_shape`."
    if isinstance(noise_shape, str):
        raise ValueError(f"Dropout: `noise_shape` must be a tuple of ints or None, got {noise_shape!r}. ({bad} "
                         "Expected a tuple or list of integers.)")
    try:
        noise_shape = tuple(noise_shape)
    except TypeError:
        raise ValueError(f"Dropout: `noise_shape` must be a tuple of ints or None, got {noise_shape!r}. ({bad} "
                         "Expected an iterable of integers (e.g., a tuple or list).)") from None
    for i, dim in enumerate(noise_shape):
        if dim is not None and (not isinstance(dim, int) or isinstance(dim, bool)):
            raise ValueError(f"Dropout: `noise_shape`[{i}] must be an int or None, got {dim!r}. ({bad} Expected "
                             "all elements to be integers or None.)")
        if dim is not None and dim <= 0:
            raise ValueError(f"Dropout: `noise_shape`[{i}] must be positive, got {dim}. ({bad} Expected all "
                             "dimensions to be positive integers or None.)")
    return noise_shape


def _scalar(value, dtype):
    from onnxgraph.backend.emit import constant

    return constant(value, dtype)


class Identity(Layer):
    """Returns its input unchanged (an ONNX Identity node, visible in Netron)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self._build_at_init()

    def call(self, inputs):
        return ops.identity(inputs)
