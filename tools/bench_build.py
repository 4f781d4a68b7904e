"""Build-and-save benchmark: a 1,000-layer Dense stack and the guide's core models.

Reports median wall times over interleaved repetitions (no assertions; figures for notes).
Run: python tools/bench_build.py [--repeats 5] [--depth 1000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np

import onnxgraph as keras
from onnxgraph import layers


def dense_stack(depth: int):
    inputs = keras.Input(shape=(32,))
    x = inputs
    for _ in range(depth):
        x = layers.Dense(32, activation="relu")(x)
    return keras.Model(inputs, x, name=f"dense_stack_{depth}")


def mnist_mlp():
    inputs = keras.Input(shape=(784,))
    x = layers.Dense(64, activation="relu")(inputs)
    x = layers.Dense(64, activation="relu")(x)
    return keras.Model(inputs, layers.Dense(10)(x), name="mnist_model")


def ensemble():
    def get_model():
        inputs = keras.Input(shape=(128,))
        return keras.Model(inputs, layers.Dense(1)(inputs))

    models = [get_model() for _ in range(3)]
    inputs = keras.Input(shape=(128,))
    return keras.Model(inputs, layers.average([m(inputs) for m in models]))


def measure(build, folder: str) -> dict:
    t0 = time.perf_counter()
    model = build()
    t1 = time.perf_counter()
    path = os.path.join(folder, f"{model.name}.onnx")
    model.save(path)
    t2 = time.perf_counter()
    x = np.zeros((1, *model.inputs[0].shape[1:]), "float32")
    model.predict(x, verbose=0)
    t3 = time.perf_counter()
    keras.load_model(path)
    t4 = time.perf_counter()
    return {"build": t1 - t0, "save": t2 - t1, "first predict": t3 - t2, "load": t4 - t3,
            "nodes": len(model.to_onnx().graph.node), "MB": os.path.getsize(path) / 2**20}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--depth", type=int, default=1000)
    args = parser.parse_args(argv)
    cases = {"MNIST MLP": mnist_mlp, "ensemble of 3": ensemble,
             f"{args.depth}-layer Dense stack": lambda: dense_stack(args.depth)}
    results = {name: [] for name in cases}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.repeats):  # interleaved repetitions
            for name, build in cases.items():
                keras.utils.clear_session()
                results[name].append(measure(build, folder))
    print("| model | nodes | file MB | build s | save s | first predict s | load s |")
    print("|---|---|---|---|---|---|---|")
    for name, runs in results.items():
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(f"| {name} | {med['nodes']:.0f} | {med['MB']:.2f} | {med['build']:.4f} | {med['save']:.4f} | "
              f"{med['first predict']:.4f} | {med['load']:.4f} |")


if __name__ == "__main__":
    main()
