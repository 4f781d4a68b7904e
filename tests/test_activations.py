"""Every Keras activation name, emitted as ONNX and run on onnxruntime, vs numpy formulas."""

import numpy as np
import pytest
from scipy.special import erf

import onnxgraph as og
from onnxgraph import activations, layers
from tests.conftest import check_onnx


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softplus(x):
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)


SELU_A, SELU_S = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
REFERENCES = {
    "relu": lambda x: np.maximum(x, 0),
    "relu6": lambda x: np.minimum(np.maximum(x, 0), 6),
    "leaky_relu": lambda x: np.where(x > 0, x, 0.2 * x),
    "elu": lambda x: np.where(x > 0, x, np.exp(x) - 1),
    "selu": lambda x: SELU_S * np.where(x > 0, x, SELU_A * (np.exp(x) - 1)),
    "gelu": lambda x: 0.5 * x * (1 + erf(x / np.sqrt(2))),
    "sigmoid": sigmoid,
    "hard_sigmoid": lambda x: np.clip(x / 6 + 0.5, 0, 1),
    "silu": lambda x: x * sigmoid(x),
    "swish": lambda x: x * sigmoid(x),
    "hard_silu": lambda x: x * np.clip(x / 6 + 0.5, 0, 1),
    "mish": lambda x: x * np.tanh(softplus(x)),
    "softplus": softplus,
    "softsign": lambda x: x / (1 + np.abs(x)),
    "tanh": np.tanh,
    "softmax": lambda x: np.exp(x - x.max(-1, keepdims=True)) / np.exp(x - x.max(-1, keepdims=True)).sum(-1, keepdims=True),
    "log_softmax": lambda x: x - x.max(-1, keepdims=True) - np.log(np.exp(x - x.max(-1, keepdims=True)).sum(-1, keepdims=True)),
    "exponential": np.exp,
    "linear": lambda x: x,
}
X = np.linspace(-7, 7, 60, dtype=np.float32).reshape(4, 15)


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_activation_by_name_matches_numpy(name):
    inputs = og.Input(shape=(15,))
    model = og.Model(inputs, layers.Activation(name)(inputs))
    check_onnx(model)
    y = model.predict(X, verbose=0)
    np.testing.assert_allclose(y, REFERENCES[name](X.astype(np.float64)), rtol=1e-5, atol=1e-6)
    # ops on numpy arrays compute the same formula eagerly
    np.testing.assert_allclose(activations.get(name)(X), REFERENCES[name](X.astype(np.float64)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_axis(axis):
    inputs = og.Input(shape=(3, 5))
    model = og.Model(inputs, layers.Activation(lambda t: activations.softmax(t, axis=axis))(inputs))
    x = np.random.default_rng(0).standard_normal((2, 3, 5)).astype("float32")
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    np.testing.assert_allclose(model.predict(x, verbose=0), e / e.sum(axis=axis, keepdims=True), rtol=1e-5)


def test_gelu_approximate_form():
    inputs = og.Input(shape=(15,))
    model = og.Model(inputs, layers.Activation(lambda t: activations.gelu(t, approximate=True))(inputs))
    ref = 0.5 * X * (1 + np.tanh(np.sqrt(2 / np.pi) * (X + 0.044715 * X**3)))
    np.testing.assert_allclose(model.predict(X, verbose=0), ref, rtol=1e-5, atol=1e-6)


def test_activation_names_round_trip_through_config():
    for name in REFERENCES:
        layer = layers.Dense(2, activation=name)
        restored = layers.Dense.from_config(layer.get_config())
        assert restored.activation is layer.activation
        assert restored.get_config()["activation"] in (name, "silu")


def test_unknown_activation_lists_known_names():
    with pytest.raises(ValueError, match=r"Unknown activation 'rellu'.*relu"):
        layers.Dense(2, activation="rellu")


@pytest.mark.parametrize("x", [np.array([[-1e4, 1e4, 0.0]], "float32")])
def test_activations_finite_at_extremes(x):
    inputs = og.Input(shape=(3,))
    for name in ["softplus", "sigmoid", "softmax", "log_softmax", "mish", "elu", "selu"]:
        model = og.Model(inputs, layers.Activation(name)(inputs))
        assert np.isfinite(model.predict(x, verbose=0)).all(), name
