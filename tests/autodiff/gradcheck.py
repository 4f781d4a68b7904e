"""Gradient check for onnxgraph.autodiff: symbolic gradients vs central finite differences.

The harness builds ``loss = sum_i sum(output_i * R_i)`` (R_i fixed random arrays fed as
inputs, so symbolic batch dims stay symbolic), differentiates it with `autodiff.gradients`
w.r.t. every trainable weight and every float input, writes ONE forward+backward model,
runs it on a real onnxruntime InferenceSession and compares each gradient with central
differences of the same model's loss. The model is converted to float64 when onnxruntime has
float64 kernels for all its ops (tight tolerances), else it runs in float32 (looser ones).

    check_model(model, [x])                          # a Model: its weights and float inputs
    check_fn(lambda x, w: emit(...), [x], [w])       # raw ops: inputs are placeholders, weights Variables
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from onnxgraph.autodiff import gradients
from onnxgraph.autodiff._core import inline_local_functions
from onnxgraph.backend import dtypes
from onnxgraph.backend.emit import emit
from onnxgraph.backend.graph import Graph, collect
from onnxgraph.backend.ir import SymbolicTensor
from onnxgraph.backend.scope import name_scope
from onnxgraph.backend.serialize import to_model_proto
from onnxgraph.backend.variable import Variable

__all__ = ["check_model", "check_fn", "check_graph", "GradientMismatch"]

TOLERANCES = {"float64": dict(eps=1e-6, rtol=1e-5, atol=1e-6),
              "float32": dict(eps=3e-3, rtol=3e-2, atol=3e-3)}


class GradientMismatch(AssertionError):
    pass


class GradReport(dict):
    """{name: (analytic, numeric)} of the checked coordinates; `.precision` is the dtype run."""

    precision = "float32"

    def __init__(self):
        super().__init__()
        self.skipped: dict[str, int] = {}


def check_model(model, feeds, **options):
    """Check gradients of `model`'s outputs w.r.t. its trainable weights and float inputs."""
    feeds = feeds if isinstance(feeds, (list, tuple)) else [feeds]
    return check_graph(list(model.inputs), list(model.outputs), list(feeds), list(model.input_names), **options)


def check_fn(fn, inputs, weights=(), *, symbolic_batch=True, scope="op", **options):
    """Check gradients of `fn(*placeholders, *weight_handles)` (one tensor or a list).

    `inputs` become graph inputs (first dim symbolic unless `symbolic_batch=False`; integer
    arrays are fed but not differentiated); `weights` become trainable Variables.
    """
    placeholders = []
    for i, array in enumerate(inputs):
        array = np.asarray(array)
        shape = ((None,) + array.shape[1:]) if symbolic_batch and array.ndim else array.shape
        placeholders.append(SymbolicTensor(shape, array.dtype, kind="input", name=f"x{i}"))
    handles = [Variable(np.asarray(w), name=f"w{i}", path=f"{scope}/w{i}").graph_value()
               for i, w in enumerate(weights)]
    with name_scope(scope):
        outputs = fn(*placeholders, *handles)
    outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    return check_graph(placeholders, outputs, [np.asarray(a) for a in inputs], [p.name for p in placeholders],
                       **options)


def check_graph(inputs, outputs, feeds, names, *, seed=0, max_elements=40, precision="auto", tolerances=None,
                wrt_inputs=True, expect_none=(), skip_kinks=True, rewrite=False):
    """Assert autodiff gradients equal central differences; returns {name: (analytic, numeric)}.

    `expect_none`: names (input names or weight paths) whose gradient must be None (no gradient).
    `rewrite`: apply the training graphs' gradient-safe rewrite (`trainer._rules`) first, so the
    rules are checked on the ops training graphs really contain.
    `skip_kinks`: skip coordinates whose forward and backward difference quotients disagree (a
    ReLU/max kink within eps; `report.skipped` counts them per tensor).
    """
    rng = np.random.default_rng(seed)
    float_outs = [y for y in outputs if dtypes.is_float(y.dtype)]
    r_inputs = [SymbolicTensor(y.shape, y.dtype, kind="input", name=f"R{i}") for i, y in enumerate(float_outs)]
    with name_scope("gradcheck"):
        loss = None
        for y, r in zip(float_outs, r_inputs):
            term = emit("ReduceSum", [emit("Mul", [y, r], shapes=[y.shape], dtypes_=[y.dtype])],
                        {"keepdims": 0}, shapes=[()], dtypes_=[y.dtype])
            if y.dtype != "float32":
                term = emit("Cast", [term], {"to": TensorProto.FLOAT}, shapes=[()], dtypes_=["float32"])
            loss = term if loss is None else emit("Add", [loss, term], shapes=[()], dtypes_=["float32"])
    graph = collect(list(inputs) + r_inputs, [loss], list(names) + [r.name for r in r_inputs], ["loss"])
    inline_local_functions(graph)
    if rewrite:
        from onnxgraph.trainer._rules import rewrite_for_training

        rewrite_for_training(graph)
    loss = graph.outputs[0]

    variables = {}
    for node in graph.nodes:
        for x in node.inputs:
            if x is not None and x.kind == "variable" and x.variable.trainable and dtypes.is_float(x.dtype):
                variables.setdefault(x.id, x)
    wrt_in = [x for x in inputs if dtypes.is_float(x.dtype)] if wrt_inputs else []
    wrt = wrt_in + list(variables.values())
    grads = gradients(graph, loss, wrt)
    present = [(x, g) for x, g in zip(wrt, grads) if g is not None]
    full = Graph(graph.nodes, graph.inputs, [loss] + [g for _, g in present], graph.input_names,
                 ["loss"] + [f"grad_{i}" for i in range(len(present))])
    proto, weight_map = to_model_proto(full, name="gradcheck")
    weight_names = {x.id: weight_map[id(x.variable)][0] for x in variables.values()}
    proto, weight_values = _weights_as_inputs(proto, set(weight_names.values()))

    feed = {n: np.asarray(a) for n, a in zip(names, feeds)}
    base = {**feed, **weight_values}
    r_values = _r_values(proto, base, rng, r_inputs)
    base.update(r_values)

    label = {x.id: (x.name if x.kind == "input" else x.variable.path) for x in wrt}
    for x, g in zip(wrt, grads):
        if label[x.id] in expect_none and g is not None:
            raise GradientMismatch(f"{label[x.id]}: expected no gradient (None), got one of shape {g.shape}.")
    dtype = _pick_precision(proto, base, precision)
    tol = {**TOLERANCES[dtype], **(tolerances or {})}
    runnable = _to_double(proto) if dtype == "float64" else proto
    cast = (lambda a: a.astype(np.float64) if a.dtype == np.float32 else a) if dtype == "float64" else (lambda a: a)
    base = {k: cast(np.asarray(v)) for k, v in base.items()}
    session = _session(runnable)
    loss_only = _session(_prune(runnable, ["loss"]))
    values = session.run(None, base)
    analytic = {x.id: v for (x, _), v in zip(present, values[1:])}

    report, failures = GradReport(), []
    report.precision = dtype
    names_of = {x.id: (x.name if x.kind == "input" else weight_names[x.id]) for x in wrt}
    for x in wrt:
        if label[x.id] in expect_none:
            continue
        key = names_of[x.id]
        point = base[key]
        flat = np.arange(point.size)
        if point.size > max_elements:
            flat = np.sort(rng.choice(point.size, max_elements, replace=False))
        numeric, one_sided = np.zeros(len(flat)), np.zeros(len(flat))
        center = float(loss_only.run(["loss"], base)[0])
        for k, idx in enumerate(flat):
            numeric[k], one_sided[k] = _central(loss_only, base, key, idx, tol["eps"], center)
        got = analytic.get(x.id)
        got_flat = np.zeros(len(flat)) if got is None else np.asarray(got, np.float64).reshape(-1)[flat]
        if got is not None and np.shape(got) != point.shape:
            failures.append(f"{label[x.id]}: gradient shape {np.shape(got)} != value shape {point.shape}")
            continue
        scale = max(1.0, float(np.max(np.abs(numeric), initial=0.0)))
        err = np.abs(got_flat - numeric)
        limit = tol["atol"] * scale + tol["rtol"] * np.abs(numeric)
        # A kink (ReLU, max) within eps of the point makes the forward and backward quotients
        # disagree, by at least twice the error it causes in the central one: a coordinate is only
        # off when its error exceeds the tolerance PLUS that disagreement (eps * f'' where smooth,
        # so a wrong rule still shows). Coordinates at kinks are counted; over half is an error.
        slack = one_sided if skip_kinks else np.zeros(len(flat))
        kink = (one_sided > 3 * limit) if skip_kinks else np.zeros(len(flat), bool)
        report.skipped[label[x.id]] = int(kink.sum())
        if kink.sum() * 2 > len(flat):
            failures.append(f"{label[x.id]}: {int(kink.sum())}/{len(flat)} coordinates sit at kinks of the function; "
                            "move the test point away from them")
            continue
        bad = err > limit + slack
        report[label[x.id]] = (got_flat, numeric)
        if bad.any():
            worst = int(np.argmax(np.where(bad, err, -1.0)))
            failures.append(f"{label[x.id]}{'' if got is not None else ' (rule gave None)'}: {int(bad.sum())}/"
                            f"{len(flat)} coordinates off; worst flat index {int(flat[worst])}: analytic "
                            f"{got_flat[worst]:.6g} vs numeric {numeric[worst]:.6g} (forward/backward quotients "
                            f"differ by {one_sided[worst]:.3g})")
    if failures:
        raise GradientMismatch(f"Gradients disagree with central differences ({dtype}):\n  " + "\n  ".join(failures))
    return report


def _central(session, base, key, idx, eps, center):
    """(central difference, |forward - backward difference|) of the loss along one coordinate."""
    value = base[key]
    flat = value.reshape(-1)
    saved = flat[idx]
    flat[idx] = saved + eps
    plus = float(session.run(["loss"], base)[0])
    flat[idx] = saved - eps
    minus = float(session.run(["loss"], base)[0])
    flat[idx] = saved
    return (plus - minus) / (2 * eps), abs((plus - center) - (center - minus)) / eps


def _session(proto):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])


def _r_values(proto, feed, rng, r_inputs):
    """Random R arrays shaped like each output (forward graph run once for the real shapes)."""
    probe = onnx.ModelProto()
    probe.CopyFrom(proto)
    out_names = []
    for node in probe.graph.node:
        if node.op_type == "Mul" and node.name.startswith("gradcheck/"):
            out_names.append(node.input[0])
    for name in out_names:
        probe.graph.output.append(helper.make_value_info(name, onnx.TypeProto()))
    keep = [o for o in probe.graph.output if o.name in out_names]
    del probe.graph.output[:]
    probe.graph.output.extend(keep)
    probe = _prune(probe, out_names)
    inputs = {i.name for i in probe.graph.input}
    feed_all = {k: v for k, v in feed.items() if k in inputs}
    values = _session(probe).run(out_names, feed_all)
    return {r.name: rng.standard_normal(v.shape).astype(v.dtype) for r, v in zip(r_inputs, values)}


def _prune(proto, outputs):
    """A copy of `proto` computing only `outputs` (nodes and inputs they do not need removed)."""
    result = onnx.ModelProto()
    result.CopyFrom(proto)
    graph = result.graph
    needed, keep = set(outputs), []
    for node in reversed(graph.node):
        if any(o in needed for o in node.output):
            keep.append(node)
            needed.update(i for i in node.input if i)
    del graph.node[:]
    graph.node.extend(reversed(keep))
    outs = [o for o in graph.output if o.name in outputs]
    known = {o.name for o in outs}
    outs += [helper.make_value_info(n, onnx.TypeProto()) for n in outputs if n not in known]
    del graph.output[:]
    graph.output.extend(outs)
    ins = [i for i in graph.input if i.name in needed]
    del graph.input[:]
    graph.input.extend(ins)
    inits = [i for i in graph.initializer if i.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(inits)
    return result


def _weights_as_inputs(proto, names):
    result = onnx.ModelProto()
    result.CopyFrom(proto)
    values, keep = {}, []
    for init in result.graph.initializer:
        if init.name in names:
            values[init.name] = numpy_helper.to_array(init).copy()
            result.graph.input.append(helper.make_tensor_value_info(init.name, init.data_type, list(init.dims)))
        else:
            keep.append(init)
    del result.graph.initializer[:]
    result.graph.initializer.extend(keep)
    return result, values


def _pick_precision(proto, base, precision):
    if precision != "auto":
        return precision
    try:
        double = _to_double(proto)
        _session(double).run(None, {k: (np.asarray(v).astype(np.float64) if np.asarray(v).dtype == np.float32 else v)
                                    for k, v in base.items()})
        return "float64"
    except Exception:  # noqa: BLE001 - some op has no float64 kernel: fall back to float32
        return "float32"


def _to_double(proto):
    """A copy of `proto` with every float32 value, constant and Cast target made float64."""
    result = onnx.ModelProto()
    result.CopyFrom(proto)
    graph = result.graph
    for value in list(graph.input) + list(graph.output) + list(graph.value_info):
        if value.type.tensor_type.elem_type == TensorProto.FLOAT:
            value.type.tensor_type.elem_type = TensorProto.DOUBLE
    for i, init in enumerate(graph.initializer):
        if init.data_type == TensorProto.FLOAT:
            graph.initializer[i].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float64),
                                                                  init.name))
    for node in graph.node:
        for attr in node.attribute:
            if attr.name in ("to", "dtype") and attr.type == onnx.AttributeProto.INT and attr.i == TensorProto.FLOAT:
                attr.i = TensorProto.DOUBLE
            if attr.type == onnx.AttributeProto.TENSOR and attr.t.data_type == TensorProto.FLOAT:
                attr.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(attr.t).astype(np.float64), attr.t.name))
    return result
