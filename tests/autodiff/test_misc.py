"""Ops that carry no gradient (Shape, Size, Range, ConstantOfShape, comparisons) inside differentiated graphs."""

import numpy as np

from onnxgraph.backend.emit import constant, emit
from tests.autodiff.gradcheck import check_fn


def rnd(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_shape_size_and_constant_of_shape_paths_are_skipped():
    def fn(x):
        n = emit("Cast", [emit("Size", [x])], {"to": 1})
        ones = emit("ConstantOfShape", [emit("Shape", [x])], {"value": __import__("onnx").numpy_helper.from_array(
            np.ones(1, np.float32))})
        return emit("Div", [emit("Mul", [x, emit("Add", [x, ones])]), n])

    check_fn(fn, [rnd(3, 4)])


def test_range_from_a_float_weight_has_no_gradient():
    # Range's start is a float weight: Range carries no gradient, the other use of the weight does.
    def fn(x, start):
        steps = emit("Range", [start, constant(np.asarray(4.0, np.float32)), constant(np.asarray(1.0, np.float32))],
                     shapes=[(None,)], dtypes_=["float32"])
        return emit("Add", [emit("Mul", [x, start]), emit("ReduceSum", [steps], {"keepdims": 0})])

    report = check_fn(fn, [rnd(3, 1)], [np.asarray(0.5, np.float32)], tolerances={"atol": 1e9})
    analytic, _ = report["op/w0"]
    # The analytic d/dstart is that of x * start alone (the same R: same seed and output shape).
    other = check_fn(lambda x, s: emit("Mul", [x, s]), [rnd(3, 1)], [np.asarray(0.5, np.float32)])
    np.testing.assert_allclose(analytic, other["op/w0"][0], rtol=1e-6)
