"""Activation and softmax rules against central differences (float64), symbolic batch."""

import numpy as np
import pytest

from onnxgraph.backend.emit import emit
from tests.autodiff.gradcheck import check_fn


def rnd(*shape, seed=0, scale=2.0):
    x = np.random.default_rng(seed).standard_normal(shape) * scale
    return np.where(np.abs(x) < 0.05, 0.3, x).astype(np.float32)  # away from the kinks at 0


CASES = [
    ("Relu", {}), ("LeakyRelu", {"alpha": 0.2}), ("Elu", {"alpha": 0.7}), ("Selu", {}),
    ("Selu", {"alpha": 1.3, "gamma": 0.9}), ("Celu", {"alpha": 1.5}), ("Softplus", {}), ("Softsign", {}),
    ("HardSigmoid", {}), ("HardSigmoid", {"alpha": 0.3, "beta": 0.4}), ("HardSwish", {}),
    ("Gelu", {}), ("Gelu", {"approximate": "tanh"}), ("Mish", {}), ("ThresholdedRelu", {"alpha": 0.5}),
]


@pytest.mark.parametrize("name,attrs", CASES, ids=[f"{n}{a}" for n, a in CASES])
def test_activation(name, attrs):
    x = rnd(4, 6)
    if name == "HardSigmoid":  # keep away from the clip points
        alpha, beta = attrs.get("alpha", 0.2), attrs.get("beta", 0.5)
        x = np.where(np.abs(alpha * x + beta) < 0.05, 0.1, x)
        x = np.where(np.abs(alpha * x + beta - 1) < 0.05, 0.1, x).astype(np.float32)
    if name == "HardSwish":
        x = np.where(np.abs(np.abs(x) - 3) < 0.05, 1.0, x).astype(np.float32) * 2
    if name == "ThresholdedRelu":
        x = np.where(np.abs(x - 0.5) < 0.05, 1.0, x).astype(np.float32)
    check_fn(lambda x: emit(name, [x], attrs), [x])


@pytest.mark.parametrize("slope_shape", [(6,), (1,), (4, 6)], ids=str)
def test_prelu_input_and_slope(slope_shape):
    x = rnd(4, 6)
    slope = np.random.default_rng(1).uniform(0.1, 0.5, slope_shape).astype(np.float32)
    check_fn(lambda x, s: emit("PRelu", [x, s]), [x], [slope], symbolic_batch=slope_shape != (4, 6))


@pytest.mark.parametrize("name", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("axis", [-1, 0, 1, 2])
def test_softmax_any_axis(name, axis):
    x = rnd(3, 4, 5, scale=1.0)
    check_fn(lambda x: emit(name, [x], {"axis": axis}), [x], symbolic_batch=axis != 0)


KERAS_ACTIVATIONS = ["relu", "elu", "selu", "softplus", "softsign", "gelu", "swish", "hard_sigmoid", "hard_silu",
                     "leaky_relu", "relu6", "mish", "log_softmax", "softmax", "sigmoid", "tanh", "exponential"]


@pytest.mark.parametrize("rewrite", [False, True], ids=["as_exported", "training_rewrite"])
@pytest.mark.parametrize("activation", KERAS_ACTIVATIONS)
def test_dense_with_keras_activation(activation, rewrite):
    # The ops each activation layer emits, and the formulas the training rewrite turns them into.
    import onnxgraph as og
    from tests.autodiff.gradcheck import check_model

    x = og.Input((5,), name="x")
    y = og.layers.Dense(3, name="head")(og.layers.Dense(4, activation=activation, name="hidden")(x))
    check_model(og.Model(x, y), [rnd(6, 5, scale=1.5)], rewrite=rewrite)
