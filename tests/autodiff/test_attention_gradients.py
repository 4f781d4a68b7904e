"""MultiHeadAttention gradients through the layer against central differences, with masks."""

from __future__ import annotations

import numpy as np

import onnxgraph as og
from tests.autodiff.gradcheck import check_model


def _x(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_self_attention():
    x = og.Input(shape=(4, 6))
    check_model(og.Model(x, og.layers.MultiHeadAttention(num_heads=2, key_dim=3)(x, x)), [_x(2, 4, 6)])


def test_cross_attention_with_attention_mask():
    q, v = og.Input(shape=(3, 4)), og.Input(shape=(5, 4))
    mask = og.Input(shape=(3, 5), dtype="bool")
    out = og.layers.MultiHeadAttention(num_heads=2, key_dim=2, value_dim=3)(q, v, attention_mask=mask)
    m = np.random.default_rng(1).random((2, 3, 5)) > 0.4
    m[:, :, 0] = True
    check_model(og.Model([q, v, mask], out), [_x(2, 3, 4), _x(2, 5, 4, seed=1), m])


def test_causal_mask_key_and_scores():
    q, k, v = og.Input(shape=(4, 4)), og.Input(shape=(4, 4)), og.Input(shape=(4, 4))
    out, scores = og.layers.MultiHeadAttention(num_heads=1, key_dim=4)(q, v, key=k, use_causal_mask=True,
                                                                        return_attention_scores=True)
    check_model(og.Model([q, k, v], [out, scores]), [_x(2, 4, 4), _x(2, 4, 4, seed=1), _x(2, 4, 4, seed=2)])


def test_attention_over_embeddings():
    ids = og.Input(shape=(5,), dtype="int64")
    e = og.layers.Embedding(6, 4)(ids)
    y = og.layers.MultiHeadAttention(num_heads=2, key_dim=2)(e, e)
    check_model(og.Model(ids, og.layers.GlobalAveragePooling1D()(y)), [np.array([[1, 1, 2, 5, 1]], np.int64)])
