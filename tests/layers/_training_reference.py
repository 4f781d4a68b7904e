"""Gradients two independent ways: onnxruntime-training on our training graph, and Keras (torch).

`ort_gradients(model, x, target)` replays `model` as a training graph (inside
`emit_options(training_graph=True)`, as the trainer does), appends a mean-squared-error loss,
builds onnxruntime-training's gradient graph and returns each weight's gradient in Keras
layout (the initializer layout transforms inverted). `keras_gradients` computes the same loss
with Keras 3 on torch and autograd. Equal results mean the emitted graph trains like Keras.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np
import onnx

from onnxgraph import ops
from onnxgraph.backend import transforms
from onnxgraph.backend.graph import collect
from onnxgraph.backend.scope import emit_options
from onnxgraph.backend.serialize import IR_VERSION, to_model_proto
from onnxgraph.layers import Input
from onnxgraph.layers._node import recording
from onnxgraph.runtime import import_onnxruntime


def training_proto(model):
    """(ModelProto computing mean((model(x) - target)^2), weight_map) in training-graph form."""
    with recording(False), emit_options(training_graph=True):
        output = model._run_graph(model.inputs, training=True)
        target = Input(batch_shape=output.shape, name="target")
        loss = ops.mean(ops.square(ops.subtract(output, target)))
    graph = collect(model.inputs + [target], [loss], model.input_names + ["target"], ["loss"])
    return to_model_proto(graph, name="training")


def autodiff_gradients(model, x, target) -> dict:
    """{weight path: gradient in Keras layout} from the onnx engine's differentiation (onnxgraph.autodiff)
    of the same training graph (after the training rewrite, as the engine runs it), on onnxruntime."""
    from onnxgraph.autodiff import gradients
    from onnxgraph.runtime import make_session
    from onnxgraph.trainer._rules import rewrite_for_training

    with recording(False), emit_options(training_graph=True):
        output = model._run_graph(model.inputs, training=True)
        target_input = Input(batch_shape=output.shape, name="target")
        loss = ops.mean(ops.square(ops.subtract(output, target_input)))
    graph = collect(model.inputs + [target_input], [loss], model.input_names + ["target"], ["loss"])
    rewrite_for_training(graph, check=False)
    handles = {}
    for node in graph.nodes:
        for t in node.inputs:
            if t is not None and t.kind == "variable" and t.variable.trainable:
                handles.setdefault(id(t.variable), t)
    order = [v for v in model.trainable_weights if id(v) in handles]
    grads = gradients(graph, graph.outputs[0], [handles[id(v)] for v in order])
    kept = [(v, g) for v, g in zip(order, grads) if g is not None]
    graph.outputs += [g for _, g in kept]
    graph.output_names += [f"grad_{i}" for i in range(len(kept))]
    proto, _ = to_model_proto(graph, name="gradients")
    session = make_session(proto.SerializeToString(), "cpu")
    feeds = dict(zip(model.input_names, list(x) if isinstance(x, list) else [x]), target=target)
    values = session.run([f"grad_{i}" for i in range(len(kept))], feeds)
    return {v.path: transforms.invert(g, handles[id(v)].transform, v.shape) for (v, _), g in zip(kept, values)}


def ort_gradients(model, x, target) -> dict:
    """{weight path: gradient in Keras layout} from onnxruntime-training; where it is not installed,
    from the onnx engine's autodiff (`autodiff_gradients`), the engine that trains there."""
    from onnxgraph.trainer._engines import training_runtime_available

    if not training_runtime_available():
        return autodiff_gradients(model, x, target)
    import_onnxruntime()  # registers onnxruntime.training without its torch-importing __init__
    from onnxruntime.training import api, onnxblock

    proto, weight_map = training_proto(model)
    onnx.checker.check_model(proto, full_check=True)
    names = {weight_map[id(v)][0]: v for v in model.weights}

    class _Loss(onnxblock.TrainingBlock):
        def build(self, *output_names):
            return output_names

    block = _Loss()
    for init in proto.graph.initializer:
        block.requires_grad(init.name, init.name in names)
    with tempfile.TemporaryDirectory() as folder, onnxblock.base(proto):
        block(*[o.name for o in proto.graph.output])
        training, _ = block.to_model_proto()
        training.ir_version = IR_VERSION
        checkpoint = os.path.join(folder, "checkpoint")
        onnxblock.save_checkpoint(block.parameters(), checkpoint)
        path = os.path.join(folder, "training_model.onnx")
        onnx.save(training, path)
        state = api.CheckpointState.load_checkpoint(checkpoint)
        module = api.Module(path, state)
        module.train()
        module(*(list(x) if isinstance(x, list) else [x]), target)
        grads = {}
        for name, variable in names.items():
            grad = np.asarray(state.parameters[name].grad)
            grads[variable.path] = transforms.invert(grad, weight_map[id(variable)][1], variable.shape)
    return grads


def keras_gradients(keras_model, x, target) -> dict:
    """{weight path: gradient} of mean((keras_model(x) - target)^2) with torch autograd."""
    import torch

    inputs = [torch.tensor(a) for a in x] if isinstance(x, list) else torch.tensor(x)
    loss = ((keras_model(inputs) - torch.tensor(target)) ** 2).mean()
    loss.backward()
    return {v.path: v.value.grad.detach().numpy().copy() for v in keras_model.trainable_weights}


def assert_same_gradients(ours: dict, theirs: dict, rtol=1e-4):
    """Every weight's gradient matches, relative to the largest gradient of the model."""
    assert sorted(ours) == sorted(theirs)
    scale = max(float(np.abs(g).max()) for g in theirs.values())
    assert scale > 0
    for path, grad in theirs.items():
        np.testing.assert_allclose(ours[path], grad, rtol=rtol, atol=rtol * scale, err_msg=path)
