"""Section 4: peak resident memory of each contender, each in a fresh process.

The peak is the kernel's high-water mark of the process's own address space (VmHWM): the
`ru_maxrss` of a child started from a large parent reports the parent's peak instead (Linux
carries it across exec). "after imports" is the same figure read before the model is built,
so the difference is what building and running the model cost.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

__all__ = ["run", "peak_mb"]

_SCRIPT = r"""
import json, os, sys
sys.path.insert(0, {root!r})

def hwm():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024

case, who, task = {case!r}, {who!r}, {task!r}
import numpy as np
from benchmarks.models import keras_like, sample_inputs, torch_model
if who == "onnxgraph":
    import onnxgraph as lib
    from onnxgraph.runtime import import_onnxruntime
    import_onnxruntime()
elif who == "keras":
    import keras as lib
else:
    import torch
base = hwm()
if task == "predict":
    xs = sample_inputs(case, 256)
    if who == "torch":
        m = torch_model(case).eval()
        with torch.no_grad():
            for _ in range(5): m(*[torch.from_numpy(a) for a in xs])
    else:
        m = keras_like(lib, case)
        for _ in range(5): m.predict(xs[0] if len(xs) == 1 else xs, batch_size=256, verbose=0)
else:
    from benchmarks.training import BATCH, _data, _compiled
    x, y = _data(case, 8)
    if who == "torch":
        m = torch_model(case).train()
        opt = torch.optim.Adam(m.parameters(), lr=1e-3)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        for i in range(8):
            opt.zero_grad()
            batch = slice(i * BATCH, (i + 1) * BATCH)
            torch.nn.functional.cross_entropy(m(xt[batch]), yt[batch]).backward()
            opt.step()
    else:
        m = _compiled(lib, case)
        m.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
print(json.dumps([base, hwm()]))
"""


def peak_mb(case: str, who: str, task: str, root: str) -> tuple[float, float] | None:
    """(MB after imports, peak MB) of `who` running `task` ("predict" or "fit") on `case`; None on failure."""
    env = dict(os.environ, KERAS_BACKEND="torch")
    proc = subprocess.run([sys.executable, "-c", _SCRIPT.format(root=root, case=case, who=who, task=task)],
                          capture_output=True, text=True, timeout=600, env=env, check=False)
    if proc.returncode:
        print(proc.stderr[-800:])
        return None
    base, peak = json.loads(proc.stdout.strip().splitlines()[-1])
    return base, peak


def run(cases, root: str, fit_cases=("mlp", "toy_resnet")) -> list[str]:
    rows = ["| model | task | onnxgraph peak RSS (after imports) | Keras 3 peak RSS (after imports) | "
            "PyTorch peak RSS (after imports) |", "|---|---|---|---|---|"]
    jobs = [(case, "predict") for case in cases] + [(case, "fit") for case in fit_cases if case in cases]
    for case, task in jobs:
        cells = []
        for who in ("onnxgraph", "keras", "torch"):
            result = peak_mb(case, who, task, root)
            cells.append(f"{result[1]:.0f} MB ({result[0]:.0f})" if result else "failed")
        label = "predict, batch 256" if task == "predict" else "fit, 8 steps of 64"
        rows.append(f"| {case} | {label} | " + " | ".join(cells) + " |")
        print(rows[-1], flush=True)
    return rows
