"""Finite-difference checks of the conv/pool/resize/normalization/dropout rules.

`check_op(build, arrays, shapes)` runs `build(*inputs)` on graph inputs declared with any
symbolic dims (batch, spatial) through the shared harness `tests/autodiff/gradcheck.py`.
`check_model(model, x, training=True, rewrite=...)` differentiates what the training engine
sees: the model replayed as a training graph (Dropout active, batch statistics), optionally
after the trainer's rewrite, every float weight turned into a graph input in ONNX layout.
It (and `check_op_directional`) differentiates loss = sum(out * R) with `autodiff.gradients`,
runs the forward+backward graph on a real onnxruntime InferenceSession, and compares
<gradient, v> with the central difference (L(a + eps v) - L(a - eps v)) / 2 eps of the same
session's loss, for random directions v
(float32; R = sin(a * flat index + b) is computed in the graph, so no forward run is needed
to size it; every feed is copied per run: BatchNormalization in training mode writes its running
statistics into the input buffers it was fed).
"""

from __future__ import annotations

import numpy as np

import onnxgraph as og

from onnxgraph.autodiff import gradients
from onnxgraph.backend import transforms
from onnxgraph.backend.emit import constant, emit
from onnxgraph.backend.graph import collect
from onnxgraph.backend.ir import SymbolicTensor
from onnxgraph.backend.scope import emit_options
from onnxgraph.backend.serialize import to_model_proto
from onnxgraph.layers._input_layer import placeholder
from onnxgraph.layers._node import recording
from onnxgraph.runtime import make_session
from onnxgraph.utils._tree import flatten
from tests.autodiff.gradcheck import check_graph

__all__ = ["Scale", "check_op", "check_op_directional", "check_model", "run_gradients", "training_graph",
           "loss_weights"]


class Scale(og.layers.Layer):
    """x * w on the last axis, w uniform in [0.5, 1.5]: positive, so it keeps each channel's order."""

    def build(self, input_shape):
        self.w = self.add_weight((input_shape[-1],), og.initializers.RandomUniform(0.5, 1.5), name="w")

    def call(self, inputs):
        return inputs * self.w


def _wave(seed: int):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.5, 2.5), rng.uniform(0, 3)


def loss_weights(shape, seed: int = 0, output: int = 0) -> np.ndarray:
    """The R that `run_gradients` multiplies output `output` by, as numpy (for reference gradients)."""
    a, b = _wave(seed + output)
    return np.sin(a * np.arange(int(np.prod(shape)), dtype=np.float32) + b).reshape(shape).astype(np.float32)


def _fixed_weights(out, seed: int):
    """A fixed pseudo-random tensor of `out`'s runtime shape: sin(a * flat_index + b)."""
    size = emit("Reshape", [emit("Size", [out], shapes=[()], dtypes_=["int64"]), constant(np.asarray([1]))],
                shapes=[(1,)], dtypes_=["int64"])
    index = emit("Range", [constant(np.asarray(0.0, np.float32)), emit("Cast", [emit("Squeeze", [size],
                 shapes=[()], dtypes_=["int64"])], {"to": 1}, shapes=[()], dtypes_=["float32"]),
                 constant(np.asarray(1.0, np.float32))], shapes=[(None,)], dtypes_=["float32"])
    a, b = _wave(seed)
    wave = emit("Sin", [emit("Add", [emit("Mul", [index, constant(np.float32(a))], shapes=[(None,)],
                                          dtypes_=["float32"]), constant(np.float32(b))], shapes=[(None,)],
                             dtypes_=["float32"])], shapes=[(None,)], dtypes_=["float32"])
    shape = emit("Shape", [out], shapes=[(out.ndim,)], dtypes_=["int64"])
    r = emit("Reshape", [wave, shape], shapes=[out.shape], dtypes_=["float32"])
    return r if out.dtype == "float32" else emit("Cast", [r], {"to": 11}, shapes=[out.shape], dtypes_=[out.dtype])


def _new_nodes(tensors, known):
    found, stack = {}, list(tensors)
    while stack:
        t = stack.pop()
        if t is None or t.id in known or t.producer is None or t.producer.id in found:
            continue
        found[t.producer.id] = t.producer
        stack.extend(t.producer.inputs)
    return [found[k] for k in sorted(found)]


def run_gradients(graph, feeds: dict, *, seed: int = 0):
    """Differentiate loss = sum(out * R) over `graph`'s outputs w.r.t. its float inputs.

    Returns (session, grads by input name); the session's "loss" output is the loss.
    """
    loss = None
    for i, out in enumerate(graph.outputs):
        term = emit("ReduceSum", [emit("Mul", [out, _fixed_weights(out, seed + i)], shapes=[out.shape],
                                       dtypes_=[out.dtype]), constant(np.arange(out.ndim, dtype=np.int64))],
                    {"keepdims": 0}, shapes=[()], dtypes_=[out.dtype])
        loss = term if loss is None else emit("Add", [loss, term], shapes=[()], dtypes_=[out.dtype])
    known = {x.id for x in graph.inputs} | {y.id for node in graph.nodes for y in node.outputs}
    graph.nodes += _new_nodes([loss], known)
    graph.outputs, graph.output_names = [loss], ["loss"]
    wrt = [x for x in graph.inputs if x.dtype.startswith("float")]
    grads = gradients(graph, loss, wrt)
    found = {}
    for x, name, g in zip(graph.inputs, graph.input_names, grads):
        if g is not None:
            graph.outputs.append(g)
            graph.output_names.append(f"grad_{name}")
            found[name] = g
    proto, _ = to_model_proto(graph, name="gradients")
    session = make_session(proto.SerializeToString(), "cpu")
    results = session.run([f"grad_{n}" for n in found], _copy(feeds))
    return session, dict(zip(found, results))


def _copy(feeds):
    return {k: np.array(v, copy=True) for k, v in feeds.items()}


def _finite_differences(session, feeds, grads, *, eps, rtol, atol, directions, seed, expect=None):
    rng = np.random.default_rng(seed + 1)
    loss = lambda f: float(np.asarray(session.run(["loss"], _copy(f))[0], np.float64))  # noqa: E731
    missing = set(expect or ()) - set(grads)
    assert not missing, f"no gradient reached {sorted(missing)}"
    for name, grad in grads.items():
        value = feeds[name]
        assert grad.shape == value.shape, f"gradient of {name} has shape {grad.shape}, the value {value.shape}"
        for _ in range(directions):
            v = rng.standard_normal(value.shape).astype(value.dtype)
            up, down = dict(feeds), dict(feeds)
            up[name], down[name] = value + eps * v, value - eps * v
            numeric = (loss(up) - loss(down)) / (2 * eps)
            analytic = float((grad.astype(np.float64) * v).sum())
            # Relative to |g| too (a random direction's typical <g, v>), plus an absolute floor: the
            # float32 rounding of the loss must not fail a direction nearly orthogonal to g.
            scale = max(abs(numeric), abs(analytic), float(np.linalg.norm(grad)))
            error = abs(numeric - analytic)
            assert error < rtol * scale + atol, (
                f"d loss/d {name} along a random direction: autodiff {analytic:.6g}, finite differences "
                f"{numeric:.6g} (error {error:.3g}, allowed {rtol * scale + atol:.3g})")
    return grads


def check_op(build, arrays: dict, shapes: dict | None = None, *, expect_none=(), **options):
    """Check the gradients of `build(*inputs)` (one tensor or a list) w.r.t. every float input.

    Inputs are graph inputs named like `arrays`, declared with `shapes` (None = a symbolic dim;
    default: the arrays' shapes), checked by the shared harness (`gradcheck.check_graph`: per
    coordinate central differences, float64 where onnxruntime has the kernels).
    """
    shapes = shapes or {}
    inputs = [SymbolicTensor(shapes.get(n, a.shape), a.dtype, kind="input", name=n) for n, a in arrays.items()]
    out = build(*inputs)
    outputs = list(out) if isinstance(out, (list, tuple)) else [out]
    return check_graph(inputs, outputs, list(arrays.values()), list(arrays), expect_none=expect_none, **options)


def check_op_directional(build, arrays: dict, shapes: dict | None = None, *, eps=1e-2, rtol=1e-2, atol=1e-3,
                         directions=2, seed=0, expect_all=True):
    """Like `check_op`, with directional differences and every feed copied per run.

    For BatchNormalization in training mode: onnxruntime writes its running statistics into the
    input buffers it was fed, so a harness that reuses one feed dict drifts between runs.
    Returns the gradients by input name; with `expect_all`, every float input must get one.
    """
    shapes = shapes or {}
    inputs = [placeholder(shapes.get(n, a.shape), str(a.dtype), n) for n, a in arrays.items()]
    out = build(*inputs)
    outputs = list(out) if isinstance(out, (list, tuple)) else [out]
    graph = collect(inputs, outputs, list(arrays), [f"out{i}" for i in range(len(outputs))])
    session, grads = run_gradients(graph, arrays, seed=seed)
    expect = [n for n, a in arrays.items() if np.issubdtype(a.dtype, np.floating)] if expect_all else []
    return _finite_differences(session, arrays, grads, eps=eps, rtol=rtol, atol=atol, directions=directions,
                               seed=seed, expect=expect)


def _weights_as_inputs(graph):
    """Replace each float Variable handle by a graph input holding its ONNX-layout value."""
    handles, feeds = {}, {}
    for node in graph.nodes:
        for i, x in enumerate(node.inputs):
            if x is None or x.kind != "variable" or not x.dtype.startswith("float"):
                continue
            key = (id(x.variable), repr(x.transform))
            if key not in handles:
                name = f"w{len(handles)}_{x.variable.path.replace('/', '_')}"
                handles[key] = placeholder(x.shape, x.dtype, name)
                feeds[name] = np.asarray(transforms.apply(x.variable.value, x.transform), dtype=x.dtype)
            node.inputs[i] = handles[key]
    graph.inputs += list(handles.values())
    graph.input_names += [h.name for h in handles.values()]
    return list(handles.values()), feeds


def training_graph(model, xs, *, training=True, rewrite=None):
    """(graph, weight inputs, feeds): `model` replayed like the trainer does, weights as graph inputs.

    The weight inputs are named w<i>_<variable path with '/' as '_'> and fed their ONNX-layout values.
    """
    with recording(False), emit_options(training_graph=training, state_updates=[]):
        inputs = [placeholder(t.shape, t.dtype, n) for t, n in zip(model.inputs, model.input_names)]
        outputs = [y for y in flatten(model._run_graph(inputs, training=training)) if y is not None]
    graph = collect(inputs, outputs, [t.name for t in inputs], [f"out{i}" for i in range(len(outputs))])
    if rewrite is not None:
        rewrite(graph)
    weights, feeds = _weights_as_inputs(graph)
    feeds.update({t.name: np.asarray(a) for t, a in zip(inputs, xs)})
    return graph, weights, feeds


def check_model(model, x, *, training=True, rewrite=None, eps=1e-2, rtol=1e-2, atol=1e-3, directions=2, seed=0):
    """Check the gradients of `model` on `x` w.r.t. its float inputs and all its weights (ONNX layout).

    The model is replayed like the trainer does (training=True: a training graph) and `rewrite`
    (e.g. the trainer's rewrite_for_training) may transform the graph first. Returns the
    gradients by input name (weights are named w<i>_<variable path>).
    """
    xs = x if isinstance(x, list) else [x]
    graph, weights, feeds = training_graph(model, xs, training=training, rewrite=rewrite)
    inputs = graph.inputs[:len(xs)]
    session, grads = run_gradients(graph, feeds, seed=seed)
    expect = [w.name for w in weights] + [t.name for t in inputs if t.dtype.startswith("float")]
    return _finite_differences(session, feeds, grads, eps=eps, rtol=rtol, atol=atol, directions=directions, seed=seed,
                               expect=expect)
