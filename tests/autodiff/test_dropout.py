"""Dropout gradient rule: dx = dy * mask / (1 - ratio) with the forward's own mask.

Finite differences cannot check a random op (every run draws a new mask), so each test runs
forward and backward in ONE session call and checks the gradient against that call's own
output: with y = x * mask / (1 - ratio) and loss = sum(y * r), dloss/dx = r * y / x.
"""

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph import layers
from onnxgraph.autodiff import gradients
from onnxgraph.backend.emit import constant, emit
from onnxgraph.backend.graph import collect
from onnxgraph.backend.scope import emit_options
from onnxgraph.backend.serialize import to_model_proto
from onnxgraph.layers._input_layer import placeholder
from onnxgraph.layers._node import recording
from onnxgraph.runtime import make_session

RNG = np.random.default_rng(4)


@pytest.fixture(autouse=True)
def _fresh_data():
    """The same data for a test however the suite is selected or ordered."""
    global RNG
    RNG = np.random.default_rng(4)


def _loss(y, r):
    product = emit("Mul", [y, r], shapes=[y.shape], dtypes_=[y.dtype])
    return emit("ReduceSum", [product], {"keepdims": 0}, shapes=[()], dtypes_=[y.dtype])


def _run(inputs, y, wrt, feeds):
    r = placeholder(y.shape, y.dtype, "r")
    loss = _loss(y, r)
    graph = collect(inputs + [r], [loss], [x.name for x in inputs] + ["r"], ["loss"])
    grads = gradients(graph, loss, wrt)
    graph.outputs += [y] + grads
    graph.output_names += ["y"] + [f"grad{i}" for i in range(len(grads))]
    proto, _ = to_model_proto(graph, name="dropout")
    feeds = {**feeds, "r": RNG.standard_normal(feeds[inputs[0].name].shape[:1] + tuple(y.shape[1:])).astype("float32")}
    _, y_value, *grad_values = make_session(proto.SerializeToString(), "cpu").run(None, feeds)
    return feeds["r"], y_value, grad_values


@pytest.mark.parametrize("mode", ["constant true", "runtime true", "runtime false", "absent", "constant false"])
@pytest.mark.parametrize("ratio", [0.3, None])
def test_dropout_gradient_uses_the_forward_mask(mode, ratio):
    x_value = (RNG.random((64, 50)) + 0.5).astype(np.float32)  # no zeros: y / x recovers the mask
    x = placeholder((None, 50), "float32", "x")
    inputs, feeds = [x], {"x": x_value}
    args = [x, None if ratio is None else constant(np.float32(ratio))]
    if mode.startswith("runtime"):
        flag = placeholder((), "bool", "training")
        inputs.append(flag)
        feeds["training"] = np.array(mode.endswith("true"))
        args.append(flag)
    elif mode != "absent":
        args.append(constant(np.array(mode.endswith("true"))))
    if mode == "absent":
        args = args[:1] if ratio is None else args
    y, _ = emit("Dropout", args, outputs=2, shapes=[x.shape, x.shape], dtypes_=["float32", "bool"])
    r, y_value, (dx,) = _run(inputs, y, [x], feeds)
    np.testing.assert_allclose(dx, r * y_value / x_value, rtol=1e-5, atol=1e-6)
    dropped = float((y_value == 0).mean())
    if mode in ("constant true", "runtime true"):
        assert 0.15 < dropped < 0.65  # active: some inputs dropped
    else:
        assert dropped == 0.0


def test_training_dropout_without_its_mask_output_is_an_error():
    x = placeholder((None, 5), "float32", "x")
    y = emit("Dropout", [x, constant(np.float32(0.5)), constant(np.array(True))], shapes=[x.shape], dtypes_=["float32"])
    with pytest.raises(NotImplementedError, match="mask"):
        _run([x], y, [x], {"x": np.ones((2, 5), np.float32)})


def test_dropout_layer_in_a_training_graph():
    """Dense -> Dropout replayed for training: the Dense weights' gradient goes through the same mask."""
    inputs = og.Input(shape=(6,))
    model = og.Model(inputs, layers.Dropout(0.5)(layers.Dense(8)(inputs)))
    dense = model.layers[1]
    x_value = RNG.standard_normal((32, 6)).astype(np.float32)
    with recording(False), emit_options(training_graph=True, state_updates=[]):
        x = placeholder((None, 6), "float32", "x")
        y = model._run_graph([x], training=True)
    kernel = next(t for node in collect([x], [y], ["x"], ["y"]).nodes for t in node.inputs
                  if t is not None and t.kind == "variable" and t.variable is dense.kernel)
    r, y_value, (d_kernel,) = _run([x], y, [kernel], {"x": x_value})
    hidden = x_value @ dense.kernel.numpy() + dense.bias.numpy()
    d_hidden = r * y_value / hidden  # mask * 2 where kept
    np.testing.assert_allclose(d_kernel, x_value.T @ d_hidden, rtol=1e-4, atol=1e-4)
    assert 0.3 < float((y_value == 0).mean()) < 0.7
