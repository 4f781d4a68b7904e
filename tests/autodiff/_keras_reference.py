"""Loss gradients per trainable weight: onnxgraph's autodiff graph on onnxruntime vs Keras 3 (torch).

Both sides compute ``loss = sum_i sum(output_i * R_i)`` with the same fixed R_i, the same
weights (copied with get/set_weights) and the same inputs; Keras's weights are torch
tensors (KERAS_BACKEND=torch), so torch autograd gives the reference gradients. onnxgraph's
side is the training graph the "onnx" engine differentiates (the model replayed with
``training_graph=True``, then the gradient-safe rewrite), differentiated with
`autodiff.gradients`; a weight read through several layout transforms gets the sum of its
handles' gradients, each mapped back to the Keras layout.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

from onnxgraph.autodiff import gradients
from onnxgraph.backend import transforms
from onnxgraph.backend.emit import emit
from onnxgraph.backend.graph import Graph, collect
from onnxgraph.backend.ir import SymbolicTensor
from onnxgraph.backend.scope import emit_options, name_scope
from onnxgraph.backend.serialize import to_model_proto
from onnxgraph.layers._input_layer import placeholder
from onnxgraph.layers._node import recording
from onnxgraph.trainer import _rules
from onnxgraph.utils._tree import flatten

__all__ = ["onnx_gradients", "keras_gradients", "assert_gradients_match", "random_like_outputs"]


def random_like_outputs(model, feeds, seed=0):
    """One fixed random array per model output, shaped like the output on `feeds`."""
    rng = np.random.default_rng(seed)
    outputs = model.predict(feeds, verbose=0)
    outputs = list(outputs.values()) if isinstance(outputs, dict) else outputs
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return [rng.standard_normal(np.shape(y)).astype(np.float32) for y in outputs]


def onnx_gradients(model, feeds, r_values, *, training=False, rewrite=True) -> list[np.ndarray]:
    """dloss/dw for each of `model.trainable_weights`, in Keras layout.

    `rewrite=False` differentiates the inference form instead (no training-graph emission, no
    gradient-safe rewrite): e.g. SimpleRNN as an ONNX RNN node rather than a saturated GRU.
    """
    updates: list = []
    with recording(False), emit_options(training_graph=rewrite, state_updates=updates):
        inputs = [placeholder(x.shape, x.dtype, n) for x, n in zip(model.inputs, model.input_names)]
        preds = [y for y in flatten(model._run_graph(inputs, training=training)) if y is not None]
    r_inputs = [SymbolicTensor(y.shape, y.dtype, kind="input", name=f"R{i}") for i, y in enumerate(preds)]
    with name_scope("reference_loss"):
        loss = None
        for y, r in zip(preds, r_inputs):
            term = emit("ReduceSum", [emit("Mul", [y, r], shapes=[y.shape], dtypes_=[y.dtype])], {"keepdims": 0},
                        shapes=[()], dtypes_=[y.dtype])
            loss = term if loss is None else emit("Add", [loss, term], shapes=[()], dtypes_=[y.dtype])
    names = list(model.input_names) + [r.name for r in r_inputs]
    graph = collect(inputs + r_inputs, [loss], names, ["loss"])
    if rewrite:
        _rules.rewrite_for_training(graph)
    loss = graph.outputs[0]
    trainable = {id(v) for v in model.trainable_weights}
    handles = {}
    for node in graph.nodes:
        for x in node.inputs:
            if x is not None and x.kind == "variable" and id(x.variable) in trainable:
                handles.setdefault(x.id, x)
    handles = list(handles.values())
    grads = gradients(graph, loss, handles)
    present = [(h, g) for h, g in zip(handles, grads) if g is not None]
    full = Graph(graph.nodes, graph.inputs, [loss] + [g for _, g in present], graph.input_names,
                 ["loss"] + [f"grad_{i}" for i in range(len(present))])
    proto, _ = to_model_proto(full, name="keras_parity")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
    feed_list = feeds if isinstance(feeds, (list, tuple)) else [feeds]
    values = session.run(None, {**dict(zip(model.input_names, feed_list)),
                                **{r.name: v for r, v in zip(r_inputs, r_values)}})
    result = {id(v): np.zeros(v.shape, np.float32) for v in model.trainable_weights}
    for (handle, _), value in zip(present, values[1:]):
        var = handle.variable
        result[id(var)] = result[id(var)] + transforms.invert(np.asarray(value), handle.transform, var.shape)
    return [result[id(v)] for v in model.trainable_weights]


def keras_gradients(keras_model, feeds, r_values, *, training=False) -> list[np.ndarray]:
    """dloss/dw for each of `keras_model.trainable_weights`, by torch autograd."""
    import torch

    feed_list = feeds if isinstance(feeds, (list, tuple)) else [feeds]
    tensors = [torch.tensor(np.asarray(x)) for x in feed_list]
    for w in keras_model.trainable_weights:
        w.value.grad = None
    outputs = keras_model(tensors if len(tensors) > 1 else tensors[0], training=training)
    outputs = list(outputs.values()) if isinstance(outputs, dict) else outputs
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    loss = sum((y * torch.tensor(r)).sum() for y, r in zip(outputs, r_values))
    loss.backward()
    return [np.zeros(tuple(w.shape), np.float32) if w.value.grad is None else w.value.grad.detach().cpu().numpy()
            for w in keras_model.trainable_weights]


def assert_gradients_match(ours, theirs, feeds, *, training=False, rewrite=True, rtol=2e-4, atol=2e-5, seed=0):
    """Copy `ours`' weights into the Keras twin `theirs` and compare every weight's gradient."""
    theirs.set_weights(ours.get_weights())
    r_values = random_like_outputs(ours, feeds, seed)
    got = onnx_gradients(ours, feeds, r_values, training=training, rewrite=rewrite)
    want = keras_gradients(theirs, feeds, r_values, training=training)
    assert len(got) == len(want) == len(ours.trainable_weights)
    failures = []
    for var, g, w in zip(ours.trainable_weights, got, want):
        scale = max(1.0, float(np.max(np.abs(w), initial=0.0)))
        if g.shape != w.shape or not np.allclose(g, w, rtol=rtol, atol=atol * scale):
            err = np.max(np.abs(g - w)) if g.shape == w.shape else "shape"
            failures.append(f"{var.path}: max |ours - keras| = {err} (keras max |g| {scale:.3g})")
    assert not failures, "Gradients differ from Keras (torch autograd):\n  " + "\n  ".join(failures)
