"""Section: several sessions in one process (thread spinning) and VGG19's first call.

Spinning: onnxruntime's idle intra-op workers busy-wait after a run unless
`session.intra_op.allow_spinning` is "0" (onnxgraph's default, `og.runtime.set_thread_spinning`).
Measured three ways, each with the policy on and off: CPU burnt while idle after a run, model
B's call time right after model A ran (A spinning or not; paired, alternating), and one
model's own call time (alternating blocks).

First call: `og.applications.VGG19(weights=None)` built and called on one 224x224 image vs
Keras 3's, each in a fresh process (build, first call, second call).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

from benchmarks.models import keras_like, sample_inputs

__all__ = ["run", "first_call"]

_THREADS = 2  # spinning needs a pool with workers; the CI machine has 2 cores


def _session(model, spinning: bool):
    import onnxgraph as og
    from onnxgraph.runtime import make_session

    og.runtime.set_thread_spinning(spinning)
    try:
        return make_session(model.to_onnx().SerializeToString(), "cpu", _THREADS)
    finally:
        og.runtime.set_thread_spinning(False)


def _feeds(session, xs):
    return {i.name: x for i, x in zip(session.get_inputs(), xs)}


def idle_cpu(case: str = "toy_resnet", runs: int = 30) -> dict:
    """CPU seconds the process burns in the 20 ms after a run, per policy."""
    import onnxgraph as og

    model, xs = keras_like(og, case), sample_inputs(case, 8)
    result = {}
    for spinning in (True, False):
        session = _session(model, spinning)
        feeds = _feeds(session, xs)
        session.run(None, feeds)
        burnt = []
        for _ in range(runs):
            session.run(None, feeds)
            start = time.process_time()
            time.sleep(0.02)
            burnt.append(time.process_time() - start)
        result[spinning] = statistics.median(burnt)
    return result


def side_by_side(b_case: str, b_batch: int, a_case: str = "toy_resnet", rounds: int = 300) -> dict:
    """Median call time of B right after A ran: A spinning, A not spinning, B alone."""
    import onnxgraph as og

    a_model, b_model = keras_like(og, a_case), keras_like(og, b_case)
    a_on, a_off, b = _session(a_model, True), _session(a_model, False), _session(b_model, False)
    fa, fb = _feeds(a_on, sample_inputs(a_case, 8)), _feeds(b, sample_inputs(b_case, b_batch))
    times: dict = {"A spins": [], "A does not spin": [], "B alone": []}
    for _ in range(rounds):
        for name, a in (("A spins", a_on), ("A does not spin", a_off), ("B alone", None)):
            if a is None:
                time.sleep(0.0002)
            else:
                a.run(None, fa)
            start = time.perf_counter()
            b.run(None, fb)
            times[name].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}


def own_speed(case: str, batch: int, rounds: int = 8, block: float = 0.15) -> dict:
    """One model's call time with and without spinning (alternating blocks of calls)."""
    import onnxgraph as og

    model, xs = keras_like(og, case), sample_inputs(case, batch)
    sessions = {True: _session(model, True), False: _session(model, False)}
    times: dict = {True: [], False: []}
    for r in range(rounds):
        for spinning in (True, False) if r % 2 == 0 else (False, True):
            session = sessions[spinning]
            feeds = _feeds(session, xs)
            session.run(None, feeds)
            start, n = time.perf_counter(), 0
            while time.perf_counter() - start < block:
                session.run(None, feeds)
                n += 1
            times[spinning].append((time.perf_counter() - start) / n)
            time.sleep(0.03)
    return {k: statistics.median(v) for k, v in times.items()}


_FIRST_CALL = r"""
import os, sys, time
lib = sys.argv[1]
t0 = time.perf_counter()
import numpy as np
if lib == "keras":
    import keras
    import torch
    torch.set_num_threads(int(sys.argv[2]))
else:
    import onnxgraph as keras
    from onnxgraph.runtime import _runner
    _orig = _runner.make_session
    _runner.make_session = lambda b, p="auto", threads=None, *a, **k: _orig(b, p, threads or int(sys.argv[2]), *a, **k)
t1 = time.perf_counter()
model = keras.applications.VGG19(weights=None)
t2 = time.perf_counter()
x = np.random.default_rng(0).random((1, 224, 224, 3), dtype=np.float32)
model(x)
t3 = time.perf_counter()
model(x)
t4 = time.perf_counter()
print(f"{t2 - t1} {t3 - t2} {t4 - t3}")
"""


def first_call(root: str, repeats: int = 3, threads: int = _THREADS) -> dict:
    """name -> medians (build, first call, second call) in seconds, each run in a fresh process."""
    samples: dict = {"onnxgraph": [], "Keras": []}
    env = {**os.environ, "KERAS_BACKEND": "torch", "PYTHONPATH": root}
    for _ in range(repeats):
        for name, lib in (("onnxgraph", "og"), ("Keras", "keras")):
            out = subprocess.run([sys.executable, "-c", _FIRST_CALL, lib, str(threads)], env=env, cwd=root,
                                 capture_output=True, text=True, timeout=600, check=True).stdout
            samples[name].append([float(v) for v in out.split()[-3:]])
    return {k: [statistics.median(s[i] for s in v) for i in range(3)] for k, v in samples.items()}


def run(root: str, repeats: int = 3) -> list[str]:
    idle = idle_cpu()
    lines = [f"Threads per session: {_THREADS}.", "",
             "| measurement | spinning (onnxruntime default) | no spinning (onnxgraph default) |", "|---|---|---|",
             f"| CPU burnt in the 20 ms after a toy_resnet run | {idle[True] * 1e3:.1f} ms | "
             f"{idle[False] * 1e3:.1f} ms |"]
    for case, batch in (("mlp", 32), ("toy_resnet", 1)):
        r = side_by_side(case, batch)
        lines.append(f"| {case} batch {batch} right after a toy_resnet run (B alone: {r['B alone'] * 1e3:.3f} ms) | "
                     f"{r['A spins'] * 1e3:.3f} ms ({r['B alone'] / r['A spins']:.2f}x of alone) | "
                     f"{r['A does not spin'] * 1e3:.3f} ms ({r['B alone'] / r['A does not spin']:.2f}x of alone) |")
    for case, batch in (("mlp", 1), ("toy_resnet", 32)):
        r = own_speed(case, batch)
        lines.append(f"| {case} batch {batch} alone, per call | {r[True] * 1e3:.3f} ms | {r[False] * 1e3:.3f} ms |")
    fc = first_call(root, repeats)
    lines += ["", "VGG19 (weights=None), one 224x224 image, fresh process each (medians of "
              f"{repeats}; threads {_THREADS}):", "",
              "| | build | first call | build + first call | second call |", "|---|---|---|---|---|"]
    for name, (build, first, second) in fc.items():
        lines.append(f"| {name} | {build:.2f} s | {first:.2f} s | {build + first:.2f} s | {second * 1e3:.0f} ms |")
    return lines
