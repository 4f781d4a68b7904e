"""Section 2: batch-1 latency and batch-256 throughput.

onnxgraph predict and __call__ vs a raw onnxruntime session on the same file vs Keras 3
predict vs PyTorch eager (no_grad), all with the machine's thread count.
"""

from __future__ import annotations

import os
import tempfile

from benchmarks._timing import fmt_time, interleaved, per_call
from benchmarks.models import keras_like, sample_inputs, torch_model

__all__ = ["run", "contenders"]


def contenders(case: str, batch: int, folder: str) -> dict:
    import keras
    import onnxruntime as ort
    import torch

    import onnxgraph as og

    torch.set_num_threads(os.cpu_count())
    xs = sample_inputs(case, batch)
    og_model = keras_like(og, case)
    path = os.path.join(folder, f"{case}.onnx")
    og_model.save(path)
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    feeds = dict(zip([i.name for i in session.get_inputs()], xs))
    og_x = xs[0] if len(xs) == 1 else xs
    keras_model = keras_like(keras, case)
    module = torch_model(case).eval()
    tensors = [torch.from_numpy(a) for a in xs]

    def torch_eager():
        with torch.no_grad():
            module(*tensors)

    return {
        "onnxgraph predict": lambda: og_model.predict(og_x, batch_size=batch, verbose=0),
        "onnxgraph __call__": lambda: og_model(og_x),
        "raw onnxruntime": lambda: session.run(None, feeds),
        "Keras predict": lambda: keras_model.predict(og_x, batch_size=batch, verbose=0),
        "PyTorch eager": torch_eager,
    }


def run(cases, repeats: int) -> list[str]:
    names = ["onnxgraph predict", "onnxgraph __call__", "raw onnxruntime", "Keras predict", "PyTorch eager"]
    rows = ["| model | batch | " + " | ".join(names) + " | predict overhead vs raw ORT | Keras / onnxgraph | "
            "PyTorch / onnxgraph |", "|---|---|" + "---|" * (len(names) + 3)]
    with tempfile.TemporaryDirectory() as folder:
        for case in cases:
            for batch in (1, 256):
                fns = contenders(case, batch, folder)
                min_time = 0.2 if batch == 1 else 0.5
                result = interleaved({k: (lambda f=f: per_call(f, min_time)) for k, f in fns.items()}, repeats)
                cells = []
                for name in names:
                    t = result[name]
                    cells.append("failed" if t is None else (fmt_time(t) if batch == 1 else f"{batch / t:,.0f}/s"))
                ours, raw = result["onnxgraph predict"], result["raw onnxruntime"]
                overhead = (f"{(ours - raw) * 1e6:+.1f} µs" if batch == 1 else f"{(ours / raw - 1) * 100:+.1f}%") \
                    if ours and raw else "n/a"
                rows.append(f"| {case} | {batch} | " + " | ".join(cells) + f" | {overhead} | "
                            f"{_r(result['Keras predict'], ours)} | {_r(result['PyTorch eager'], ours)} |")
                print(rows[-1], flush=True)
    return rows


def _r(theirs, ours):
    return f"{theirs / ours:.2f}x" if theirs and ours else "n/a"
