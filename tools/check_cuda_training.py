"""Device check for the "onnx" engine on CUDA (needs onnxruntime-gpu and a GPU; run where one is lent).

Trains the guide's MLP and the toy ResNet for a few steps with providers="cuda" and with
providers="cpu" from the same weights, and reports: the providers the train-step session uses,
that the weights live on the GPU between steps, the step graph's nodes that onnxruntime placed
on the CPU provider (from a profile of one step), losses of both runs side by side, and steps/s.

Run:  python tools/check_cuda_training.py [--steps 20]
Exit status 1 when CUDA is not used or the losses disagree beyond float32 tolerance.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("KERAS_BACKEND", "torch")


def _train(case: str, providers: str, steps: int):
    import onnxgraph as og
    from benchmarks.models import keras_like, sample_inputs

    og.utils.clear_session()
    og.utils.set_random_seed(0)
    model = keras_like(og, case)
    model.compile(optimizer=og.optimizers.Adam(1e-3), loss=og.losses.SparseCategoricalCrossentropy(from_logits=True),
                  engine="onnx", providers=providers)
    x = sample_inputs(case, 64 * steps, seed=1)[0]
    y = np.random.default_rng(2).integers(0, 10, 64 * steps)
    from onnxgraph.trainer import _ort

    _ort.set_seed(1)  # the same dropout masks on both providers' runs
    model.train_on_batch(x[:64], y[:64])
    engine = model._engine
    feeds = [[x[i * 64:(i + 1) * 64], y[i * 64:(i + 1) * 64], np.ones(64, np.float32)] for i in range(steps)]
    start = time.perf_counter()
    losses = [float(engine.train_step(f)[0][0]) for f in feeds]
    rate = steps / (time.perf_counter() - start)
    return model, engine, losses, rate


def _cpu_nodes(engine) -> list[str]:
    """Nodes of one profiled step that ran on the CPU provider."""
    from onnxgraph.runtime._providers import import_onnxruntime

    ort = import_onnxruntime()
    options = ort.SessionOptions()
    options.enable_profiling = True
    options.profile_file_prefix = os.path.join(tempfile.gettempdir(), "onnxgraph_cuda_check")
    options.log_severity_level = 3
    session = ort.InferenceSession(engine.graphs.train_proto.SerializeToString(), options,
                                   providers=engine.session.get_providers())
    feeds = {name: engine._value(name).numpy() for name in engine._buffers}
    first = engine.graphs.feed_names
    shape = session.get_inputs()[0].shape
    feeds[first[0]] = np.zeros([64] + [d for d in shape[1:]], np.float32)
    feeds[first[1]] = np.zeros(64, np.int64)
    feeds[first[2]] = np.ones(64, np.float32)
    feeds[engine.graphs.lr_name] = np.asarray(1e-3)
    feeds[engine.graphs.iteration_name] = np.asarray(1, np.int64)
    session.run(None, feeds)
    path = session.end_profiling()
    with open(path) as f:
        events = json.load(f)
    os.remove(path)
    return sorted({e["name"].replace("_kernel_time", "") for e in events if e.get("cat") == "Node" and
                   e.get("args", {}).get("provider") == "CPUExecutionProvider"})


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args(argv)
    ok = True
    for case in ("mlp", "toy_resnet"):
        try:
            _, cuda, cuda_losses, cuda_rate = _train(case, "cuda", args.steps)
        except (RuntimeError, ValueError) as error:  # no usable CUDA provider here
            print(f"{case}: cannot train on CUDA here: {error}")
            return 1
        _, _, cpu_losses, cpu_rate = _train(case, "cpu", args.steps)
        providers = cuda.session.get_providers()
        on_gpu = all(buffers[0].device_name().lower() == "cuda" for buffers in cuda._buffers.values())
        cpu_nodes = _cpu_nodes(cuda)
        worst = max(abs(a - b) / max(abs(b), 1e-6) for a, b in zip(cuda_losses, cpu_losses))
        print(f"{case}: providers {providers}; state on GPU: {on_gpu}; CUDA {cuda_rate:.1f} steps/s, "
              f"CPU {cpu_rate:.1f} steps/s; max relative loss difference {worst:.2e}")
        print(f"  nodes on the CPU provider ({len(cpu_nodes)}): {cpu_nodes[:20]}")
        ok &= providers[0] == "CUDAExecutionProvider" and on_gpu and worst < 1e-3
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
