"""Models shared by the serving tests: an onnxgraph encoder, a two-input model, and a plain ONNX
Gather model (int64 input; an out-of-range index makes onnxruntime fail at run time)."""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import onnxgraph as og
from onnxgraph import layers

GATHER_TABLE = np.arange(30, dtype=np.float32).reshape(10, 3)


def make_encoder():
    inputs = og.Input(shape=(8,), name="x")
    hidden = layers.Dense(16, activation="relu", name="hidden")(inputs)
    outputs = layers.Dense(4, name="embedding")(hidden)
    return og.Model(inputs, outputs, name="encoder")


def make_pair():
    a = og.Input(shape=(3,), name="a")
    b = og.Input(shape=(2,), name="b")
    joined = layers.Concatenate(name="joined")([a, b])
    score = layers.Dense(1, name="score")(joined)
    return og.Model([a, b], [joined, score], name="pair")


def make_gather_proto():
    graph = helper.make_graph(
        [helper.make_node("Gather", ["table", "idx"], ["rows"], name="lookup", axis=0)],
        "lookup", [helper.make_tensor_value_info("idx", TensorProto.INT64, ["n"])],
        [helper.make_tensor_value_info("rows", TensorProto.FLOAT, ["n", 3])],
        [numpy_helper.from_array(GATHER_TABLE, "table")])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="othertool")
    proto.ir_version = 8
    onnx.checker.check_model(proto, full_check=True)
    return proto


def rows(n, width, seed=0):
    return np.random.default_rng(seed).standard_normal((n, width)).astype("float32")
