"""Reduction and CumSum rules against central differences (float64)."""

import numpy as np
import pytest

from onnxgraph.backend.emit import constant, emit
from tests.autodiff.gradcheck import check_fn

OPS = ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
       "ReduceSumSquare", "ReduceLogSumExp", "ReduceLogSum"]


def data(name, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.5, 1.5, (3, 4, 2)) if name in ("ReduceProd", "ReduceLogSum") else rng.standard_normal((3, 4, 2))
    if name == "ReduceL1":
        x = np.where(np.abs(x) < 0.1, 0.4, x)
    return x.astype(np.float32)


@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize("axes", [None, [1], [-1], [0, 2]], ids=str)
@pytest.mark.parametrize("keepdims", [0, 1])
def test_reduce(name, axes, keepdims):
    inputs = [] if axes is None else [constant(np.asarray(axes, np.int64))]
    check_fn(lambda x: emit(name, [x, *inputs], {"keepdims": keepdims}), [data(name)],
             symbolic_batch=axes is not None and 0 not in axes)


@pytest.mark.parametrize("name", ["ReduceSum", "ReduceMean", "ReduceMax"])
def test_noop_with_empty_axes(name):
    # An empty axes input (onnxruntime 1.19 rejects the omitted one with this flag).
    empty = constant(np.zeros(0, np.int64))
    check_fn(lambda x: emit(name, [x, empty], {"noop_with_empty_axes": 1}, shapes=[x.shape], dtypes_=[x.dtype]),
             [data(name)])


@pytest.mark.parametrize("name", ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceSumSquare"])
@pytest.mark.parametrize("keepdims", [0, 1])
def test_runtime_axes(name, keepdims):
    axes = np.asarray([1], np.int64)
    shape = (3, 1, 2) if keepdims else (3, 2)
    check_fn(lambda x, a: emit(name, [x, a], {"keepdims": keepdims}, shapes=[shape], dtypes_=["float32"]),
             [data(name), axes], symbolic_batch=False)


def test_reduce_max_ties_share_the_gradient():
    x = np.asarray([[1.0, 3.0, 3.0, 2.0]], np.float32)
    report = check_fn(lambda x: emit("ReduceMax", [x, constant(np.asarray([1], np.int64))], {"keepdims": 0}), [x],
                      tolerances={"atol": 1e9})
    analytic, _ = report["x0"]
    # The two tied entries get equal halves of the output's gradient, the others nothing.
    assert analytic[1] == analytic[2] != 0 and analytic[0] == 0 and analytic[3] == 0


@pytest.mark.parametrize("exclusive", [0, 1])
@pytest.mark.parametrize("reverse", [0, 1])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_cumsum(exclusive, reverse, axis):
    check_fn(lambda x: emit("CumSum", [x, constant(np.asarray(axis, np.int64))],
                            {"exclusive": exclusive, "reverse": reverse}), [data("ReduceSum")])
