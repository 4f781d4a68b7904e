"""Ops on layer outputs outside any layer become op-layers: model structure, config, save/load."""

import json

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph import layers, ops
from tests.conftest import check_onnx, rand


def _dense_ref(layer, x):
    kernel, bias = layer.get_weights()
    return x @ kernel + bias


def test_layer_output_times_scalar_is_a_model_layer(tmp_path):
    inputs = og.Input(shape=(4,))
    dense = layers.Dense(3)
    outputs = ops.concatenate([dense(inputs) * 2, inputs], axis=-1)
    model = og.Model(inputs, outputs)
    assert [layer.name for layer in model.layers] == ["input_layer", "dense", "multiply", "concatenate"]
    assert model.output_names == ["concatenate"]
    check_onnx(model)
    x = rand(5, 4)
    want = np.concatenate([_dense_ref(dense, x) * 2, x], axis=-1)
    np.testing.assert_allclose(model.predict(x, verbose=0), want, rtol=1e-5, atol=1e-6)
    lines = []
    model.summary(print_fn=lines.append)
    assert "multiply (Multiply)" in lines[0] and "concatenate (Concatenate)" in lines[0]
    assert "multiply[0][0], input_layer[0][0]" in lines[0]

    model.save(tmp_path / "m.onnx")
    restored = og.load_model(tmp_path / "m.onnx")
    np.testing.assert_allclose(restored.predict(x, verbose=0), want, rtol=1e-5, atol=1e-6)
    clone = og.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone.predict(x, verbose=0), want, rtol=1e-5, atol=1e-6)


def test_op_layer_config_is_plain_data():
    inputs = og.Input(shape=(6, 5))
    y = inputs[:, ::-1, None, 1:4]
    y = y[..., 0] + np.arange(3, dtype="float32")
    model = og.Model(inputs, ops.sum(y, axis=(1,), keepdims=True))
    config = model.get_config()
    text = json.dumps(config)  # JSON types only: slices, Ellipsis and arrays are encoded as data
    getitem = next(e for e in config["layers"] if e["name"] == "get_item")
    assert getitem["config"]["op"] == "getitem"
    assert getitem["config"]["arguments"]["args"][1] == {"__tuple__": [
        {"__slice__": [None, None, None]}, {"__slice__": [None, None, -1]}, None, {"__slice__": [1, 4, None]}]}
    clone = og.Model.from_config(json.loads(text))
    x = rand(2, 6, 5)
    want = np.sum(x[:, ::-1, None, 1:4][..., 0] + np.arange(3), axis=(1,), keepdims=True)
    np.testing.assert_allclose(clone.predict(x, verbose=0), want, rtol=1e-5)
    np.testing.assert_allclose(model.predict(x, verbose=0), want, rtol=1e-5)


def test_one_tensor_used_twice_is_one_input():
    inputs = og.Input(shape=(3,))
    model = og.Model(inputs, inputs * inputs)
    square = model.layers[-1]
    assert square.op == "multiply" and square.arguments["args"] == [{"__tensor__": 0}, {"__tensor__": 0}]
    assert len(square._inbound_nodes[0].input_tensors) == 1
    np.testing.assert_allclose(model.predict(np.array([[1, 2, 3]], "float32"), verbose=0), [[1, 4, 9]])


def test_multi_output_op_layer():
    inputs = og.Input(shape=(6,))
    first, second = ops.split(inputs, 2, axis=-1)
    values, indices = ops.top_k(inputs, 2)
    model = og.Model(inputs, [first - second, values, indices])
    x = rand(3, 6)
    got = model.predict(x, verbose=0)
    np.testing.assert_allclose(got[0], x[:, :3] - x[:, 3:], rtol=1e-6)
    np.testing.assert_allclose(got[1], -np.sort(-x, axis=-1)[:, :2], rtol=1e-6)
    assert got[2].dtype == np.int32
    clone = og.Model.from_config(model.get_config())
    np.testing.assert_allclose(clone.predict(x, verbose=0)[0], got[0])


def test_ops_inside_a_layer_are_plain_nodes():
    class Scale(layers.Layer):
        def call(self, inputs):
            return ops.sum(inputs * 2.0, axis=-1, keepdims=True)

    inputs = og.Input(shape=(3,))
    model = og.Model(inputs, Scale()(inputs))
    assert [layer.name for layer in model.layers] == ["input_layer", "scale"]
    assert [n.name for n in model.to_onnx().graph.node] == ["scale/Mul", "scale/ReduceSum"]


def test_unserializable_argument_is_a_clear_error():
    inputs = og.Input(shape=(3,))
    with pytest.raises(TypeError, match="cannot be saved as data"):
        ops.add(inputs, object())


def test_config_naming_an_unknown_op_is_refused():
    inputs = og.Input(shape=(3,))
    config = og.Model(inputs, inputs + 1.0).get_config()
    config["layers"][1]["config"]["op"] = "__import__"
    with pytest.raises(ValueError, match="unknown op '__import__'"):
        og.Model.from_config(config)


def test_arguments_must_be_json_data():
    from onnxgraph.layers._op_layer import OpLayer

    with pytest.raises(TypeError, match="plain data"):
        OpLayer("add", {"args": [{"__tensor__": 0}, object()], "kwargs": {}})
