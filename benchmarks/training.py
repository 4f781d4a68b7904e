"""Section 3: training steps/s. onnxgraph fit vs Keras 3 fit vs a PyTorch loop.

Same architecture, batch size (64), optimizer (Adam, lr 1e-3), loss (sparse categorical
cross-entropy on logits) and thread count. Each contender trains a warm-up first (graph and
artifact building are not counted); a sample is one epoch, timed from the fit call to its return.

A fourth column is a reference, not a contender: onnxruntime-training's Module plus its
built-in AdamW optimizer graph on onnxgraph's own training graph, stepped in a bare loop (no
metrics, no data pipeline, ORT's AdamW math). It shows how close the engine is to the runtime.
"""

from __future__ import annotations

import functools
import os
import tempfile
import time

import numpy as np

from benchmarks import _threads
from benchmarks._timing import interleaved
from benchmarks.models import keras_like, sample_inputs, torch_model

__all__ = ["run", "STEPS", "PHASES"]

BATCH = 64
STEPS = {"mlp": 200, "toy_resnet": 8}
# Steps trained before each measured phase (the MLP again in its steady state after 1,000 steps).
PHASES = {"mlp": (0, 1000)}


def _data(case: str, steps: int):
    n = BATCH * steps
    xs = sample_inputs(case, n, seed=1)
    y = np.random.default_rng(2).integers(0, 10, n).astype(np.int64)
    return (xs[0] if len(xs) == 1 else xs), y


def _compiled(lib, case):
    model = keras_like(lib, case)
    if lib.__name__ == "onnxgraph":
        model._train_threads = _threads.threads()  # the engine's onnxruntime session threads
    loss = lib.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=lib.optimizers.Adam(1e-3), loss=loss)
    return model


def _keras_api(lib, case, steps):
    model = _compiled(lib, case)
    x, y = _data(case, steps)
    model.fit(x[:BATCH * 2], y[:BATCH * 2], batch_size=BATCH, epochs=1, verbose=0)  # warm-up / build

    def epoch():
        start = time.perf_counter()
        model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
        return steps / (time.perf_counter() - start)

    return epoch


def _torch(case, steps):
    import torch

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


def _ort_reference(case, steps):
    """onnxruntime-training Module + its AdamW optimizer graph on onnxgraph's training graph."""
    import onnx

    import onnxgraph as og
    from onnxgraph.trainer import _ort
    from onnxgraph.trainer._loop import feeds_for

    model = _compiled(og, case)
    x, y = _data(case, steps)
    model.fit(x[:BATCH], y[:BATCH], batch_size=BATCH, epochs=1, verbose=0)
    engine = model._engine
    onnxblock, api = _ort.training_api()

    class Outputs(onnxblock.TrainingBlock):
        def build(self, *names):
            return names

    block = Outputs()
    for name in engine.trainable:
        block.requires_grad(name, True)
    forward = engine.train_graph.proto
    folder = tempfile.mkdtemp(prefix="bench-ort-")
    with _ort._quiet_generation(), onnxblock.base(forward):
        block(*[o.name for o in forward.graph.output])
        training, _ = block.to_model_proto()
        onnxblock.save_checkpoint(block.parameters(), os.path.join(folder, "checkpoint"))
    with onnxblock.empty_base() as accessor:
        onnxblock.optim.AdamW()(block.parameters())
        optimizer = accessor.model
    for proto in (training, optimizer):
        proto.ir_version = 10  # onnx >= 1.17 stamps versions ORT 1.19 rejects
        for opset in proto.opset_import:
            if opset.domain in ("", "ai.onnx"):
                opset.version = min(opset.version, 21)
    onnx.save(training, os.path.join(folder, "training.onnx"))
    onnx.save(optimizer, os.path.join(folder, "optimizer.onnx"))
    state = api.CheckpointState.load_checkpoint(os.path.join(folder, "checkpoint"))
    module = api.Module(os.path.join(folder, "training.onnx"), state, None, device="cpu",
                        session_options=_threads.ort_options())
    adamw = api.Optimizer(os.path.join(folder, "optimizer.onnx"), module)
    adamw.set_learning_rate(1e-3)
    weights = np.ones(BATCH, np.float32)
    batches = [feeds_for(model._compile_config.losses, [x[i * BATCH:(i + 1) * BATCH]], [y[i * BATCH:(i + 1) * BATCH]],
                         [weights]) for i in range(steps)]
    module.train()

    def epoch():
        start = time.perf_counter()
        for feeds in batches:
            module(*feeds)
            adamw.step()
            module.lazy_reset_grad()
        return steps / (time.perf_counter() - start)

    return epoch


def run(cases, repeats: int) -> list[str]:
    """One row per (case, phase). The MLP is measured twice: from the start, and again after
    1,000 steps, when the Adam moments of dead ReLU units have decayed to subnormal floats in
    every framework (x86 computes on those ~50x slower; onnxgraph's optimizers flush them)."""
    import keras

    import onnxgraph as og

    _threads.apply()
    rows = ["| model | onnxgraph fit steps/s | Keras 3 fit steps/s | PyTorch loop steps/s | onnxgraph / Keras | "
            "onnxgraph / PyTorch | reference: bare ORT-training loop + ORT AdamW steps/s |",
            "|---|---|---|---|---|---|---|"]
    for case in cases:
        steps = STEPS[case]
        makers = {"og": functools.partial(_keras_api, og, case, steps),
                  "keras": functools.partial(_keras_api, keras, case, steps),
                  "torch": functools.partial(_torch, case, steps),
                  "ort": functools.partial(_ort_reference, case, steps)}
        contenders, errors = {}, {}
        for name, make in makers.items():
            try:
                contenders[name] = make()
            except Exception as exc:  # noqa: BLE001 - report and go on
                errors[name] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:100] if str(exc) else ''}"
                print(f"{case} {name} setup failed: {errors[name]}", flush=True)
        done = 0
        for target in PHASES.get(case, (0,)):
            for name, epoch in list(contenders.items()):  # untimed steps up to the phase's start
                try:
                    for _ in range(max(0, target - done) // steps):
                        epoch()
                except Exception as exc:  # noqa: BLE001
                    errors[name] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:100] if str(exc) else ''}"
                    del contenders[name]
            done = max(done, target)
            result = interleaved(contenders, repeats)
            errors.update(result.errors)
            label = f"{case}, steps {done + 1:,}-{done + repeats * steps:,}"
            done += repeats * steps
            rows.append(_row(label, result, errors))
            print(rows[-1], flush=True)
    return rows


def _row(label, result, errors) -> str:
    cells = [f"{result[k]:.1f}" if result.get(k) else f"failed ({errors.get(k, '')})" for k in ("og", "keras", "torch")]
    og_rate = result.get("og")
    ratios = [f"{og_rate / result[k]:.2f}x" if og_rate and result.get(k) else "n/a" for k in ("keras", "torch")]
    ref = f"{result['ort']:.1f}" if result.get("ort") else f"failed ({errors.get('ort', '')})"
    return f"| {label} | " + " | ".join(cells + ratios + [ref]) + " |"
