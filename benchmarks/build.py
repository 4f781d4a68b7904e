"""Section 1: build and save. onnxgraph build+save vs Keras 3 build+export(onnx) vs torch+torch.onnx."""

from __future__ import annotations

import os
import tempfile
import time
import warnings

import numpy as np

from benchmarks._timing import fmt_time, interleaved, ratio
from benchmarks.models import keras_like, sample_inputs, torch_model

__all__ = ["run"]


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
    model.predict(sample_inputs(case, 1), verbose=0)  # Keras exports only called models
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
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


def run(cases, repeats: int) -> list[str]:
    rows = ["| model | onnxgraph build+save | Keras 3 build+export | torch + torch.onnx.export | "
            "Keras / onnxgraph | torch / onnxgraph |", "|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as folder:
        for case in cases:
            result = interleaved({"og": lambda: _onnxgraph(case, folder), "keras": lambda: _keras(case, folder),
                                  "torch": lambda: _torch(case, folder)}, repeats)
            rows.append(f"| {case} | {fmt_time(result['og'])} | {_cell(result, 'keras')} | {_cell(result, 'torch')} | "
                        f"{ratio(result['og'], result['keras'])} | {ratio(result['og'], result['torch'])} |")
            print(rows[-1], flush=True)
    return rows


def _cell(result, name):
    return fmt_time(result[name]) if result[name] is not None else f"failed ({result.get(name + '__error', '')})"
