"""Elementwise ops, comparisons, logic, clip/where/cast and Python operators vs numpy."""

import numpy as np
import pytest
from scipy import special

from onnxgraph import ops
from tests.conftest import rand
from tests.ops._helpers import Case, check_case_eager, check_case_symbolic

x = rand(4, 3, seed=1)
y = rand(4, 3, seed=2)
row = rand(3, seed=3)
pos = np.abs(rand(4, 3, seed=4)) + 0.1
ints = np.array([[7, -7, 3], [-3, 10, -10]], dtype=np.int64)
divs = np.array([[2, 2, -2], [2, -3, 3]], dtype=np.int64)
flags = np.array([[True, False, True], [False, False, True]])
flags2 = np.array([[True, True, False], [False, True, True]])
halves = np.array([[0.5, 1.5, 2.5, -0.5, -1.5, 0.26]], dtype=np.float32)
special_values = np.array([[1.0, np.nan, np.inf, -np.inf, 0.0]], dtype=np.float32)
f = np.float32

CASES = [
    Case("add", ops.add, np.add, x, y),
    Case("add_broadcast", lambda a: ops.add(a, row), lambda a: a + row, x),
    Case("add_scalar", lambda a: ops.add(a, 2.0), lambda a: a + f(2), x),
    Case("add_int_scalar", lambda a: ops.add(a, 3), lambda a: a + 3, ints),
    Case("subtract", ops.subtract, np.subtract, x, y),
    Case("multiply", ops.multiply, np.multiply, x, y),
    Case("divide", ops.divide, np.divide, x, pos),
    Case("true_divide", ops.true_divide, np.true_divide, x, pos),
    Case("divide_ints_is_float32", ops.divide, lambda a, b: (a / b).astype(np.float32), ints, divs),
    Case("floor_divide", ops.floor_divide, np.floor_divide, x, pos),
    Case("floor_divide_ints", ops.floor_divide, np.floor_divide, ints, divs),
    Case("mod", ops.mod, np.mod, x * 5, pos),
    Case("mod_negative_divisor", lambda a: ops.mod(a, -1.5), lambda a: np.mod(a, f(-1.5)), x * 3),
    Case("mod_ints", ops.mod, np.mod, ints, divs),
    Case("power", ops.power, np.power, pos, y),
    Case("power_scalar", lambda a: ops.power(a, 3), lambda a: a**3, x),
    Case("maximum", ops.maximum, np.maximum, x, y),
    Case("minimum", ops.minimum, np.minimum, x, y),
    Case("less", ops.less, np.less, x, y),
    Case("less_equal", ops.less_equal, np.less_equal, x, np.round(x)),
    Case("greater", ops.greater, np.greater, x, y),
    Case("greater_equal", ops.greater_equal, np.greater_equal, x, np.round(x)),
    Case("equal", ops.equal, np.equal, ints, divs * -3),
    Case("not_equal", ops.not_equal, np.not_equal, ints, divs * -3),
    Case("logical_and", ops.logical_and, np.logical_and, flags, flags2),
    Case("logical_or", ops.logical_or, np.logical_or, flags, flags2),
    Case("logical_xor", ops.logical_xor, np.logical_xor, flags, flags2),
    Case("logical_not", ops.logical_not, np.logical_not, flags),
    Case("logical_and_floats", ops.logical_and, np.logical_and, np.round(x), np.round(y)),
    Case("negative", ops.negative, np.negative, x),
    Case("absolute", ops.absolute, np.abs, x),
    Case("abs", ops.abs, np.abs, ints),
    Case("sign", ops.sign, np.sign, np.round(x)),
    Case("floor", ops.floor, np.floor, x * 3),
    Case("ceil", ops.ceil, np.ceil, x * 3),
    Case("round_half_even", ops.round, np.round, halves),
    Case("round_decimals", lambda a: ops.round(a, 1), lambda a: np.round(a, 1), x * 10, atol=1e-4),
    Case("exp", ops.exp, np.exp, x),
    Case("exp_int_is_float32", ops.exp, lambda a: np.exp(a).astype(np.float32), divs),
    Case("expm1", ops.expm1, np.expm1, x),
    Case("log", ops.log, np.log, pos),
    Case("log1p", ops.log1p, np.log1p, pos),
    Case("log2", ops.log2, np.log2, pos),
    Case("log10", ops.log10, np.log10, pos),
    Case("sqrt", ops.sqrt, np.sqrt, pos),
    Case("rsqrt", ops.rsqrt, lambda a: 1 / np.sqrt(a), pos),
    Case("reciprocal", ops.reciprocal, np.reciprocal, pos),
    Case("square", ops.square, np.square, x),
    Case("erf", ops.erf, lambda a: special.erf(a).astype(np.float32), x),
    Case("sin", ops.sin, np.sin, x),
    Case("cos", ops.cos, np.cos, x),
    Case("tan", ops.tan, np.tan, x),
    Case("isnan", ops.isnan, np.isnan, special_values),
    Case("isinf", ops.isinf, np.isinf, special_values),
    Case("isfinite", ops.isfinite, np.isfinite, special_values),
    Case("clip", lambda a: ops.clip(a, -0.5, 0.5), lambda a: np.clip(a, -0.5, 0.5), x),
    Case("clip_ints", lambda a: ops.clip(a, -4, 4), lambda a: np.clip(a, -4, 4), ints),
    Case("clip_tensor_bounds", ops.clip, np.clip, x, -pos, pos),
    Case("where", ops.where, np.where, flags, ints, divs),
    Case("where_scalars", lambda c: ops.where(c, 1.0, 0.0), lambda c: np.where(c, f(1), f(0)), flags),
    Case("where_nonzero", ops.where, np.nonzero, flags, static=True),
    Case("cast", lambda a: ops.cast(a, "int32"), lambda a: a.astype(np.int32), x * 5),
    Case("cast_bool", lambda a: ops.cast(a, "float32"), lambda a: a.astype(np.float32), flags),
    # Python operators on tensors go through the same ops.
    Case("operator_add_radd", lambda a: 1.0 + a + 2.0, lambda a: f(1) + a + f(2), x),
    Case("operator_mul_sub_div", lambda a, b: (a * b - b) / 2.0, lambda a, b: (a * b - b) / f(2), x, y),
    Case("operator_rsub_rtruediv", lambda a: (1.0 - a) + 2.0 / a, lambda a: (f(1) - a) + f(2) / a, pos),
    Case("operator_neg_abs_pow", lambda a: -abs(a) ** 2, lambda a: -np.abs(a) ** 2, x),
    Case("operator_compare", lambda a, b: a < b, np.less, x, y),
    Case("operator_ge", lambda a: a >= 0.0, lambda a: a >= 0, x),
    Case("operator_array_left", lambda a: row + a, lambda a: row + a, x),
    Case("operator_floordiv_mod", lambda a, b: (a // b) + (a % b), lambda a, b: (a // b) + (a % b), x * 4, pos),
    Case("operator_rfloordiv_rmod", lambda a: 7.0 // a + 7.0 % a, lambda a: f(7) // a + f(7) % a, pos),
    Case("operator_logic", lambda a, b: (a & ~b) | (a ^ b), lambda a, b: (a & ~b) | (a ^ b), flags, flags2),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_symbolic(case):
    check_case_symbolic(case)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_eager(case):
    check_case_eager(case)


def test_where_needs_both_branches():
    with pytest.raises(ValueError, match="both `x1` and `x2`"):
        ops.where(flags, ints)
