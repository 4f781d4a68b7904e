"""`onnxgraph predict | bench`: run a model file on onnxruntime."""

from __future__ import annotations

import time

import numpy as np

from onnxgraph.cli._common import read_inputs, read_model, session

__all__ = ["add_parser"]


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("predict", help="run a model on .npy inputs, write .npy/.npz outputs",
                              description="Run the model on arrays from .npy files (one per input, in order or "
                                          "as name=file.npy) or one .npz; write a .npy (one output) or .npz.")
    p.add_argument("model", help="path to a .onnx or .ort file")
    p.add_argument("--input", action="append", required=True, metavar="[NAME=]FILE",
                   help="input array file (.npy, or .npz by input name); repeat for several inputs")
    p.add_argument("--output", required=True, help=".npy (single output) or .npz path for the results")
    p.add_argument("--batch-size", type=int, default=None, help="rows per run (default: all at once)")
    p.add_argument("--providers", default="cpu", help="auto, cpu or cuda (default cpu)")
    p.set_defaults(func=run_predict)

    p = subparsers.add_parser("bench", help="measure latency and throughput on random inputs",
                              description="Time onnxruntime runs of the model on random inputs of the given batch "
                                          "size; prints mean/p50/p90/p99 latency and samples per second.")
    p.add_argument("model", help="path to a .onnx or .ort file")
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--iterations", type=int, default=100)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--threads", type=int, default=None, help="onnxruntime intra-op threads")
    p.add_argument("--providers", default="cpu", help="auto, cpu or cuda (default cpu)")
    p.set_defaults(func=run_bench)


def run_predict(args) -> int:
    sess = session(read_model(args.model), providers=args.providers)
    feeds = read_inputs(sess, args.input)
    names = [o.name for o in sess.get_outputs()]
    if len(names) > 1 and not args.output.endswith(".npz"):
        raise ValueError(f"the model has {len(names)} outputs {names}: write them to a .npz file")
    n = len(next(iter(feeds.values()))) if feeds else 1
    step = args.batch_size or max(n, 1)
    chunks = [sess.run(None, {k: v[i:i + step] for k, v in feeds.items()}) for i in range(0, max(n, 1), step)]
    results = [np.concatenate(parts, axis=0) if len(chunks) > 1 else parts[0] for parts in zip(*chunks)]
    if args.output.endswith(".npz"):
        np.savez(args.output, **dict(zip(names, results)))
    else:
        np.save(args.output, results[0])
    shapes = ", ".join(f"{k}{list(v.shape)}" for k, v in zip(names, results))
    print(f"wrote {args.output}: {shapes}")
    return 0


def run_bench(args) -> int:
    from onnxgraph.export._report import sample_feeds

    if args.batch_size < 1 or args.iterations < 1 or args.warmup < 0:
        raise ValueError("--batch-size and --iterations must be >= 1, --warmup >= 0")
    model = read_model(args.model)
    sess = session(model, threads=args.threads, providers=args.providers)
    if isinstance(model, bytes):  # an .ort file
        feeds = {i.name: _random(i, args.batch_size) for i in sess.get_inputs()}
    else:
        feeds = sample_feeds(model, batch=args.batch_size)
        wanted = {i.name: i.type for i in sess.get_inputs()}
        feeds = {k: v.astype(np.float16) if wanted.get(k) == "tensor(float16)" else v for k, v in feeds.items()}
    for _ in range(args.warmup):
        sess.run(None, feeds)
    times = []
    for _ in range(args.iterations):
        start = time.perf_counter()
        sess.run(None, feeds)
        times.append(time.perf_counter() - start)
    ms = np.array(times) * 1e3
    print(f"{args.model}: batch {args.batch_size}, {args.iterations} runs ({args.warmup} warm-up), "
          f"providers {sess.get_providers()[0]}")
    print(f"  latency ms: mean {ms.mean():.3f}  p50 {np.percentile(ms, 50):.3f}  p90 {np.percentile(ms, 90):.3f}  "
          f"p99 {np.percentile(ms, 99):.3f}  min {ms.min():.3f}")
    print(f"  throughput: {args.batch_size * len(ms) / ms.sum() * 1e3:,.1f} samples/s")
    return 0


def _random(info, batch: int) -> np.ndarray:
    shape = [batch if i == 0 and not isinstance(d, int) else (d if isinstance(d, int) else 8)
             for i, d in enumerate(info.shape)]
    rng = np.random.default_rng(0)
    if info.type in ("tensor(float)", "tensor(float16)", "tensor(double)"):
        dtype = {"tensor(float)": np.float32, "tensor(float16)": np.float16}.get(info.type, np.float64)
        return rng.random(shape).astype(dtype)
    return rng.integers(0, 2, size=shape).astype(np.int64 if "int64" in info.type else np.int32)
