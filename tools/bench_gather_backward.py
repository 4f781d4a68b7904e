"""Embedding (axis-0 Gather) backward formulations on onnxruntime CPU, 1 thread: microseconds per call.

ScatterND(zeros, ids[..., None], g, add) -- what autodiff emits -- vs ScatterElements with the ids
expanded to g's shape, vs OneHot(ids)^T @ g. Run: python tools/bench_gather_backward.py
"""

import time, numpy as np, onnx, onnxruntime as ort
from onnx import helper as h, TensorProto as T, numpy_helper as nh
def sess(nodes, inputs, outs, inits=()):
    g = h.make_graph(nodes, "b", inputs, outs, initializer=list(inits))
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 21)]); m.ir_version = 10
    o = ort.SessionOptions(); o.intra_op_num_threads = 1
    return ort.InferenceSession(m.SerializeToString(), o, providers=["CPUExecutionProvider"])
def bench(s, feed, n=200):
    s.run(None, feed); t = time.perf_counter()
    for _ in range(n): s.run(None, feed)
    return (time.perf_counter() - t) / n * 1e6
for V, D, B, L in [(1000, 64, 64, 20), (20000, 64, 64, 20), (100, 32, 256, 50)]:
    ids = np.random.default_rng(0).integers(0, V, (B, L)).astype(np.int64)
    g = np.random.default_rng(1).standard_normal((B, L, D)).astype(np.float32)
    I = [h.make_tensor_value_info("ids", T.INT64, [B, L]), h.make_tensor_value_info("g", T.FLOAT, [B, L, D])]
    O = [h.make_tensor_value_info("out", T.FLOAT, [V, D])]
    shape = nh.from_array(np.asarray([V, D], np.int64), "shape"); ax = nh.from_array(np.asarray([2], np.int64), "ax")
    zero = h.make_node("ConstantOfShape", ["shape"], ["z"], value=nh.from_array(np.zeros(1, np.float32)))
    nd = sess([zero, h.make_node("Unsqueeze", ["ids", "ax"], ["i3"]), h.make_node("ScatterND", ["z", "i3", "g"], ["out"], reduction="add")], I, O, [shape, ax])
    flat_i = nh.from_array(np.asarray([-1, 1], np.int64), "fi"); flat_g = nh.from_array(np.asarray([-1, D], np.int64), "fg"); es = nh.from_array(np.asarray([B * L, D], np.int64), "es")
    el = sess([zero, h.make_node("Reshape", ["ids", "fi"], ["i2"]), h.make_node("Expand", ["i2", "es"], ["ie"]), h.make_node("Reshape", ["g", "fg"], ["g2"]),
               h.make_node("ScatterElements", ["z", "ie", "g2"], ["out"], axis=0, reduction="add")], I, O, [shape, flat_i, flat_g, es])
    depth = nh.from_array(np.asarray(V, np.int64), "depth"); vals = nh.from_array(np.asarray([0, 1], np.float32), "vals"); fi1 = nh.from_array(np.asarray([-1], np.int64), "fi1")
    oh = sess([h.make_node("Reshape", ["ids", "fi1"], ["i1"]), h.make_node("OneHot", ["i1", "depth", "vals"], ["oh"], axis=-1), h.make_node("Reshape", ["g", "fg"], ["g2"]),
               h.make_node("Transpose", ["oh"], ["oht"]), h.make_node("MatMul", ["oht", "g2"], ["out"])], I, O, [depth, vals, flat_g, fi1])
    feed = {"ids": ids, "g": g}
    ref = nd.run(None, feed)[0]
    assert np.allclose(el.run(None, feed)[0], ref, atol=1e-4) and np.allclose(oh.run(None, feed)[0], ref, atol=1e-4)
    print(f"V={V} D={D} ids={B}x{L}: ScatterND {bench(nd, feed):.0f} us, ScatterElements {bench(el, feed):.0f} us, OneHot+MatMul {bench(oh, feed):.0f} us")
