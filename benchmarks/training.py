"""Section 3: training steps/s. onnxgraph fit on both engines vs Keras 3 fit vs a PyTorch loop.

Same architecture, batch size (64), optimizer (Adam, lr 1e-3), loss (sparse categorical
cross-entropy on logits) and thread count, at 1 and at 2 threads in the same run. onnxgraph
runs twice: on the "onnx" engine (one standard-ONNX train-step graph on an InferenceSession)
and on the "ort-training" engine (onnxruntime-training gradients + numpy Adam). Each contender
trains a warm-up first (graph and artifact building are not counted); a sample is one epoch,
timed from the fit call to its return.

The last column is a reference, not a contender: onnxruntime-training's Module plus its
built-in AdamW optimizer graph on onnxgraph's own training graph, stepped in a bare loop (no
metrics, no data pipeline, ORT's AdamW math). A contender whose runtime is missing (no
onnxruntime-training in the environment) shows as failed with the reason.
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


def _compiled(lib, case, engine=None):
    model = keras_like(lib, case)
    loss = lib.losses.SparseCategoricalCrossentropy(from_logits=True)
    if lib.__name__ == "onnxgraph":
        model.compile(optimizer=lib.optimizers.Adam(1e-3), loss=loss, engine=engine, providers="cpu")
        model._train_threads = _threads.threads()  # the engine's onnxruntime session threads
    else:
        model.compile(optimizer=lib.optimizers.Adam(1e-3), loss=loss)
    return model


def _keras_api(lib, case, steps, engine=None):
    model = _compiled(lib, case, engine)
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

    model = _compiled(og, case, "ort-training")
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


COLUMNS = ("og", "og_ort", "torch", "keras")


def run(cases, repeats: int, thread_counts=(1, 2)) -> list[str]:
    """One row per (threads, case, phase). The MLP is measured twice: from the start, and again
    after 1,000 steps, when the Adam moments of dead ReLU units have decayed to subnormal floats
    in every framework (x86 computes on those ~50x slower; onnxgraph flushes them)."""
    import keras

    import onnxgraph as og

    rows = ["| threads | model | onnx engine fit steps/s | ort-training engine fit steps/s | PyTorch loop steps/s | "
            "Keras 3 fit steps/s | onnx engine / PyTorch | onnx engine / ort-training engine | "
            "onnx engine / Keras | reference: bare ORT-training loop + ORT AdamW steps/s |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    saved = os.environ.get(_threads.ENV_KEY, "1")
    for threads in thread_counts:
        os.environ[_threads.ENV_KEY] = str(threads)  # torch and onnxruntime sessions made from now on
        _threads.apply()
        for case in cases:
            steps = STEPS[case]
            makers = {"og": functools.partial(_keras_api, og, case, steps, "onnx"),
                      "og_ort": functools.partial(_keras_api, og, case, steps, "ort-training"),
                      "torch": functools.partial(_torch, case, steps),
                      "keras": functools.partial(_keras_api, keras, case, steps),
                      "ort": functools.partial(_ort_reference, case, steps)}
            rows += _measure(case, makers, repeats, threads)
    os.environ[_threads.ENV_KEY] = saved
    _threads.apply()
    return rows


def _measure(case, makers, repeats, threads) -> list[str]:
    rows = []
    contenders, errors = {}, {}
    for name, make in makers.items():
        try:
            contenders[name] = make()
        except Exception as exc:  # noqa: BLE001 - report and go on
            errors[name] = _reason(exc)
            print(f"{case} {name} setup failed: {errors[name]}", flush=True)
    done = 0
    steps = STEPS[case]
    for target in PHASES.get(case, (0,)):
        for name, epoch in list(contenders.items()):  # untimed steps up to the phase's start
            try:
                for _ in range(max(0, target - done) // steps):
                    epoch()
            except Exception as exc:  # noqa: BLE001
                errors[name] = _reason(exc)
                del contenders[name]
        done = max(done, target)
        result = interleaved(contenders, repeats)
        errors.update(result.errors)
        label = f"{case}, steps {done + 1:,}-{done + repeats * steps:,}"
        done += repeats * steps
        rows.append(_row(threads, label, result, errors))
        print(rows[-1], flush=True)
    return rows


def _reason(exc) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:100] if str(exc) else ''}"


def _row(threads, label, result, errors) -> str:
    cells = [f"{result[k]:.1f}" if result.get(k) else f"failed ({errors.get(k, '')})" for k in COLUMNS]
    og_rate = result.get("og")
    ratios = [f"{og_rate / result[k]:.2f}x" if og_rate and result.get(k) else "n/a" for k in ("torch", "og_ort", "keras")]
    ref = f"{result['ort']:.1f}" if result.get("ort") else f"failed ({errors.get('ort', '')})"
    return f"| {threads} | {label} | " + " | ".join(cells + ratios + [ref]) + " |"
