"""Batching only what is row-independent: the graph proof, the probe, and the leak they prevent."""

from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
from onnx import TensorProto, helper

import onnxgraph as og
from onnxgraph import layers, ops
from onnxgraph.serving import ServedModel, resolve_models
from onnxgraph.serving._probe import probe_rowwise
from onnxgraph.serving._rowwise import prove_rowwise


def _centered():
    """The attack model: each row minus the mean over the batch (rows of other requests leak in)."""
    x = og.Input(shape=(4,), name="x")
    return og.Model(x, x - ops.mean(x, axis=0, keepdims=True), name="centered")


def _models():
    conv_in = og.Input(shape=(None, None, 3), name="image")
    conv = layers.GlobalAveragePooling2D()(layers.MaxPooling2D()(layers.Conv2D(4, 3, activation="relu")(conv_in)))
    ids = og.Input(shape=(None,), dtype="int32", name="ids")
    rnn = layers.GRU(3)(layers.LSTM(5, return_sequences=True)(layers.Embedding(10, 4)(ids)))
    seq = og.Input(shape=(6, 4), name="seq")
    mha = layers.MultiHeadAttention(2, 4)(seq, seq)
    mha = layers.Dropout(0.5)(layers.BatchNormalization()(layers.LayerNormalization()(mha)))
    flat_in = og.Input(shape=(8, 8, 3), name="small")
    flat = layers.Conv2D(2, 3)(flat_in)
    flat = layers.Softmax()(layers.Reshape((2, 1))(layers.Dense(2)(layers.Flatten()(flat))))
    return {"conv": og.Model(conv_in, conv), "rnn": og.Model(ids, rnn), "mha": og.Model(seq, mha),
            "flatten": og.Model(flat_in, flat)}


@pytest.mark.parametrize("name", ["conv", "rnn", "mha", "flatten"])
def test_common_models_are_proven_and_batched(name):
    model = _models()[name]
    proven, why = prove_rowwise(model.to_onnx())
    assert proven, why
    served = ServedModel(resolve_models(model)[0], providers="cpu")
    assert served.batchable and "stacked probe runs equal separate runs" in served.batching_reason


@pytest.mark.parametrize("make_output, culprit", [
    (lambda x: x - ops.mean(x, axis=0, keepdims=True), "ReduceMean"),
    (lambda x: x * ops.sum(x), "ReduceSum"),  # over every axis, the batch included
    (lambda x: ops.softmax(x, axis=0), "Softmax"),
    (lambda x: ops.transpose(x, (1, 0)), "batch on axis 0"),
])
def test_row_mixing_graphs_are_not_proven(make_output, culprit):
    x = og.Input(shape=(4,), name="x")
    proven, why = prove_rowwise(og.Model(x, make_output(x)).to_onnx())
    assert not proven and culprit in why


def test_a_shape_computed_from_the_batch_size_is_not_proven():
    # y = x * (batch size): Shape -> Gather -> Cast -> Mul; the value changes when requests stack.
    nodes = [helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Cast", ["s"], ["f"], to=TensorProto.FLOAT),
             helper.make_node("ReduceMax", ["f"], ["n"], keepdims=0), helper.make_node("Mul", ["x", "n"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proven, why = prove_rowwise(proto)
    assert not proven and "computed from the batch size" in why
    proto.ir_version = 8
    served = ServedModel(resolve_models(proto.SerializeToString())[0], providers="cpu")
    assert not served.batchable


def test_probe_catches_a_row_mixing_function():
    from onnxgraph.runtime._feeds import InputSignature

    signatures = [InputSignature("x", (None, 3), "float32")]
    rng = np.random.default_rng(0)

    def make(k):
        return {"x": rng.standard_normal((k, 3)).astype(np.float32)}

    assert probe_rowwise(lambda f: [f["x"] * 2], signatures, make)[0]
    ok, why = probe_rowwise(lambda f: [f["x"] - f["x"].mean(0)], signatures, make)
    assert not ok and "differs from separate runs" in why


def _hammer(url, clients=40):
    def one(seed):
        x = np.random.default_rng(seed).standard_normal((1, 4)).astype(np.float32)
        with httpx.Client(base_url=url, timeout=30) as client:
            out = client.post("/v1/models/centered:predict", json={"inputs": x.tolist()}).json()
        return np.asarray(out["outputs"][next(iter(out["outputs"]))], np.float32), x - x.mean(0, keepdims=True)

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(clients)))
    return sum(not np.allclose(got, want, atol=1e-6) for got, want in results)


def test_row_mixing_model_is_never_batched_so_no_answer_leaks():
    model = _centered()
    with og.serving.serve(model, max_latency_ms=50, providers="cpu") as server:
        info = httpx.get(f"{server.url}/v1/models/centered").json()
        assert info["max_batch_size"] == 1 and "ReduceMean" in info["batching_reason"]
        assert _hammer(server.url) == 0
    # The same model forced to batch mixes clients: this is what "auto" prevents.
    with og.serving.serve(model, max_latency_ms=50, providers="cpu", batching="on") as server:
        assert _hammer(server.url) > 0


def test_batching_off_and_bad_mode():
    model = _models()["conv"]
    served = ServedModel(resolve_models(model)[0], providers="cpu", batching="off")
    assert not served.batchable and served.batching_reason == "batching='off'"
    with pytest.raises(ValueError, match="batching must be one of"):
        ServedModel(resolve_models(model)[0], providers="cpu", batching="yes")
