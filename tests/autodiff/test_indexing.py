"""Indexing rules (Gather incl. Embedding with repeated ids, GatherElements/ND, Scatter*, TopK)."""

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph.backend.emit import constant, emit
from tests.autodiff.gradcheck import check_fn, check_model


def rnd(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def i64(value):
    return constant(np.asarray(value, np.int64))


def test_embedding_lookup_accumulates_repeated_ids():
    ids = np.asarray([[1, 3, 1], [0, 1, 3]], np.int64)  # id 1 three times, id 2 never
    check_fn(lambda ids, table: emit("Gather", [table, ids], {"axis": 0}), [ids], [rnd(5, 4)])


def test_embedding_layer_model():
    x = og.Input((3,), dtype="int64", name="ids")
    y = og.layers.Dense(2, name="head")(og.layers.Embedding(6, 4, name="emb")(x))
    model = og.Model(x, y)
    report = check_model(model, [np.asarray([[1, 2, 1], [5, 1, 0]], np.int64)])
    assert "emb/embeddings" in report


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
@pytest.mark.parametrize("index", [[2, 0, 2], [[1, 0], [2, 2]], 1, -1, [1, 2], [-1, 0]], ids=str)
def test_gather_any_axis(axis, index):
    x = rnd(3, 4, 3)
    check_fn(lambda x: emit("Gather", [x, i64(index)], {"axis": axis}), [x], symbolic_batch=False)
    if axis != 0:
        check_fn(lambda x: emit("Gather", [x, i64(index)], {"axis": axis}), [x])


def test_gather_runtime_negative_indices():
    ids = np.asarray([[-1, 0], [2, -3]], np.int64)
    check_fn(lambda ids, table: emit("Gather", [table, ids], {"axis": 0}), [ids], [rnd(4, 3)])
    check_fn(lambda ids, table: emit("Gather", [table, ids], {"axis": 1}), [ids], [rnd(3, 4)])


@pytest.mark.parametrize("axis", [0, 1])
def test_gather_elements_repeated(axis):
    idx = np.asarray([[0, 1, 1], [2, 0, 0]], np.int64)
    check_fn(lambda x: emit("GatherElements", [x, i64(idx)], {"axis": axis}), [rnd(3, 3)], symbolic_batch=False)


def test_gather_elements_runtime_negative_indices():
    idx = np.asarray([[-1, 0, -3], [2, -2, 0]], np.int64)
    check_fn(lambda i, x: emit("GatherElements", [x, i], {"axis": 1}), [idx], [rnd(2, 3)])


def test_gather_nd():
    idx = np.asarray([[0, 1], [2, 2], [0, 1]], np.int64)
    check_fn(lambda x: emit("GatherND", [x, i64(idx)]), [rnd(3, 3, 2)], symbolic_batch=False)


@pytest.mark.parametrize("reduction", ["none", "add"])
def test_scatter_elements_data_and_updates(reduction):
    idx = np.asarray([[1, 0], [2, 1]], np.int64)
    check_fn(lambda d, u: emit("ScatterElements", [d, i64(idx), u], {"axis": 1, "reduction": reduction}),
             [rnd(2, 3)], [rnd(2, 2, seed=1)], symbolic_batch=False)


@pytest.mark.parametrize("reduction", ["none", "add"])
def test_scatter_nd_data_and_updates(reduction):
    idx = np.asarray([[0], [2]], np.int64)
    check_fn(lambda d, u: emit("ScatterND", [d, i64(idx), u], {"reduction": reduction}), [rnd(3, 4)],
             [rnd(2, 4, seed=1)], symbolic_batch=False)


@pytest.mark.parametrize("axis,largest", [(-1, 1), (0, 0), (1, 1)])
def test_top_k_values(axis, largest):
    x = rnd(4, 5)
    check_fn(lambda x: emit("TopK", [x, i64([2])], {"axis": axis, "largest": largest}, outputs=2)[0], [x],
             symbolic_batch=axis != 0)


def test_argmax_fed_gather_has_input_gradient_through_values_only():
    x = rnd(3, 4)
    fn = lambda x: emit("GatherElements", [x, emit("ArgMax", [x], {"axis": 1, "keepdims": 1})],  # noqa: E731
                        {"axis": 1})
    check_fn(fn, [x])


def test_gather_runtime_scalar_index():
    # A 0-d runtime index (x[:, i] with a tensor i): the normalized index stays 0-d.
    i = np.asarray(-1, np.int64)
    check_fn(lambda i, x: emit("Gather", [x, i], {"axis": 1}), [i], [rnd(3, 4)], symbolic_batch=False)
    check_fn(lambda i, x: emit("Gather", [x, i], {"axis": 0}), [i], [rnd(3, 4)], symbolic_batch=False)
