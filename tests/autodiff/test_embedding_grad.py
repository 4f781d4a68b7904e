"""Embedding gradients (Gather of a table) against central differences, repeated ids included."""

from __future__ import annotations

import numpy as np
import pytest

import onnxgraph as og
from tests.autodiff.gradcheck import check_model


@pytest.mark.parametrize("ids", [[[1, 1, 1, 4]], [[0, 3, 3, 0], [3, 3, 3, 3]]])
def test_embedding_repeated_ids(ids):
    x = og.Input(shape=(4,), dtype="int64")
    model = og.Model(x, og.layers.Embedding(5, 3)(x))
    check_model(model, [np.asarray(ids, np.int64)])


def test_embedding_float_ids_and_shared_table():
    """Float ids (the guide's Input default) are cast; one table read twice sums both uses."""
    a, b = og.Input(shape=(3,)), og.Input(shape=(2,))
    table = og.layers.Embedding(6, 2)
    out = og.layers.concatenate([table(a), table(b)], axis=1)
    model = og.Model([a, b], out)
    # Ids are indices, not values: no gradient flows to them (the harness asserts None).
    check_model(model, [np.array([[1, 1, 2]], np.float32), np.array([[2, 1]], np.float32)],
                expect_none=tuple(model.input_names))


def test_embedding_then_dense_with_symbolic_length():
    x = og.Input(shape=(None,), dtype="int64")
    y = og.layers.Dense(2)(og.layers.Embedding(4, 3)(x))
    check_model(og.Model(x, y), [np.array([[3, 3, 0], [1, 3, 3]], np.int64)])
