"""stateful=True RNN layers against Keras 3 (torch backend): several batches, reset_state, weights."""

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph import layers

keras = pytest.importorskip("keras")

X = np.random.default_rng(0).standard_normal((3, 2, 5, 3)).astype("float32")  # 3 batches of (2, 5, 3)


def _pair(kind, wrap):
    def make(lib):
        layer = getattr(lib.layers, kind)(4, stateful=True, return_sequences=True)
        return lib.layers.Bidirectional(layer) if wrap else layer

    ours, ref = make(og), make(keras)
    ref.build(X[0].shape)
    ours.build(X[0].shape)
    ours.set_weights([keras.ops.convert_to_numpy(w) for w in ref.get_weights()])
    return ours, ref


@pytest.mark.parametrize("wrap", [False, True])
@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM", "GRU"])
def test_stateful_calls_carry_states_like_keras_and_reset(kind, wrap):
    ours, ref = _pair(kind, wrap)
    assert len(ours.get_weights()) == len(ref.get_weights())  # states are not weights, as in Keras
    first = None
    for batch in X:
        got, want = np.asarray(ours(batch)), keras.ops.convert_to_numpy(ref(batch))
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
        first = got if first is None else first
    for mine, theirs in zip(ours.states, ref.forward_layer.states + ref.backward_layer.states if wrap else ref.states):
        np.testing.assert_allclose(mine.numpy(), keras.ops.convert_to_numpy(theirs), rtol=1e-4, atol=1e-5)
    assert not np.allclose(np.asarray(ours(X[0])), first)  # the carried state changes the answer
    ours.reset_state()
    assert all(not np.any(v.numpy()) for v in ours.states)
    np.testing.assert_allclose(np.asarray(ours(X[0])), first, rtol=1e-6, atol=1e-6)


def test_stateful_needs_a_fixed_batch_size():
    with pytest.raises(ValueError, match="fixed batch size"):
        layers.LSTM(2, stateful=True)(og.Input(shape=(5, 3)))


def test_model_run_and_fit_with_a_stateful_layer_raise_a_clear_error():
    inp = og.Input(batch_shape=(2, 5, 3))
    model = og.Model(inp, layers.Dense(1)(layers.GRU(4, stateful=True)(inp)))
    with pytest.raises(NotImplementedError, match="stateful RNN"):
        model.predict(X[0], verbose=0)
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(NotImplementedError, match="stateful RNN"):
        model.fit(X[0], np.zeros((2, 1), "float32"), batch_size=2, epochs=1, verbose=0)
