"""Training speed: onnxgraph (onnxruntime-training + numpy Keras optimizers) next to PyTorch eager.

Same models (the guide's MNIST MLP and toy ResNet), batch size, optimizer (Adam with Keras's
epsilon), thread count and random data in one process; runs are interleaved so machine load
hits both sides alike. Prints a markdown table of steps/s (median of the repeats) and ratios,
by wall clock and by this process's CPU time (with one thread and no spinning, CPU time is
what an idle machine's wall clock would show; on a loaded machine it is the steadier figure).

    python tools/bench_training.py [--threads 1] [--batch-size 64] [--repeats 5] [--models mlp,resnet]

Columns: "engine" is one optimizer step as fit() runs it (Module gradients + numpy Adam on
onnxruntime's buffers); "fit" is model.fit() end to end (batching, metrics, callbacks);
"torch" is zero_grad/forward/loss/backward/step in eager mode. torch is optional.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np


def _onnxgraph_models():
    import onnxgraph as keras
    from onnxgraph import layers

    def mlp():
        inputs = keras.Input(shape=(784,))
        x = layers.Dense(64, activation="relu")(inputs)
        x = layers.Dense(64, activation="relu")(x)
        return keras.Model(inputs, layers.Dense(10)(x), name="mnist_model"), (784,)

    def resnet():
        inputs = keras.Input(shape=(32, 32, 3))
        x = layers.Conv2D(32, 3, activation="relu")(inputs)
        x = layers.Conv2D(64, 3, activation="relu")(x)
        block_1 = layers.MaxPooling2D(3)(x)
        x = layers.Conv2D(64, 3, activation="relu", padding="same")(block_1)
        x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
        block_2 = layers.add([x, block_1])
        x = layers.Conv2D(64, 3, activation="relu", padding="same")(block_2)
        x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
        block_3 = layers.add([x, block_2])
        x = layers.Conv2D(64, 3, activation="relu")(block_3)
        x = layers.GlobalAveragePooling2D()(x)
        x = layers.Dense(256, activation="relu")(x)
        x = layers.Dropout(0.5)(x)
        return keras.Model(inputs, layers.Dense(10)(x), name="toy_resnet"), (32, 32, 3)

    return {"mlp": mlp, "resnet": resnet}


def _torch_models():
    import torch
    from torch import nn

    class ToyResNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.c2 = nn.Conv2d(3, 32, 3), nn.Conv2d(32, 64, 3)
            self.pool = nn.MaxPool2d(3)
            self.b2 = nn.ModuleList([nn.Conv2d(64, 64, 3, padding=1) for _ in range(2)])
            self.b3 = nn.ModuleList([nn.Conv2d(64, 64, 3, padding=1) for _ in range(2)])
            self.c4 = nn.Conv2d(64, 64, 3)
            self.d1, self.drop, self.d2 = nn.Linear(64, 256), nn.Dropout(0.5), nn.Linear(256, 10)

        def forward(self, x):
            relu = torch.relu
            b1 = self.pool(relu(self.c2(relu(self.c1(x)))))
            b2 = relu(self.b2[1](relu(self.b2[0](b1)))) + b1
            b3 = relu(self.b3[1](relu(self.b3[0](b2)))) + b2
            x = relu(self.c4(b3)).mean(dim=(2, 3))
            return self.d2(self.drop(relu(self.d1(x))))

    return {"mlp": lambda: (nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                                          nn.Linear(64, 10)), (784,)),
            "resnet": lambda: (ToyResNet(), (3, 32, 32))}


class OnnxgraphRunner:
    def __init__(self, name, batch, threads):
        from onnxgraph import losses, optimizers

        self.model, shape = _onnxgraph_models()[name]()
        self.model._train_threads = threads
        self.model.compile(optimizer=optimizers.Adam(1e-3),
                           loss=losses.SparseCategoricalCrossentropy(from_logits=True))
        rng = np.random.default_rng(0)
        self.x = rng.random((batch, *shape), dtype=np.float32)
        self.y = rng.integers(0, 10, batch)
        self.model.train_on_batch(self.x, self.y)  # builds the engine
        engine = self.model._engine
        self.feeds = [self.x, self.y.astype(np.int64), np.ones(batch, np.float32)]
        self.step = lambda: engine.train_step(self.feeds)
        self.params = self.model.count_params()

    def fit_steps_per_second(self, steps):
        x = np.repeat(self.x, steps, axis=0)
        y = np.repeat(self.y, steps, axis=0)
        start = time.perf_counter()
        self.model.fit(x, y, batch_size=len(self.x), epochs=1, verbose=0, shuffle=False)
        return steps / (time.perf_counter() - start)


class TorchRunner:
    def __init__(self, name, batch, threads):
        import torch

        torch.set_num_threads(threads)
        torch.manual_seed(0)
        self.model, shape = _torch_models()[name]()
        self.model.train()
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3, eps=1e-7)  # Keras's epsilon
        self.loss = torch.nn.CrossEntropyLoss()
        self.x = torch.rand((batch, *shape))
        self.y = torch.randint(0, 10, (batch,))
        self.step()

    def step(self):
        self.optimizer.zero_grad(set_to_none=True)
        self.loss(self.model(self.x), self.y).backward()
        self.optimizer.step()


def _steps_per_second(step, steps):
    """(steps per wall-clock second, steps per CPU second of this process)."""
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        step()
    return steps / (time.perf_counter() - start), steps / max(time.process_time() - cpu, 1e-9)


def bench(name, batch, threads, repeats, seconds):
    ours = OnnxgraphRunner(name, batch, threads)
    try:
        theirs = TorchRunner(name, batch, threads)
    except ImportError:
        theirs = None
    probe = time.perf_counter()
    ours.step()
    steps = max(3, int(seconds / max(time.perf_counter() - probe, 1e-4)))
    engine, fit, torch_rates = [], [], []
    for _ in range(repeats):  # interleaved, so load changes hit both sides
        engine.append(_steps_per_second(ours.step, steps))
        fit.append(ours.fit_steps_per_second(steps))
        if theirs is not None:
            torch_rates.append(_steps_per_second(theirs.step, steps))

    def median(rates, k):
        return statistics.median(r[k] for r in rates) if rates else None

    return {"model": name, "params": ours.params, "batch": batch, "threads": threads, "steps": steps,
            "engine": median(engine, 0), "engine_cpu": median(engine, 1), "fit": statistics.median(fit),
            "torch": median(torch_rates, 0), "torch_cpu": median(torch_rates, 1)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="mlp,resnet")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0, help="target length of one timed run")
    args = parser.parse_args(argv)
    rows = [bench(name, args.batch_size, args.threads, args.repeats, args.seconds)
            for name in args.models.split(",")]
    import onnxruntime

    try:
        import torch

        torch_version = torch.__version__
    except ImportError:
        torch_version = "not installed"
    print(f"onnxruntime {onnxruntime.__version__}, torch {torch_version}, numpy {np.__version__}, "
          f"Python {sys.version.split()[0]}; Adam(1e-3), sparse CE from logits, random data; "
          f"median of {args.repeats} interleaved runs\n")
    print("| model | params | batch | threads | onnxgraph engine steps/s | onnxgraph fit steps/s | "
          "PyTorch eager steps/s | engine / PyTorch | engine steps per CPU-s | PyTorch steps per CPU-s "
          "| ratio (CPU time) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        def fmt(value):
            return "n/a" if value is None else f"{value:.1f}"

        ratio = f"{r['engine'] / r['torch']:.2f}x" if r["torch"] else "n/a"
        ratio_cpu = f"{r['engine_cpu'] / r['torch_cpu']:.2f}x" if r["torch_cpu"] else "n/a"
        print(f"| {r['model']} | {r['params']:,} | {r['batch']} | {r['threads']} | {fmt(r['engine'])} | "
              f"{fmt(r['fit'])} | {fmt(r['torch'])} | {ratio} | {fmt(r['engine_cpu'])} | {fmt(r['torch_cpu'])} | "
              f"{ratio_cpu} |")
    return rows


if __name__ == "__main__":
    main()
