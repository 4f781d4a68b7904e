"""Nodes calling ONNX local functions (onnxscript @script()) are inlined, then differentiated."""

import numpy as np

import onnxgraph as og
from onnxgraph import layers
from onnxgraph.autodiff import gradients
from onnxgraph.backend.emit import emit
from onnxgraph.backend.graph import collect
from onnxscript import script
from onnxscript import opset21 as op
from onnxscript.values import Opset
from tests.autodiff.gradcheck import check_model

custom = Opset("tests.autodiff", 1)


@script(custom)
def soft(X):
    return op.Softsign(X)


@script(custom)
def gated(X, scale: float = 2.0):
    y = soft(X)  # a function calling another function
    return op.Mul(op.Mul(y, op.Sigmoid(X)), op.CastLike(scale, X)), op.ReduceMax(y, op.Constant(value_ints=[1]))


def _model():
    x = og.Input((4,), name="x")
    h = layers.Dense(4, name="dense")(x)
    a, b = gated(h, scale=0.5)
    return og.Model(x, [a, b])


def test_gradients_inline_function_calls_first():
    model = _model()
    loss = emit("ReduceSum", [model.outputs[0]], {"keepdims": 0}, shapes=[()], dtypes_=["float32"])
    graph = collect(model.inputs, [loss], model.input_names, ["loss"])
    assert any(node.functions for node in graph.nodes)
    kernel = model.get_layer("dense").kernel.graph_value()
    (g,) = gradients(graph, loss, [kernel])
    assert g is not None and g.shape == (4, 4)
    assert not any(node.functions for node in graph.nodes)
    assert {"Softsign", "Sigmoid"} <= {node.op_type for node in graph.nodes}


def test_function_model_gradients_match_finite_differences():
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    report = check_model(_model(), [x])
    assert {"dense/kernel", "dense/bias", "x"} <= set(report)
