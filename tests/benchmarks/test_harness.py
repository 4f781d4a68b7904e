"""The benchmark harness (python -m benchmarks): its bookkeeping, not its timings."""

import os

import numpy as np
import pytest

from benchmarks import _threads, build
from benchmarks.__main__ import main
from benchmarks._timing import interleaved, ratio
from benchmarks.models import keras_like, sample_inputs, torch_model


def test_interleaved_rotates_reports_failures_and_skips_slow_repeats():
    calls = []

    def contender(name, value):
        def run():
            calls.append(name)
            return value
        return run

    def broken():
        calls.append("broken")
        raise RuntimeError("cannot export | this")

    result = interleaved({"a": contender("a", 1.0), "b": contender("b", 3.0), "broken": broken}, repeats=3)
    assert calls == ["a", "b", "broken", "b", "a", "a", "b"]  # rotation; a failing contender runs once
    assert result["a"] == 1.0 and result["b"] == 3.0 and result["broken"] is None
    assert result.errors["broken"] == "RuntimeError: cannot export / this"  # no pipe: it would split the table
    assert result.cell("broken", str).startswith("failed (RuntimeError")
    assert ratio(result["a"], result["b"]) == "3.00x"

    slow = interleaved({"slow": lambda: sum(range(10**6)) and 1.0}, repeats=4, max_seconds=0.0)
    assert slow.counts["slow"] == 1


@pytest.mark.parametrize("case", ["mlp", "toy_resnet", "autoencoder", "ticket_router"])
def test_the_three_builds_are_the_same_architecture(case):
    import keras
    import torch

    import onnxgraph as og

    ours, theirs = keras_like(og, case), keras_like(keras, case)
    assert ours.count_params() == theirs.count_params()
    module = torch_model(case).eval()
    xs = sample_inputs(case, 2)
    with torch.no_grad():
        out = module(*[torch.from_numpy(a) for a in xs])
    got = ours.predict(xs[0] if len(xs) == 1 else xs, verbose=0)
    got, out = (got if isinstance(got, list) else [got]), (out if isinstance(out, tuple) else (out,))
    assert [g.shape for g in got] == [tuple(o.shape) for o in out]
    lstm_biases = 4 * (128 + 32)  # torch's LSTM has two bias vectors, Keras's one
    assert sum(p.numel() for p in module.parameters()) == ours.count_params() + (lstm_biases if case == "ticket_router"
                                                                               else 0)


@pytest.fixture
def restore_threads(monkeypatch):
    """The harness sets process-wide thread counts: put everything back for the other tests."""
    import torch

    import onnxgraph.runtime
    from onnxgraph.runtime import _runner

    for var in (_threads.ENV_KEY,) + _threads._LIBRARY_VARS:
        if var in os.environ:
            monkeypatch.setenv(var, os.environ[var])
        else:
            monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(_runner, "make_session", _runner.make_session)
    monkeypatch.setattr(onnxgraph.runtime, "make_session", onnxgraph.runtime.make_session)
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_thread_setting_reaches_every_contender(restore_threads):
    import torch

    from onnxgraph.runtime import _runner

    _threads.set_env(1)
    assert os.environ["OPENBLAS_NUM_THREADS"] == "1"
    assert _threads.apply() == 1 and torch.get_num_threads() == 1
    session = _runner.make_session(_tiny_model_bytes(), "cpu")
    assert session.get_session_options().intra_op_num_threads == 1
    assert _threads.ort_options().intra_op_num_threads == 1
    explicit = _runner.make_session(_tiny_model_bytes(), "cpu", threads=2)  # an explicit count still wins
    assert explicit.get_session_options().intra_op_num_threads == 2


def _tiny_model_bytes():
    import onnxgraph as og

    inputs = og.Input(shape=(2,))
    return og.Model(inputs, og.layers.Dense(1)(inputs)).to_onnx().SerializeToString()


@pytest.mark.slow
def test_build_section_writes_the_table_and_reports_a_failing_exporter(tmp_path, monkeypatch, restore_threads):
    def keras_fails(case, folder):
        raise RuntimeError("Keras export failed for this architecture")

    monkeypatch.setattr(build, "_keras", keras_fails)
    out = tmp_path / "BENCHMARKS.md"
    main(["--sections", "build", "--cases", "mlp", "--repeats", "1", "--out", str(out)])
    text = out.read_text()
    row = next(line for line in text.splitlines() if line.startswith("| mlp |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == "55,050 / 55,050 / 55,050"
    assert cells[3] == "failed (RuntimeError: Keras export failed for this architecture)"
    assert cells[2].endswith("ms") and cells[4].endswith("ms") and cells[5] == "n/a"
    assert "Threads: 1 for every contender" in text and "No GPU was lent" in text
    assert float(cells[6].rstrip("x")) > 0 and np.isfinite(float(cells[6].rstrip("x")))


def test_a_failing_before_after_comparison_becomes_a_row(monkeypatch):
    from benchmarks import before_after

    def broken():
        raise RuntimeError("old code | changed shape")

    monkeypatch.setattr(before_after, "_optimizer_rows", broken)
    monkeypatch.setattr(before_after, "_predict_rows", lambda: ["| predict | a | b | | |"])
    monkeypatch.setattr(before_after, "_gather_rows", lambda: ["| gather | a | b | | |"])
    rows = before_after.run()
    assert rows[2] == "| optimizer | failed (RuntimeError: old code / changed shape) | | | |"
    assert rows[3:] == ["| predict | a | b | | |", "| gather | a | b | | |"]
