"""Section 3: training steps/s. onnxgraph fit vs Keras 3 fit vs a PyTorch loop.

Same architecture, batch size (64), optimizer (Adam, lr 1e-3), loss and thread count.
Each contender trains a warm-up epoch first (graph/artifact building is not counted).
"""

from __future__ import annotations

import os
import time

import numpy as np

from benchmarks._timing import interleaved
from benchmarks.models import keras_like, sample_inputs, torch_model

__all__ = ["run"]

BATCH = 64


def _data(case: str, steps: int):
    n = BATCH * steps
    xs = sample_inputs(case, n, seed=1)
    y = np.random.default_rng(2).integers(0, 10, n).astype(np.int64)
    return (xs[0] if len(xs) == 1 else xs), y


def _keras_api(lib, case, steps):
    model = keras_like(lib, case)
    loss = lib.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=lib.optimizers.Adam(1e-3), loss=loss)
    x, y = _data(case, steps)
    model.fit(x[:BATCH * 2], y[:BATCH * 2], batch_size=BATCH, epochs=1, verbose=0)  # warm-up / build

    def epoch():
        start = time.perf_counter()
        model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
        return steps / (time.perf_counter() - start)

    return epoch


def _torch(case, steps):
    import torch

    torch.set_num_threads(os.cpu_count())
    module = torch_model(case).train()
    opt = torch.optim.Adam(module.parameters(), lr=1e-3)
    x, y = _data(case, steps)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step(i):
        opt.zero_grad()
        loss = loss_fn(module(xt[i * BATCH:(i + 1) * BATCH]), yt[i * BATCH:(i + 1) * BATCH])
        loss.backward()
        opt.step()

    step(0)

    def epoch():
        start = time.perf_counter()
        for i in range(steps):
            step(i)
        return steps / (time.perf_counter() - start)

    return epoch


def run(cases, repeats: int) -> list[str]:
    import keras

    import onnxgraph as og

    rows = ["| model | onnxgraph fit steps/s | Keras 3 fit steps/s | PyTorch loop steps/s | onnxgraph / Keras | "
            "onnxgraph / PyTorch |", "|---|---|---|---|---|---|"]
    for case in cases:
        steps = 200 if case == "mlp" else 12
        contenders = {}
        for name, make in [("og", lambda: _keras_api(og, case, steps)), ("keras", lambda: _keras_api(keras, case, steps)),
                           ("torch", lambda: _torch(case, steps))]:
            try:
                contenders[name] = make()
            except Exception as exc:  # noqa: BLE001 - report and go on
                print(f"{case} {name} setup failed: {exc}")
        result = interleaved(contenders, repeats)
        cells = [f"{result[k]:.1f}" if result.get(k) else "failed" for k in ("og", "keras", "torch")]
        og_rate = result.get("og")
        ratios = [f"{og_rate / result[k]:.2f}x" if og_rate and result.get(k) else "n/a" for k in ("keras", "torch")]
        rows.append(f"| {case} | " + " | ".join(cells + ratios) + " |")
        print(rows[-1], flush=True)
    return rows
