"""Einsum gradients (the contractions ops.einsum leaves as one ONNX Einsum) vs central differences."""

from __future__ import annotations

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph.backend.emit import emit

from tests.autodiff.gradcheck import check_fn, check_model

CASES = [
    ("ii->", [(3, 3)]),
    ("ii->i", [(3, 3)]),
    ("bii->bi", [(2, 3, 3)]),
    ("iij->j", [(2, 2, 3)]),
    ("ij->", [(2, 3)]),
    ("ijk->ik", [(2, 3, 4)]),
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),
    ("i,i->", [(3,), (3,)]),
    ("ij,ij->i", [(2, 3), (2, 3)]),
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]),
    ("...ij,...jk->...ik", [(1, 2, 3), (4, 3, 2)]),
    ("ii,ij->j", [(3, 3), (3, 2)]),
    ("ab,cd->abcd", [(2, 2), (3, 1)]),
]


@pytest.mark.parametrize("equation,shapes", CASES, ids=[c[0] for c in CASES])
def test_einsum_node(equation, shapes):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]

    def fn(*xs):
        return emit("Einsum", list(xs), {"equation": equation}, dtypes_=["float32"])

    check_fn(fn, arrays, symbolic_batch=False)


def test_einsum_with_symbolic_batch_and_weight():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 3)).astype(np.float32)
    w = rng.standard_normal((3,)).astype(np.float32)

    def fn(x, w):
        return emit("Einsum", [x, w], {"equation": "bii,i->b"}, dtypes_=["float32"])

    check_fn(fn, [x], [w])


def test_ops_einsum_trace_in_a_model():
    x = og.Input(shape=(3, 3))
    y = og.ops.einsum("bii->b", x)
    assert y.producer.op_type == "Einsum"  # a trace is not decomposed
    model = og.Model(x, y)
    check_model(model, [np.random.default_rng(2).standard_normal((2, 3, 3)).astype(np.float32)])
