"""The export pass that transposes Embedding indices instead of the gathered rows (Embedding -> RNN)."""

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph import layers
from onnxgraph.backend import serialize
from onnxgraph.backend.gather_transpose import transpose_indices
from tests.conftest import check_onnx


@pytest.fixture
def without_pass(monkeypatch):
    """Run `fn()` with the pass switched off (the Gather -> Transpose form the layers emit)."""
    def run(fn):
        with monkeypatch.context() as patch:
            patch.setattr(serialize, "PASSES", [p for p in serialize.PASSES if p is not transpose_indices])
            return fn()
    return run


def run_proto(proto, *feeds):
    from onnxgraph.runtime import make_session

    session = make_session(proto.SerializeToString(), "cpu")
    return session.run(None, {i.name: f for i, f in zip(session.get_inputs(), feeds)})


def producer_of(proto, name):
    return next(n for n in proto.graph.node if name in n.output)


def tokens(batch=5, length=7, seed=0):
    return np.random.default_rng(seed).integers(0, 50, (batch, length)).astype(np.int64)


def embedding_rnn(rnn=layers.LSTM):
    inputs = og.Input(shape=(None,), dtype="int64", name="tokens")
    x = layers.Embedding(50, 8)(inputs)
    return og.Model(inputs, layers.Dense(3)(rnn(6)(x)))


@pytest.mark.parametrize("rnn", [layers.LSTM, layers.GRU, layers.SimpleRNN])
def test_recurrent_layer_reads_rows_gathered_time_major(rnn, without_pass):
    model = embedding_rnn(rnn)
    proto, raw = check_onnx(model), without_pass(model.to_onnx)
    recurrent = next(n for n in proto.graph.node if n.op_type in ("LSTM", "GRU", "RNN"))
    gather = producer_of(proto, recurrent.input[0])
    assert gather.op_type == "Gather"
    index_transpose = producer_of(proto, gather.input[1])
    assert index_transpose.op_type == "Transpose" and list(index_transpose.attribute[0].ints) == [1, 0]
    assert index_transpose.input[0] == "tokens"
    # Without the pass the float rows were transposed; with it no Transpose reads a float tensor.
    raw_recurrent = next(n for n in raw.graph.node if n.op_type == recurrent.op_type)
    assert producer_of(raw, raw_recurrent.input[0]).op_type == "Transpose"
    assert sum(n.op_type == "Transpose" for n in proto.graph.node) == sum(
        n.op_type == "Transpose" for n in raw.graph.node)
    x = tokens()
    for got, want in zip(run_proto(proto, x), run_proto(raw, x)):
        np.testing.assert_array_equal(got, want)  # a reordering of the same copies: bit-identical
    np.testing.assert_array_equal(model.predict(x, verbose=0), run_proto(raw, x)[0])


def test_rows_used_elsewhere_are_left_alone(without_pass):
    inputs = og.Input(shape=(7,), dtype="int64", name="tokens")
    rows = layers.Embedding(50, 8)(inputs)
    model = og.Model(inputs, [layers.LSTM(6)(rows), layers.GlobalAveragePooling1D()(rows)])
    proto = check_onnx(model)
    lstm = next(n for n in proto.graph.node if n.op_type == "LSTM")
    assert producer_of(proto, lstm.input[0]).op_type == "Transpose"  # the Gather output has two readers
    x = tokens()
    for got, want in zip(run_proto(proto, x), run_proto(without_pass(model.to_onnx), x)):
        np.testing.assert_array_equal(got, want)


def test_embedding_output_as_model_output_keeps_batch_major_layout():
    inputs = og.Input(shape=(7,), dtype="int64", name="tokens")
    rows = layers.Embedding(50, 8)(inputs)
    model = og.Model(inputs, [rows, layers.LSTM(6)(rows)])
    x = tokens()
    got_rows, _ = model.predict(x, verbose=0)
    table = model.layers[1].get_weights()[0]
    np.testing.assert_array_equal(got_rows, table[x])


def test_transpose_moving_the_feature_axis_is_not_rewritten():
    inputs = og.Input(shape=(7,), dtype="int64", name="tokens")
    rows = layers.Embedding(50, 8)(inputs)
    model = og.Model(inputs, layers.Permute((2, 1))(rows))  # (batch, 8, 7): the row axis moves
    proto = check_onnx(model)
    assert producer_of(proto, proto.graph.output[0].name).op_type in ("Transpose", "Identity")
    x = tokens()
    table = model.layers[1].get_weights()[0]
    np.testing.assert_array_equal(model.predict(x, verbose=0), table[x].transpose(0, 2, 1))


def test_training_through_transposed_indices_matches_the_plain_graph(without_pass):
    """Gradients reach the embedding table the same way: two fit steps give the same weights."""
    x, y = tokens(16, 7, seed=1), np.random.default_rng(2).integers(0, 3, 16)

    def trained():
        og.utils.set_random_seed(0)
        model = embedding_rnn(layers.GRU)
        start = model.get_weights()[0]
        model.compile(optimizer=og.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
        assert np.abs(model.get_weights()[0] - start).max() > 1e-4  # the table was trained
        return model.get_weights()

    got, want = trained(), without_pass(trained)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-7)


def test_layer_functions_keep_one_call_per_layer():
    model = embedding_rnn(layers.LSTM)
    proto = check_onnx(model.to_onnx(layer_functions=True))
    calls = [n.op_type for n in proto.graph.node]
    assert sorted(calls) == ["Dense", "Embedding", "LSTM"]  # the RNN layer is not split around the Embedding
    embedding = next(f for f in proto.functions if f.name == "Embedding")
    assert [n.op_type for n in embedding.node] == ["Transpose", "Gather"]
    x = tokens()
    np.testing.assert_array_equal(run_proto(proto, x)[0], model.predict(x, verbose=0))
