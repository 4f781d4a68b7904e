"""Forward+backward time of the autodiff LSTM gradient: Scan vs unrolled recurrence, vs PyTorch.

    python -m benchmarks.recurrent_gradients [--threads 1] [--repeats 7]

Cases are the ticket router's two LSTMs (guide sizes: title LSTM(128) over 12 steps, body
LSTM(32) over 100 steps, 64-dim embeddings, batch 32) and a Bidirectional LSTM(64) over 50
steps. Each graph computes the loss and the gradients of every LSTM weight and of the input;
"forward" runs the LSTM and loss alone. Times are medians of interleaved rounds.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks._timing import fmt_time, interleaved

CASES = {"title LSTM(128), T=12": (128, 12, "forward"), "body LSTM(32), T=100": (32, 100, "forward"),
         "Bidirectional LSTM(64), T=50": (64, 50, "bidirectional")}
BATCH, FEATURES = 32, 64


def _graph(units, steps, direction, mode, with_grads=True):
    from onnxgraph.autodiff import _recurrent_loop, gradients
    from onnxgraph.backend.emit import emit
    from onnxgraph.backend.graph import Graph, collect
    from onnxgraph.backend.ir import SymbolicTensor
    from onnxgraph.backend.serialize import to_model_proto
    from onnxgraph.backend.variable import Variable

    rng = np.random.default_rng(0)
    n = 2 if direction == "bidirectional" else 1
    x = SymbolicTensor((None if mode == "scan" else steps, None, FEATURES), "float32", kind="input", name="x")
    ws = [Variable((0.1 * rng.standard_normal(s)).astype(np.float32), name=f"w{i}", path=f"lstm/w{i}").graph_value()
          for i, s in enumerate([(n, 4 * units, FEATURES), (n, 4 * units, units), (n, 8 * units)])]
    _, h, _ = emit("LSTM", [x, *ws, None, None, None, None], {"hidden_size": units, "direction": direction},
                   outputs=3, shapes=[(x.shape[0], n, None, units), (n, None, units), (n, None, units)],
                   dtypes_=["float32"] * 3)
    loss = emit("ReduceSum", [emit("Mul", [h, h], shapes=[h.shape], dtypes_=["float32"])], {"keepdims": 0},
                shapes=[()], dtypes_=["float32"])
    graph = collect([x], [loss], ["x"], ["loss"])
    outputs = [loss]
    if with_grads:
        _recurrent_loop.MODE["value"] = mode
        try:
            outputs += gradients(graph, loss, [x, *ws])
        finally:
            _recurrent_loop.MODE["value"] = "scan"
    full = Graph(graph.nodes, graph.inputs, outputs, ["x"], [f"out{i}" for i in range(len(outputs))])
    return to_model_proto(full, name="lstm_grad")[0]


def _ort_runner(proto, feed, threads):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    session = ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
    session.run(None, feed)
    return lambda: _timed(lambda: session.run(None, feed))


def _torch_runner(units, steps, direction, x, threads):
    import torch

    torch.set_num_threads(threads)
    lstm = torch.nn.LSTM(FEATURES, units, bidirectional=direction == "bidirectional")
    tx = torch.tensor(x, requires_grad=True)

    def step():
        _, (h, _) = lstm(tx)
        (h * h).sum().backward()

    step()
    return lambda: _timed(step)


def _timed(fn, calls=5):
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    print(f"| case | forward only | fwd+bwd Scan | fwd+bwd unrolled | PyTorch fwd+bwd | unrolled / Scan |\n"
          f"|---|---|---|---|---|---|")
    for label, (units, steps, direction) in CASES.items():
        x = np.random.default_rng(1).standard_normal((steps, BATCH, FEATURES)).astype(np.float32)
        feed = {"x": x}
        contenders = {"forward": _ort_runner(_graph(units, steps, direction, "scan", False), feed, args.threads),
                      "scan": _ort_runner(_graph(units, steps, direction, "scan"), feed, args.threads),
                      "unroll": _ort_runner(_graph(units, steps, direction, "unroll"), feed, args.threads),
                      "torch": _torch_runner(units, steps, direction, x, args.threads)}
        r = interleaved(contenders, args.repeats)
        ratio = r["unroll"] / r["scan"] if r["unroll"] and r["scan"] else float("nan")
        print(f"| {label} | {r.cell('forward', fmt_time)} | {r.cell('scan', fmt_time)} | "
              f"{r.cell('unroll', fmt_time)} | {r.cell('torch', fmt_time)} | {ratio:.2f} |", flush=True)


if __name__ == "__main__":
    main()
