"""Section 2: batch-1 latency and batch-256 throughput.

onnxgraph predict and __call__ vs a raw onnxruntime session on the same file vs Keras 3
predict vs PyTorch eager (no_grad), all with the same thread count. A second table measures
onnxgraph's predict overhead over the raw session with paired, alternating blocks of calls.
"""

from __future__ import annotations

import functools
import os
import statistics
import tempfile
import time
import warnings

from benchmarks import _threads
from benchmarks._timing import fmt_time, interleaved, per_call
from benchmarks.models import keras_like, sample_inputs, torch_model

__all__ = ["run", "contenders", "predict_overhead", "NAMES"]

NAMES = ["onnxgraph predict", "onnxgraph __call__", "raw onnxruntime", "Keras predict", "PyTorch eager"]


class _Models:
    """The three builds of one case, and the raw session on onnxgraph's saved file."""

    def __init__(self, case: str, folder: str):
        import keras
        import torch

        import onnxgraph as og
        from onnxgraph.runtime import import_onnxruntime

        _threads.apply()
        self.case = case
        self.og = keras_like(og, case)
        path = os.path.join(folder, f"{case}.onnx")
        self.og.save(path)
        ort = import_onnxruntime()
        self.session = ort.InferenceSession(path, _threads.ort_options(), providers=["CPUExecutionProvider"])
        self.keras = keras_like(keras, case)
        self.torch = torch_model(case).eval()
        self._torch = torch


def contenders(models: _Models, batch: int) -> dict:
    """name -> zero-argument callable running one batch of `batch` samples."""
    torch = models._torch
    xs = sample_inputs(models.case, batch)
    feeds = dict(zip([i.name for i in models.session.get_inputs()], xs))
    og_x = xs[0] if len(xs) == 1 else xs
    tensors = [torch.from_numpy(a) for a in xs]

    def torch_eager():
        with torch.no_grad():
            models.torch(*tensors)

    def keras_predict():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # input-structure warnings on every call
            models.keras.predict(og_x, batch_size=batch, verbose=0)

    return {
        "onnxgraph predict": lambda: models.og.predict(og_x, batch_size=batch, verbose=0),
        "onnxgraph __call__": lambda: models.og(og_x),
        "raw onnxruntime": lambda: models.session.run(None, feeds),
        "Keras predict": keras_predict,
        "PyTorch eager": torch_eager,
    }


def predict_overhead(models: _Models, batch: int, rounds: int = 15, block: float = 0.05) -> tuple[float, float]:
    """(median paired difference predict - raw in seconds per call, median ratio predict/raw).

    Each round times a block of predict calls, then a block of raw session calls (the order
    alternates), so both see the same machine load; the median over rounds drops outliers.
    """
    fns = contenders(models, batch)
    ours, raw = fns["onnxgraph predict"], fns["raw onnxruntime"]
    ours(), raw()
    calls = max(3, int(block / max(per_call(raw, 0.05), 1e-7)))
    diffs, ratios = [], []
    for r in range(rounds):
        pair = {}
        for name, fn in ((("og", ours), ("raw", raw)) if r % 2 == 0 else (("raw", raw), ("og", ours))):
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            pair[name] = (time.perf_counter() - start) / calls
        diffs.append(pair["og"] - pair["raw"])
        ratios.append(pair["og"] / pair["raw"])
    return statistics.median(diffs), statistics.median(ratios)


def run(cases, repeats: int) -> list[str]:
    rows = ["| model | batch | " + " | ".join(NAMES) + " | Keras / onnxgraph | PyTorch / onnxgraph |",
            "|---|---|" + "---|" * (len(NAMES) + 2)]
    overhead_rows = ["| model | batch 1: predict - raw ORT (paired median) | batch 256: predict / raw ORT - 1 |",
                     "|---|---|---|"]
    with tempfile.TemporaryDirectory() as folder:
        for case in cases:
            models = _Models(case, folder)
            for batch in (1, 256):
                fns = contenders(models, batch)
                min_time = 0.2 if batch == 1 else 0.5
                result = interleaved({k: functools.partial(per_call, f, min_time) for k, f in fns.items()}, repeats)
                cells = [result.cell(name, fmt_time if batch == 1 else (lambda t, b=batch: f"{b / t:,.0f}/s"))
                         for name in NAMES]
                ours = result["onnxgraph predict"]
                rows.append(f"| {case} | {batch} | " + " | ".join(cells) + f" | {_r(result['Keras predict'], ours)} | "
                            f"{_r(result['PyTorch eager'], ours)} |")
                print(rows[-1], flush=True)
            diff_1, _ = predict_overhead(models, 1)
            _, ratio_256 = predict_overhead(models, 256, rounds=9, block=0.2)
            overhead_rows.append(f"| {case} | {diff_1 * 1e6:+.1f} µs | {(ratio_256 - 1) * 100:+.1f}% |")
            print(overhead_rows[-1], flush=True)
    return rows, overhead_rows


def _r(theirs, ours):
    return f"{theirs / ours:.2f}x" if theirs and ours else "n/a"
