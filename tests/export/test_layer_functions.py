"""model.save(path, layer_functions=True): one ONNX local function call per layer call."""

import json

import numpy as np
import onnx
import pytest

import onnxgraph as og
from onnxgraph import layers
from onnxgraph.backend.functions import FUNCTION_DOMAIN
from onnxgraph.runtime import make_session


def run(proto, feeds):
    return make_session(proto.SerializeToString(), "cpu").run(None, feeds)


def shared_and_nested():
    """A shared layer called twice in a row, a nested model, two outputs."""
    inner_in = og.Input(shape=(8,))
    inner = og.Model(inner_in, layers.Dense(8, activation="tanh")(inner_in), name="inner")
    inputs = og.Input(shape=(8,), name="x")
    shared = layers.Dense(8, activation="relu", name="shared")
    h = shared(shared(inputs))
    z = inner(h)
    out = layers.Dense(3, name="head")(layers.concatenate([z, h]))
    return og.Model(inputs, [out, h], name="grouped")


def test_one_node_per_layer_call_with_config(tmp_path):
    model = shared_and_nested()
    proto = model.to_onnx(layer_functions=True)
    onnx.checker.check_model(proto, full_check=True)
    calls = [(n.name, n.op_type, n.domain) for n in proto.graph.node]
    assert calls == [("shared", "Dense", FUNCTION_DOMAIN), ("shared/call_1", "Dense", FUNCTION_DOMAIN),
                     ("inner", "inner", FUNCTION_DOMAIN), ("concatenate", "Concatenate", FUNCTION_DOMAIN),
                     ("head", "Dense_v3", FUNCTION_DOMAIN)]
    functions = {f.name: f for f in proto.functions}
    # Both calls of the shared layer (and any relu Dense) use one function: MatMul, Add, Relu.
    assert [n.op_type for n in functions["Dense"].node] == ["MatMul", "Add", "Relu"]
    assert list(functions["Dense"].input) == ["inputs", "kernel", "bias"]
    assert [n.op_type for n in functions["Dense_v3"].node] == ["MatMul", "Add"]
    # The nested model's body calls its own (tanh) Dense layer as a function.
    assert [(n.op_type, n.domain) for n in functions["inner"].node] == [("Dense_v2", FUNCTION_DOMAIN)]
    assert [n.op_type for n in functions["Dense_v2"].node] == ["MatMul", "Add", "Tanh"]
    # Weights stay initializers of the main graph, passed to the calls.
    assert list(proto.graph.node[0].input) == ["x", "shared/kernel", "shared/bias"]
    entry = json.loads(proto.graph.node[0].doc_string)
    assert entry["class_name"] == "Dense" and entry["config"]["units"] == 8
    assert entry["config"]["activation"] == "relu"
    meta = {p.key: p.value for p in proto.graph.node[4].metadata_props}
    assert meta["onnxgraph.class_name"] == "Dense" and json.loads(meta["onnxgraph.config"])["name"] == "head"


def test_grouped_and_flat_predict_the_same_and_both_load(tmp_path):
    model = shared_and_nested()
    flat_path, grouped_path = tmp_path / "flat.onnx", tmp_path / "grouped.onnx"
    model.save(flat_path)
    model.save(grouped_path, layer_functions=True)
    flat, grouped = onnx.load(flat_path), onnx.load(grouped_path)
    assert not flat.functions and len(grouped.functions) == 5  # the default file stays flat
    onnx.checker.check_model(str(grouped_path), full_check=True)
    x = np.random.default_rng(0).standard_normal((5, 8)).astype("float32")
    a, b = run(flat, {"x": x}), run(grouped, {"x": x})
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    expected = model.predict(x, verbose=0)
    restored = og.load_model(grouped_path)
    for u, v in zip(restored.predict(x, verbose=0), expected):
        np.testing.assert_array_equal(u, v)
    # Independent numpy reference for the second output (shared Dense applied twice).
    kernel, bias = model.get_layer("shared").get_weights()
    h = np.maximum(np.maximum(x @ kernel + bias, 0) @ kernel + bias, 0)
    np.testing.assert_allclose(b[1], h, rtol=1e-5, atol=1e-6)


def test_conv_model_groups_and_matches(tmp_path):
    inputs = og.Input(shape=(12, 12, 3), name="img")
    x = layers.Conv2D(4, 3, activation="relu")(inputs)
    x = layers.MaxPooling2D(2)(x)
    y = layers.Conv2D(4, 3, padding="same")(x)
    x = layers.add([x, y])
    outputs = layers.Dense(2)(layers.GlobalAveragePooling2D()(x))
    model = og.Model(inputs, outputs)
    grouped = model.to_onnx(layer_functions=True)
    onnx.checker.check_model(grouped, full_check=True)
    assert [n.name for n in grouped.graph.node] == [
        "conv2d", "max_pooling2d", "conv2d_1", "add", "global_average_pooling2d", "dense"]
    img = np.random.default_rng(1).random((2, 12, 12, 3)).astype("float32")
    np.testing.assert_allclose(run(grouped, {"img": img})[0], model.predict(img, verbose=0), rtol=1e-6, atol=1e-6)


def test_opset_conversion_needs_the_flat_file():
    model = shared_and_nested()
    with pytest.raises(ValueError, match="flat file"):
        model.to_onnx(target_opset=17, layer_functions=True)
