"""The weights of SimpleRNN, LSTM and GRU, held by cells as in Keras 3 (`lstm/lstm_cell/kernel`).

A cell owns the Keras-layout weights and their config; the recurrent layer that holds it
emits one ONNX RNN/LSTM/GRU node over the whole sequence (see `_recurrent.py`). Each cell
also says how its weights map to that node's inputs: a layout transform applied to the
initializer at export (gate reordering, transposes), never a runtime node.
"""

from __future__ import annotations

import numpy as np

from onnxgraph import activations, initializers
from onnxgraph.layers._args import positive_int
from onnxgraph.layers._layer import Layer

__all__ = ["SimpleRNNCell", "LSTMCell", "GRUCell"]

# Keras activation name -> (ONNX RNN activation, alphas, betas). onnxruntime consumes
# activation_alpha/beta only for the functions that take them, in order (measured).
ONNX_ACTIVATIONS = {
    "tanh": ("Tanh", (), ()),
    "sigmoid": ("Sigmoid", (), ()),
    "relu": ("Relu", (), ()),
    "hard_sigmoid": ("HardSigmoid", (1.0 / 6.0,), (0.5,)),
    "linear": ("Affine", (1.0,), (0.0,)),
    "softsign": ("Softsign", (), ()),
    "softplus": ("Softplus", (), ()),
}

WEIGHT_OPTIONS = ("kernel_regularizer", "recurrent_regularizer", "bias_regularizer", "kernel_constraint",
                  "recurrent_constraint", "bias_constraint")


class _Cell(Layer):
    """Shared arguments of the three cells: units, activations, initializers, dropout."""

    gates = 1

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", dropout=0.0, recurrent_dropout=0.0, seed=None, **kwargs):
        kwargs.pop("implementation", None)  # Keras 2's kernel choice; one implementation here
        options = {key: kwargs.pop(key, None) for key in WEIGHT_OPTIONS}
        super().__init__(**kwargs)
        self._weight_options(**options)
        self.units = positive_int(type(self).__name__, "units", units)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.dropout = min(1.0, max(0.0, float(dropout)))
        self.recurrent_dropout = min(1.0, max(0.0, float(recurrent_dropout)))
        self.seed = seed

    @property
    def state_size(self):
        return self.units

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(
                f"Layer '{self.name}' needs a known feature dimension to create its kernel, got "
                f"input shape {tuple(input_shape)}. Give the Input a static last dimension."
            )
        width = self.units * self.gates
        self.kernel = self.add_weight((input_dim, width), self.kernel_initializer, name="kernel",
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight((self.units, width), self.recurrent_initializer,
                                                name="recurrent_kernel", regularizer=self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint)
        self.bias = self.add_weight(self._bias_shape(), self._bias_init(), name="bias", regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None

    def _bias_shape(self) -> tuple:
        return (self.units * self.gates,)

    def _bias_init(self):
        return self.bias_initializer

    def onnx_activations(self) -> list:
        """The ONNX activations list (recurrent activation first, as the ONNX ops order them)."""
        return [self.recurrent_activation, self.activation]

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "activation": activations.serialize(self.activation),
                "recurrent_activation": activations.serialize(self.recurrent_activation),
                "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout, "seed": self.seed}


class SimpleRNNCell(_Cell):
    """Weights of a fully-connected RNN: kernel (in, units), recurrent_kernel, bias (units,)."""

    gates = 1

    def __init__(self, units, activation="tanh", **kwargs):
        kwargs.pop("recurrent_activation", None)
        super().__init__(units, activation=activation, **kwargs)

    def onnx_activations(self) -> list:
        return [self.activation]

    def get_config(self):
        config = super().get_config()
        config.pop("recurrent_activation")
        return config


class LSTMCell(_Cell):
    """Weights of an LSTM: kernel (in, 4u) and recurrent_kernel (u, 4u) with gates i, f, c, o."""

    gates = 4

    def __init__(self, units, unit_forget_bias=True, **kwargs):
        super().__init__(units, **kwargs)
        self.unit_forget_bias = unit_forget_bias

    @property
    def state_size(self):
        return [self.units, self.units]

    def _bias_init(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        units, base = self.units, self.bias_initializer

        def bias_initializer(shape, dtype="float32"):
            # Keras: the forget-gate block starts at one, the others use bias_initializer.
            return np.concatenate([base((units,), dtype=dtype), np.ones((units,), dtype=dtype),
                                   base((2 * units,), dtype=dtype)])

        return bias_initializer

    def onnx_activations(self) -> list:
        return [self.recurrent_activation, self.activation, self.activation]

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


class GRUCell(_Cell):
    """Weights of a GRU: gates z, r, h; bias (2, 3u) when reset_after (the default), else (3u,)."""

    gates = 3

    def __init__(self, units, reset_after=True, **kwargs):
        super().__init__(units, **kwargs)
        self.reset_after = reset_after

    def _bias_shape(self) -> tuple:
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def get_config(self):
        return {**super().get_config(), "reset_after": self.reset_after}
