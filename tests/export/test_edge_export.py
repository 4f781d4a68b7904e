"""Edge export: opsets, float16, int8 (dynamic / static QDQ), ORT format, and the report's figures."""

import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import onnxgraph as og
from onnxgraph import layers
from onnxgraph.export import convert_float16, export_model
from onnxgraph.runtime import import_onnxruntime


def toy_resnet():
    """The guide's toy ResNet for CIFAR10."""
    inputs = og.Input(shape=(32, 32, 3), name="img")
    x = layers.Conv2D(32, 3, activation="relu")(inputs)
    x = layers.Conv2D(64, 3, activation="relu")(x)
    block_1_output = layers.MaxPooling2D(3)(x)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(block_1_output)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
    block_2_output = layers.add([x, block_1_output])
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(block_2_output)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
    block_3_output = layers.add([x, block_2_output])
    x = layers.Conv2D(64, 3, activation="relu")(block_3_output)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(256, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(10)(x)
    return og.Model(inputs, outputs, name="toy_resnet")


def mlp(width=256):
    inputs = og.Input(shape=(64,), name="features")
    x = layers.Dense(width, activation="relu")(inputs)
    x = layers.Dense(width, activation="relu")(x)
    return og.Model(inputs, layers.Dense(10)(x), name="mlp")


def run_file(path, feeds):
    ort = import_onnxruntime()
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return session, session.run(None, feeds)


def images(n, seed=0):
    return np.random.default_rng(seed).random((n, 32, 32, 3)).astype("float32")


@pytest.fixture(scope="module")
def resnet():
    og.utils.clear_session()
    return toy_resnet()


def test_fp16_resnet_keeps_float32_io_and_reports_deviation(resnet, tmp_path):
    path = str(tmp_path / "resnet_fp16.onnx")
    report = resnet.export(path, fp16=True, verbose=False)
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    assert proto.graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT
    assert proto.graph.output[0].type.tensor_type.elem_type == TensorProto.FLOAT
    assert all(t.data_type != TensorProto.FLOAT for t in proto.graph.initializer if t.dims)
    # Half the bytes (weights dominate), measured on the real file.
    assert report.size_bytes == os.path.getsize(path)
    assert 0.45 < report.size_bytes / report.float32_size_bytes < 0.55
    # Independent check on fresh data: the fp16 file against the float32 model's predict.
    x = images(8, seed=1)
    _, (y16,) = run_file(path, {"img": x})
    y32 = resnet.predict(x, verbose=0)
    scale = np.abs(y32).max()
    assert np.abs(y16 - y32).max() <= 5e-3 * scale + 1e-4
    assert report.max_abs_diff["dense_1"] <= 5e-3 * scale + 1e-4
    assert report.max_abs_diff["dense_1"] > 0  # float16 rounding really happened
    assert "max abs deviation from float32" in str(report)


def test_fp16_io_types_on_request(tmp_path):
    model = mlp(32)
    path = str(tmp_path / "half_io.onnx")
    report = model.export(path, fp16=True, keep_io_types=False, verbose=False)
    proto = onnx.load(path)
    assert proto.graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT16
    assert proto.graph.output[0].type.tensor_type.elem_type == TensorProto.FLOAT16
    x = np.random.default_rng(2).random((4, 64)).astype("float32")
    _, (y,) = run_file(path, {"features": x.astype(np.float16)})
    assert y.dtype == np.float16
    np.testing.assert_allclose(y.astype(np.float32), model.predict(x, verbose=0), atol=2e-2)
    assert report.max_abs_diff["dense_2"] < 2e-2


def test_static_int8_resnet_is_qdq_and_runs(resnet, tmp_path):
    path = str(tmp_path / "resnet_int8.onnx")
    report = resnet.export(path, quantize="static", calibration_data=images(48), verbose=False)
    proto = onnx.load(path)
    ops = {n.op_type for n in proto.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Conv"} <= ops
    assert report.size_bytes < 0.35 * report.float32_size_bytes  # int8 weights
    x = images(8, seed=3)
    _, (y8,) = run_file(path, {"img": x})
    y32 = resnet.predict(x, verbose=0)
    scale = np.abs(y32).max()
    assert 0 < np.abs(y8 - y32).max() < 0.1 * scale
    assert 0 < report.max_abs_diff["dense_1"] < 0.1 * scale
    assert report.output_scale["dense_1"] == pytest.approx(np.abs(resnet.predict(images(48)[:32], verbose=0)).max())


def test_dynamic_int8_quantizes_matmuls(tmp_path):
    model = mlp(256)
    path = str(tmp_path / "mlp_dyn.onnx")
    report = model.export(path, quantize="dynamic", verbose=False)
    proto = onnx.load(path)
    assert "MatMulInteger" in {n.op_type for n in proto.graph.node}
    assert report.size_bytes < 0.4 * report.float32_size_bytes
    x = np.random.default_rng(4).random((16, 64)).astype("float32")
    _, (y,) = run_file(path, {"features": x})
    y32 = model.predict(x, verbose=0)
    assert 0 < np.abs(y - y32).max() < 0.05 * np.abs(y32).max()


def test_ort_format_file_runs_like_the_onnx_file(tmp_path):
    model = mlp(32)
    path = str(tmp_path / "mlp.onnx")
    report = model.export(path, ort_format=True, verbose=False)
    assert report.ort_path == str(tmp_path / "mlp.ort") and os.path.getsize(report.ort_path) == report.ort_size_bytes
    with open(report.ort_path, "rb") as f:
        assert f.read(8)[4:8] == b"ORTM"  # flatbuffer file identifier of the ORT format
    x = np.random.default_rng(5).random((3, 64)).astype("float32")
    _, (y_ort,) = run_file(report.ort_path, {"features": x})
    np.testing.assert_allclose(y_ort, model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    assert report.ort_max_abs_diff["dense_2"] < 1e-5


def test_models_over_2gb_take_the_external_data_paths(tmp_path, monkeypatch):
    """Every size-dependent branch, with the 2 GB limits lowered instead of writing 2 GB."""
    from onnxgraph.export import _edge, _quantize, _skeleton
    from onnxgraph.saving import _files

    monkeypatch.setattr(_edge, "_MAX_PROTO", 0)  # reference run from a file with external data
    monkeypatch.setattr(_quantize, "LARGE_PROTO", 0)  # quantizer reads/writes external data
    monkeypatch.setattr(_files, "EXTERNAL_DATA_THRESHOLD", 16)  # the written file has a data file
    model = mlp(256)
    base = model.to_onnx()
    before = base.SerializeToString()
    x = np.random.default_rng(7).random((6, 64)).astype("float32")
    for name, options in [("dyn", dict(quantize="dynamic")), ("half", dict(fp16=True)),
                          ("v17", dict(target_opset=17))]:
        path = str(tmp_path / name / "model.onnx")
        report = export_model(base, path, verbose=False, **options)
        assert base.SerializeToString() == before  # the caller's proto is untouched
        data_files = [f for f in os.listdir(tmp_path / name) if f.endswith(".data")]
        assert len(data_files) == 1 and report.size_bytes > os.path.getsize(path)
        onnx.checker.check_model(path, full_check=True)
        _, (y,) = run_file(path, {"features": x})
        y32 = model.predict(x, verbose=0)
        assert np.abs(y - y32).max() < 0.05 * np.abs(y32).max()
        assert report.max_abs_diff["dense_2"] < 0.05 * report.output_scale["dense_2"]
    # Skeletons (used for inference, checks and conversion) carry no weight bytes.
    assert _skeleton.skeleton(base).ByteSize() < 0.05 * base.ByteSize()


def test_target_opset_converts_and_lowers_ir(tmp_path):
    model = mlp(16)
    path = str(tmp_path / "opset13.onnx")
    report = model.export(path, target_opset=13, verbose=False)
    proto = onnx.load(path)
    assert [o.version for o in proto.opset_import if o.domain == ""] == [13]
    assert proto.ir_version == report.ir_version == 7
    onnx.checker.check_model(proto, full_check=True)
    assert report.max_abs_diff["dense_2"] == 0.0


def test_resnet_to_opset_11_moves_axes_back_to_attributes(resnet, tmp_path):
    path = str(tmp_path / "resnet11.onnx")
    report = resnet.export(path, target_opset=11, verbose=False)
    proto = onnx.load(path)
    assert report.opset == 11 and proto.ir_version == 6
    reductions = [n for n in proto.graph.node if n.op_type in ("ReduceMean", "Squeeze")]
    assert reductions and all(len(n.input) == 1 and any(a.name == "axes" for a in n.attribute) for n in reductions)
    x = images(4, seed=9)
    _, (y,) = run_file(path, {"img": x})
    np.testing.assert_allclose(y, resnet.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def _gelu_model():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4])
    nodes = [helper.make_node("Gelu", ["x"], ["g"], name="gelu"), helper.make_node("Relu", ["g"], ["y"], name="relu")]
    graph = helper.make_graph(nodes, "g", [x], [y])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)], ir_version=9)


def test_target_opset_without_an_op_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match=r"opset 19.*Gelu \(from opset 20\).*target_opset >= 20"):
        export_model(_gelu_model(), str(tmp_path / "x.onnx"), target_opset=19, verbose=False)
    assert not os.path.exists(tmp_path / "x.onnx")


def test_option_errors(tmp_path):
    model = mlp(8)
    with pytest.raises(ValueError, match="calibration_data"):
        model.export(str(tmp_path / "a.onnx"), quantize="static", verbose=False)
    with pytest.raises(ValueError, match="not both"):
        model.export(str(tmp_path / "a.onnx"), fp16=True, quantize="dynamic", verbose=False)
    with pytest.raises(ValueError, match="'dynamic' or 'static'"):
        model.export(str(tmp_path / "a.onnx"), quantize="int4", verbose=False)
    with pytest.raises(ValueError, match="opset 7"):
        model.export(str(tmp_path / "a.onnx"), target_opset=5, verbose=False)


def test_fp16_converter_keeps_float32_only_slots():
    """Resize's `scales` input only takes float32: it stays float32 while X goes float16."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 8, 8])
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")
    weight = numpy_helper.from_array(np.full((1, 2, 1, 1), 70000.0, np.float32), "w")  # beyond float16
    nodes = [helper.make_node("Mul", ["x", "w"], ["m"], name="mul"),
             helper.make_node("Resize", ["m", "", "scales"], ["y"], name="resize", mode="nearest")]
    proto = helper.make_model(helper.make_graph(nodes, "g", [x], [y], [scales, weight]),
                              opset_imports=[helper.make_opsetid("", 21)], ir_version=10)
    half = convert_float16(proto)
    inits = {t.name: t for t in half.graph.initializer}
    assert inits["scales"].data_type == TensorProto.FLOAT
    assert inits["w"].data_type == TensorProto.FLOAT16
    assert numpy_helper.to_array(inits["w"]).max() == np.float16(65504)  # clipped, not inf
    data = np.random.default_rng(6).random((1, 2, 4, 4)).astype("float32") * 1e-4
    ort = import_onnxruntime()
    got = ort.InferenceSession(half.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": data})[0]
    expected = np.repeat(np.repeat(data * 65504.0, 2, axis=2), 2, axis=3)
    np.testing.assert_allclose(got, expected, rtol=2e-3)
