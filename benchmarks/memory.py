"""Section 4: peak resident memory of each contender, each in a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys

__all__ = ["run"]

_SCRIPT = r"""
import os, resource, sys, json
os.environ.setdefault("KERAS_BACKEND", "torch")
sys.path.insert(0, {root!r})
from benchmarks.models import keras_like, sample_inputs, torch_model
case, who = {case!r}, {who!r}
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
xs = sample_inputs(case, 256)
if who == "onnxgraph":
    import onnxgraph as lib
    m = keras_like(lib, case)
    for _ in range(5): m.predict(xs[0] if len(xs) == 1 else xs, batch_size=256, verbose=0)
elif who == "keras":
    import keras as lib
    m = keras_like(lib, case)
    for _ in range(5): m.predict(xs[0] if len(xs) == 1 else xs, batch_size=256, verbose=0)
else:
    import torch
    m = torch_model(case).eval()
    with torch.no_grad():
        for _ in range(5): m(*[torch.from_numpy(a) for a in xs])
print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
"""


def _peak_mb(case: str, who: str, root: str) -> float | None:
    proc = subprocess.run([sys.executable, "-c", _SCRIPT.format(root=root, case=case, who=who)],
                          capture_output=True, text=True, timeout=600)
    if proc.returncode:
        print(proc.stderr[-500:])
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(cases, root: str) -> list[str]:
    rows = ["| model (predict, batch 256) | onnxgraph peak RSS | Keras 3 peak RSS | PyTorch peak RSS |", "|---|---|---|---|"]
    for case in cases:
        cells = []
        for who in ("onnxgraph", "keras", "torch"):
            mb = _peak_mb(case, who, root)
            cells.append(f"{mb:.0f} MB" if mb else "failed")
        rows.append(f"| {case} | " + " | ".join(cells) + " |")
        print(rows[-1], flush=True)
    return rows
