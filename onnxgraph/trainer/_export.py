"""`model.export_training(path)`: the train-step graph as a self-contained .onnx file.

The file is the "onnx" engine's train-step graph. Every state input (weights, optimizer slots,
learning_rate, iteration) also has an initializer holding its current value, so the file runs
as it is; a runtime overrides them by feeding the inputs (ONNX: an input with an initializer
is a default). One step: feed a batch (and the state, or let the defaults stand), read the
loss, and feed each `new/...` output back as the input it names in the metadata entry
`onnxgraph.training` (JSON: "state" pairs [input, output], "feeds", "losses", "predictions",
"gradients") -- and `iteration + 1`, plus the learning rate the schedule gives, at each step.
"""

from __future__ import annotations

import copy
import json

import numpy as np
from onnx import numpy_helper

from onnxgraph.backend import transforms

__all__ = ["export_model", "export_training", "describe"]


def describe(graphs) -> str:
    """A short doc of the file's inputs and outputs (the model's doc_string)."""
    state = ", ".join(f"{o} -> {i}" for i, o in graphs.state_pairs) or "none"
    return (
        "onnxgraph train step: forward, loss, gradients and optimizer update in one graph.\n"
        f"Feeds per step: {', '.join(graphs.feed_names)}; learning_rate (float64 scalar, this step's rate); "
        "iteration (int64 scalar, steps done before this one).\n"
        f"State (initializers give the exported values; feed each output back as its input): {state}.\n"
        f"Outputs: {', '.join(graphs.loss_names)} (loss), {', '.join(graphs.pred_names)} (predictions), "
        f"{', '.join(graphs.grad_names) or 'no'} gradients."
    )


def _state_values(engine, graphs, optimizer) -> dict:
    """Input name -> current numpy value for every state input."""
    if engine is not None:
        engine.sync_to_model()
        values = {name: engine._value(name).numpy() for name in engine._buffers}
    else:
        from onnxgraph.trainer._step_graph import initial_slots

        values = {name: np.asarray(transforms.apply(var.value, t)) for name, (var, t) in graphs.params.items()}
        slots = getattr(optimizer, "_slots", {})
        for i, name in enumerate(graphs.trainable):
            fresh = initial_slots(optimizer, values[name].shape, values[name].dtype)
            for slot in graphs.slot_names:
                have = slots.get(slot, [])
                value = have[i] if i < len(have) and have[i].shape == values[name].shape else fresh[slot]
                values[graphs.slot_inputs[(slot, name)]] = value
    values[graphs.lr_name] = np.asarray(optimizer.learning_rate, np.float64)
    values[graphs.iteration_name] = np.asarray(optimizer.iterations, np.int64)
    return values


def export_training(model, filepath, engine, build) -> None:
    """Write the train-step graph of `model` to `filepath` (see the module docstring).

    `engine`: the model's "onnx" engine if it has one (its current state is written), else None;
    `build()` returns fresh StepGraphs for the model's compile configuration.
    """
    from onnxgraph.saving._files import save_model_file

    graphs = engine.graphs if engine is not None else build()
    values = _state_values(engine, graphs, model.optimizer)
    proto = copy.deepcopy(graphs.train_proto)
    proto.graph.initializer.extend(numpy_helper.from_array(np.asarray(values[i.name]), i.name)
                                   for i in proto.graph.input if i.name in values)
    proto.doc_string = describe(graphs)
    meta = {"state": [list(pair) for pair in graphs.state_pairs], "feeds": graphs.feed_names,
            "losses": graphs.loss_names, "predictions": graphs.pred_names, "gradients": graphs.grad_names,
            "learning_rate": graphs.lr_name, "iteration": graphs.iteration_name}
    proto.metadata_props.add(key="onnxgraph.training", value=json.dumps(meta))
    save_model_file(proto, filepath)


def export_model(model, filepath, y=None) -> None:
    """`Model.export_training`: resolve the compiled losses, then `export_training`."""
    from onnxgraph.trainer._step_graph import build_step_graphs

    if model._compile_config is None:
        model._compile_config = model._make_compile_config()
    config = model._compile_config
    if config.losses is None:
        config.resolve_losses([None if y is None else np.shape(y)] * len(model.output_names))
    engine = model._engine if getattr(model._engine, "kind", None) == "onnx" else None
    if engine is None:
        model._sync_trained_weights()
    export_training(model, filepath, engine, lambda: build_step_graphs(
        model, config.losses, config.loss_weights, config.label_specs(), model.optimizer))
