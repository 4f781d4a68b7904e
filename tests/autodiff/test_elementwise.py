"""Elementwise math rules against central differences (float64), symbolic batch, broadcasting."""

import numpy as np
import pytest

from onnxgraph.backend.emit import emit
from tests.autodiff.gradcheck import check_fn


def rnd(*shape, seed=0, low=None, high=None):
    rng = np.random.default_rng(seed)
    if low is not None:
        return rng.uniform(low, high, shape).astype(np.float32)
    return rng.standard_normal(shape).astype(np.float32)


def op(name, *inputs, outputs=1, **attrs):
    return emit(name, list(inputs), attrs, outputs=outputs)


UNARY = [
    ("Neg", None), ("Abs", None), ("Exp", None), ("Log", (0.5, 2.0)), ("Sqrt", (0.5, 2.0)),
    ("Reciprocal", (0.5, 2.0)), ("Sin", None), ("Cos", None), ("Tan", (-1.0, 1.0)), ("Tanh", None),
    ("Sigmoid", None), ("Erf", None), ("Identity", None),
]


@pytest.mark.parametrize("name,domain", UNARY, ids=[u[0] for u in UNARY])
def test_unary(name, domain):
    x = rnd(3, 4) if domain is None else rnd(3, 4, low=domain[0], high=domain[1])
    if name == "Abs":
        x = np.where(np.abs(x) < 0.1, 0.5, x).astype(np.float32)
    check_fn(lambda x: op(name, x), [x])


BINARY_SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((2, 3, 4), (3, 1)), ((3, 4), ())]


@pytest.mark.parametrize("name", ["Add", "Sub", "Mul", "Div", "Pow"])
@pytest.mark.parametrize("shapes", BINARY_SHAPES, ids=str)
def test_binary_broadcast(name, shapes):
    a, b = rnd(*shapes[0], seed=1), rnd(*shapes[1], seed=2)
    if name in ("Div", "Pow"):
        a = rnd(*shapes[0], seed=1, low=0.5, high=2.0)
        b = rnd(*shapes[1], seed=2, low=0.5, high=2.0)
    # weight operand (a Variable) and input operand both checked
    check_fn(lambda x, w: op(name, x, w), [a], [b])
    check_fn(lambda w, x: op(name, w, x), [b], [a], symbolic_batch=False)


def test_binary_both_symbolic_batch():
    a, b = rnd(5, 3), rnd(5, 3, seed=3)
    check_fn(lambda x, y: op("Mul", x, y), [a, b])


def test_binary_with_unknown_dim_that_broadcasts():
    # x: (None, 4) fed with batch 1, against (3, 4): the unbroadcast must sum at runtime.
    a, b = rnd(1, 4), rnd(3, 4, seed=5)
    check_fn(lambda x, w: op("Add", x, w), [a], [b])


@pytest.mark.parametrize("exponent", [2.0, 3.0, 0.5, 1.0])
def test_pow_constant_exponent(exponent):
    x = rnd(3, 4, low=0.5, high=2.0)
    check_fn(lambda x: op("Pow", x, np.asarray(exponent, np.float32)), [x])


def test_pow_integer_exponent_has_no_gradient():
    x = rnd(3, 4, low=0.5, high=2.0)
    e = np.asarray([2, 3, 1, 2], np.int64)
    check_fn(lambda x, e: op("Pow", x, e), [x, e], symbolic_batch=False)


@pytest.mark.parametrize("name", ["Max", "Min"])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_extremum_variadic(name, n):
    arrays = [rnd(3, 4, seed=10 + i) for i in range(n)]
    weights = [rnd(4, seed=20)]
    check_fn(lambda *xs: op(name, *xs), arrays, weights)


@pytest.mark.parametrize("name", ["Max", "Min"])
def test_extremum_ties_counted_once(name):
    x = np.asarray([[1.0, 2.0, 3.0]], np.float32)
    # Central differences split a tie half and half; the rule gives it to the first input: only
    # the sum over the tied inputs is comparable, the tolerance is opened and the sums compared.
    report = check_fn(lambda x, w: op(name, x, w), [x], [np.asarray([1.0, 0.0, 5.0], np.float32)],
                      tolerances={"atol": 1e9})
    (ax, nx), (aw, nw) = report["x0"], report["op/w0"]
    assert aw[0] == 0.0 and ax[0] != 0.0
    assert np.allclose(ax + aw, nx + nw, atol=1e-6)


@pytest.mark.parametrize("name", ["Sum", "Mean"])
def test_sum_mean_variadic(name):
    check_fn(lambda x, y, w: op(name, x, y, w), [rnd(3, 4), rnd(3, 1, seed=1)], [rnd(4, seed=2)])


@pytest.mark.parametrize("cond_shape,a_shape,b_shape", [
    ((3, 4), (3, 4), (3, 4)), ((4,), (3, 4), (3, 4)), ((3, 4), (4,), ()), ((3, 1), (1, 4), (3, 4))], ids=str)
def test_where_broadcast(cond_shape, a_shape, b_shape):
    c = np.random.default_rng(0).random(cond_shape) > 0.5
    check_fn(lambda a, c, b: op("Where", c, a, b), [rnd(*a_shape), c], [rnd(*b_shape, seed=1)],
             symbolic_batch=False)
    if len(a_shape) == 2 and len(cond_shape) == 2 and cond_shape[0] == a_shape[0]:
        check_fn(lambda a, c, b: op("Where", c, a, b), [rnd(*a_shape), c], [rnd(*b_shape, seed=1)])


def test_clip_with_bound_inputs():
    x = np.asarray([[-2.0, -0.3, 0.2, 0.9, 2.5]], np.float32).repeat(2, 0)
    lo, hi = np.asarray(-0.5, np.float32), np.asarray(0.7, np.float32)
    check_fn(lambda x, lo, hi: op("Clip", x, lo, hi), [x], [lo, hi])
    check_fn(lambda x, hi: op("Clip", x, None, hi), [x], [hi])
    check_fn(lambda x: op("Clip", x), [x])


@pytest.mark.parametrize("target", ["float64", "float16", "int32"])
def test_cast(target):
    from onnxgraph.backend import dtypes

    x = rnd(3, 4) * 3
    fn = lambda x: op("Mul", op("Cast", op("Cast", x, to=dtypes.to_onnx(target)), to=1), x)  # noqa: E731
    check_fn(fn, [x], tolerances={"rtol": 2e-2, "atol": 2e-2} if target == "float16" else None,
             precision="float32" if target == "float16" else "auto")


@pytest.mark.parametrize("name", ["Sign", "Floor", "Ceil", "Round"])
def test_piecewise_constant_ops_have_zero_gradient(name):
    x = rnd(3, 4) * 3 + 0.25  # away from the jumps
    check_fn(lambda x: op("Add", op(name, x), op("Mul", x, x)), [x])


def test_comparisons_carry_no_gradient():
    x = rnd(3, 4)
    report = check_fn(lambda x, w: op("Mul", op("Cast", op("Greater", x, w), to=1), w), [x], [rnd(4, seed=1)])
    assert np.allclose(report["x0"][1], 0.0)


def test_float_mod():
    a, b = rnd(3, 4, low=1.0, high=5.0), rnd(4, low=0.7, high=1.3, seed=1)
    check_fn(lambda x, w: op("Mod", x, w, fmod=1), [a], [b])
