"""Eager calls on arrays: layers, models and ops return arrays; compiled graphs are cached."""

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph import layers, ops
from onnxgraph.layers import _eager
from onnxgraph.runtime import _runner
from tests.conftest import rand


@pytest.fixture
def counters(monkeypatch):
    """Count graph compilations (emit + export) and onnxruntime session builds."""
    counts = {"compile": 0, "session": 0}
    compile_, make_session = _eager._compile, _runner.make_session

    def counting_compile(*args):
        counts["compile"] += 1
        return compile_(*args)

    def counting_session(*args, **kwargs):
        counts["session"] += 1
        return make_session(*args, **kwargs)

    monkeypatch.setattr(_eager, "_compile", counting_compile)
    monkeypatch.setattr(_runner, "make_session", counting_session)
    return counts


def test_layer_called_on_arrays_returns_arrays():
    dense = layers.Dense(3, activation="relu")
    x = rand(4, 5)
    y = dense(x)
    kernel, bias = dense.get_weights()
    assert isinstance(y, np.ndarray) and y.dtype == np.float32
    np.testing.assert_allclose(y, np.maximum(x @ kernel + bias, 0), rtol=1e-5, atol=1e-6)
    assert isinstance(dense(x.astype(np.float64)), np.ndarray)  # float64 input runs as float32
    assert dense([[1.0, 2.0, 3.0, 4.0, 5.0]]).shape == (1, 3)  # nested lists too


def test_a_loop_of_eager_calls_builds_one_graph(counters):
    dense = layers.Dense(8)
    for i in range(50):
        dense(rand(2, 4, seed=i))
    assert counters == {"compile": 1, "session": 1}


def test_alternating_shapes_reuse_their_graphs(counters):
    dense = layers.Dense(8)
    for i in range(20):
        dense(rand(2 + i % 2, 4, seed=i))
    assert counters == {"compile": 2, "session": 2}


def test_cache_keeps_the_most_recent_signatures(counters):
    dense = layers.Dense(2)
    for n in range(1, _eager.EAGER_CACHE_SIZE + 2):
        dense(rand(n, 3))
    assert counters["compile"] == _eager.EAGER_CACHE_SIZE + 1
    dense(rand(_eager.EAGER_CACHE_SIZE + 1, 3))  # still cached
    assert counters["compile"] == _eager.EAGER_CACHE_SIZE + 1
    dense(rand(1, 3))  # evicted first
    assert counters["compile"] == _eager.EAGER_CACHE_SIZE + 2


def test_weight_change_reexports_without_recompiling(counters):
    dense = layers.Dense(2, use_bias=False)
    x = rand(3, 4)
    dense(x)
    dense.set_weights([np.ones((4, 2), "float32")])
    np.testing.assert_allclose(dense(x), x @ np.ones((4, 2)), rtol=1e-5)
    dense(x)
    assert counters == {"compile": 1, "session": 2}


def test_non_array_arguments_are_part_of_the_signature(counters):
    drop = layers.Dropout(0.5, seed=1)
    x = np.ones((4, 100), "float32")
    np.testing.assert_array_equal(drop(x), x)
    trained = drop(x, training=True)
    assert set(np.unique(trained)) <= {0.0, 2.0} and (trained == 0).any()
    drop(x)
    assert counters["compile"] == 2


def test_functional_model_eager_loop_uses_one_session(counters):
    inputs = og.Input((4,))
    model = og.Model(inputs, layers.Dense(3)(inputs) * 2)
    for i in range(30):
        out = model(rand(1 + i % 3, 4, seed=i))
    assert out.shape == (3, 3) and counters["session"] == 1


def test_ops_on_arrays_compute_without_a_runtime(counters):
    x = rand(3, 4)
    y = ops.softmax(ops.matmul(x, x.T) + 1.0)
    assert isinstance(y, np.ndarray)
    np.testing.assert_allclose(y.sum(-1), np.ones(3), rtol=1e-6)
    assert counters == {"compile": 0, "session": 0}


def test_arrays_inside_a_layer_call_become_constants(counters):
    class UsesState(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.proj = layers.Dense(3)

        def call(self, inputs):
            state = ops.ones((2, 3))  # an array: the sublayer is emitted on it, not run eagerly
            return inputs + self.proj(state)

    layer = UsesState()
    x = rand(2, 3)
    y = layer(x)
    kernel, bias = layer.proj.get_weights()
    np.testing.assert_allclose(y, x + np.ones((2, 3)) @ kernel + bias, rtol=1e-5, atol=1e-6)
    assert counters == {"compile": 1, "session": 1}
    layer.proj.set_weights([kernel * 0, bias])  # the weight is live in the graph, not folded
    np.testing.assert_allclose(layer(x), x + bias, rtol=1e-5, atol=1e-6)
