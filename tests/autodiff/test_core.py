"""The reverse pass on a Dense model, the harness's power to catch a wrong rule, and missing rules."""

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph.autodiff import NoGradientError, _registry, gradients
from onnxgraph.autodiff import _util as U
from onnxgraph.backend.emit import emit
from onnxgraph.backend.graph import collect
from tests.autodiff.gradcheck import GradientMismatch, check_fn, check_model


def _dense_model():
    x = og.Input((5,), name="x")
    h = og.layers.Dense(4, activation="relu", name="hidden")(x)
    y = og.layers.Dense(3, name="head")(h)
    return og.Model(x, y)


def test_dense_weights_and_input_match_finite_differences():
    model = _dense_model()
    x = np.random.default_rng(0).standard_normal((6, 5)).astype(np.float32)
    report = check_model(model, [x])
    assert {"hidden/kernel", "hidden/bias", "head/kernel", "head/bias", "x"} <= set(report)
    # Something flows: the checked gradients are not all zero.
    assert np.abs(report["hidden/kernel"][1]).max() > 1e-3
    assert report.precision == "float64"


def test_harness_fails_for_a_wrong_rule(monkeypatch):
    def wrong_mul(node, grads):  # d(a*b)/da = b, here 2b
        a, b = node.inputs
        g = U.mul(grads[0], b)
        return [U.unbroadcast(U.add(g, g), a), U.unbroadcast(U.mul(grads[0], a), b)]

    monkeypatch.setitem(_registry.RULES, ("", "Mul"), wrong_mul)
    x = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    w = np.random.default_rng(2).standard_normal((4,)).astype(np.float32)
    with pytest.raises(GradientMismatch, match="coordinates off"):
        check_fn(lambda x, w: emit("Mul", [x, w], shapes=[x.shape], dtypes_=["float32"]), [x], [w])


def test_harness_fails_for_a_slightly_wrong_rule_in_float32(monkeypatch):
    def wrong_relu(node, grads):  # 10% too large
        y = node.outputs[0]
        mask = U.cast(U.emit_like_bool("Greater", y, U.const(0.0, y.dtype)), y.dtype)
        return [U.mul(U.mul(grads[0], mask), U.const(1.1, y.dtype))]

    monkeypatch.setitem(_registry.RULES, ("", "Relu"), wrong_relu)
    x = np.random.default_rng(3).standard_normal((4, 6)).astype(np.float32) + 0.5
    with pytest.raises(GradientMismatch):
        check_fn(lambda x: emit("Relu", [x], shapes=[x.shape], dtypes_=["float32"]), [x], precision="float32")


def test_missing_rule_names_op_and_layer(monkeypatch):
    monkeypatch.delitem(_registry.RULES, ("", "Relu"))
    model = _dense_model()
    loss = emit("ReduceSum", [model.outputs[0]], {"keepdims": 0}, shapes=[()], dtypes_=["float32"])
    graph = collect(model.inputs, [loss], model.input_names, ["loss"])
    weights = [x for node in graph.nodes for x in node.inputs if x is not None and x.kind == "variable"]
    with pytest.raises(NoGradientError, match=r"Relu.*hidden/Relu.*layer 'hidden'.*engine='ort-training'"):
        gradients(graph, loss, weights)


def test_unreachable_and_integer_tensors_get_none():
    x = og.Input((3,), name="x")
    ids = og.Input((2,), dtype="int64", name="ids")
    unused = og.layers.Dense(2, name="unused")(x)
    y = og.layers.Dense(2, name="used")(x)
    model = og.Model([x, ids], [y, unused])
    loss = emit("ReduceSum", [model.outputs[0]], {"keepdims": 0}, shapes=[()], dtypes_=["float32"])
    graph = collect(model.inputs, [loss], model.input_names, ["loss"])
    kernel = model.get_layer("unused").kernel.graph_value()
    gx, gids, gk = gradients(graph, loss, [x, ids, kernel])
    assert gx is not None and gx.shape == (None, 3)
    assert gids is None and gk is None


def test_fan_in_is_accumulated():
    # y = x*x + x: dy/dx = 2x + 1 (three contributions to x's gradient).
    x = np.random.default_rng(4).standard_normal((2, 3)).astype(np.float32)
    report = check_fn(lambda x: emit("Add", [emit("Mul", [x, x], shapes=[x.shape], dtypes_=["float32"]), x],
                                     shapes=[x.shape], dtypes_=["float32"]), [x])
    assert set(report) == {"x0"}


def test_loss_outside_the_graph_is_refused():
    model = _dense_model()
    graph = collect(model.inputs, model.outputs, model.input_names, ["y"])
    loss = emit("ReduceSum", [graph.outputs[0]], {"keepdims": 0}, shapes=[()], dtypes_=["float32"])
    with pytest.raises(ValueError, match="not computed by this graph"):
        gradients(graph, loss, [model.inputs[0]])


def test_kinks_are_skipped_not_hidden():
    # One element sits exactly on ReLU's kink: no difference quotient is its derivative.
    x = np.asarray([[0.0, 1.0, -1.0, 2.0], [0.5, -0.5, 1.5, -2.0]], np.float32)
    relu = lambda x: emit("Relu", [x], shapes=[x.shape], dtypes_=["float32"])  # noqa: E731
    report = check_fn(relu, [x])
    assert report.skipped["x0"] == 1
    with pytest.raises(GradientMismatch, match="x0: 1/8 coordinates off"):
        check_fn(relu, [x], skip_kinks=False)
