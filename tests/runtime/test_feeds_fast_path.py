"""normalize_feeds' one-input fast path: same conversions and errors as the general path, no copies."""

import numpy as np
import pytest

import onnxgraph as keras
from onnxgraph import layers
from onnxgraph.runtime import normalize_feeds
from onnxgraph.runtime._feeds import InputSignature

SIG = [InputSignature("x", (None, 3), "float32")]


def test_matching_array_is_fed_without_a_copy():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert normalize_feeds(x, SIG)["x"] is x


@pytest.mark.parametrize("make", [
    lambda a: a.astype(np.float64),             # converted to float32
    lambda a: np.asfortranarray(a),             # made C-contiguous
    lambda a: np.repeat(a, 2, axis=1)[:, ::2],  # a strided view
    lambda a: a.astype(np.int32),               # integers into a float input
], ids=["float64", "fortran", "strided", "int32"])
def test_single_arrays_convert_like_lists(make):
    base = np.arange(6, dtype=np.float32).reshape(2, 3)
    fast = normalize_feeds(make(base), SIG)["x"]
    general = normalize_feeds([make(base)], SIG)["x"]  # a one-element list takes the general path
    assert fast.dtype == np.float32 and fast.flags.c_contiguous
    np.testing.assert_array_equal(fast, general)
    np.testing.assert_array_equal(fast, base)


def test_wrong_shape_and_dtype_still_name_the_input():
    with pytest.raises(ValueError, match=r"Input 'x' expects shape \(None, 3\), received an array of shape \(2, 4\)"):
        normalize_feeds(np.zeros((2, 4), np.float32), SIG)
    with pytest.raises(ValueError, match="Input 'x' expects dtype float32, received dtype <U1"):
        normalize_feeds(np.array([["a", "b", "c"]]), SIG)


def test_predict_and_call_agree_on_converted_single_arrays():
    inputs = keras.Input(shape=(3,), name="x")
    layer = layers.Dense(2)
    model = keras.Model(inputs, layer(inputs))
    x = np.asfortranarray(np.random.default_rng(0).standard_normal((5, 3)))  # float64, Fortran order
    w, b = layer.get_weights()
    want = x.astype(np.float32) @ w + b
    np.testing.assert_allclose(model.predict(x, verbose=0), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model(x), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict(x, batch_size=2, verbose=0), want, rtol=1e-5, atol=1e-6)


def test_runner_fetches_every_output_in_graph_order_across_rebuilds():
    inputs = keras.Input(shape=(3,), name="x")
    first, second = layers.Dense(2, name="first"), layers.Dense(4, name="second")
    model = keras.Model(inputs, [first(inputs), second(inputs)])
    x = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)
    runner = model._runner("cpu")
    got = runner.run_feeds({"x": x})
    assert [a.shape for a in got] == [(4, 2), (4, 4)]
    for out, want in zip(got, runner.session.run(None, {"x": x})):
        np.testing.assert_array_equal(out, want)
    first.set_weights([np.ones((3, 2), np.float32), np.zeros(2, np.float32)])  # new session, same fetches
    np.testing.assert_allclose(model.predict(x, verbose=0)[0], x.sum(axis=1, keepdims=True).repeat(2, 1),
                               rtol=1e-6)
    runner.set_providers(["CPUExecutionProvider"])
    assert [a.shape for a in runner.run_feeds({"x": x})] == [(4, 2), (4, 4)]
