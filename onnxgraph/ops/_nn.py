"""Activation functions as ONNX ops (Keras formulas and defaults)."""

from __future__ import annotations

import numpy as np

from onnxgraph.ops._base import any_symbolic, as_tensor, constant, emit, normalize_axis, to_numpy
from onnxgraph.ops._dispatch import keras_op

__all__ = ["relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "sigmoid", "hard_sigmoid",
           "silu", "swish", "hard_silu", "hard_swish", "mish", "softplus", "softsign", "tanh",
           "softmax", "log_softmax", "exponential", "log_sigmoid"]

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _same(op_type: str, x, attrs=None, extra_inputs=()):
    x = as_tensor(x)
    return emit(op_type, [x, *extra_inputs], attrs, shapes=[x.shape], dtypes_=[x.dtype])


def _np_sigmoid(x):
    return (1.0 / (1.0 + np.exp(-x))).astype(x.dtype)


@keras_op
def relu(x):
    """max(x, 0) (ONNX Relu)."""
    if not any_symbolic(x):
        return np.maximum(to_numpy(x), 0)
    return _same("Relu", x)


@keras_op
def relu6(x):
    """min(max(x, 0), 6) (ONNX Clip)."""
    if not any_symbolic(x):
        return np.clip(to_numpy(x), 0, 6)
    x = as_tensor(x)
    lo, hi = constant(np.array(0, dtype=x.dtype)), constant(np.array(6, dtype=x.dtype))
    return _same("Clip", x, extra_inputs=(lo, hi))


@keras_op
def leaky_relu(x, negative_slope=0.2):
    """x if x > 0 else negative_slope * x (ONNX LeakyRelu)."""
    if not any_symbolic(x):
        x = to_numpy(x)
        return np.where(x > 0, x, negative_slope * x).astype(x.dtype)
    return _same("LeakyRelu", x, {"alpha": float(negative_slope)})


@keras_op
def elu(x, alpha=1.0):
    """x if x > 0 else alpha * (exp(x) - 1) (ONNX Elu)."""
    if not any_symbolic(x):
        x = to_numpy(x)
        return np.where(x > 0, x, alpha * np.expm1(x)).astype(x.dtype)
    return _same("Elu", x, {"alpha": float(alpha)})


@keras_op
def selu(x):
    """Scaled ELU with Keras's constants (ONNX Selu)."""
    if not any_symbolic(x):
        x = to_numpy(x)
        return (SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x))).astype(x.dtype)
    return _same("Selu", x, {"alpha": SELU_ALPHA, "gamma": SELU_SCALE})


@keras_op
def gelu(x, approximate=True):
    """Gaussian error linear unit (ONNX Gelu, opset 20); `approximate` selects the tanh form.

    The default follows `keras.ops.gelu` (approximate=True); the "gelu" activation uses False.
    """
    if not any_symbolic(x):
        x = to_numpy(x)
        if approximate:
            inner = np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)
            return (0.5 * x * (1 + np.tanh(inner))).astype(x.dtype)
        from scipy.special import erf

        return (0.5 * x * (1 + erf(x / np.sqrt(2)))).astype(x.dtype)
    return _same("Gelu", x, {"approximate": "tanh" if approximate else "none"})


@keras_op
def sigmoid(x):
    """1 / (1 + exp(-x)) (ONNX Sigmoid)."""
    if not any_symbolic(x):
        return _np_sigmoid(to_numpy(x))
    return _same("Sigmoid", x)


@keras_op
def hard_sigmoid(x):
    """relu6(x + 3) / 6, Keras 3's definition (ONNX HardSigmoid alpha=1/6, beta=0.5)."""
    if not any_symbolic(x):
        x = to_numpy(x)
        return np.clip(x / 6.0 + 0.5, 0, 1).astype(x.dtype)
    return _same("HardSigmoid", x, {"alpha": 1.0 / 6.0, "beta": 0.5})


@keras_op
def silu(x):
    """x * sigmoid(x) (ONNX Sigmoid + Mul)."""
    if not any_symbolic(x):
        x = to_numpy(x)
        return x * _np_sigmoid(x)
    x = as_tensor(x)
    return emit("Mul", [x, sigmoid(x)], shapes=[x.shape], dtypes_=[x.dtype])


swish = silu


@keras_op
def hard_silu(x):
    """x * hard_sigmoid(x) (ONNX HardSwish)."""
    if not any_symbolic(x):
        x = to_numpy(x)
        return x * hard_sigmoid(x)
    return _same("HardSwish", x)


hard_swish = hard_silu


@keras_op
def mish(x):
    """x * tanh(softplus(x)) (ONNX Mish)."""
    if not any_symbolic(x):
        x = to_numpy(x)
        return (x * np.tanh(np.logaddexp(0, x))).astype(x.dtype)
    return _same("Mish", x)


@keras_op
def softplus(x):
    """log(1 + exp(x)) (ONNX Softplus)."""
    if not any_symbolic(x):
        x = to_numpy(x)
        return np.logaddexp(0, x).astype(x.dtype)
    return _same("Softplus", x)


@keras_op
def softsign(x):
    """x / (1 + |x|) (ONNX Softsign)."""
    if not any_symbolic(x):
        x = to_numpy(x)
        return x / (1 + np.abs(x))
    return _same("Softsign", x)


@keras_op
def tanh(x):
    """Hyperbolic tangent (ONNX Tanh)."""
    if not any_symbolic(x):
        return np.tanh(to_numpy(x))
    return _same("Tanh", x)


@keras_op
def exponential(x):
    """exp(x) (ONNX Exp)."""
    if not any_symbolic(x):
        return np.exp(to_numpy(x))
    return _same("Exp", x)


@keras_op
def softmax(x, axis=-1):
    """Softmax over `axis` (ONNX Softmax)."""
    if not any_symbolic(x):
        x = to_numpy(x)
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)
    x = as_tensor(x)
    return _same("Softmax", x, {"axis": normalize_axis(axis, x.ndim, "softmax")})


@keras_op
def log_softmax(x, axis=-1):
    """Log of softmax over `axis` (ONNX LogSoftmax)."""
    if not any_symbolic(x):
        x = to_numpy(x)
        shifted = x - x.max(axis=axis, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    x = as_tensor(x)
    return _same("LogSoftmax", x, {"axis": normalize_axis(axis, x.ndim, "log_softmax")})


@keras_op
def log_sigmoid(x):
    """log(sigmoid(x)) = -softplus(-x) (ONNX Neg, Softplus, Neg)."""
    if not any_symbolic(x):
        x = to_numpy(x)
        return -np.logaddexp(0, -x).astype(x.dtype)
    x = as_tensor(x)
    neg = emit("Neg", [x], shapes=[x.shape], dtypes_=[x.dtype])
    return emit("Neg", [softplus(neg)], shapes=[x.shape], dtypes_=[x.dtype])
