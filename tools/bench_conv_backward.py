"""Measure standard-ONNX formulations of the Conv backward pass on the toy ResNet's conv shapes.

Each formulation is a one-node-family ONNX model (x, dY [, w]) -> dW or dX, run by an
onnxruntime InferenceSession on one intra-op thread (ORT_ENABLE_ALL), interleaved rounds,
median time per call. Every formulation is first checked against the first one of its kind.

    python tools/bench_conv_backward.py [--rounds 7] [--threads 1]
    PYTHONPATH=. python tools/bench_conv_backward.py --model [--rounds 5]
    PYTHONPATH=. python tools/bench_conv_backward.py --rewrites [--rounds 5]

--model times the whole toy ResNet forward+backward graph that onnxgraph.autodiff emits
(batch 64, loss = sum(logits * R)), once per weight-gradient formulation of the Conv rule
(im2col = the rule's choice; swapped_conv and offsets = the rule's fallbacks for runtime
sizes and for very large inputs), so the
choice is also measured in context (fusions, layout Transposes, memory traffic).
--rewrites times single layers (Dense in front, batch 64) differentiated natively by these rules
vs after the ORT-training-era trainer rewrite, to pick the rewrites the new engine should keep.

Runs under any onnxruntime (the training build's InferenceSession or plain onnxruntime); it
needs only onnx, onnxruntime and numpy, so a venv without onnxgraph can run it too.

Weight-gradient formulations (x: (N, C, H, W), dY: (N, O, H', W'), dW: (O, C, kh, kw)):
  offsets        one MatMul per kernel offset: Slice of x transposed to (C, N, H, W) once,
                 reshaped to (C, N*P), times dY as (N*P, O); results concatenated
  swapped_conv   one Conv with batch and channel axes swapped: Conv(x^T, dY^T) with the
                 forward's dilations as strides and strides as dilations
  gather_im2col  one Gather of all patches from x as (N, H*W, C) -> (N*P, K*C), one MatMul
  gather_nchw    one Gather of the patches from x as (N, C, H*W) -> (N, C*K, P), batched MatMul + ReduceSum
  onehot_im2col  patches by a grouped Conv with one-hot kernels, one batched MatMul + ReduceSum
Input-gradient formulations (dX: (N, C, H, W)):
  conv_transpose ConvTranspose(dY, W) with the forward's pads/strides/dilations
  pad_conv       Pad dY by (k-1-pad) and Conv with the flipped, transposed kernel (stride 1)
  conv_pads      the same Conv with pads=k-1-pad as its attribute (no Pad node; stride 1)
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

# (name, N, C, H, W, O, k, pad) -- the toy ResNet of the Keras functional-API guide, batch 64.
SHAPES = [
    ("conv1 3->32 32x32 valid", 64, 3, 32, 32, 32, 3, 0),
    ("conv2 32->64 30x30 valid", 64, 32, 30, 30, 64, 3, 0),
    ("block 64->64 9x9 same", 64, 64, 9, 9, 64, 3, 1),
    ("last 64->64 9x9 valid", 64, 64, 9, 9, 64, 3, 0),
]


class _Builder:
    def __init__(self):
        self.nodes, self.inits, self._n = [], [], 0

    def const(self, value):
        name = f"c{len(self.inits)}"
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type, inputs, **attrs):
        self._n += 1
        out = f"t{self._n}"
        self.nodes.append(helper.make_node(op_type, inputs, [out], **attrs))
        return out

    def model(self, inputs, output):
        vis = [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs]
        self.nodes.append(helper.make_node("Identity", [output], ["out"]))
        out = helper.make_tensor_value_info("out", TensorProto.FLOAT, [None] * 4)
        graph = helper.make_graph(self.nodes, "g", vis, [out], initializer=self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        return model


def _out(size, k, pad):
    return size + 2 * pad - k + 1


def dw_offsets(s):
    _, n, c, h, w, o, k, p = s
    ho, wo = _out(h, k, p), _out(w, k, p)
    b = _Builder()
    x = b.op("Transpose", ["x"], perm=[1, 0, 2, 3])
    if p:
        x = b.op("Pad", [x, b.const(np.array([0, 0, p, p, 0, 0, p, p], np.int64))])
    dy = b.op("Reshape", [b.op("Transpose", ["dy"], perm=[0, 2, 3, 1]), b.const(np.array([-1, o], np.int64))])
    parts = []
    for i in range(k):
        for j in range(k):
            sl = b.op("Slice", [x, b.const(np.array([i, j], np.int64)), b.const(np.array([i + ho, j + wo], np.int64)),
                                b.const(np.array([2, 3], np.int64))])
            flat = b.op("Reshape", [sl, b.const(np.array([c, -1], np.int64))])
            parts.append(b.op("MatMul", [flat, dy]))  # (C, O)
    cat = b.op("Concat", parts, axis=0)  # (K*C, O)
    dw = b.op("Transpose", [b.op("Reshape", [cat, b.const(np.array([k, k, c, o], np.int64))])], perm=[3, 2, 0, 1])
    return b.model([("x", [n, c, h, w]), ("dy", [n, o, ho, wo])], dw)


def dw_swapped_conv(s):
    _, n, c, h, w, o, k, p = s
    ho, wo = _out(h, k, p), _out(w, k, p)
    b = _Builder()
    xt = b.op("Transpose", ["x"], perm=[1, 0, 2, 3])
    dyt = b.op("Transpose", ["dy"], perm=[1, 0, 2, 3])
    y = b.op("Conv", [xt, dyt], pads=[p, p, p, p])  # (C, O, k, k)
    dw = b.op("Transpose", [y], perm=[1, 0, 2, 3])
    return b.model([("x", [n, c, h, w]), ("dy", [n, o, ho, wo])], dw)


def dw_gather_im2col(s):
    _, n, c, h, w, o, k, p = s
    ho, wo = _out(h, k, p), _out(w, k, p)
    hp, wp = h + 2 * p, w + 2 * p
    b = _Builder()
    x = b.op("Transpose", ["x"], perm=[0, 2, 3, 1])
    if p:
        x = b.op("Pad", [x, b.const(np.array([0, p, p, 0, 0, p, p, 0], np.int64))])
    x = b.op("Reshape", [x, b.const(np.array([0, hp * wp, c], np.int64))])
    rows = np.arange(ho)[:, None, None, None] + np.arange(k)[None, None, :, None]
    cols = np.arange(wo)[None, :, None, None] + np.arange(k)[None, None, None, :]
    index = (rows * wp + cols).reshape(ho * wo, k * k).astype(np.int64)
    patches = b.op("Gather", [x, b.const(index)], axis=1)
    patches = b.op("Reshape", [patches, b.const(np.array([-1, k * k * c], np.int64))])
    dy = b.op("Reshape", [b.op("Transpose", ["dy"], perm=[1, 0, 2, 3]), b.const(np.array([o, -1], np.int64))])
    dw = b.op("MatMul", [dy, patches])  # (O, K*C)
    dw = b.op("Transpose", [b.op("Reshape", [dw, b.const(np.array([o, k, k, c], np.int64))])], perm=[0, 3, 1, 2])
    return b.model([("x", [n, c, h, w]), ("dy", [n, o, ho, wo])], dw)


def dw_gather_nchw(s):
    _, n, c, h, w, o, k, p = s
    ho, wo = _out(h, k, p), _out(w, k, p)
    hp, wp = h + 2 * p, w + 2 * p
    b = _Builder()
    x = b.op("Pad", ["x", b.const(np.array([0, 0, p, p, 0, 0, p, p], np.int64))]) if p else "x"
    x = b.op("Reshape", [x, b.const(np.array([0, c, hp * wp], np.int64))])
    rows = np.arange(k)[:, None, None, None] + np.arange(ho)[None, None, :, None]
    cols = np.arange(k)[None, :, None, None] + np.arange(wo)[None, None, None, :]
    index = (rows * wp + cols).reshape(k * k, ho * wo).astype(np.int64)
    patches = b.op("Gather", [x, b.const(index)], axis=2)
    patches = b.op("Reshape", [patches, b.const(np.array([0, c * k * k, -1], np.int64))])
    dyt = b.op("Reshape", [b.op("Transpose", ["dy"], perm=[0, 2, 3, 1]), b.const(np.array([0, -1, o], np.int64))])
    summed = b.op("ReduceSum", [b.op("MatMul", [patches, dyt]), b.const(np.array([0], np.int64))], keepdims=0)
    dw = b.op("Reshape", [b.op("Transpose", [summed], perm=[1, 0]), b.const(np.array([o, c, k, k], np.int64))])
    return b.model([("x", [n, c, h, w]), ("dy", [n, o, ho, wo])], dw)


def dw_onehot_im2col(s):
    _, n, c, h, w, o, k, p = s
    ho, wo = _out(h, k, p), _out(w, k, p)
    b = _Builder()
    eye = np.eye(k * k, dtype=np.float32).reshape(k * k, 1, k, k)
    kernel = np.tile(eye, (c, 1, 1, 1))  # (C*K, 1, k, k): channel c*K + kk picks tap kk of channel c
    patches = b.op("Conv", ["x", b.const(kernel)], group=c, pads=[p, p, p, p])  # (N, C*K, Ho, Wo)
    patches = b.op("Reshape", [patches, b.const(np.array([0, c * k * k, -1], np.int64))])
    dyt = b.op("Reshape", [b.op("Transpose", ["dy"], perm=[0, 2, 3, 1]), b.const(np.array([0, -1, o], np.int64))])
    summed = b.op("ReduceSum", [b.op("MatMul", [patches, dyt]), b.const(np.array([0], np.int64))], keepdims=0)
    dw = b.op("Reshape", [b.op("Transpose", [summed], perm=[1, 0]), b.const(np.array([o, c, k, k], np.int64))])
    return b.model([("x", [n, c, h, w]), ("dy", [n, o, ho, wo])], dw)


def dx_conv_transpose(s):
    _, n, c, h, w, o, k, p = s
    ho, wo = _out(h, k, p), _out(w, k, p)
    b = _Builder()
    dx = b.op("ConvTranspose", ["dy", "w"], pads=[p, p, p, p])
    return b.model([("dy", [n, o, ho, wo]), ("w", [o, c, k, k])], dx)


def dx_pad_conv(s):
    _, n, c, h, w, o, k, p = s
    ho, wo = _out(h, k, p), _out(w, k, p)
    b = _Builder()
    q = k - 1 - p
    dy = b.op("Pad", ["dy", b.const(np.array([0, 0, q, q, 0, 0, q, q], np.int64))]) if q else "dy"
    flip = b.const(np.arange(k)[::-1].astype(np.int64).copy())
    wt = b.op("Transpose", ["w"], perm=[1, 0, 2, 3])
    wt = b.op("Gather", [b.op("Gather", [wt, flip], axis=2), flip], axis=3)
    dx = b.op("Conv", [dy, wt])
    return b.model([("dy", [n, o, ho, wo]), ("w", [o, c, k, k])], dx)


def dx_conv_pads(s):
    _, n, c, h, w, o, k, p = s
    ho, wo = _out(h, k, p), _out(w, k, p)
    b = _Builder()
    q = k - 1 - p
    flip = b.const(np.arange(k)[::-1].astype(np.int64).copy())
    wt = b.op("Transpose", ["w"], perm=[1, 0, 2, 3])
    wt = b.op("Gather", [b.op("Gather", [wt, flip], axis=2), flip], axis=3)
    dx = b.op("Conv", ["dy", wt], pads=[q] * 4)
    return b.model([("dy", [n, o, ho, wo]), ("w", [o, c, k, k])], dx)


WEIGHT = {"offsets": dw_offsets, "swapped_conv": dw_swapped_conv, "gather_im2col": dw_gather_im2col,
          "gather_nchw": dw_gather_nchw,
          "onehot_im2col": dw_onehot_im2col}
INPUT = {"conv_transpose": dx_conv_transpose, "pad_conv": dx_pad_conv, "conv_pads": dx_conv_pads}


def _session(model, threads):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def _time(session, feeds, calls=3):
    start = time.perf_counter()
    for _ in range(calls):
        session.run(None, feeds)
    return (time.perf_counter() - start) / calls


def bench(shape, table, feeds_for, rounds, threads):
    sessions = {name: _session(make(shape), threads) for name, make in table.items()}
    feeds = feeds_for(sessions[next(iter(sessions))])
    reference = None
    for name, sess in sessions.items():
        got = sess.run(None, feeds)[0]
        if reference is None:
            reference = got
        err = np.abs(got - reference).max() / max(np.abs(reference).max(), 1e-6)
        assert err < 1e-4, f"{shape[0]}: {name} disagrees with {next(iter(sessions))} (rel. err {err:.2g})"
    samples = {name: [] for name in sessions}
    names = list(sessions)
    for r in range(rounds):
        for i in range(len(names)):  # rotate the order each round (shared, loaded machine)
            name = names[(r + i) % len(names)]
            samples[name].append(_time(sessions[name], feeds))
    return {name: statistics.median(v) for name, v in samples.items()}


def _toy_resnet():
    import onnxgraph as og
    from onnxgraph import layers

    inputs = og.Input(shape=(32, 32, 3), name="img")
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
    return og.Model(inputs, layers.Dense(10)(x))


def _model_step(model, variant, threads):
    """An InferenceSession computing the toy ResNet's loss and every weight gradient."""
    from onnxgraph.autodiff import _conv, gradients
    from onnxgraph.backend.emit import emit
    from onnxgraph.backend.graph import collect
    from onnxgraph.backend.scope import emit_options
    from onnxgraph.backend.serialize import to_model_proto
    from onnxgraph.layers._input_layer import placeholder
    from onnxgraph.layers._node import recording

    with recording(False), emit_options(training_graph=True, state_updates=[]):
        img = placeholder((None, 32, 32, 3), "float32", "img")
        logits = model._run_graph([img], training=True)
    r = placeholder((None, 10), "float32", "r")
    loss = emit("ReduceSum", [emit("Mul", [logits, r], shapes=[logits.shape], dtypes_=["float32"])],
                {"keepdims": 0}, shapes=[()], dtypes_=["float32"])
    graph = collect([img, r], [loss], ["img", "r"], ["loss"])
    weights = list({x.id: x for node in graph.nodes for x in node.inputs
                    if x is not None and x.kind == "variable"}.values())
    original = _conv._weight_grad_im2col
    replacement = {"im2col": original, "swapped_conv": _conv._weight_grad_swapped,
                   "offsets": _conv._weight_grad_offsets}[variant]
    _conv._weight_grad_im2col = replacement
    try:
        grads = gradients(graph, loss, weights)
    finally:
        _conv._weight_grad_im2col = original
    graph.outputs += grads
    graph.output_names += [f"grad{i}" for i in range(len(grads))]
    proto, _ = to_model_proto(graph, name="toy_resnet_step")
    return _session(proto, threads)


def _layer_step(model, rewrite, threads):
    """Session for loss = sum(model(x) * r) and the gradients of x and every weight."""
    import sys

    sys.path.insert(0, ".")
    from tests.autodiff.family_check import run_gradients, training_graph

    x = np.zeros((64, *model.inputs[0].shape[1:]), np.float32)
    graph, _, feeds = training_graph(model, [x], rewrite=rewrite)
    session, _ = run_gradients(graph, feeds)
    return session, feeds


def main_rewrites(args):
    """Forward+backward time of single layers: the native op's rule vs the trainer's rewrite."""
    import onnxgraph as og
    from onnxgraph import layers
    from onnxgraph.trainer._rules import rewrite_for_training

    cases = {
        "Conv2DTranspose(32, 3, strides=2, same) 16x16x32": ((16, 16, 32), lambda: layers.Conv2DTranspose(
            32, 3, strides=2, padding="same")),
        "AveragePooling2D(2) 32x32x32": ((32, 32, 32), lambda: layers.AveragePooling2D(2)),
        "AveragePooling2D(3, same) 32x32x32": ((32, 32, 32), lambda: layers.AveragePooling2D(3, 1, "same")),
        "UpSampling2D(2) 16x16x32": ((16, 16, 32), lambda: layers.UpSampling2D(2)),
        "UpSampling2D(2, bilinear) 16x16x32": ((16, 16, 32), lambda: layers.UpSampling2D(2, interpolation="bilinear")),
        "GlobalMaxPooling2D 16x16x64": ((16, 16, 64), lambda: layers.GlobalMaxPooling2D()),
        "MaxPooling2D(3, 2, same) 32x32x32": ((32, 32, 32), lambda: layers.MaxPooling2D(3, 2, "same")),
    }
    print(f"onnxruntime {ort.__version__}, {args.threads} thread(s), batch 64: forward+backward ms, median of "
          f"{args.rounds} rounds")
    rng = np.random.default_rng(0)
    for name, (shape, make) in cases.items():
        inputs = og.Input(shape=shape)
        model = og.Model(inputs, make()(layers.Dense(shape[-1])(inputs)))
        runs = {}
        for label, rewrite in (("native", None), ("rewrite", rewrite_for_training)):
            session, feeds = _layer_step(model, rewrite, args.threads)
            feeds = {k: rng.standard_normal(v.shape).astype(np.float32) for k, v in feeds.items()}
            runs[label] = (session, feeds)
        samples = {label: [] for label in runs}
        for r in range(args.rounds):
            for label in (list(runs) if r % 2 == 0 else list(runs)[::-1]):
                samples[label].append(_time(*runs[label], calls=2))
        native, rewritten = (statistics.median(samples[k]) * 1e3 for k in ("native", "rewrite"))
        print(f"  {name:52s} native {native:7.2f}  rewrite {rewritten:7.2f}  ({rewritten / native:.2f}x)")


def main_model(args):
    rng = np.random.default_rng(0)
    feeds = {"img": rng.standard_normal((64, 32, 32, 3)).astype(np.float32),
             "r": rng.standard_normal((64, 10)).astype(np.float32)}
    model = _toy_resnet()
    sessions = {v: _model_step(model, v, args.threads) for v in ("im2col", "offsets", "swapped_conv")}
    reference = sessions["im2col"].run(None, feeds)
    for name, sess in sessions.items():
        for k, (got, want) in enumerate(zip(sess.run(None, feeds), reference)):
            err = np.abs(got - want).max() / max(np.abs(want).max(), 1e-6)
            assert err < 1e-4, f"{name}: output {k} differs from im2col's (relative error {err:.2g})"
    samples = {name: [] for name in sessions}
    names = list(sessions)
    for r in range(args.rounds):
        for i in range(len(names)):
            name = names[(r + i) % len(names)]
            samples[name].append(_time(sessions[name], feeds, calls=2))
    result = {name: statistics.median(v) for name, v in samples.items()}
    print(f"onnxruntime {ort.__version__}, {args.threads} thread(s): toy ResNet forward+backward, batch 64, "
          f"median of {args.rounds} rounds")
    for name, t in result.items():
        print(f"  {name:13s} {t * 1e3:8.1f} ms/step  ({result['im2col'] / t:.2f}x the im2col speed)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--model", action="store_true", help="time the whole toy ResNet backward graph")
    parser.add_argument("--only", choices=["dW", "dX"], help="time only weight or only input gradients")
    parser.add_argument("--rewrites", action="store_true", help="time single layers: native rules vs trainer rewrite")
    args = parser.parse_args()
    if args.model:
        return main_model(args)
    if args.rewrites:
        return main_rewrites(args)
    rng = np.random.default_rng(0)
    print(f"onnxruntime {ort.__version__}, {args.threads} thread(s), median ms per call over {args.rounds} rounds")
    totals = {}
    for shape in SHAPES:
        _, n, c, h, w, o, k, p = shape
        ho, wo = _out(h, k, p), _out(w, k, p)
        x = rng.standard_normal((n, c, h, w)).astype(np.float32)
        dy = rng.standard_normal((n, o, ho, wo)).astype(np.float32)
        wt = rng.standard_normal((o, c, k, k)).astype(np.float32)
        for kind, table, feeds in (("dW", WEIGHT, {"x": x, "dy": dy}), ("dX", INPUT, {"dy": dy, "w": wt})):
            if args.only and kind != args.only:
                continue
            if kind == "dX" and shape[0].startswith("conv1"):
                continue  # the image input needs no gradient
            result = bench(shape, table, lambda _s, f=feeds: f, args.rounds, args.threads)
            cells = "  ".join(f"{name} {t * 1e3:7.2f}" for name, t in result.items())
            print(f"{shape[0]:26s} {kind}: {cells}")
            for name, t in result.items():
                totals[(kind, name)] = totals.get((kind, name), 0.0) + t * (4 if shape[0].startswith("block") else 1)
    print("toy-ResNet step totals (block conv counted 4x):")
    for (kind, name), t in totals.items():
        print(f"  {kind} {name:15s} {t * 1e3:8.2f} ms")


if __name__ == "__main__":
    main()
