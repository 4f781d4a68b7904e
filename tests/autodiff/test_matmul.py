"""MatMul (batched, broadcast, 1-D) and Gemm rules against central differences (float64)."""

import numpy as np
import pytest

from onnxgraph.backend.emit import emit
from tests.autodiff.gradcheck import check_fn


def rnd(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


MATMUL = [
    ((3, 4), (4, 5)), ((2, 3, 4), (4, 5)), ((2, 3, 4), (2, 4, 5)), ((2, 1, 3, 4), (3, 4, 2)),
    ((3, 4), (2, 4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)), ((2, 3, 4), (4,)), ((4,), (2, 4, 5)),
]


@pytest.mark.parametrize("sa,sb", MATMUL, ids=str)
def test_matmul_static(sa, sb):
    check_fn(lambda a, b: emit("MatMul", [a, b]), [rnd(*sa)], [rnd(*sb, seed=1)], symbolic_batch=False)


@pytest.mark.parametrize("sa,sb", [((3, 4), (4, 5)), ((2, 3, 4), (4, 5)), ((2, 3, 4), (2, 4, 5)),
                                   ((2, 3, 4), (4,)), ((5, 2, 3, 4), (2, 4, 3))], ids=str)
def test_matmul_symbolic_batch(sa, sb):
    check_fn(lambda a, b: emit("MatMul", [a, b]), [rnd(*sa)], [rnd(*sb, seed=1)])


def test_matmul_both_inputs_symbolic():
    check_fn(lambda a, b: emit("MatMul", [a, b]), [rnd(2, 3, 4), rnd(2, 4, 5, seed=1)])


def test_dense_on_3d_input_uses_one_weight_product():
    from onnxgraph.autodiff import gradients
    from onnxgraph.backend.graph import collect
    from onnxgraph.backend.ir import SymbolicTensor
    from onnxgraph.backend.variable import Variable

    x = SymbolicTensor((None, 7, 4), "float32", kind="input", name="x")
    w = Variable(rnd(4, 5), name="w", path="d/w").graph_value()
    loss = emit("ReduceSum", [emit("MatMul", [x, w])], {"keepdims": 0})
    graph = collect([x], [loss], ["x"], ["loss"])
    (gw,) = gradients(graph, loss, [w])
    assert gw.producer.op_type == "MatMul" and gw.producer.inputs[0].shape == (4, None)


@pytest.mark.parametrize("ta,tb", [(0, 0), (1, 0), (0, 1), (1, 1)])
@pytest.mark.parametrize("alpha,beta", [(1.0, 1.0), (0.5, 2.0)])
@pytest.mark.parametrize("c_shape", [None, (5,), (3, 5), (1, 5), ()], ids=str)
def test_gemm(ta, tb, alpha, beta, c_shape):
    a = rnd(4, 3) if ta else rnd(3, 4)
    b = rnd(5, 4, seed=1) if tb else rnd(4, 5, seed=1)
    weights = [b] + ([] if c_shape is None else [rnd(*c_shape, seed=2)])
    attrs = {"transA": ta, "transB": tb, "alpha": alpha, "beta": beta}
    check_fn(lambda a, b, *c: emit("Gemm", [a, b, *c], attrs), [a], weights, symbolic_batch=not ta and c_shape != (3, 5))


class _LinalgOps(__import__("onnxgraph").layers.Layer):
    """ops.matmul / dot / outer / tensordot inside a layer, on its input and weights."""

    def build(self, input_shape):
        self.w = self.add_weight((4, 3), name="w")
        self.v = self.add_weight((4,), name="v")
        self.t = self.add_weight((3, 4, 2), name="t")

    def call(self, x):
        from onnxgraph import ops

        a = ops.matmul(x, self.w)                                   # (b, 3)
        b = ops.dot(x, self.v)                                      # (b,)
        c = ops.outer(self.v, ops.sum(x, axis=0))                   # (4, 4)
        d = ops.tensordot(ops.reshape(x, (-1, 4)), self.t, axes=[[1], [1]])  # (b, 3, 2)
        return ops.sum(a, axis=1) + b * ops.sum(c) + ops.sum(d, axis=(1, 2))


def test_linalg_ops_inside_a_layer():
    import onnxgraph as og
    from tests.autodiff.gradcheck import check_model

    x = og.Input((4,), name="x")
    model = og.Model(x, _LinalgOps(name="linalg")(x))
    report = check_model(model, [rnd(3, 4)])
    assert {"linalg/w", "linalg/v", "linalg/t", "x"} <= set(report)


def test_dense_weight_gradient_with_unknown_inner_dims():
    # a: (None, None, None) at graph time; b a (4, 5) weight.
    fn = lambda x, w: emit("MatMul", [emit("Reshape", [x, emit("Shape", [x])]), w])  # noqa: E731
    check_fn(fn, [rnd(2, 3, 4)], [rnd(4, 5, seed=1)])
