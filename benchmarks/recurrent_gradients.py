"""Forward+backward time of the autodiff LSTM gradient: Scan vs unrolled recurrence, vs PyTorch.

    python -m benchmarks.recurrent_gradients [--threads 1] [--repeats 7]

Cases are the ticket router's two LSTMs (guide sizes: title LSTM(128) over 12 steps, body
LSTM(32) over 100 steps, 64-dim embeddings, batch 32) and a Bidirectional LSTM(64) over 50
steps. Each graph computes the loss and the gradients of every LSTM weight and of the input;
"forward" runs the LSTM and loss alone. Times are medians of interleaved rounds.

A second table differentiates whole models' training graphs (the guide's ticket router, and
Embedding -> Bidirectional(LSTM(64)) -> Dense) and compares with onnxruntime-training's own
gradient graph (Module forward+backward, no optimizer step) on the same graph, when that
runtime is installed; it also reports the largest relative gradient difference between them.
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
    models(args.threads, args.repeats)


def _bilstm(lib):
    ids = lib.Input(shape=(None,), dtype="int64", name="tokens")
    x = lib.layers.Bidirectional(lib.layers.LSTM(64))(lib.layers.Embedding(10000, 64)(ids))
    return lib.Model(ids, lib.layers.Dense(1, name="score")(x))


def _model_feeds(case, rng):
    if case == "ticket_router":
        return [rng.integers(0, 10000, (BATCH, 12)), rng.integers(0, 10000, (BATCH, 100)),
                (rng.random((BATCH, 12)) > 0.5).astype(np.float32)], [1, 4]
    return [rng.integers(0, 10000, (BATCH, 50))], [1]


def _autodiff_session(model, losses, specs, threads):
    """Session for the model's training graph + autodiff gradients; weights are inputs (as the Module has them)."""
    import onnxruntime as ort
    from onnx import helper, numpy_helper

    from onnxgraph.autodiff import gradients
    from onnxgraph.backend.graph import Graph
    from onnxgraph.backend.serialize import to_model_proto
    from onnxgraph.trainer import _graph, _rules

    parts = _graph._emit_parts(model, losses, [1.0] * len(losses), specs, True)[0]
    graph = _graph._graph(parts)
    _rules.rewrite_for_training(graph)
    loss = graph.outputs[0]
    handles = list({x.id: x for n in graph.nodes for x in n.inputs if x is not None and x.kind == "variable"}.values())
    present = [(h, g) for h, g in zip(handles, gradients(graph, loss, handles)) if g is not None]
    full = Graph(graph.nodes, graph.inputs, [loss] + [g for _, g in present], graph.input_names,
                 ["loss"] + [f"grad_{i}" for i in range(len(present))])
    proto, weight_map = to_model_proto(full, name="autodiff")
    names = {weight_map[id(h.variable)][0] for h, _ in present}
    weights = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer if i.name in names}
    proto.graph.input.extend(helper.make_tensor_value_info(i.name, i.data_type, list(i.dims))
                             for i in proto.graph.initializer if i.name in names)
    kept = [i for i in proto.graph.initializer if i.name not in names]
    del proto.graph.initializer[:]
    proto.graph.initializer.extend(kept)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    session = ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session, parts.input_names, weights, [weight_map[id(h.variable)][0] for h, _ in present]


def models(threads, repeats):
    import onnxgraph as og
    from benchmarks.models import keras_like
    from onnxgraph.trainer._engine import Engine

    print("\n| model (batch 32) | ORT-training fwd+bwd | autodiff fwd+bwd | autodiff / ORT-training | max rel. grad diff |"
          "\n|---|---|---|---|---|")
    for case, build in (("ticket_router", lambda: keras_like(og, "ticket_router")), ("bidirectional_lstm",
                                                                                      lambda: _bilstm(og))):
        rng = np.random.default_rng(0)
        model = build()
        feeds, widths = _model_feeds(case, rng)
        losses = [og.losses.MeanSquaredError() for _ in widths]
        specs = [loss.label_spec((None, w)) for loss, w in zip(losses, widths)]
        labels = [a for w in widths for a in (rng.random((BATCH, w)).astype(np.float32), np.ones(BATCH, np.float32))]
        session, names, weights, grad_names = _autodiff_session(model, losses, specs, threads)
        feed = {**dict(zip(names, feeds + labels)), **weights}
        contenders = {"autodiff": lambda: _timed(lambda: session.run(None, feed), 3)}
        try:
            engine = Engine(model, losses, [1.0] * len(losses), specs, og.optimizers.SGD(), threads=threads)
        except ImportError:
            engine = None
        if engine is not None:
            def module_step():
                engine.module.train()
                engine.module.lazy_reset_grad()
                return engine.module(*feeds, *labels)

            contenders["ort-training"] = lambda: _timed(module_step, 3)
        r = interleaved(contenders, repeats)
        diff = "n/a"
        if engine is not None:
            module_step()
            ours = session.run(None, feed)[1:]
            diff = max(float(np.max(np.abs(g - engine.state.parameters[n].grad)) /
                             max(1e-12, float(np.max(np.abs(engine.state.parameters[n].grad)))))
                       for n, g in zip(grad_names, ours))
            diff = f"{diff:.1e}"
        ratio = f"{r['autodiff'] / r['ort-training']:.2f}" if engine is not None and r["ort-training"] else "n/a"
        print(f"| {case} | {r.cell('ort-training', fmt_time) if engine else 'not installed'} | "
              f"{r.cell('autodiff', fmt_time)} | {ratio} | {diff} |", flush=True)


if __name__ == "__main__":
    main()
