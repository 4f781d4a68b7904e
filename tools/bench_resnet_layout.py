"""Toy ResNet inference throughput: channels_last (layout pass) vs channels_first vs Keras's own ONNX export.

Every variant holds the same weights and runs in onnxruntime (CPU) with the same session options;
outputs are checked to agree before timing. Variants are timed in interleaved rounds and the
median samples/s is reported with the median per-round ratio to channels_first, as a markdown
table (no assertions; figures for notes).

Run: python tools/bench_resnet_layout.py [--batches 1 64] [--rounds 7] [--seconds 0.5] [--threads 0]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np

import onnxgraph as og
from onnxgraph import layers
from onnxgraph.backend import layout, serialize
from onnxgraph.runtime import import_onnxruntime


def toy_resnet(lib, data_format="channels_last"):
    """The functional API guide's toy ResNet; `data_format` applies to every conv and pool."""
    f = {"data_format": data_format}
    shape = (32, 32, 3) if data_format == "channels_last" else (3, 32, 32)
    inputs = lib.Input(shape=shape, name="img")
    L = lib.layers
    x = L.Conv2D(32, 3, activation="relu", **f)(inputs)
    x = L.Conv2D(64, 3, activation="relu", **f)(x)
    block_1_output = L.MaxPooling2D(3, **f)(x)
    x = L.Conv2D(64, 3, activation="relu", padding="same", **f)(block_1_output)
    x = L.Conv2D(64, 3, activation="relu", padding="same", **f)(x)
    block_2_output = L.add([x, block_1_output])
    x = L.Conv2D(64, 3, activation="relu", padding="same", **f)(block_2_output)
    x = L.Conv2D(64, 3, activation="relu", padding="same", **f)(x)
    block_3_output = L.add([x, block_2_output])
    x = L.Conv2D(64, 3, activation="relu", **f)(block_3_output)
    x = L.GlobalAveragePooling2D(**f)(x)
    x = L.Dense(256, activation="relu")(x)
    x = L.Dropout(0.5)(x)
    return lib.Model(inputs, L.Dense(10)(x), name="toy_resnet")


def without_layout_pass(model):
    """The emitted graph before the layout pass (a Transpose pair around every conv and pool)."""
    saved = list(serialize.PASSES)
    serialize.PASSES[:] = [p for p in saved if p is not layout.optimize_layout]
    try:
        return model.to_onnx()
    finally:
        serialize.PASSES[:] = saved


def keras_export(weights):
    """Keras 3's `model.export(format="onnx")` (torch backend) of the same model, or the reason it failed."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    try:
        import keras
        import onnx

        model = toy_resnet(keras)
        model.set_weights(weights)
        model.predict(np.zeros((1, 32, 32, 3), "float32"), verbose=0)  # export needs a called model
        path = os.path.join(tempfile.mkdtemp(), "keras_toy_resnet.onnx")
        model.export(path, format="onnx", verbose=False)
        return onnx.load(path), f"keras {keras.__version__} ({keras.backend.backend()})"
    except Exception as exc:  # noqa: BLE001 - reported in the table instead
        return None, f"unavailable: {type(exc).__name__}: {exc}"[:120]


def session(proto, threads: int, level: str):
    ort = import_onnxruntime()
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = {"all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
                                        "none": ort.GraphOptimizationLevel.ORT_DISABLE_ALL}[level]
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])


def throughput(sess, feed, seconds: float) -> float:
    name = sess.get_inputs()[0].name
    sess.run(None, {name: feed})
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        sess.run(None, {name: feed})
        count += 1
    return count * feed.shape[0] / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=0.5, help="timing window per variant per round")
    parser.add_argument("--threads", type=int, default=0, help="intra-op threads (0: onnxruntime default)")
    parser.add_argument("--opt-levels", nargs="+", default=["all", "none"], choices=["all", "none"],
                        help="onnxruntime graph optimization levels to measure")
    args = parser.parse_args()

    last = toy_resnet(og)
    first = toy_resnet(og, "channels_first")
    first.set_weights(last.get_weights())  # Keras kernel layouts do not depend on data_format
    keras_proto, keras_label = keras_export(last.get_weights())
    variants = [("onnxgraph channels_last (layout pass)", last.to_onnx(), False),
                ("onnxgraph channels_last (pass off)", without_layout_pass(last), False),
                ("onnxgraph channels_first", first.to_onnx(), True)]
    if keras_proto is not None:
        variants.append((f"Keras export, {keras_label}", keras_proto, False))

    data = np.random.default_rng(0).standard_normal((max(args.batches), 32, 32, 3)).astype("float32")
    reference = last.predict(data[:8], verbose=0)
    for label, proto, cf in variants:
        out = session(proto, args.threads, "all").run(None, {proto.graph.input[0].name:
                                                             data[:8].transpose(0, 3, 1, 2) if cf else data[:8]})[0]
        diff = float(np.abs(out - reference).max())
        if diff > 1e-4:
            raise SystemExit(f"{label}: outputs differ from the channels_last model by {diff}")

    print(f"Toy ResNet (guide), onnxruntime {import_onnxruntime().__version__} CPU, threads="
          f"{args.threads or 'default'}, os.cpu_count()={os.cpu_count()}, median of {args.rounds} interleaved "
          f"rounds x {args.seconds}s. Outputs agree within 1e-4.")
    if keras_proto is None:
        print(f"Keras export: {keras_label}")
    for level in args.opt_levels:
        sessions = {label: session(proto, args.threads, level) for label, proto, _ in variants}
        results = {(label, b): [] for label, _, _ in variants for b in args.batches}
        for _ in range(args.rounds):
            for b in args.batches:
                for label, _, cf in variants:
                    feed = np.ascontiguousarray(data[:b].transpose(0, 3, 1, 2) if cf else data[:b])
                    results[(label, b)].append(throughput(sessions[label], feed, args.seconds))
        base = "onnxgraph channels_first"
        print(f"\nonnxruntime graph optimizations: {level}\n")
        header = "| variant | Transposes | nodes | " + " | ".join(f"batch {b} samples/s (vs channels_first)"
                                                                 for b in args.batches) + " |"
        print(header)
        print("|" + "---|" * (3 + len(args.batches)))
        for label, proto, _ in variants:
            cells = []
            for b in args.batches:
                value = statistics.median(results[(label, b)])
                # The ratio is the median of per-round ratios: neighbours in time share the machine's load.
                ratio = statistics.median(v / w for v, w in zip(results[(label, b)], results[(base, b)]))
                cells.append(f"{value:,.0f} ({ratio:.2f}x)")
            transposes = sum(n.op_type == "Transpose" for n in proto.graph.node)
            print(f"| {label} | {transposes} | {len(proto.graph.node)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
