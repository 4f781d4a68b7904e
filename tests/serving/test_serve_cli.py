"""`onnxgraph serve` in a subprocess: prints where it listens, answers, stops cleanly on SIGINT."""

import os
import re
import signal
import subprocess
import sys

import httpx
import numpy as np
import onnx
import pytest
from _serving_models import make_encoder, make_gather_proto, rows

from onnxgraph.cli import main
from onnxgraph.cli._serve import parse_models

ENTRY = "import sys; from onnxgraph.cli import main; sys.exit(main())"


def _start(*args):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-c", ENTRY, "serve", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env=env)
    lines = []
    for line in process.stdout:  # the banner comes once the models are loaded and the port is bound
        lines.append(line)
        match = re.search(r"serving \d+ model\(s\) at (http://\S+)", line)
        if match:
            return process, match.group(1), "".join(lines)
    process.wait(10)
    raise AssertionError(f"`onnxgraph serve` exited with {process.returncode}:\n{''.join(lines)}")


def test_serve_answers_and_stops_on_sigint(tmp_path):
    model = make_encoder()
    model.save(tmp_path / "enc.onnx")
    onnx.save(make_gather_proto(), tmp_path / "lookup.onnx")
    process, url, banner = _start(f"emb={tmp_path / 'enc.onnx'}", str(tmp_path / "lookup.onnx"),
                                  "--port", "0", "--max-batch-size", "8", "--max-latency-ms", "1",
                                  "--providers", "cpu", "--log-level", "warning")
    try:
        assert f"emb: POST {url}/v1/models/emb:predict  inputs x[None, 8]:float32" in banner
        assert "batching on: every node keeps rows apart" in banner
        x = rows(3, 8)
        body = httpx.post(f"{url}/v1/models/emb:predict", json={"inputs": x.tolist()}, timeout=30).json()
        np.testing.assert_allclose(body["outputs"]["embedding"], model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
        assert httpx.get(f"{url}/v1/models/lookup", timeout=30).json()["max_batch_size"] == 8
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 130  # after a graceful shutdown uvicorn re-raises the signal: 128 + SIGINT


def test_serve_features_of_one_model(tmp_path):
    model = make_encoder()
    model.save(tmp_path / "enc.onnx")
    process, url, banner = _start(str(tmp_path / "enc.onnx"), "--port", "0", "--layers", "hidden",
                                  "--providers", "cpu", "--log-level", "warning", "--batching", "off",
                                  "--header-timeout", "2", "--body-timeout", "3", "--idle-timeout", "1")
    try:
        assert "batching off: batching='off'" in banner
        assert httpx.get(f"{url}/v1/models/enc", timeout=30).json()["max_batch_size"] == 1
        x = rows(2, 8, seed=5)
        body = httpx.post(f"{url}/v1/models/enc:predict", json={"inputs": x.tolist()}, timeout=30).json()
        kernel, bias = model.get_layer("hidden").get_weights()
        np.testing.assert_allclose(body["outputs"]["hidden"], np.maximum(x @ kernel + bias, 0), rtol=1e-5, atol=1e-6)
    finally:
        process.terminate()
        assert process.wait(30) == -signal.SIGTERM  # finished gracefully, then ended by the re-raised SIGTERM


def test_bad_arguments_exit_2_with_one_line(tmp_path, capsys):
    assert main(["serve", str(tmp_path / "missing.onnx"), "--port", "0"]) == 2
    assert "No model file at" in capsys.readouterr().err
    model = make_encoder()
    model.save(tmp_path / "enc.onnx")
    assert main(["serve", str(tmp_path / "enc.onnx"), "--layers", "nope", "--port", "0"]) == 2
    assert "No layer named 'nope'" in capsys.readouterr().err
    assert main(["serve", str(tmp_path / "enc.onnx"), "--body-timeout", "0", "--port", "0"]) == 2
    assert "`body` must be a positive number of seconds" in capsys.readouterr().err


@pytest.mark.parametrize("args, expected", [
    (["a.onnx", "b/c.onnx"], ["a.onnx", "b/c.onnx"]),
    (["x=a.onnx", "b/c.onnx"], {"x": "a.onnx", "c": "b/c.onnx"}),
])
def test_model_arguments(args, expected):
    assert parse_models(args) == expected
