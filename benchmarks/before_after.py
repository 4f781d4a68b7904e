"""Section 5: before/after figures of the performance changes made with this harness, interleaved.

"Before" is the code at the parent of the commit that made each change, read from git history
into separate module objects (or, for the export pass, the same export with the pass switched
off); "after" is the working tree. Both run alternately in this process, so they see the same
machine load. Without the repository's git history a row says it was skipped.
"""

from __future__ import annotations

import functools
import os
import statistics
import subprocess
import sys
import tempfile
import time
import types

import numpy as np

from benchmarks import _threads
from benchmarks.models import keras_like, sample_inputs

__all__ = ["run", "OPTIMIZER_COMMIT", "PREDICT_COMMIT"]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OPTIMIZER_COMMIT = "db3c6da"  # subnormal slot flush + Adam's per-step scalars
PREDICT_COMMIT = "4a62266"  # predict hot path


def _old_module(name: str, commit: str, path: str, patches=()) -> types.ModuleType:
    """`path` as of `commit`'s parent, executed as a separate module (the package is untouched)."""
    source = subprocess.run(["git", "show", f"{commit}^:{path}"], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout
    for old, new in patches:
        if old not in source:
            raise RuntimeError(f"{path}@{commit}^ changed shape: cannot patch {old[:40]!r}")
        source = source.replace(old, new)
    module = types.ModuleType(name)
    sys.modules[name] = module
    exec(compile(source, f"{path}@{commit}^", "exec"), module.__dict__)  # noqa: S102 - our own history
    return module


def _optimizer_rows(epochs: int = 12, steps: int = 200) -> list[str]:
    """MLP fit, Adam: the update of OPTIMIZER_COMMIT^ without the flush vs now, same initial weights."""
    import onnxgraph as og
    from benchmarks.training import _data
    from onnxgraph.optimizers import Adam

    old = _old_module("_bench_old_adam", OPTIMIZER_COMMIT, "onnxgraph/optimizers/_adam.py")

    class BeforeAdam(Adam):
        _update = old.Adam._update  # the old per-parameter update, run by today's base class

        def _flush_subnormal_slots(self):  # the change being measured: the old base had no flush
            pass

    x, y = _data("mlp", steps)
    models = {}
    for name, optimizer in (("before", BeforeAdam(1e-3)), ("after", Adam(1e-3))):
        model = keras_like(og, "mlp")
        model._train_threads = _threads.threads()
        model.compile(optimizer=optimizer, loss=og.losses.SparseCategoricalCrossentropy(from_logits=True))
        models[name] = model
    models["after"].set_weights(models["before"].get_weights())
    rates: dict[str, list[float]] = {name: [] for name in models}
    for epoch in range(epochs):
        for name in (("before", "after") if epoch % 2 == 0 else ("after", "before")):
            start = time.perf_counter()
            models[name].fit(x, y, batch_size=64, epochs=1, verbose=0, shuffle=False)
            rates[name].append(steps / (time.perf_counter() - start))
    same = all(np.array_equal(a, b) for a, b in zip(models["before"].get_weights(), models["after"].get_weights()))
    early, late = slice(0, 3), slice(epochs // 2, epochs)
    return [f"| MLP fit, Adam, steps 1-{3 * steps:,} | {statistics.median(rates['before'][early]):.0f} steps/s | "
            f"{statistics.median(rates['after'][early]):.0f} steps/s | "
            f"{statistics.median(rates['after'][early]) / statistics.median(rates['before'][early]):.2f}x | |",
            f"| MLP fit, Adam, steps {epochs // 2 * steps + 1:,}-{epochs * steps:,} | "
            f"{statistics.median(rates['before'][late]):.0f} steps/s | {statistics.median(rates['after'][late]):.0f} "
            f"steps/s | {statistics.median(rates['after'][late]) / statistics.median(rates['before'][late]):.2f}x | "
            f"weights after {epochs * steps:,} steps {'bit-identical' if same else 'DIFFER'} |"]


def _paired(fns: dict, calls: int, rounds: int) -> dict:
    """name -> list of per-round seconds per call, the order rotating each round."""
    names = list(fns)
    samples = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            start = time.perf_counter()
            for _ in range(calls):
                fns[name]()
            samples[name].append((time.perf_counter() - start) / calls)
    return samples


def _predict_rows() -> list[str]:
    """MLP predict overhead over a raw session: PREDICT_COMMIT^'s predict path vs now."""
    import onnxgraph as og
    from onnxgraph.runtime import import_onnxruntime

    old_feeds = _old_module("_bench_old_feeds", PREDICT_COMMIT, "onnxgraph/runtime/_feeds.py")
    sys.modules["_bench_old_feeds"] = old_feeds
    old_export = _old_module("_bench_old_export", PREDICT_COMMIT, "onnxgraph/models/_export.py", [
        ("        from onnxgraph.runtime import normalize_feeds\n        from onnxgraph.utils._progbar",
         "        from _bench_old_feeds import normalize_feeds\n        from onnxgraph.utils._progbar"),
        ("        runner = self._runner(providers)\n        first",
         "        self._sync_trained_weights()\n        runner = ExportMixin._runner(self, providers)\n        first")])
    _threads.apply()
    model = keras_like(og, "mlp")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "mlp.onnx")
        model.save(path)
        session = import_onnxruntime().InferenceSession(path, _threads.ort_options(),
                                                        providers=["CPUExecutionProvider"])
    rows = []
    for batch, calls in ((1, 2000), (256, 200)):
        x = sample_inputs("mlp", batch)[0]
        feeds = {session.get_inputs()[0].name: x}
        fns = {"before": functools.partial(old_export.ExportMixin.predict, model, x, batch_size=batch, verbose=0),
               "after": functools.partial(model.predict, x, batch_size=batch, verbose=0),
               "raw": functools.partial(session.run, None, feeds)}
        np.testing.assert_array_equal(fns["before"](), fns["after"]())
        samples = _paired(fns, calls, rounds=31)
        cells = []
        for name in ("before", "after"):
            pairs = list(zip(samples[name], samples["raw"]))
            if batch == 1:
                cells.append(f"{statistics.median(a - b for a, b in pairs) * 1e6:+.1f} µs")
            else:
                cells.append(f"{(statistics.median(a / b for a, b in pairs) - 1) * 100:+.1f}%")
        rows.append(f"| MLP predict overhead over raw onnxruntime, batch {batch} | {cells[0]} | {cells[1]} | | "
                    "paired medians of 31 rounds |")
    return rows


def _gather_rows() -> list[str]:
    """Ticket router inference at batch 256 with the Gather/Transpose export pass switched off vs on."""
    import onnxgraph as og
    from onnxgraph.backend import serialize
    from onnxgraph.backend.gather_transpose import transpose_indices

    model = keras_like(og, "ticket_router")
    after = model.to_onnx()
    saved = list(serialize.PASSES)
    serialize.PASSES[:] = [p for p in saved if p is not transpose_indices]
    try:
        before = model.to_onnx()
    finally:
        serialize.PASSES[:] = saved
    protos = {"before": before, "after": after}
    sessions = {name: _session(proto) for name, proto in protos.items()}
    xs = sample_inputs("ticket_router", 256)
    feeds = dict(zip([i.name for i in sessions["after"].get_inputs()], xs))
    same = all(np.array_equal(a, b) for a, b in zip(sessions["before"].run(None, feeds),
                                                     sessions["after"].run(None, feeds)))
    samples = _paired({k: (lambda s=s: s.run(None, feeds)) for k, s in sessions.items()}, 4, 15)
    speedup = statistics.median(b / a for b, a in zip(samples["before"], samples["after"]))
    kernels = {name: _kernel_ms(proto, feeds) for name, proto in protos.items()}
    return [f"| ticket router inference, batch 256 (Embedding -> LSTM export pass) | "
            f"{statistics.median(samples['before']) * 1e3:.2f} ms | "
            f"{statistics.median(samples['after']) * 1e3:.2f} ms | "
            f"{speedup:.2f}x | onnxruntime profile per run: Transpose kernels {kernels['before'][0]:.2f} -> "
            f"{kernels['after'][0]:.2f} ms, all kernels {kernels['before'][1]:.2f} -> {kernels['after'][1]:.2f} ms; "
            f"outputs {'bit-identical' if same else 'DIFFER'} |"]


def _session(proto, profile_prefix=None):
    from onnxgraph.runtime import import_onnxruntime

    options = _threads.ort_options()
    if profile_prefix:
        options.enable_profiling = True
        options.profile_file_prefix = profile_prefix
    return import_onnxruntime().InferenceSession(proto.SerializeToString(), options,
                                                 providers=["CPUExecutionProvider"])


def _kernel_ms(proto, feeds, runs: int = 10) -> tuple[float, float]:
    """(Transpose kernel ms, all kernels ms) per run, from onnxruntime's own profile."""
    import json

    with tempfile.TemporaryDirectory() as folder:
        session = _session(proto, os.path.join(folder, "profile"))
        for _ in range(runs):
            session.run(None, feeds)
        with open(session.end_profiling()) as f:
            events = json.load(f)
    kernels = [e for e in events if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")]
    transpose = sum(e["dur"] for e in kernels if e["args"].get("op_name") == "Transpose")
    return transpose / runs / 1e3, sum(e["dur"] for e in kernels) / runs / 1e3


def run() -> list[str]:
    rows = ["| change | before | after | speed-up | note |", "|---|---|---|---|---|"]
    for name, make in (("optimizer", _optimizer_rows), ("predict", _predict_rows), ("gather", _gather_rows)):
        done = len(rows)
        try:
            rows += make()
        except (subprocess.CalledProcessError, FileNotFoundError) as exc:
            rows.append(f"| {name} | skipped: no git history ({type(exc).__name__}) | | | |")
        except Exception as exc:  # noqa: BLE001 - one failed comparison must not stop the run
            first = (str(exc).strip().splitlines() or [""])[0][:100].replace("|", "/")
            rows.append(f"| {name} | failed ({type(exc).__name__}: {first}) | | | |")
        print("\n".join(rows[done:]), flush=True)
    return rows
