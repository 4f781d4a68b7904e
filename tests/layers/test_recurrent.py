"""SimpleRNN, LSTM, GRU, Bidirectional, TimeDistributed: numpy loops, Keras 3, ONNX form, training."""

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph import layers
from onnxgraph.backend.scope import emit_options
from onnxgraph.layers._node import recording
from tests.conftest import check_onnx, rand

# ---------------------------------------------------------------- independent numpy references


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


ACTS = {"tanh": np.tanh, "sigmoid": _sigmoid, "relu": lambda v: np.maximum(v, 0), "linear": lambda v: v,
        "hard_sigmoid": lambda v: np.clip(v / 6 + 0.5, 0, 1), "softsign": lambda v: v / (1 + np.abs(v))}


def _steps(length, backwards):
    return range(length - 1, -1, -1) if backwards else range(length)


def np_simple_rnn(x, weights, states=None, activation="tanh", go_backwards=False):
    kernel, rec = weights[0], weights[1]
    bias = weights[2] if len(weights) > 2 else 0
    h = states[0] if states else np.zeros((x.shape[0], kernel.shape[1]))
    outputs = []
    for t in _steps(x.shape[1], go_backwards):
        h = ACTS[activation](x[:, t] @ kernel + h @ rec + bias)
        outputs.append(h)
    return np.stack(outputs, 1), [h]


def np_lstm(x, weights, states=None, activation="tanh", recurrent_activation="sigmoid", go_backwards=False):
    kernel, rec = weights[0], weights[1]
    bias = weights[2] if len(weights) > 2 else 0
    units = rec.shape[0]
    h, c = states if states else (np.zeros((x.shape[0], units)), np.zeros((x.shape[0], units)))
    act, ract = ACTS[activation], ACTS[recurrent_activation]
    outputs = []
    for t in _steps(x.shape[1], go_backwards):
        i, f, g, o = np.split(x[:, t] @ kernel + h @ rec + bias, 4, axis=-1)
        c = ract(f) * c + ract(i) * act(g)
        h = ract(o) * act(c)
        outputs.append(h)
    return np.stack(outputs, 1), [h, c]


def np_gru(x, weights, states=None, activation="tanh", recurrent_activation="sigmoid", go_backwards=False,
           reset_after=True):
    kernel, rec = weights[0], weights[1]
    units = rec.shape[0]
    bias = weights[2] if len(weights) > 2 else np.zeros((2, 3 * units) if reset_after else (3 * units,))
    input_bias, rec_bias = (bias[0], bias[1]) if reset_after else (bias, np.zeros(3 * units))
    h = states[0] if states else np.zeros((x.shape[0], units))
    act, ract = ACTS[activation], ACTS[recurrent_activation]
    outputs = []
    for t in _steps(x.shape[1], go_backwards):
        xz, xr, xh = np.split(x[:, t] @ kernel + input_bias, 3, axis=-1)
        if reset_after:
            hz, hr, hh = np.split(h @ rec + rec_bias, 3, axis=-1)
            z, r = ract(xz + hz), ract(xr + hr)
            candidate = act(xh + r * hh)
        else:
            hz, hr = np.split(h @ rec[:, :2 * units], 2, axis=-1)
            z, r = ract(xz + hz), ract(xr + hr)
            candidate = act(xh + (r * h) @ rec[:, 2 * units:])
        h = z * h + (1 - z) * candidate
        outputs.append(h)
    return np.stack(outputs, 1), [h]


REFERENCES = {"SimpleRNN": np_simple_rnn, "LSTM": np_lstm, "GRU": np_gru}


def _randomize(layer, seed=3):
    """Non-trivial weights (biases too), so every layout mapping is exercised."""
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.uniform(-0.6, 0.6, w.shape).astype(np.float32) for w in layer.get_weights()])
    return [w.astype(np.float64) for w in layer.get_weights()]


def _run(layer, x, initial_state=None, **call_kwargs):
    """Model(inputs -> layer outputs) on numpy data; returns a list of arrays."""
    inputs = og.Input(shape=x.shape[1:])
    states = [og.Input(shape=s.shape[1:]) for s in initial_state or []]
    out = layer(inputs, initial_state=states or None, **call_kwargs)
    model = og.Model([inputs] + states, out)
    check_onnx(model)
    result = model.predict([x] + list(initial_state or []) if states else x, verbose=0)
    return result if isinstance(result, list) else [result]


# ---------------------------------------------------------------- numerics against numpy

CASES = [
    ("SimpleRNN", {}), ("SimpleRNN", {"activation": "relu", "use_bias": False}),
    ("LSTM", {}), ("LSTM", {"activation": "softsign", "recurrent_activation": "hard_sigmoid"}),
    ("LSTM", {"use_bias": False, "activation": "linear"}),
    ("GRU", {}), ("GRU", {"reset_after": False}), ("GRU", {"use_bias": False, "recurrent_activation": "hard_sigmoid"}),
]


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("name,kwargs", CASES)
def test_matches_numpy_loop(name, kwargs, go_backwards):
    x = rand(3, 7, 5)
    layer = getattr(layers, name)(4, return_sequences=True, return_state=True, go_backwards=go_backwards, **kwargs)
    layer.build((None, 7, 5))
    weights = _randomize(layer)
    ref_kwargs = {k: v for k, v in kwargs.items() if k not in ("use_bias",)}
    sequence, states = REFERENCES[name](x.astype(np.float64), weights, go_backwards=go_backwards, **ref_kwargs)
    got = _run(layer, x)
    np.testing.assert_allclose(got[0], sequence, rtol=1e-5, atol=1e-6)
    for g, want in zip(got[1:], states):
        np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
def test_initial_state(name):
    x = rand(2, 4, 3)
    layer = getattr(layers, name)(5, return_sequences=True)
    layer.build((None, 4, 3))
    weights = _randomize(layer)
    states = [rand(2, 5, seed=i + 10) for i in range(len(layer.state_size))]
    want, _ = REFERENCES[name](x.astype(np.float64), weights, states=[s.astype(np.float64) for s in states])
    np.testing.assert_allclose(_run(layer, x, initial_state=states)[0], want, rtol=1e-5, atol=1e-6)


def test_variable_length_time_axis():
    """Input(shape=(None,)) -> Embedding -> LSTM runs on any length (also go_backwards)."""
    tokens = og.Input(shape=(None,), dtype="int32")
    embedded = layers.Embedding(50, 6)(tokens)
    forward = layers.LSTM(4, name="fw")(embedded)
    backward = layers.GRU(4, go_backwards=True, return_sequences=True, name="bw")(embedded)
    model = og.Model(tokens, [forward, backward])
    check_onnx(model)
    assert model.outputs[0].shape == (None, 4) and model.outputs[1].shape == (None, None, 4)
    table = model.get_layer("embedding").get_weights()[0].astype(np.float64)
    lstm_w = [w.astype(np.float64) for w in model.get_layer("fw").get_weights()]
    gru_w = [w.astype(np.float64) for w in model.get_layer("bw").get_weights()]
    for length in (1, 3, 11):
        ids = np.random.default_rng(length).integers(0, 50, size=(2, length)).astype(np.int32)
        h, seq = model.predict(ids, verbose=0)
        assert seq.shape == (2, length, 4)
        np.testing.assert_allclose(h, np_lstm(table[ids], lstm_w)[1][0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(seq, np_gru(table[ids], gru_w, go_backwards=True)[0], rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- ONNX form and weights


def test_lstm_emits_one_forward_node_with_prepared_initializers():
    x = og.Input(shape=(None, 3))
    model = og.Model(x, layers.LSTM(4, go_backwards=True)(x))
    proto = check_onnx(model)
    ops = [n.op_type for n in proto.graph.node]
    assert ops.count("LSTM") == 1 and ops.count("Gather") == 1  # reversal of the input only
    lstm = next(n for n in proto.graph.node if n.op_type == "LSTM")
    assert len(lstm.input) == 8 and len(lstm.output) == 3  # optional inputs padded, outputs declared
    assert not any(a.name == "direction" for a in lstm.attribute)
    inits = {i.name: i for i in proto.graph.initializer}
    assert tuple(inits[lstm.input[1]].dims) == (1, 16, 3) and tuple(inits[lstm.input[2]].dims) == (1, 16, 4)
    assert lstm.input[1] == "lstm/lstm_cell/kernel"
    # Transposes only move the activations to and from time-major: none reads a weight.
    for node in proto.graph.node:
        if node.op_type == "Transpose":
            assert node.input[0] not in inits


def test_weight_shapes_paths_and_initial_values():
    lstm, gru, gru0, rnn = layers.LSTM(3), layers.GRU(3), layers.GRU(3, reset_after=False), layers.SimpleRNN(3)
    for layer in (lstm, gru, gru0, rnn):
        layer(og.Input(shape=(5, 2)))
    assert [w.shape for w in lstm.weights] == [(2, 12), (3, 12), (12,)]
    assert [w.shape for w in gru.weights] == [(2, 9), (3, 9), (2, 9)]
    assert [w.shape for w in gru0.weights] == [(2, 9), (3, 9), (9,)]
    assert [w.shape for w in rnn.weights] == [(2, 3), (3, 3), (3,)]
    assert [w.path for w in lstm.weights] == ["lstm/lstm_cell/kernel", "lstm/lstm_cell/recurrent_kernel",
                                             "lstm/lstm_cell/bias"]
    np.testing.assert_array_equal(lstm.cell.bias.numpy(), [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])  # unit_forget_bias
    rec = lstm.cell.recurrent_kernel.numpy()
    np.testing.assert_allclose(rec @ rec.T, np.eye(3), atol=1e-5)  # orthogonal rows
    assert lstm.count_params() == 4 * 3 * (2 + 3 + 1) and gru.count_params() == 3 * 3 * (2 + 3 + 2)


def test_config_round_trip_and_save_load(tmp_path):
    x = og.Input(shape=(6, 4))
    h = layers.Bidirectional(layers.GRU(3, return_sequences=True, reset_after=False), merge_mode="sum")(x)
    h = layers.TimeDistributed(layers.Dense(2))(h)
    h = layers.SimpleRNN(5, go_backwards=True, activation="relu")(h)
    model = og.Model(x, h)
    for layer in model.layers[1:]:
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
    data = rand(2, 6, 4)
    model.save(tmp_path / "rnn.onnx")
    restored = og.load_model(tmp_path / "rnn.onnx")
    np.testing.assert_array_equal(restored.predict(data, verbose=0), model.predict(data, verbose=0))


def test_errors_name_the_layer():
    with pytest.raises(ValueError, match="'lstm_s'.*stateful RNN needs a fixed batch size"):
        layers.LSTM(3, stateful=True, name="lstm_s")(og.Input(shape=(4, 2)))
    with pytest.raises(ValueError, match="'lstm_1'.*rank 3"):
        layers.LSTM(3, name="lstm_1")(og.Input(shape=(4,)))
    with pytest.raises(ValueError, match="'gru'.*initial state 0 must have shape \\(batch, 3\\)"):
        layers.GRU(3)(og.Input(shape=(4, 2)), initial_state=[og.Input(shape=(5,))])
    with pytest.raises(ValueError, match="'lstm_2'.*2 initial state"):
        layers.LSTM(3, name="lstm_2")(og.Input(shape=(4, 2)), initial_state=[og.Input(shape=(3,))])
    with pytest.raises(ValueError, match="'simple_rnn'.*'gelu' has no ONNX RNN equivalent"):
        layers.SimpleRNN(3, activation="gelu")(og.Input(shape=(4, 2)))
    with pytest.raises(ValueError, match="different `go_backwards`"):
        layers.Bidirectional(layers.LSTM(3), backward_layer=layers.LSTM(3))


# ---------------------------------------------------------------- training-graph forms


def _training_outputs(model, x):
    """Outputs of the model replayed as a training graph (as the trainer builds it)."""
    from onnxgraph.runtime import GraphRunner

    with recording(False), emit_options(training_graph=True):
        out = model._run_graph(model.inputs, training=False)
    runner = GraphRunner(model.inputs, [out], model.input_names, ["y"], model.weights)
    return runner, runner.run_feeds({model.input_names[0]: x})[0]


def test_simple_rnn_training_form_is_a_gru_with_the_same_function():
    x_in = og.Input(shape=(None, 3))
    model = og.Model(x_in, layers.SimpleRNN(4, return_sequences=True, go_backwards=True)(x_in))
    _randomize(model.layers[1])
    data = rand(2, 6, 3)
    runner, got = _training_outputs(model, data)
    ops = [n.op_type for n in runner._export()[0].graph.node]
    assert "RNN" not in ops and ops.count("GRU") == 1
    assert [n.op_type for n in check_onnx(model).graph.node].count("RNN") == 1  # inference keeps ONNX RNN
    np.testing.assert_allclose(got, model.predict(data, verbose=0), rtol=1e-5, atol=1e-6)


def test_dropout_masks_inputs_once_per_sequence_in_training():
    x_in = og.Input(shape=(5, 3))
    layer = layers.LSTM(4, dropout=0.5, seed=1)
    model = og.Model(x_in, layer(x_in))
    assert "Dropout" not in [n.op_type for n in check_onnx(model).graph.node]
    with recording(False), emit_options(training_graph=True):
        out = model._run_graph(model.inputs, training=True)
    dropout = next(t for t in _walk(out) if t.producer.op_type == "Dropout")
    assert dropout.shape == (1, None, 3)  # one mask per sequence, broadcast over time
    with pytest.raises(ValueError, match="recurrent_dropout"):
        with recording(False):
            layers.GRU(3, recurrent_dropout=0.2)(og.Input(shape=(4, 2)), training=True)


@pytest.mark.parametrize("layer", [layers.SimpleRNN(3, activation="relu"),
                                   layers.LSTM(3, recurrent_activation="hard_sigmoid"), layers.GRU(3, activation="linear")])
def test_training_graph_rejects_activations_ort_cannot_differentiate(layer):
    """ORT-training's LSTM/GRU gradients only take sigmoid/tanh (measured): say so at graph-building time."""
    x = og.Input(shape=(4, 2))
    check_onnx(og.Model(x, layer(x)))  # inference is fine
    with pytest.raises(ValueError, match=f"'{layer.name}': onnxruntime-training's .* only the default activations"):
        with recording(False), emit_options(training_graph=True):
            layer(x, training=True)


def _walk(tensor):
    seen, stack = set(), [tensor]
    while stack:
        t = stack.pop()
        if t is None or t.producer is None or id(t) in seen:
            continue
        seen.add(id(t))
        yield t
        stack.extend(t.producer.inputs)


# ---------------------------------------------------------------- Keras 3 (torch backend), weights copied


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")  # the dev extra installs it


def _pair(keras, make, x, state_units=(), call=None, shape=None):
    """The same one-layer model in onnxgraph and Keras, Keras's weights copied into ours."""
    keras.backend.clear_session()
    models = []
    for lib in (og, keras):
        inputs = [lib.Input(shape=shape or x.shape[1:])] + [lib.Input(shape=(u,)) for u in state_units]
        layer = make(lib.layers)
        out = call(layer, inputs) if call else layer(inputs[0], initial_state=inputs[1:] or None)
        models.append(lib.Model(inputs, out))
    ours, theirs = models
    ours.set_weights(theirs.get_weights())
    check_onnx(ours)
    return ours, theirs


def _assert_same_predictions(ours, theirs, feeds):
    got, want = ours.predict(feeds, verbose=0), theirs.predict(feeds, verbose=0)
    got = got if isinstance(got, list) else [got]
    want = list(want) if isinstance(want, (list, tuple)) else [want]
    assert [g.shape for g in got] == [tuple(w.shape) for w in want]
    assert [t.shape for t in ours.outputs] == [tuple(t.shape) for t in theirs.outputs]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


KERAS_CASES = [  # (layer, kwargs, with initial_state)
    ("SimpleRNN", {"return_sequences": True, "return_state": True}, True),
    ("SimpleRNN", {"go_backwards": True, "activation": "relu"}, False),
    ("LSTM", {"return_sequences": True, "return_state": True}, False),
    ("LSTM", {"go_backwards": True, "return_state": True, "unit_forget_bias": False}, True),
    ("GRU", {"return_sequences": True, "return_state": True}, True),
    ("GRU", {"go_backwards": True, "return_sequences": True}, False),
    ("GRU", {"reset_after": False, "return_state": True}, False),
    ("GRU", {"reset_after": False, "go_backwards": True, "return_sequences": True, "use_bias": False}, True),
]


@pytest.mark.parametrize("name,kwargs,with_state", KERAS_CASES)
def test_matches_keras(keras, name, kwargs, with_state):
    x = rand(3, 6, 4)
    units = (5, 5) if (with_state and name == "LSTM") else (5,) if with_state else ()
    ours, theirs = _pair(keras, lambda lib: getattr(lib, name)(5, **kwargs), x, units)
    _assert_same_predictions(ours, theirs, [x] + [rand(3, 5, seed=i + 1) for i in range(len(units))])


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_bidirectional_matches_keras(keras, merge_mode, return_sequences):
    x = rand(2, 5, 3)
    ours, theirs = _pair(keras, lambda lib: lib.Bidirectional(lib.LSTM(4, return_sequences=return_sequences),
                                                              merge_mode=merge_mode), x)
    _assert_same_predictions(ours, theirs, x)
    assert [w.path for w in ours.layers[1].weights][::3] == ["bidirectional/forward_lstm/lstm_cell/kernel",
                                                             "bidirectional/backward_lstm/lstm_cell/kernel"]


def test_bidirectional_states_initial_state_and_backward_layer_match_keras(keras):
    x = rand(2, 5, 3)
    ours, theirs = _pair(keras, lambda lib: lib.Bidirectional(lib.GRU(4, return_sequences=True, return_state=True)),
                         x, state_units=(4, 4))
    _assert_same_predictions(ours, theirs, [x, rand(2, 4, seed=1), rand(2, 4, seed=2)])
    ours, theirs = _pair(keras, lambda lib: lib.Bidirectional(
        lib.SimpleRNN(4, return_sequences=True), backward_layer=lib.SimpleRNN(4, activation="relu", return_sequences=True,
                                                                              go_backwards=True)), x)
    _assert_same_predictions(ours, theirs, x)


def test_time_distributed_matches_keras(keras):
    x = rand(2, 4, 3, 5)
    ours, theirs = _pair(keras, lambda lib: lib.TimeDistributed(lib.Dense(6, activation="tanh")), x,
                         call=lambda layer, inputs: layer(inputs[0]))
    _assert_same_predictions(ours, theirs, x)
    steps = og.Input(shape=(None, 7))  # unknown number of steps
    dense = layers.TimeDistributed(layers.Dense(2))
    model = og.Model(steps, dense(steps))
    data = rand(3, 9, 7)
    kernel, bias = dense.get_weights()
    np.testing.assert_allclose(model.predict(data, verbose=0), data @ kernel + bias, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- the emitted graphs train like Keras


TRAIN_CASES = {
    "lstm_backwards": lambda lib: lib.LSTM(5, go_backwards=True, return_sequences=True),
    "gru_reset_before": lambda lib: lib.GRU(5, reset_after=False, go_backwards=True),
    "simple_rnn": lambda lib: lib.SimpleRNN(5, return_sequences=True),
    "bidirectional_lstm": lambda lib: lib.Bidirectional(lib.LSTM(5, return_sequences=True)),
    "bidirectional_simple_rnn": lambda lib: lib.Bidirectional(lib.SimpleRNN(4), merge_mode="ave"),
    "bidirectional_gru_any_length": lambda lib: lib.Bidirectional(lib.GRU(4, return_sequences=True)),
}


@pytest.mark.parametrize("case", sorted(TRAIN_CASES))
def test_ort_training_gradients_equal_keras(keras, case):
    pytest.importorskip("torch")
    from tests.layers._training_reference import assert_same_gradients, keras_gradients, ort_gradients

    x = rand(3, 6, 4)
    ours, theirs = _pair(keras, TRAIN_CASES[case], x, shape=(None, 4) if "any_length" in case else None)
    target = rand(*ours.predict(x, verbose=0).shape, seed=5)
    assert_same_gradients(ort_gradients(ours, x, target), keras_gradients(theirs, x, target))
