"""Model.from_onnx: foreign ONNX graphs become Models whose nodes can be cut into feature extractors."""

import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import onnxgraph as og
from onnxgraph.runtime import make_session
from onnxgraph.saving import _files


def rng_array(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def helper_mlp(opset=17, hidden=5):
    """x -> MatMul/Add/Relu (node 'hidden') -> MatMul/Add 'logits' -> Softmax, built with onnx.helper."""
    w1, b1 = rng_array(6, hidden, seed=1), rng_array(hidden, seed=2)
    w2, b2 = rng_array(hidden, 3, seed=3), rng_array(3, seed=4)
    inits = [numpy_helper.from_array(a, n) for a, n in [(w1, "W1"), (b1, "b1"), (w2, "W2"), (b2, "b2")]]
    inits.append(numpy_helper.from_array(np.array([-1, hidden], np.int64), "shape"))
    nodes = [
        helper.make_node("MatMul", ["x", "W1"], ["mm1"], name="fc1/MatMul"),
        helper.make_node("Add", ["mm1", "b1"], ["pre"], name="fc1/Add"),
        helper.make_node("Relu", ["pre"], ["hidden_out"], name="hidden"),
        helper.make_node("Reshape", ["hidden_out", "shape"], ["flat"], name="reshape"),
        helper.make_node("MatMul", ["flat", "W2"], ["mm2"], name="fc2/MatMul"),
        helper.make_node("Add", ["mm2", "b2"], ["logits"], name="logits_node"),
        helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=-1),
    ]
    graph = helper.make_graph(nodes, "helper_mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 6])],
                              [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["n", 3])], inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)
    onnx.checker.check_model(proto, full_check=True)
    return proto, (w1, b1, w2, b2)


def ort_run(proto, feeds):
    return make_session(proto.SerializeToString(), "cpu").run(None, feeds)


def test_helper_model_is_wrapped_and_cut_by_node_and_value_name():
    proto, (w1, b1, w2, b2) = helper_mlp()
    m = og.Model.from_onnx(proto)
    x = rng_array(4, 6, seed=5)
    hidden = np.maximum(x @ w1 + b1, 0)  # independent numpy reference
    logits = hidden @ w2 + b2
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    np.testing.assert_allclose(m.predict(x, verbose=0), probs, rtol=1e-5, atol=1e-6)
    assert m.output_names == ["probs"]
    # By node name and by output value name.
    assert m.get_layer("hidden") is m.get_layer("hidden_out")
    extractor = og.Model(inputs=m.inputs, outputs=[m.get_layer("hidden").output, m.get_tensor("logits")])
    got_hidden, got_logits = extractor.predict(x, verbose=0)
    np.testing.assert_allclose(got_hidden, hidden, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_logits, logits, rtol=1e-5, atol=1e-6)
    # Pruned: only the needed nodes and weights, original names kept.
    cut = og.Model(m.inputs, m.get_layer("hidden").output).to_onnx()
    onnx.checker.check_model(cut, full_check=True)
    assert [n.name for n in cut.graph.node] == ["fc1/MatMul", "fc1/Add", "hidden/Relu"]
    assert sorted(t.name for t in cut.graph.initializer) == ["W1", "b1"]
    assert [(w.path, w.shape) for w in og.Model(m.inputs, m.get_layer("hidden").output).weights] == \
        [("W1", (6, 5)), ("b1", (5,))]


def test_intermediate_values_equal_the_original_model_in_onnxruntime():
    proto, _ = helper_mlp()
    m = og.Model.from_onnx(proto)
    # The original model with its intermediate value exposed, run by onnxruntime directly.
    exposed = onnx.ModelProto()
    exposed.CopyFrom(proto)
    exposed.graph.output.append(helper.make_tensor_value_info("pre", TensorProto.FLOAT, ["n", 5]))
    x = rng_array(3, 6, seed=6)
    _, want_pre = ort_run(exposed, {"x": x})
    got = og.Model(m.inputs, m.get_tensor("pre")).predict(x, verbose=0)
    np.testing.assert_array_equal(got, want_pre)


def test_older_opset_is_converted_and_layers_save_and_load(tmp_path):
    proto, _ = helper_mlp(opset=11)
    m = og.Model.from_onnx(proto)
    x = rng_array(2, 6, seed=7)
    np.testing.assert_allclose(m.predict(x, verbose=0), ort_run(proto, {"x": x})[0], rtol=1e-5, atol=1e-6)
    m.summary(print_fn=lambda text: None)
    path = tmp_path / "wrapped.onnx"
    m.save(path)
    restored = og.load_model(path)
    assert restored.output_names == ["probs"]
    np.testing.assert_array_equal(restored.predict(x, verbose=0), m.predict(x, verbose=0))
    cut = og.Model(restored.inputs, restored.get_layer("hidden").output)
    np.testing.assert_allclose(cut.predict(x, verbose=0), np.maximum(x @ m.get_layer("fc1/MatMul").get_weights()[0]
                                                                      + m.get_layer("fc1/Add").get_weights()[0], 0),
                               rtol=1e-5, atol=1e-6)


def test_large_integer_initializers_are_weights_and_nodes_stay_nodes(tmp_path):
    indices = np.random.default_rng(12).integers(0, 6, size=200).astype(np.int64)
    graph = helper.make_graph(
        [helper.make_node("Gather", ["x", "idx"], ["y"], name="pick", axis=1)], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 200])], [numpy_helper.from_array(indices, "idx")])
    m = og.Model.from_onnx(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)]))
    (weight,) = m.weights
    assert weight.path == "idx" and weight.dtype == "int64" and not m.trainable_weights
    x = rng_array(2, 6, seed=13)
    np.testing.assert_array_equal(m.predict(x, verbose=0), x[:, indices])
    grouped = m.to_onnx(layer_functions=True)
    assert not grouped.functions and [n.op_type for n in grouped.graph.node] == ["Gather"]
    m.save(tmp_path / "gather.onnx")
    meta = {p.key: p.value for p in onnx.load(tmp_path / "gather.onnx").metadata_props}
    assert len(meta["onnxgraph.config"]) < 2000  # the indices live in the initializer, not the config
    np.testing.assert_array_equal(og.load_model(tmp_path / "gather.onnx").predict(x, verbose=0), x[:, indices])


def test_external_data_in_and_out(tmp_path, monkeypatch):
    proto, (w1, b1, _, _) = helper_mlp(hidden=300)  # W1 is 7.2 kB: above onnx's 1 kB external threshold
    source = tmp_path / "src" / "model.onnx"
    source.parent.mkdir()
    onnx.save_model(proto, str(source), save_as_external_data=True, location="model.weights", size_threshold=0)
    assert os.path.exists(tmp_path / "src" / "model.weights")
    m = og.Model.from_onnx(source)
    extractor = og.Model(m.inputs, m.get_layer("hidden").output, name="features")
    # The >2 GB path writes weights to a data file; lower the threshold instead of writing 2 GB.
    monkeypatch.setattr(_files, "EXTERNAL_DATA_THRESHOLD", 16)
    out = tmp_path / "out" / "features.onnx"
    extractor.save(out)
    data_files = [f for f in os.listdir(out.parent) if f.endswith(".data")]
    assert len(data_files) == 1
    skeleton = onnx.load(str(out), load_external_data=False)
    assert all(t.data_location == TensorProto.EXTERNAL for t in skeleton.graph.initializer if t.name == "W1")
    onnx.checker.check_model(str(out), full_check=True)
    x = rng_array(3, 6, seed=8)
    from onnxgraph.runtime import import_onnxruntime

    session = import_onnxruntime().InferenceSession(str(out), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"x": x})[0], np.maximum(x @ w1 + b1, 0), rtol=1e-5, atol=1e-6)
    reloaded = og.Model.from_onnx(out)  # re-import the external-data file it wrote
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), np.maximum(x @ w1 + b1, 0), rtol=1e-5, atol=1e-6)


def test_external_data_outside_the_folder_is_refused(tmp_path):
    proto, _ = helper_mlp()
    (tmp_path / "a").mkdir()
    onnx.save_model(proto, str(tmp_path / "a" / "m.onnx"), save_as_external_data=True, location="w.bin",
                    size_threshold=0)
    evil = onnx.load(str(tmp_path / "a" / "m.onnx"), load_external_data=False)
    for tensor in evil.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = "../a/w.bin"
    (tmp_path / "b").mkdir()
    with open(tmp_path / "b" / "m.onnx", "wb") as f:
        f.write(evil.SerializeToString())
    with pytest.raises(ValueError, match="outside the model's folder"):
        og.Model.from_onnx(tmp_path / "b" / "m.onnx")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the TorchScript exporter is deprecated, still shipped
def test_torch_onnx_export_is_cut_into_a_feature_extractor(tmp_path):
    torch = pytest.importorskip("torch")

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
            self.bn = torch.nn.BatchNorm2d(8)
            self.fc = torch.nn.Linear(8, 4)

        def forward(self, x):
            h = torch.relu(self.bn(self.conv(x)))
            return self.fc(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(h, 1), 1))

    torch.manual_seed(0)
    net = Net().eval()
    with torch.no_grad():
        net.bn.running_mean.uniform_(-0.5, 0.5)
        net.bn.running_var.uniform_(0.5, 1.5)
    path = str(tmp_path / "net.onnx")
    example = torch.randn(2, 3, 10, 10)
    torch.onnx.export(net, (example,), path, dynamo=False, input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})
    captured = {}
    net.bn.register_forward_hook(lambda mod, inp, out: captured.update(bn=out.detach().numpy()))
    m = og.Model.from_onnx(path)
    x = np.random.default_rng(9).standard_normal((3, 3, 10, 10)).astype("float32")
    with torch.no_grad():
        want = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(m.predict(x, verbose=0), want, rtol=1e-4, atol=1e-5)
    # torch.onnx folds BatchNorm into the Conv: the node after it is the Relu's input.
    conv = next(layer for layer in m.layers if getattr(layer, "op_type", None) == "Conv")
    extractor = og.Model(m.inputs, conv.output, name="bn_features")
    features = extractor.predict(x, verbose=0)
    np.testing.assert_allclose(features, captured["bn"], rtol=1e-4, atol=1e-4)
    proto = extractor.to_onnx()
    onnx.checker.check_model(proto, full_check=True)
    assert [n.op_type for n in proto.graph.node] == ["Conv"]
    assert {t.name for t in proto.graph.initializer} == set(conv.weights[i].path for i in range(len(conv.weights)))
    assert [n.name for n in proto.graph.node] == [conv.node_name]  # torch's node name kept


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::FutureWarning")  # torch.export internals
def test_torch_dynamo_export_is_cut_into_a_feature_extractor(tmp_path):
    """torch.onnx's default (torch.export based) exporter: opset 18+, `node_*` names."""
    torch = pytest.importorskip("torch")

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = torch.nn.Linear(6, 16)
            self.out = torch.nn.Linear(16, 2)

        def forward(self, x):
            return self.out(torch.nn.functional.gelu(self.proj(x)))

    torch.manual_seed(1)
    net = Net().eval()
    path = str(tmp_path / "dyn.onnx")
    torch.onnx.export(net, (torch.randn(2, 6),), path, dynamo=True, input_names=["x"],
                      dynamic_shapes={"x": {0: torch.export.Dim("batch")}})
    m = og.Model.from_onnx(path)
    x = np.random.default_rng(10).standard_normal((5, 6)).astype("float32")
    with torch.no_grad():
        want = net(torch.from_numpy(x)).numpy()
        want_gelu = torch.nn.functional.gelu(net.proj(torch.from_numpy(x))).numpy()
    np.testing.assert_allclose(m.predict(x, verbose=0), want, rtol=1e-4, atol=1e-5)
    gelu = next(layer for layer in m.layers if getattr(layer, "op_type", None) == "Gelu")
    features = og.Model(m.inputs, gelu.output).predict(x, verbose=0)
    np.testing.assert_allclose(features, want_gelu, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_keras_export_is_wrapped_and_cut(tmp_path):
    """A Keras 3 model exported with `model.export(format="onnx")` (torch backend)."""
    keras = pytest.importorskip("keras")
    inputs = keras.Input((8,))
    hidden = keras.layers.Dense(4, activation="relu", name="hid")(inputs)
    kmodel = keras.Model(inputs, keras.layers.Dense(2, name="head")(hidden))
    probe = keras.Model(inputs, hidden)
    x = np.random.default_rng(11).standard_normal((3, 8)).astype("float32")
    expected, expected_hidden = kmodel.predict(x, verbose=0), probe.predict(x, verbose=0)
    path = str(tmp_path / "keras.onnx")
    kmodel.export(path, format="onnx", verbose=False)
    m = og.Model.from_onnx(path)
    np.testing.assert_allclose(m.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    relu = next(layer for layer in m.layers if getattr(layer, "op_type", None) == "Relu")
    np.testing.assert_allclose(og.Model(m.inputs, relu.output).predict(x, verbose=0), expected_hidden,
                               rtol=1e-5, atol=1e-6)


def test_unsupported_graphs_are_clear_errors():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    custom = helper.make_model(helper.make_graph([helper.make_node("Foo", ["x"], ["y"], domain="my.ops")], "g", [x], [y]),
                               opset_imports=[helper.make_opsetid("", 21), helper.make_opsetid("my.ops", 1)])
    with pytest.raises(ValueError, match="domain 'my.ops'"):
        og.Model.from_onnx(custom)
    branch = helper.make_graph([helper.make_node("Identity", ["x"], ["z"])], "b", [], [y])
    cond = helper.make_tensor_value_info("c", TensorProto.BOOL, [])
    with_if = helper.make_model(
        helper.make_graph([helper.make_node("If", ["c"], ["y"], name="branchy", then_branch=branch, else_branch=branch)],
                          "g", [cond, x], [y]), opset_imports=[helper.make_opsetid("", 21)])
    with pytest.raises(ValueError, match="'branchy'.*subgraph"):
        og.Model.from_onnx(with_if)
    with pytest.raises(TypeError, match="path to a .onnx file or an onnx.ModelProto"):
        og.Model.from_onnx(42)
