"""LSTM / GRU / RNN gradients against central differences.

Op level: one ONNX node with unknown time and batch dims, every direction, both GRU reset
modes, initial states or none, each output alone; in both recurrence forms (Scan and
unrolled). Layer level: SimpleRNN/LSTM/GRU/Bidirectional with their Keras options.
"""

from __future__ import annotations

import numpy as np
import pytest

from onnxgraph.autodiff import _recurrent_loop
from onnxgraph.backend.emit import emit
from onnxgraph.backend.ir import SymbolicTensor
from onnxgraph.backend.scope import name_scope
from onnxgraph.backend.variable import Variable

from tests.autodiff.gradcheck import GradientMismatch, check_graph

T, B, F, U = 4, 2, 3, 3
_GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


@pytest.fixture(params=["scan", "unroll"])
def mode(request):
    saved = _recurrent_loop.MODE["value"]
    _recurrent_loop.MODE["value"] = request.param
    yield request.param
    _recurrent_loop.MODE["value"] = saved


def _check_node(op, *, direction="forward", attrs=None, initial=True, bias=True, outputs=None, steps=None, seed=0,
                length=T, batch=B):
    """Gradient check of one `op` node; `steps=None` leaves the time dimension symbolic."""
    rng = np.random.default_rng(seed)
    n_dir, gates = (2 if direction == "bidirectional" else 1), _GATES[op]
    feeds = {"x": rng.standard_normal((length, batch, F)).astype(np.float32)}
    if initial:
        feeds["h0"] = (0.5 * rng.standard_normal((n_dir, batch, U))).astype(np.float32)
        if op == "LSTM":
            feeds["c0"] = (0.5 * rng.standard_normal((n_dir, batch, U))).astype(np.float32)
    shapes = {"x": (steps, None, F), "h0": (n_dir, None, U), "c0": (n_dir, None, U)}
    inputs = {k: SymbolicTensor(shapes[k], "float32", kind="input", name=k) for k in feeds}
    weights = [(0.5 * rng.standard_normal((n_dir, gates * U, F))), (0.5 * rng.standard_normal((n_dir, gates * U, U)))]
    if bias:
        weights.append(0.3 * rng.standard_normal((n_dir, 2 * gates * U)))
    handles = [Variable(w.astype(np.float32), name=f"w{i}", path=f"rnn/w{i}").graph_value()
               for i, w in enumerate(weights)]
    n_out = 3 if op == "LSTM" else 2
    node_inputs = [inputs["x"], handles[0], handles[1], handles[2] if bias else None, None, inputs.get("h0")]
    if op == "LSTM":
        node_inputs += [inputs.get("c0"), None]
    with name_scope("rnn"):
        results = emit(op, node_inputs, {"hidden_size": U, "direction": direction, **(attrs or {})}, outputs=n_out,
                       shapes=[(steps, n_dir, None, U)] + [(n_dir, None, U)] * (n_out - 1),
                       dtypes_=["float32"] * n_out)
    chosen = [results[i] for i in (outputs if outputs is not None else range(n_out))]
    return check_graph(list(inputs.values()), chosen, list(feeds.values()), list(inputs))


@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
@pytest.mark.parametrize("op,attrs", [("LSTM", {}), ("GRU", {"linear_before_reset": 1}),
                                      ("GRU", {"linear_before_reset": 0}), ("RNN", {})])
def test_every_direction(mode, op, attrs, direction):
    _check_node(op, direction=direction, attrs=attrs)


@pytest.mark.parametrize("op,output", [(op, k) for op in ("LSTM", "GRU", "RNN") for k in range(3 if op == "LSTM" else 2)])
def test_each_output_alone_without_initial_state_or_bias(op, output):
    _check_node(op, initial=False, bias=False, outputs=[output], attrs={"linear_before_reset": 1} if op == "GRU" else {})


@pytest.mark.parametrize("activations", [["Relu"], ["Sigmoid"], ["Affine"], ["HardSigmoid"], ["Softsign"],
                                         ["Softplus"]])
def test_rnn_activations(activations):
    attrs = {"activations": activations}
    if activations == ["Affine"]:
        attrs.update(activation_alpha=[0.7], activation_beta=[0.1])
    _check_node("RNN", attrs=attrs)


def test_lstm_non_default_activations():
    _check_node("LSTM", attrs={"activations": ["HardSigmoid", "Softsign", "Relu"]})


def test_bidirectional_activations_per_direction():
    _check_node("GRU", direction="bidirectional", attrs={"activations": ["Sigmoid", "Tanh", "HardSigmoid", "Relu"],
                                                          "linear_before_reset": 1})


def test_static_length_in_both_forms(mode):
    _check_node("LSTM", steps=T, direction="bidirectional")


def test_wrong_rule_is_caught(monkeypatch):
    """The check fails when the cell-state carry is wrong (dc_{t-1} = dc_t instead of dc_t * f_t)."""
    original = _recurrent_loop.recurrence

    def broken(step, states, sequences, weights, out_like, **kw):
        if kw.get("name") == "backprop_through_time" and len(states) == 2:
            sequences = list(sequences[:-1]) + [emit("Add", [sequences[-1], np.float32(0.5)],
                                                      shapes=[sequences[-1].shape], dtypes_=["float32"])]
        return original(step, states, sequences, weights, out_like, **kw)

    monkeypatch.setattr("onnxgraph.autodiff._recurrent.recurrence", broken)
    with pytest.raises(GradientMismatch):
        _check_node("LSTM")


@pytest.mark.parametrize("attrs,message", [({"layout": 1}, "layout=1"), ({"clip": 3.0}, "clip"),
                                           ({"input_forget": 1}, "input_forget")])
def test_unsupported_attributes_raise(attrs, message):
    from onnxgraph.autodiff import NoGradientError

    with pytest.raises(NoGradientError, match=message):
        _check_node("LSTM", attrs=attrs)


# -- through the layers (inference graphs; the training-graph forms are in test_keras_gradients.py) ---------------

import onnxgraph as og  # noqa: E402
from tests.autodiff.gradcheck import check_model  # noqa: E402

_LAYERS = {"SimpleRNN": og.layers.SimpleRNN, "LSTM": og.layers.LSTM, "GRU": og.layers.GRU}
_OPTIONS = [dict(return_sequences=True), dict(go_backwards=True), dict(return_state=True),
            dict(return_sequences=True, go_backwards=True, return_state=True)]


def _seq(seed=0, steps=4):
    return np.random.default_rng(seed).standard_normal((2, steps, 3)).astype(np.float32)


@pytest.mark.parametrize("options", _OPTIONS, ids=lambda o: "+".join(o))
@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM", "GRU", "GRU-reset-before"])
def test_layer_options_with_dynamic_length(kind, options):
    extra = {"reset_after": False} if kind == "GRU-reset-before" else {}
    layer = _LAYERS[kind.split("-")[0]](3, **extra, **options)
    x = og.Input(shape=(None, 3))
    out = layer(x)
    check_model(og.Model(x, out), [_seq()])


@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM", "GRU"])
def test_layer_initial_state(kind):
    x, h = og.Input(shape=(4, 3)), og.Input(shape=(3,))
    states = [h, og.Input(shape=(3,))] if kind == "LSTM" else [h]
    out = _LAYERS[kind](3, return_sequences=True)(x, initial_state=states)
    feeds = [_seq()] + [np.random.default_rng(k).standard_normal((2, 3)).astype(np.float32)
                        for k in range(1, len(states) + 1)]
    check_model(og.Model([x, *states], out), feeds)


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
def test_bidirectional_merge_modes(merge_mode):
    x = og.Input(shape=(None, 3))
    out = og.layers.Bidirectional(og.layers.LSTM(3, return_sequences=True), merge_mode=merge_mode)(x)
    check_model(og.Model(x, out), [_seq()])


def test_bidirectional_states_and_time_distributed():
    x = og.Input(shape=(4, 3))
    seq, *states = og.layers.Bidirectional(og.layers.GRU(3, return_sequences=True, return_state=True))(x)
    out = og.layers.TimeDistributed(og.layers.Dense(2))(seq)
    check_model(og.Model(x, [out, *states]), [_seq()])


def test_stacked_lstm_on_embeddings_with_symbolic_length():
    ids = og.Input(shape=(None,), dtype="int64")
    h = og.layers.LSTM(4, return_sequences=True)(og.layers.Embedding(7, 3)(ids))
    out = og.layers.LSTM(2)(h)
    feeds = [np.array([[1, 1, 5, 0, 6], [2, 2, 2, 3, 1]], np.int64)]
    check_model(og.Model(ids, out), feeds)


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
def test_single_step_and_single_sample(mode, op):
    _check_node(op, steps=1, length=1, batch=1, attrs={"linear_before_reset": 1} if op == "GRU" else {})


@pytest.mark.parametrize("slot,message", [(4, "sequence_lens"), (7, "peepholes")])
def test_unsupported_inputs_raise(slot, message):
    from onnxgraph.autodiff import NoGradientError
    from onnxgraph.autodiff._recurrent import lstm

    x = SymbolicTensor((T, None, F), "float32", kind="input", name="x")
    w, r = (Variable(np.zeros(s, np.float32), name=n, path=f"rnn/{n}").graph_value()
            for n, s in (("w", (1, 4 * U, F)), ("r", (1, 4 * U, U))))
    inputs = [x, w, r, None, None, None, None, None]
    inputs[slot] = (SymbolicTensor((None,), "int32", kind="input", name="lens") if slot == 4 else
                    Variable(np.zeros((1, 3 * U), np.float32), name="p", path="rnn/p").graph_value())
    y, h, c = emit("LSTM", inputs, {"hidden_size": U}, outputs=3, shapes=[(T, 1, None, U), (1, None, U), (1, None, U)],
                   dtypes_=["float32"] * 3)
    with pytest.raises(NoGradientError, match=message):
        lstm(y.producer, [None, h, None])
