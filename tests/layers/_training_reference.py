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


def ort_gradients(model, x, target) -> dict:
    """{weight path: gradient in Keras layout} from onnxruntime-training."""
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
