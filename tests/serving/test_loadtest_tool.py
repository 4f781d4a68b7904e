"""tools/loadtest.py against an embedded server: its client, checks and report (small load)."""

import asyncio
import importlib.util
import pathlib

import httpx
import pytest
from _serving_models import make_encoder

import onnxgraph as og

TOOL = pathlib.Path(__file__).resolve().parents[2] / "tools" / "loadtest.py"


@pytest.fixture(scope="module")
def loadtest():
    spec = importlib.util.spec_from_file_location("loadtest", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("fmt", ["json", "npy"])
def test_load_run_reports_throughput_latency_and_no_errors(loadtest, fmt):
    model = make_encoder()
    with og.serving.serve(model, max_batch_size=16, max_latency_ms=2, providers="cpu") as server:
        description = httpx.get(f"{server.url}/v1/models/encoder").json()

        def check(x):
            return model.predict(x, verbose=0)

        result = asyncio.run(loadtest.run_load(server.url, description, clients=4, requests=10, fmt=fmt, rows=2,
                                               check=check))
    assert result["errors"] == 0, result["error_examples"]
    assert result["ok"] == result["requests"] == 40
    assert result["throughput_rps"] > 0 and 0 < result["p50_ms"] <= result["p99_ms"]
    assert result["mean_batch_rows"] >= 2  # every request carries 2 rows


def test_wrong_answers_are_counted_as_errors(loadtest):
    model = make_encoder()
    with og.serving.serve(model, providers="cpu") as server:
        description = httpx.get(f"{server.url}/v1/models/encoder").json()
        result = asyncio.run(loadtest.run_load(server.url, description, clients=2, requests=3, fmt="json", rows=1,
                                               check=lambda x: model.predict(x, verbose=0) + 1.0))
    assert result["errors"] == 1 and "differ from a local onnxruntime run" in result["error_examples"][0]
