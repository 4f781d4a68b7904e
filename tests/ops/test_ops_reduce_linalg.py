"""Reductions, sorting, products (matmul/dot/einsum/tensordot) and norms vs numpy."""

import numpy as np
import onnx
import pytest

import onnxgraph as og
from onnxgraph import ops
from tests.conftest import rand
from tests.ops._helpers import Case, assert_close, check_case_eager, check_case_symbolic, run_symbolic

x = rand(4, 3, 5, seed=1)
m = rand(4, 3, seed=2)
w = rand(3, 6, seed=3)
v = rand(4, 3, seed=4)
ints = np.array([[3, 1, 2], [0, 5, 5], [-1, 4, 4], [2, 2, 9]], dtype=np.int64)
flags = np.array([[True, False, True], [False, False, False], [True, True, True], [False, True, False]])
i32 = np.int32

REDUCE = [
    Case("sum_all", ops.sum, np.sum, x),
    Case("sum_axis", lambda a: ops.sum(a, axis=1), lambda a: a.sum(axis=1), x),
    Case("sum_tuple_keepdims", lambda a: ops.sum(a, axis=(1, -1), keepdims=True),
         lambda a: a.sum(axis=(1, 2), keepdims=True), x),
    Case("sum_ints", lambda a: ops.sum(a, axis=-1), lambda a: a.sum(axis=-1), ints),
    Case("mean", lambda a: ops.mean(a, axis=-1), lambda a: a.mean(axis=-1), x),
    Case("mean_ints_float32", lambda a: ops.mean(a, axis=0), lambda a: a.mean(axis=0).astype(np.float32), ints),
    Case("max", lambda a: ops.max(a, axis=2), lambda a: a.max(axis=2), x),
    Case("max_all_keepdims", lambda a: ops.max(a, keepdims=True), lambda a: a.max(keepdims=True), x),
    Case("min", lambda a: ops.min(a, axis=(0, 2)), lambda a: a.min(axis=(0, 2)), x),
    Case("prod", lambda a: ops.prod(a, axis=1), lambda a: a.prod(axis=1), x),
    Case("any", lambda a: ops.any(a, axis=1), lambda a: a.any(axis=1), flags),
    Case("all", lambda a: ops.all(a, axis=1), lambda a: a.all(axis=1), flags),
    Case("any_floats_keepdims", lambda a: ops.any(a, axis=0, keepdims=True),
         lambda a: np.any(a, axis=0, keepdims=True), np.round(m)),
    Case("all_everything", ops.all, np.all, flags | True),
    Case("argmax", lambda a: ops.argmax(a, axis=-1), lambda a: a.argmax(axis=-1).astype(i32), x),
    Case("argmax_flat", ops.argmax, lambda a: np.argmax(a).astype(i32), m, static=True),
    Case("argmax_keepdims", lambda a: ops.argmax(a, axis=1, keepdims=True),
         lambda a: a.argmax(axis=1, keepdims=True).astype(i32), x),
    Case("argmax_ties_first", lambda a: ops.argmax(a, axis=1), lambda a: a.argmax(axis=1).astype(i32), ints),
    Case("argmin", lambda a: ops.argmin(a, axis=0), lambda a: a.argmin(axis=0).astype(i32), x),
    Case("var", lambda a: ops.var(a, axis=1), lambda a: a.var(axis=1), x),
    Case("std_keepdims", lambda a: ops.std(a, axis=-1, keepdims=True), lambda a: a.std(axis=-1, keepdims=True), x),
    Case("logsumexp", lambda a: ops.logsumexp(a * 30, axis=-1),
         lambda a: np.log(np.exp(a * 30 - (a * 30).max(-1, keepdims=True)).sum(-1)) + (a * 30).max(-1), x,
         rtol=1e-4),
    Case("cumsum", lambda a: ops.cumsum(a, axis=1), lambda a: np.cumsum(a, axis=1), x),
    Case("cumsum_flat", ops.cumsum, np.cumsum, m, static=True),
    Case("sort", ops.sort, lambda a: np.sort(a, axis=-1), x),
    Case("sort_axis0_dynamic", lambda a: ops.sort(a, axis=0), lambda a: np.sort(a, axis=0), m),
    Case("argsort", lambda a: ops.argsort(a, axis=1), lambda a: np.argsort(a, axis=1).astype(i32), x),
    Case("top_k", lambda a: ops.top_k(a, 2), lambda a: (-np.sort(-a, -1)[..., :2],
                                                        np.argsort(-a, -1)[..., :2].astype(i32)), x),
]

PRODUCTS = [
    Case("matmul", lambda a: ops.matmul(a, w), lambda a: a @ w, m),
    Case("matmul_batched", lambda a: ops.matmul(a, rand(5, 2)), lambda a: a @ rand(5, 2), x),
    Case("matmul_vector", lambda a: ops.matmul(a, w[:, 0]), lambda a: a @ w[:, 0], m),
    Case("matmul_operator", lambda a: a @ w, lambda a: a @ w, m),
    Case("matmul_two_inputs", lambda a, b: ops.matmul(a, ops.transpose(b, (0, 2, 1))),
         lambda a, b: a @ b.transpose(0, 2, 1), x, x),
    Case("dot_2d", lambda a: ops.dot(a, w), lambda a: np.dot(a, w), m),
    Case("dot_nd", lambda a: ops.dot(a, rand(2, 5, 3)), lambda a: np.dot(a, rand(2, 5, 3)), x, static=True),
    Case("outer", lambda a: ops.outer(a, w[0]), lambda a: np.outer(a, w[0]), m, static=True),
    Case("tensordot", lambda a: ops.tensordot(a, rand(3, 5, 2), axes=2),
         lambda a: np.tensordot(a, rand(3, 5, 2), axes=2), x),
    Case("tensordot_pairs", lambda a: ops.tensordot(a, rand(5, 4), axes=([2], [0])),
         lambda a: np.tensordot(a, rand(5, 4), axes=([2], [0])), x),
    Case("norm_default", ops.norm, np.linalg.norm, x, static=True),
    Case("norm_axis", lambda a: ops.norm(a, axis=-1), lambda a: np.linalg.norm(a, axis=-1), x),
    Case("norm_l1_keepdims", lambda a: ops.norm(a, ord=1, axis=1, keepdims=True),
         lambda a: np.linalg.norm(a, ord=1, axis=1, keepdims=True), x),
    Case("norm_inf", lambda a: ops.norm(a, ord=np.inf, axis=-1), lambda a: np.linalg.norm(a, np.inf, -1), x),
    Case("norm_neg_inf", lambda a: ops.norm(a, ord=-np.inf, axis=-1), lambda a: np.linalg.norm(a, -np.inf, -1), x),
    Case("norm_l0", lambda a: ops.norm(a, ord=0, axis=-1), lambda a: np.linalg.norm(a, 0, -1),
         np.round(x).astype(np.float32)),
    Case("norm_p3", lambda a: ops.norm(a, ord=3, axis=1), lambda a: np.linalg.norm(a, 3, 1), x, rtol=1e-4),
    Case("norm_fro", lambda a: ops.norm(a, ord="fro", axis=(1, 2)), lambda a: np.linalg.norm(a, "fro", (1, 2)), x),
    Case("norm_matrix_1", lambda a: ops.norm(a, ord=1, axis=(1, 2)), lambda a: np.linalg.norm(a, 1, (1, 2)), x),
    Case("norm_matrix_inf", lambda a: ops.norm(a, ord=np.inf, axis=(1, 2)),
         lambda a: np.linalg.norm(a, np.inf, (1, 2)), x),
    Case("norm_matrix_neg1_keepdims", lambda a: ops.norm(a, ord=-1, axis=(2, 1), keepdims=True),
         lambda a: np.linalg.norm(a, -1, (2, 1), keepdims=True), x),
]

q = rand(2, 3, 4, 5, seed=5)
k = rand(2, 3, 6, 5, seed=6)
# (subscripts, operands, whether the decomposition avoids the Einsum op)
EINSUM = [
    ("ij,jk->ik", [m, w], True),
    ("ij,jk", [m, w], True),
    ("bij,jk->bik", [rand(4, 3, 3), w], True),
    ("bij,bjk->bik", [x, rand(4, 5, 2)], True),
    ("bi,bi->b", [m, v], True),
    ("bi,bj->bij", [m, v], True),
    ("ij->ji", [m], True),
    ("ijk->", [x], True),
    ("ijk->ki", [x], True),
    ("bhqd,bhkd->bhqk", [q, k], True),
    ("bqhd,bkhd->bhqk", [q.transpose(0, 2, 1, 3), k.transpose(0, 2, 1, 3)], True),
    ("...ij,...jk->...ik", [x, rand(4, 5, 2)], True),
    ("bij,jk->bk", [x[:, :, :3], w], True),
    ("abc,cd,de->abe", [x, rand(5, 2), rand(2, 7)], True),
    ("bij,ij->b", [x, rand(3, 5)], True),
    ("ii->i", [rand(4, 4)], False),
    ("bii->b", [rand(4, 3, 3)], False),
]


@pytest.mark.parametrize("case", REDUCE + PRODUCTS, ids=lambda c: c.id)
def test_symbolic(case):
    check_case_symbolic(case)


@pytest.mark.parametrize("case", [c for c in REDUCE + PRODUCTS if c.eager], ids=lambda c: c.id)
def test_eager(case):
    check_case_eager(case)


def _einsum_model(subscripts, operands):
    # The batch-like first operand is the model input; the others are constants.
    inputs = og.Input(batch_shape=operands[0].shape)
    return og.Model(inputs, ops.einsum(subscripts, inputs, *operands[1:]))


@pytest.mark.parametrize("subscripts,operands,decomposed", EINSUM, ids=[e[0] for e in EINSUM])
def test_einsum_matches_numpy(subscripts, operands, decomposed):
    want = np.einsum(subscripts, *operands)
    assert_close(ops.einsum(subscripts, *operands), want, rtol=1e-4)
    model = _einsum_model(subscripts, operands)
    assert_close(model.predict(operands[0], verbose=0), want, rtol=1e-4)
    op_types = {n.op_type for n in model.to_onnx().graph.node}
    # onnxruntime-training cannot differentiate Einsum: the usual contractions avoid it.
    assert ("Einsum" not in op_types) == decomposed, op_types


def test_einsum_dynamic_batch_uses_matmul():
    a, b = og.Input(shape=(3, 4)), og.Input(shape=(4, 5))
    model = og.Model([a, b], ops.einsum("bij,bjk->bik", a, b))
    nodes = [n.op_type for n in model.to_onnx().graph.node]
    assert "MatMul" in nodes and "Einsum" not in nodes
    xa, xb = rand(7, 3, 4), rand(7, 4, 5)
    assert_close(model.predict([xa, xb], verbose=0), np.einsum("bij,bjk->bik", xa, xb), rtol=1e-4)


def test_einsum_merging_two_unknown_dims_falls_back():
    a = og.Input(batch_shape=(None, None, 4))
    model = og.Model(a, ops.einsum("abk,kc->abc", a, rand(4, 2)))
    xa = rand(2, 3, 4)
    assert_close(model.predict(xa, verbose=0), np.einsum("abk,kc->abc", xa, rand(4, 2)), rtol=1e-4)


def test_errors_name_the_problem():
    a = og.Input(shape=(3,))
    with pytest.raises(ValueError, match="inner dimensions differ"):
        ops.matmul(a, rand(4, 2))
    with pytest.raises(ValueError, match="names 2 operands"):
        ops.einsum("ij,jk->ik", a)
    with pytest.raises(ValueError, match="needs singular values"):
        ops.norm(og.Input(shape=(3, 3)), ord=2, axis=(1, 2))
    with pytest.raises(ValueError, match="larger than the last dimension"):
        ops.top_k(a, 5)


def test_reduction_node_is_one_onnx_op():
    a = og.Input(shape=(3, 5))
    proto = og.Model(a, ops.sum(a, axis=(1, 2))).to_onnx()
    assert [n.op_type for n in proto.graph.node] == ["ReduceSum"]
    onnx.checker.check_model(proto, full_check=True)
    assert run_symbolic(lambda t: ops.mean(t, axis=-1), [x]).shape == (4, 3)
