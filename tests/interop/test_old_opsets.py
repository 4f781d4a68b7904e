"""Ops whose signature changed between opsets keep their meaning when imported at opset 21.

Each model is written with onnx.helper at the old opset, in the old signature (attributes that
later became inputs, inference-only flags), and checked against a numpy formula.
"""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import onnxgraph as og

RNG = np.random.default_rng(0)


def _model(nodes, inputs, outputs, opset, initializers=()):
    graph = helper.make_graph(nodes, "old", inputs, outputs, [numpy_helper.from_array(a, n) for n, a in initializers])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=3)


def _f(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _run(proto, *arrays):
    model = og.Model.from_onnx(proto)
    result = model.predict(arrays[0] if len(arrays) == 1 else list(arrays), verbose=0)
    return model, result


X = RNG.standard_normal((2, 3, 4, 4)).astype(np.float32)


@pytest.mark.parametrize("opset, attrs", [(6, {"is_test": 1, "ratio": 0.3}), (6, {"ratio": 0.5}), (7, {"ratio": 0.2}),
                                          (10, {"ratio": 0.4})])
def test_old_dropout_is_identity(opset, attrs):
    nodes = [helper.make_node("Dropout", ["x"], ["d"], **attrs), helper.make_node("Relu", ["d"], ["y"])]
    model, y = _run(_model(nodes, [_f("x", [2, 3, 4, 4])], [_f("y", [2, 3, 4, 4])], opset), X)
    np.testing.assert_array_equal(y, np.maximum(X, 0))
    assert "Dropout -> Identity" in model.import_report["rewrites"]
    assert all(layer.get_config().get("op_type") != "Dropout" for layer in model.layers)


@pytest.mark.parametrize("opset, extra", [(6, {"is_test": 1}), (7, {"spatial": 1}), (8, {})])
def test_old_batch_normalization(opset, extra):
    scale, bias = RNG.random(3).astype(np.float32) + 0.5, RNG.standard_normal(3).astype(np.float32)
    mean, var = RNG.standard_normal(3).astype(np.float32), RNG.random(3).astype(np.float32) + 0.5
    node = helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], epsilon=1e-3, **extra)
    proto = _model([node], [_f("x", [2, 3, 4, 4])], [_f("y", [2, 3, 4, 4])], opset,
                   [("s", scale), ("b", bias), ("m", mean), ("v", var)])
    _, y = _run(proto, X)
    c = (slice(None), None, None)
    want = (X - mean[c]) / np.sqrt(var[c] + 1e-3) * scale[c] + bias[c]
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)


def test_batch_normalization_spatial_0_normalizes_per_activation():
    shape = (3, 4, 4)
    scale, bias = RNG.random(shape).astype(np.float32) + 0.5, RNG.standard_normal(shape).astype(np.float32)
    mean, var = RNG.standard_normal(shape).astype(np.float32), RNG.random(shape).astype(np.float32) + 0.5
    node = helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], epsilon=1e-5, spatial=0)
    proto = _model([node], [_f("x", [2, 3, 4, 4])], [_f("y", [2, 3, 4, 4])], 7,
                   [("s", scale), ("b", bias), ("m", mean), ("v", var)])
    model, y = _run(proto, X)
    np.testing.assert_allclose(y, (X - mean) / np.sqrt(var + 1e-5) * scale + bias, rtol=1e-5, atol=1e-5)
    assert "BatchNormalization (opset 7)" in model.import_report["rewrites"]


@pytest.mark.parametrize("opset", [7, 9])
def test_upsample_becomes_resize(opset):
    scales = [1.0, 1.0, 2.0, 3.0]
    if opset == 7:
        node, inits = helper.make_node("Upsample", ["x"], ["y"], mode="nearest", scales=scales), []
        inputs = [_f("x", [2, 3, 4, 4])]
    else:
        node = helper.make_node("Upsample", ["x", "scales"], ["y"], mode="nearest")
        inits, inputs = [("scales", np.array(scales, np.float32))], [_f("x", [2, 3, 4, 4])]
    proto = _model([node], inputs, [_f("y", [2, 3, 8, 12])], opset, inits)
    _, y = _run(proto, X)
    np.testing.assert_array_equal(y, X.repeat(2, axis=2).repeat(3, axis=3))


def test_pad_with_pads_attribute():
    node = helper.make_node("Pad", ["x"], ["y"], mode="constant", pads=[0, 0, 1, 2, 0, 0, 3, 0], value=1.5)
    proto = _model([node], [_f("x", [2, 3, 4, 4])], [_f("y", [2, 3, 8, 6])], 2)
    _, y = _run(proto, X)
    np.testing.assert_array_equal(y, np.pad(X, [(0, 0), (0, 0), (1, 3), (2, 0)], constant_values=1.5))


def test_reflect_pad_with_pads_attribute():
    node = helper.make_node("Pad", ["x"], ["y"], mode="reflect", pads=[0, 0, 1, 2, 0, 0, 2, 1])
    proto = _model([node], [_f("x", [2, 3, 4, 4])], [_f("y", [2, 3, 7, 7])], 2)
    _, y = _run(proto, X)
    np.testing.assert_array_equal(y, np.pad(X, [(0, 0), (0, 0), (1, 2), (2, 1)], mode="reflect"))


def test_slice_with_attributes():
    node = helper.make_node("Slice", ["x"], ["y"], starts=[1, 0], ends=[3, -1], axes=[2, 3])
    proto = _model([node], [_f("x", [2, 3, 4, 4])], [_f("y", [2, 3, 2, 3])], 1)
    _, y = _run(proto, X)
    np.testing.assert_array_equal(y, X[:, :, 1:3, 0:-1])


def test_reshape_with_shape_attribute():
    node = helper.make_node("Reshape", ["x"], ["y"], shape=[2, -1])
    proto = _model([node], [_f("x", [2, 3, 4, 4])], [_f("y", [2, 48])], 1)
    _, y = _run(proto, X)
    np.testing.assert_array_equal(y, X.reshape(2, -1))


@pytest.mark.parametrize("opset", [2, 11])
def test_split_with_split_attribute(opset):
    node = helper.make_node("Split", ["x"], ["a", "b"], axis=1, split=[1, 2])
    proto = _model([node], [_f("x", [2, 3, 4, 4])], [_f("a", [2, 1, 4, 4]), _f("b", [2, 2, 4, 4])], opset)
    _, (a, b) = _run(proto, X)
    np.testing.assert_array_equal(a, X[:, :1])
    np.testing.assert_array_equal(b, X[:, 1:])


def test_squeeze_unsqueeze_with_axes_attribute():
    nodes = [helper.make_node("Unsqueeze", ["x"], ["u"], axes=[0, 3]),
             helper.make_node("Squeeze", ["u"], ["y"], axes=[0])]
    proto = _model(nodes, [_f("x", [2, 3, 4, 4])], [_f("y", [2, 3, 1, 4, 4])], 11)
    _, y = _run(proto, X)
    np.testing.assert_array_equal(y, X[:, :, None, :, :])  # new axes 0 and 3 of the rank-6 result


@pytest.mark.parametrize("op, fn, opset", [("ReduceSum", np.sum, 11), ("ReduceMean", np.mean, 11),
                                           ("ReduceMax", np.max, 12), ("ReduceMean", np.mean, 17),
                                           ("ReduceL2", lambda a, **k: np.sqrt(np.sum(a * a, **k)), 13)])
def test_reductions_with_axes_attribute(op, fn, opset):
    node = helper.make_node(op, ["x"], ["y"], axes=[1, 3], keepdims=0)
    proto = _model([node], [_f("x", [2, 3, 4, 4])], [_f("y", [2, 4])], opset)
    _, y = _run(proto, X)
    np.testing.assert_allclose(y, fn(X, axis=(1, 3)), rtol=1e-5, atol=1e-6)


def test_opset_6_prelu_slope_is_per_channel():
    slope = np.array([0.1, 0.2, 0.3], np.float32)
    node = helper.make_node("PRelu", ["x", "slope"], ["y"])
    proto = _model([node], [_f("x", [2, 3, 4, 4])], [_f("y", [2, 3, 4, 4])], 6, [("slope", slope)])
    _, y = _run(proto, X)
    np.testing.assert_allclose(y, np.where(X > 0, X, X * slope[:, None, None]), rtol=1e-6)


def test_a_newer_opset_comes_down_to_21():
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Flatten", ["r"], ["y"], axis=1)]
    proto = _model(nodes, [_f("x", ["n", 3, 4, 4])], [_f("y", ["n", 48])], 22)
    proto.ir_version = 10
    model, y = _run(proto, X)
    np.testing.assert_array_equal(y, np.maximum(X, 0).reshape(2, -1))
    assert model.import_report["source_opset"] == 22


def test_float64_constants_keep_their_dtype():
    nodes = [helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(np.array(0.1, np.float64))),
             helper.make_node("Add", ["x", "c"], ["y"])]
    proto = _model(nodes, [helper.make_tensor_value_info("x", TensorProto.DOUBLE, [2, 3])],
                   [helper.make_tensor_value_info("y", TensorProto.DOUBLE, [2, 3])], 13)
    x = RNG.standard_normal((2, 3))
    _, y = _run(proto, x)
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, x + 0.1)


def test_inputs_without_a_batch_axis_are_run_whole():
    """A graph whose inputs have fixed, different first dimensions (a matrix product) is not batched."""
    node = helper.make_node("MatMul", ["a", "b"], ["y"])
    proto = _model([node], [_f("a", [2, 3]), _f("b", [3, 4])], [_f("y", [2, 4])], 13)
    a, b = RNG.standard_normal((2, 3)).astype(np.float32), RNG.standard_normal((3, 4)).astype(np.float32)
    _, y = _run(proto, a, b)
    np.testing.assert_allclose(y, a @ b, rtol=1e-6)


@pytest.mark.parametrize("bad, words", [
    (helper.make_tensor_sequence_value_info("s", TensorProto.FLOAT, [2]), "sequence"),
    (helper.make_tensor_value_info("s", TensorProto.STRING, [2]), "string tensor"),
])
def test_what_models_cannot_carry_is_refused_at_import(bad, words):
    proto = _model([helper.make_node("Identity", ["s"], ["y"])], [bad], [bad if words == "sequence" else
                   helper.make_tensor_value_info("y", TensorProto.STRING, [2])], 13)
    proto.graph.output[0].name = "y"
    with pytest.raises(ValueError, match=words):
        og.Model.from_onnx(proto)


def test_imported_report_survives_save_and_load(tmp_path):
    node = helper.make_node("Dropout", ["x"], ["y"], is_test=1)
    model, _ = _run(_model([node], [_f("x", [2, 3, 4, 4])], [_f("y", [2, 3, 4, 4])], 6), X)
    model.save(tmp_path / "m.onnx")
    reloaded = og.load_model(tmp_path / "m.onnx")
    assert reloaded.import_report == model.import_report
    onnx.checker.check_model(onnx.load(tmp_path / "m.onnx"), full_check=True)


def test_opset_6_broadcast_attribute_on_add():
    b = RNG.standard_normal(3).astype(np.float32)
    node = helper.make_node("Add", ["x", "b"], ["y"], broadcast=1, axis=1)
    proto = _model([node], [_f("x", [2, 3, 4, 4])], [_f("y", [2, 3, 4, 4])], 6, [("b", b)])
    _, y = _run(proto, X)
    np.testing.assert_allclose(y, X + b[:, None, None], rtol=1e-6)


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
def test_opset_11_softmax_normalizes_the_flattened_trailing_axes(op):
    """Before opset 13, Softmax(axis=1) on (N, C, H, W) normalized over C*H*W together."""
    node = helper.make_node(op, ["x"], ["y"], axis=1)
    proto = _model([node], [_f("x", [2, 3, 4, 4])], [_f("y", [2, 3, 4, 4])], 11)
    _, y = _run(proto, X)
    flat = X.reshape(2, -1)
    soft = np.exp(flat - flat.max(axis=1, keepdims=True))
    soft /= soft.sum(axis=1, keepdims=True)
    want = (soft if op == "Softmax" else np.log(soft)).reshape(X.shape)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)


def test_opset_3_concat_default_axis():
    node = helper.make_node("Concat", ["x", "x"], ["y"], axis=1)
    proto = _model([node], [_f("x", [2, 3, 4, 4])], [_f("y", [2, 6, 4, 4])], 3)
    _, y = _run(proto, X)
    np.testing.assert_array_equal(y, np.concatenate([X, X], axis=1))


@pytest.mark.parametrize("op, fn", [("Mul", np.multiply), ("Sub", np.subtract), ("Div", np.divide)])
def test_opset_6_broadcast_of_a_computed_operand(op, fn):
    nodes = [helper.make_node("ReduceMean", ["x"], ["m"], axes=[0, 2, 3], keepdims=0),
             helper.make_node(op, ["x", "m"], ["y"], broadcast=1, axis=1)]
    proto = _model(nodes, [_f("x", [2, 3, 4, 4])], [_f("y", [2, 3, 4, 4])], 6)
    _, y = _run(proto, X)
    np.testing.assert_allclose(y, fn(X, X.mean(axis=(0, 2, 3))[:, None, None]), rtol=1e-5, atol=1e-6)
