"""DESIGN.md contract 4: checker-clean, opset 21 / IR 10, symbolic batch, readable names, no paths."""

import json

import numpy as np
import onnx
import pytest

import onnxgraph as keras
from onnxgraph import layers
from tests.conftest import check_onnx, rand


def model():
    inputs = keras.Input(shape=(784,), name="pixels")
    x = layers.Dense(64, activation="relu", name="hidden")(inputs)
    return keras.Model(inputs, layers.Dense(10, name="logits")(x), name="mnist_model")


def test_names_opset_ir_and_batch_dim():
    proto = check_onnx(model())
    assert proto.ir_version == 10
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", 21)]
    assert [n.name for n in proto.graph.node] == ["hidden/MatMul", "hidden/Add", "hidden/Relu", "logits/MatMul", "logits/Add"]
    assert [i.name for i in proto.graph.initializer] == ["hidden/kernel", "hidden/bias", "logits/kernel", "logits/bias"]
    assert [i.name for i in proto.graph.input] == ["pixels"] and [o.name for o in proto.graph.output] == ["logits"]
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and dims[1].dim_value == 784
    assert proto.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert {v.name for v in proto.graph.value_info} >= {"hidden"}  # intermediate shapes for Netron


def test_no_local_paths_or_training_ops_in_file():
    data = model().to_onnx().SerializeToString()
    for needle in [b"/work/", b"/tmp/", b"/root/", b"Traceback", b"site-packages"]:
        assert needle not in data
    ops = {n.op_type for n in model().to_onnx().graph.node}
    assert not ops & {"Dropout", "SoftmaxCrossEntropyLoss", "InPlaceAccumulatorV2"}


def test_config_in_metadata_rebuilds_layers():
    proto = model().to_onnx()
    meta = {p.key: p.value for p in proto.metadata_props}
    config = json.loads(meta["onnxgraph.config"])
    assert config["class_name"] == "Functional"
    assert [layer["name"] for layer in config["config"]["layers"]] == ["pixels", "hidden", "logits"]
    assert json.loads(meta["onnxgraph.weights"])[0] == ["hidden/kernel", []]


@pytest.mark.parametrize("opset", [17, 19])
def test_target_opset(opset):
    m = model()
    proto = check_onnx(m.to_onnx(target_opset=opset))
    assert [o.version for o in proto.opset_import if o.domain == ""] == [opset]
    import onnxruntime as ort

    x = rand(2, 784)
    y = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"pixels": x})[0]
    np.testing.assert_allclose(y, m.predict(x, verbose=0), rtol=1e-6)


def test_python_operators_on_symbolic_tensors_emit_nodes():
    from onnxgraph.backend.graph import collect
    from onnxgraph.backend.serialize import to_model_proto
    import onnxruntime as ort

    x = keras.Input(shape=(4, 5), name="x")
    y = keras.Input(shape=(5, 3), name="y")
    outs = [x + 1.5, 2 - x, x * x, x / 2, -x, x @ y, x < 0.1, x <= 0, x > 0, x >= 0.2, x[:, 3, :], x[:, ::-2, 1:4], x[..., None, 0]]
    graph = collect([x, y], outs, ["x", "y"], [f"o{i}" for i in range(len(outs))])
    proto, _ = to_model_proto(graph, name="ops")
    onnx.checker.check_model(proto, full_check=True)
    xv, yv = rand(2, 4, 5), rand(2, 5, 3, seed=1)
    got = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": xv, "y": yv})
    want = [xv + 1.5, 2 - xv, xv * xv, xv / 2, -xv, xv @ yv, xv < 0.1, xv <= 0, xv > 0, xv >= 0.2, xv[:, 3, :],
            xv[:, ::-2, 1:4], xv[..., None, 0]]
    for sym, g, w in zip(outs, got, want):
        assert g.shape == w.shape and sym.shape[1:] == w.shape[1:]
        np.testing.assert_allclose(g, w, rtol=1e-6)
