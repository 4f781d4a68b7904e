"""The `onnxgraph` command line: every subcommand on real files, errors as one line."""

import os
import re
import signal
import subprocess
import sys
import urllib.request

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import onnxgraph as og
from onnxgraph import layers
from onnxgraph.cli import build_parser, main

COMMANDS = ["summary", "check", "view", "plot", "export", "extract", "predict", "bench"]


@pytest.fixture
def files(tmp_path):
    """An onnxgraph MLP with two outputs, a foreign (onnx.helper) model, and an input array."""
    inputs = og.Input(shape=(4,), name="x")
    hidden = layers.Dense(8, activation="relu", name="hidden")(inputs)
    out = layers.Dense(2, name="out")(hidden)
    model = og.Model(inputs, [out, hidden], name="mlp")
    model.save(tmp_path / "mlp.onnx")
    w = np.random.default_rng(0).standard_normal((4, 3)).astype("float32")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["mm"], name="mm_node"), helper.make_node("Tanh", ["mm"], ["y"], name="tanh")],
        "foreign", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 3])], [numpy_helper.from_array(w, "W")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=8),
              tmp_path / "foreign.onnx")
    x = np.random.default_rng(1).standard_normal((5, 4)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    return model, w, x, tmp_path


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_every_subcommand_has_help(capsys):
    parser = build_parser()
    commands = set(parser._subparsers._group_actions[0].choices)
    assert set(COMMANDS) <= commands
    for command in commands:
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
        assert f"usage: onnxgraph {command}" in capsys.readouterr().out


def test_summary_and_check(files, capsys):
    _, _, _, folder = files
    code, out, _ = cli(capsys, "summary", folder / "mlp.onnx")
    assert code == 0 and "hidden (Dense)" in out and "Total params: 58" in out
    code, out, _ = cli(capsys, "summary", folder / "foreign.onnx")
    assert code == 0 and "tanh (OnnxNode)" in out
    code, out, _ = cli(capsys, "check", folder / "foreign.onnx")
    assert code == 0 and "IR version 8, opset ai.onnx 18" in out
    assert "onnx.checker (full_check): ok" in out and "loads ok" in out and "MatMul x1" in out
    broken = onnx.load(folder / "foreign.onnx")
    broken.graph.node[1].input[0] = "nowhere"
    onnx.save(broken, folder / "broken.onnx")
    code, out, _ = cli(capsys, "check", folder / "broken.onnx")
    assert code == 1 and "FAILED" in out


def test_predict_writes_arrays_equal_to_predict(files, capsys):
    model, w, x, folder = files
    code, out, _ = cli(capsys, "predict", folder / "foreign.onnx", "--input", folder / "x.npy",
                       "--output", folder / "y.npy", "--batch-size", 2)
    assert code == 0 and "y[5, 3]" in out
    np.testing.assert_allclose(np.load(folder / "y.npy"), np.tanh(x @ w), rtol=1e-5, atol=1e-6)
    code, _, _ = cli(capsys, "predict", folder / "mlp.onnx", "--input", f"x={folder / 'x.npy'}",
                     "--output", folder / "both.npz")
    assert code == 0
    both = np.load(folder / "both.npz")
    expected = model.predict(x, verbose=0)
    np.testing.assert_allclose(both["out"], expected[0], rtol=1e-6)
    np.testing.assert_allclose(both["hidden"], expected[1], rtol=1e-6)


def test_extract_export_plot_bench(files, capsys):
    model, w, x, folder = files
    code, out, _ = cli(capsys, "extract", folder / "foreign.onnx", folder / "mm.onnx", "--outputs", "mm")
    assert code == 0 and "1 nodes" in out
    cut = onnx.load(folder / "mm.onnx")
    assert [n.op_type for n in cut.graph.node] == ["MatMul"]
    np.testing.assert_allclose(og.load_model(folder / "mm.onnx").predict(x, verbose=0), x @ w, rtol=1e-5)
    code, out, _ = cli(capsys, "extract", folder / "mlp.onnx", folder / "hidden.onnx", "--outputs", "hidden")
    assert code == 0
    np.testing.assert_allclose(og.load_model(folder / "hidden.onnx").predict(x, verbose=0),
                               model.predict(x, verbose=0)[1], rtol=1e-6)
    code, out, _ = cli(capsys, "export", folder / "mlp.onnx", folder / "half.onnx", "--fp16", "--ort")
    assert code == 0 and "float16" in out and "max abs deviation from float32" in out and "ORT format" in out
    assert os.path.exists(folder / "half.ort")
    code, out, _ = cli(capsys, "plot", folder / "mlp.onnx", "-o", folder / "mlp.svg", "--show-shapes")
    assert code == 0 and ">hidden<" not in (folder / "mlp.svg").read_text()  # Keras default: no names
    assert "Output shape" in (folder / "mlp.svg").read_text()
    code, out, _ = cli(capsys, "bench", folder / "half.onnx", "--iterations", 5, "--warmup", 1, "--batch-size", 3)
    assert code == 0 and re.search(r"latency ms: mean [\d.]+", out) and "samples/s" in out


@pytest.mark.parametrize("argv, message", [
    (["predict", "missing.onnx", "--input", "x.npy", "--output", "y.npy"], "no such model file"),
    (["extract", "{mlp}", "{out}", "--outputs", "nope"], "No layer named 'nope'"),
    (["predict", "{mlp}", "--input", "{x}", "--output", "{out}"], "write them to a .npz"),
    (["export", "{mlp}", "{out}", "--quantize", "static"], "calibration_data"),
    (["bench", "{mlp}", "--iterations", "0"], "--iterations must be >= 1"),
])
def test_bad_input_is_one_line_and_nonzero(files, capsys, argv, message):
    _, _, _, folder = files
    paths = {"mlp": folder / "mlp.onnx", "out": folder / "out.onnx", "x": folder / "x.npy"}
    code, out, err = cli(capsys, *[a.format(**paths) for a in argv])
    assert code == 2 and message in err
    assert len(err.strip().splitlines()) == 1 and err.startswith(f"onnxgraph {argv[0]}: error:")


def test_console_script_process(files):
    _, _, _, folder = files
    exe = [sys.executable, "-m", "onnxgraph.cli"]
    usage = subprocess.run([*exe, "predict", str(folder / "mlp.onnx")], capture_output=True, text=True, timeout=120)
    assert usage.returncode == 2 and usage.stderr.count("\n") == 1
    assert "the following arguments are required: --input, --output" in usage.stderr


def test_view_serves_until_interrupted(files):
    pytest.importorskip("netron")
    _, _, _, folder = files
    process = subprocess.Popen([sys.executable, "-m", "onnxgraph.cli", "view", str(folder / "mlp.onnx"), "--no-browse",
                                "--layers"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        url = re.search(r"(http://localhost:\d+)", line).group(1)
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.stdout.close()
        process.stderr.close()
