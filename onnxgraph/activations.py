"""Activation functions by Keras name (`activation="relu"`), emitted as ONNX ops."""

from __future__ import annotations

from onnxgraph import ops

__all__ = ["get", "serialize", "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "sigmoid",
           "hard_sigmoid", "silu", "swish", "hard_silu", "hard_swish", "mish", "softplus",
           "softsign", "tanh", "softmax", "log_softmax", "exponential", "linear"]


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Keras relu; the plain form is ONNX Relu, the parametrized form a short decomposition."""
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return ops.relu(x)
    y = ops.relu(x - threshold) + threshold if threshold else ops.relu(x)
    if threshold:
        y = ops.multiply(y, ops.cast(ops.greater(x, threshold), "float32"))
    if max_value is not None:
        y = ops.minimum(y, float(max_value))
    if negative_slope:
        y = y + negative_slope * ops.minimum(x - threshold, 0.0)
    return y


def relu6(x):
    return ops.relu6(x)


def leaky_relu(x, negative_slope=0.2):
    return ops.leaky_relu(x, negative_slope)


def elu(x, alpha=1.0):
    return ops.elu(x, alpha)


def selu(x):
    return ops.selu(x)


def gelu(x, approximate=False):
    """Keras's activation default is the exact (erf) form; ops.gelu defaults to tanh."""
    return ops.gelu(x, approximate)


def sigmoid(x):
    return ops.sigmoid(x)


def hard_sigmoid(x):
    return ops.hard_sigmoid(x)


def silu(x):
    return ops.silu(x)


swish = silu


def hard_silu(x):
    return ops.hard_silu(x)


hard_swish = hard_silu


def mish(x):
    return ops.mish(x)


def softplus(x):
    return ops.softplus(x)


def softsign(x):
    return ops.softsign(x)


def tanh(x):
    return ops.tanh(x)


def softmax(x, axis=-1):
    return ops.softmax(x, axis)


def log_softmax(x, axis=-1):
    return ops.log_softmax(x, axis)


def exponential(x):
    return ops.exponential(x)


def linear(x):
    return x


_BY_NAME = {
    "relu": relu, "relu6": relu6, "leaky_relu": leaky_relu, "elu": elu, "selu": selu,
    "gelu": gelu, "sigmoid": sigmoid, "hard_sigmoid": hard_sigmoid, "silu": silu,
    "swish": swish, "hard_silu": hard_silu, "hard_swish": hard_swish, "mish": mish,
    "softplus": softplus, "softsign": softsign, "tanh": tanh, "softmax": softmax,
    "log_softmax": log_softmax, "exponential": exponential, "linear": linear,
}


def get(identifier):
    """The activation function for a Keras name, a function, or None (linear)."""
    if identifier is None:
        return linear
    if callable(identifier):
        return identifier
    if isinstance(identifier, dict):  # Keras serialized form {"class_name": "function", "config": name}
        identifier = identifier.get("config", identifier.get("class_name"))
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]
    if isinstance(identifier, str):  # a custom function saved by its registered name (never imported)
        from onnxgraph.saving import get_registered_object

        found = get_registered_object(identifier)
        if callable(found) and not isinstance(found, type):
            return found
    raise ValueError(
        f"Unknown activation {identifier!r}. Use one of: {', '.join(sorted(_BY_NAME))}, a callable, or a "
        "function decorated with @onnxgraph.saving.register_serializable() (or passed in custom_objects)."
    )


def serialize(fn) -> str:
    """The Keras name of an activation function (for get_config)."""
    for name, known in _BY_NAME.items():
        if fn is known:
            return "swish" if name == "swish" else name
    from onnxgraph.saving import get_registered_name

    return get_registered_name(fn)
