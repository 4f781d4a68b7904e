"""The guide's ticket router: 3 inputs, Embedding + LSTM + concatenate + Dense, 2 named outputs."""

import numpy as np
import pytest

import onnxgraph as og
from tests.conftest import check_onnx

NUM_TAGS, NUM_WORDS, NUM_DEPARTMENTS = 12, 10000, 4


def build(keras):
    """Verbatim from the functional API guide (Keras 3 version)."""
    layers = keras.layers
    title_input = keras.Input(shape=(None,), name="title")  # Variable-length sequence of ints
    body_input = keras.Input(shape=(None,), name="body")  # Variable-length sequence of ints
    tags_input = keras.Input(shape=(NUM_TAGS,), name="tags")  # Binary vectors of size `num_tags`
    title_features = layers.Embedding(NUM_WORDS, 64)(title_input)
    body_features = layers.Embedding(NUM_WORDS, 64)(body_input)
    title_features = layers.LSTM(128)(title_features)
    body_features = layers.LSTM(32)(body_features)
    x = layers.concatenate([title_features, body_features, tags_input])
    priority_pred = layers.Dense(1, name="priority")(x)
    department_pred = layers.Dense(NUM_DEPARTMENTS, name="department")(x)
    return keras.Model(inputs=[title_input, body_input, tags_input],
                       outputs={"priority": priority_pred, "department": department_pred})


def data(n=16, title_len=12, body_len=100, seed=0):
    rng = np.random.default_rng(seed)
    return {"title": rng.integers(NUM_WORDS, size=(n, title_len)), "body": rng.integers(NUM_WORDS, size=(n, body_len)),
            "tags": rng.integers(2, size=(n, NUM_TAGS)).astype("float32")}


EXPECTED_PARAMS = {"embedding": 640000, "embedding_1": 640000, "lstm": 98816, "lstm_1": 12416, "priority": 173,
                   "department": 692}


def test_builds_with_guide_summary_and_onnx_interface():
    model = build(og)
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "Total params: 1,392,097" in text
    for name, count in EXPECTED_PARAMS.items():
        assert model.get_layer(name).count_params() == count
        assert f"{count:,}" in text
    proto = check_onnx(model)
    assert [i.name for i in proto.graph.input] == ["title", "body", "tags"]
    assert sorted(o.name for o in proto.graph.output) == ["department", "priority"]
    assert [n.op_type for n in proto.graph.node].count("LSTM") == 2


def test_predict_dict_and_save_load_round_trip(tmp_path):
    model = build(og)
    batch = data()
    out = model.predict(batch, verbose=0)
    assert isinstance(out, dict) and sorted(out) == ["department", "priority"]
    assert out["priority"].shape == (16, 1) and out["department"].shape == (16, NUM_DEPARTMENTS)
    shorter = model.predict(data(n=3, title_len=4, body_len=7, seed=1), verbose=0)  # any sequence length
    assert shorter["department"].shape == (3, NUM_DEPARTMENTS)
    model.save(tmp_path / "router.onnx")
    restored = og.load_model(tmp_path / "router.onnx")
    again = restored.predict(batch, verbose=0)
    for key in out:
        np.testing.assert_array_equal(again[key], out[key])
    restored.save(tmp_path / "router_again.onnx")
    assert (tmp_path / "router.onnx").read_bytes() == (tmp_path / "router_again.onnx").read_bytes()


def test_matches_keras_with_copied_weights():
    keras = pytest.importorskip("keras")
    keras.backend.clear_session()
    ours, theirs = build(og), build(keras)
    assert ours.count_params() == theirs.count_params() == 1392097
    assert {layer.name: layer.count_params() for layer in ours.layers} == \
        {layer.name: layer.count_params() for layer in theirs.layers}
    # By name: Keras orders a dict's outputs (and so its layers) by key, onnxgraph by insertion.
    for layer in theirs.layers:
        ours.get_layer(layer.name).set_weights(layer.get_weights())
    batch = data(n=8)
    got, want = ours.predict(batch, verbose=0), theirs.predict(batch, verbose=0)
    for key in ("priority", "department"):
        np.testing.assert_allclose(got[key], want[key], rtol=1e-5, atol=1e-6)
