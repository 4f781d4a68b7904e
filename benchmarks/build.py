"""Section 1: build and save. onnxgraph build+save vs Keras 3 build+export(onnx) vs torch+torch.onnx.

Keras's time includes one predict call: `model.export(format="onnx")` needs a model that has
been called (on the torch backend it traces through torch.onnx). A contender that fails (an
architecture one framework cannot export) is reported in the table with its error.
"""

from __future__ import annotations

import functools
import os
import tempfile
import time
import warnings

from benchmarks import _threads
from benchmarks._timing import fmt_time, interleaved, ratio
from benchmarks.models import keras_like, sample_inputs, torch_model

__all__ = ["run"]

# The 1,000-layer Keras build+export takes over a minute: one run is enough to rank it.
_SLOW_SECONDS = 20.0


def _onnxgraph(case, folder):
    import onnxgraph as og

    og.utils.clear_session()
    start = time.perf_counter()
    og_model = keras_like(og, case)
    og_model.save(os.path.join(folder, f"og_{case}.onnx"))
    return time.perf_counter() - start


def _keras(case, folder):
    import keras

    keras.backend.clear_session()
    start = time.perf_counter()
    model = keras_like(keras, case)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.predict(sample_inputs(case, 1), verbose=0)  # Keras exports only called models
        model.export(os.path.join(folder, f"keras_{case}.onnx"), format="onnx", verbose=False)
    return time.perf_counter() - start


def _torch(case, folder):
    import torch

    start = time.perf_counter()
    module = torch_model(case).eval()
    args = tuple(torch.from_numpy(a) for a in sample_inputs(case, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, os.path.join(folder, f"torch_{case}.onnx"), dynamo=False,
                          input_names=[f"in{i}" for i in range(len(args))],
                          dynamic_axes={f"in{i}": {0: "batch"} for i in range(len(args))})
    return time.perf_counter() - start


def param_counts(case: str) -> str:
    """'onnxgraph / Keras / torch' parameter counts: the three builds are the same architecture."""
    import keras

    import onnxgraph as og

    torch_params = sum(p.numel() for p in torch_model(case).parameters())
    return f"{keras_like(og, case).count_params():,} / {keras_like(keras, case).count_params():,} / {torch_params:,}"


def run(cases, repeats: int) -> list[str]:
    _threads.apply()
    rows = ["| model | parameters (onnxgraph / Keras / torch) | onnxgraph build+save | Keras 3 build+export | "
            "torch + torch.onnx.export | Keras / onnxgraph | torch / onnxgraph |", "|---|---|---|---|---|---|---|"]
    notes = []
    with tempfile.TemporaryDirectory() as folder:
        for warm_up in (_onnxgraph, _keras, _torch):  # first-call imports and caches are not build time
            try:
                warm_up("mlp", folder)
            except Exception:  # noqa: BLE001, S110 - the timed runs report it
                pass
        for case in cases:
            result = interleaved({"og": functools.partial(_onnxgraph, case, folder),
                                  "keras": functools.partial(_keras, case, folder),
                                  "torch": functools.partial(_torch, case, folder)}, repeats, max_seconds=_SLOW_SECONDS)
            rows.append(f"| {case} | {param_counts(case)} | {result.cell('og', fmt_time)} | "
                        f"{result.cell('keras', fmt_time)} | {result.cell('torch', fmt_time)} | "
                        f"{ratio(result['og'], result['keras'])} | {ratio(result['og'], result['torch'])} |")
            single = [n for n, c in result.counts.items() if c == 1 and repeats > 1]
            if single:
                notes.append(f"{case}: {', '.join(single)} ran once (over {_SLOW_SECONDS:.0f} s a run).")
            print(rows[-1], flush=True)
    return rows + ([""] + [f"- {n}" for n in notes] if notes else [])
