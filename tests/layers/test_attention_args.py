"""MultiHeadAttention constructor checks and Keras's flash-attention contract; sliding window vs Keras."""

import os

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph.layers import MultiHeadAttention


@pytest.mark.parametrize("bad", [8.0, "8", True])
def test_output_shape_must_be_int_or_tuple(bad):
    with pytest.raises(ValueError, match="Invalid `output_shape`"):
        MultiHeadAttention(num_heads=2, key_dim=4, output_shape=bad)


@pytest.mark.parametrize("bad", [0, -3, 2.0, True])
def test_sliding_window_must_be_positive_int(bad):
    with pytest.raises(ValueError, match="sliding_window"):
        MultiHeadAttention(num_heads=2, key_dim=4, sliding_window=bad)


def test_sliding_window_round_trips():
    layer = MultiHeadAttention(num_heads=2, key_dim=4, sliding_window=5)
    assert MultiHeadAttention.from_config(layer.get_config()).sliding_window == 5


def test_flash_attention_contract():
    with pytest.raises(ValueError, match="Dropout is not supported when flash attention"):
        MultiHeadAttention(num_heads=2, key_dim=2, flash_attention=True, dropout=0.1)
    layer = MultiHeadAttention(num_heads=2, key_dim=2, flash_attention=True)
    x = np.random.rand(2, 4, 8).astype("float32")
    with pytest.raises(ValueError, match="Returning attention scores is not supported"):
        layer(x, x, return_attention_scores=True)
    assert layer(x, x).shape == (2, 4, 8)


def test_causal_sliding_window_matches_keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    x = np.random.rand(2, 6, 8).astype("float32")
    k = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4, sliding_window=2)
    expected = keras.ops.convert_to_numpy(k(x, x, use_causal_mask=True))
    ours = MultiHeadAttention(num_heads=2, key_dim=4, sliding_window=2)
    inp = og.Input((6, 8))
    model = og.Model(inp, ours(inp, inp, use_causal_mask=True))
    ours.set_weights([keras.ops.convert_to_numpy(w) for w in k.weights])
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-4, atol=1e-5)
