"""Activation ops (og.ops.relu, softmax, ...) vs numpy formulas, symbolic and eager."""

import numpy as np
import pytest
from scipy import special

from onnxgraph import ops
from tests.conftest import rand
from tests.ops._helpers import Case, check_case_eager, check_case_symbolic

x = rand(4, 3, 5, seed=1) * 3
f = np.float32


def _softmax(a, axis=-1):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


CASES = [
    Case("relu", ops.relu, lambda a: np.maximum(a, 0), x),
    Case("relu6", ops.relu6, lambda a: np.clip(a, 0, 6), x),
    Case("leaky_relu", lambda a: ops.leaky_relu(a, 0.1), lambda a: np.where(a > 0, a, f(0.1) * a), x),
    Case("elu", ops.elu, lambda a: np.where(a > 0, a, np.expm1(a)), x),
    Case("selu", ops.selu, lambda a: f(1.0507009873554805) * np.where(a > 0, a, f(1.6732632423543772) * np.expm1(a)),
         x),
    Case("gelu_tanh", ops.gelu,
         lambda a: 0.5 * a * (1 + np.tanh(f(np.sqrt(2 / np.pi)) * (a + f(0.044715) * a**3))), x),
    Case("gelu_erf", lambda a: ops.gelu(a, approximate=False),
         lambda a: (0.5 * a * (1 + special.erf(a / np.sqrt(2)))).astype(f), x),
    Case("sigmoid", ops.sigmoid, lambda a: 1 / (1 + np.exp(-a)), x),
    Case("hard_sigmoid", ops.hard_sigmoid, lambda a: np.clip(a / 6 + 0.5, 0, 1), x),
    Case("silu", ops.silu, lambda a: a / (1 + np.exp(-a)), x),
    Case("hard_silu", ops.hard_silu, lambda a: a * np.clip(a / 6 + 0.5, 0, 1), x),
    Case("hard_swish_alias", ops.hard_swish, lambda a: a * np.clip(a / 6 + 0.5, 0, 1), x),
    Case("swish_alias", ops.swish, lambda a: a / (1 + np.exp(-a)), x),
    Case("mish", ops.mish, lambda a: a * np.tanh(np.log1p(np.exp(a))), x),
    Case("softplus", ops.softplus, lambda a: np.log1p(np.exp(a)), x),
    Case("softsign", ops.softsign, lambda a: a / (1 + np.abs(a)), x),
    Case("tanh", ops.tanh, np.tanh, x),
    Case("exponential", ops.exponential, np.exp, x),
    Case("softmax", ops.softmax, _softmax, x),
    Case("softmax_axis1", lambda a: ops.softmax(a, axis=1), lambda a: _softmax(a, 1), x),
    Case("log_softmax", ops.log_softmax, lambda a: np.log(_softmax(a)), x),
    Case("log_sigmoid", ops.log_sigmoid, lambda a: -np.log1p(np.exp(-a)), x),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_symbolic(case):
    check_case_symbolic(case)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_eager(case):
    check_case_eager(case)
