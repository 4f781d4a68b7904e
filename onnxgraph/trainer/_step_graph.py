"""The "onnx" engine's graphs: one train-step graph (forward, loss, backward, optimizer) and an eval graph.

Both start from `_graph.build_ir` (the same forward+loss emission as the onnxruntime-training
engine). Every weight becomes a graph input (ONNX layout, named by its path), so the weights
never live in the file: the engine keeps them in OrtValues between steps. The train step reads

    model inputs, (labels, sample weights) per loss-bearing output,
    weights (trainable, then frozen and moving statistics), optimizer slots,
    learning_rate (float64 scalar), iteration (int64 scalar, steps done before this one)

and returns

    loss (+ <output>_loss per output when several), <output>_pred per model output,
    update_<k> (moving statistics), <output>_mask (Keras masks of the predictions, if any), new/<weight> per trained weight, new/optimizer/<slot>/<weight>
    per slot, grad/<weight> per trained weight (the gradient of the total loss).

`state_pairs` says which output becomes which input at the next step (the double buffer).
"""

from __future__ import annotations

import numpy as np

from onnxgraph.backend.graph import Graph
from onnxgraph.backend.serialize import UniqueNames, to_model_proto
from onnxgraph.layers._input_layer import placeholder
from onnxgraph.trainer._graph import _reachable_variables, build_ir
from onnxgraph.trainer._regularization import constrained_in_graph
from onnxgraph.trainer._rewrite import _new_nodes

__all__ = ["StepGraphs", "build_step_graphs", "initial_slots"]


class StepGraphs:
    """The serialized train-step and eval graphs, and how the engine feeds and reads them."""

    def __init__(self):
        self.train_proto = None
        self.eval_proto = None
        self.feed_names: list[str] = []     # model inputs, then (label, sample weight) pairs
        self.loss_names: list[str] = []
        self.pred_names: list[str] = []
        self.update_names: list[str] = []   # moving statistics, parallel to `updates`
        self.params: dict = {}              # input name -> (Variable, transform), every weight read
        self.trainable: list[str] = []      # param names the optimizer updates (slot index order)
        self.slot_names: list[str] = []     # optimizer slot kinds ("momentum", ...)
        self.slot_inputs: dict = {}         # (slot, param name) -> input name
        self.state_pairs: list = []         # (input name, output name): output k feeds input k+1
        self.eval_params: list[str] = []    # param names the eval graph reads
        self.grad_names: list[str] = []     # "grad/<param>" outputs, parallel to `trainable`
        self.lr_name = "learning_rate"
        self.iteration_name = "iteration"


def _variable_tensors(graphs) -> dict:
    """id(Variable) -> its tensor, across graphs (after unify_layouts: one layout per weight)."""
    found: dict = {}
    for graph in graphs:
        for node in graph.nodes:
            for x in node.inputs:
                if x is not None and x.kind == "variable":
                    seen = found.setdefault(id(x.variable), x)
                    if seen.transform != x.transform:
                        raise RuntimeError(f"Weight '{x.variable.path}' is read in two layouts in the training "
                                           "graphs after unify_layouts; this is a bug in onnxgraph.")
    return found


def _substitute(graph: Graph, mapping: dict) -> None:
    for node in graph.nodes:
        node.inputs = [None if x is None else mapping.get(x.id, x) for x in node.inputs]


def build_step_graphs(model, losses, loss_weights, label_specs, optimizer) -> StepGraphs:
    from onnxgraph.autodiff import gradients

    ir = build_ir(model, losses, loss_weights, label_specs, ort_check=False)
    train, evaluation = ir.train_graph, ir.eval_graph
    out = StepGraphs()
    names = UniqueNames()
    names.used.update(train.input_names + train.output_names + evaluation.output_names)
    out.feed_names = list(train.input_names)

    tensors = _variable_tensors([train, evaluation])
    for var in ir.update_vars:  # moving statistics are inputs even where the graph does not read them
        tensor = tensors.setdefault(id(var), var.graph_value(()))
        if tensor.transform:
            raise RuntimeError(f"State update of '{var.path}' through a layout transform.")
    reachable = _reachable_variables(train, ir.n_losses)
    trainable_ids = [id(v) for v in model.trainable_weights]
    order = [i for i in trainable_ids if i in tensors and i in reachable and tensors[i].dtype.startswith("float")]
    order += [i for i in tensors if i not in order]
    inputs, by_var = {}, {}
    for var_id in order:
        tensor = tensors[var_id]
        name = names.take(tensor.variable.path)
        inputs[var_id] = placeholder(tensor.shape, tensor.dtype, name)
        by_var[var_id] = name
        out.params[name] = (tensor.variable, tensor.transform)
    mapping = {tensors[i].id: inputs[i] for i in order}
    _substitute(train, mapping)
    _substitute(evaluation, mapping)

    candidates = [i for i in order if i in reachable and i in trainable_ids and tensors[i].dtype.startswith("float")]
    grads = gradients(train, train.outputs[0], [inputs[i] for i in candidates]) if candidates else []
    trained = [(i, g) for i, g in zip(candidates, grads) if g is not None]
    out.trainable = [by_var[i] for i, _ in trained]

    forward_outputs = list(train.outputs)
    n_preds = len(model.outputs)
    out.loss_names = train.output_names[:ir.n_losses]
    out.pred_names = train.output_names[ir.n_losses:ir.n_losses + n_preds]
    n_masks = len(ir.train_masks)
    out.update_names = train.output_names[ir.n_losses + n_preds:len(train.output_names) - n_masks]
    out.mask_outputs = list(ir.train_masks)  # (prediction index, output name): the graph's last outputs
    out.mask_names = [name for _, name in ir.train_masks]
    out.eval_mask_outputs = list(ir.eval_masks)
    out.updates = list(zip(ir.update_vars, out.update_names))
    for var, output in out.updates:
        out.state_pairs.append((by_var[id(var)], output))

    lr = placeholder((), "float64", out.lr_name)
    iteration = placeholder((), "int64", out.iteration_name)
    out.slot_names = list(optimizer._slot_specs())
    var_of = {name: var_id for var_id, name in by_var.items()}
    slots = []
    for name in out.trainable:
        per_param = {}
        for slot in out.slot_names:
            input_name = names.take(f"optimizer/{slot}/{name}")
            out.slot_inputs[(slot, name)] = input_name
            param = inputs[var_of[name]]
            per_param[slot] = placeholder(param.shape, param.dtype, input_name)
        slots.append(per_param)
    params = [inputs[i] for i, _ in trained]
    new_params, new_slots = optimizer.emit_update(params, [g for _, g in trained], slots, lr, iteration,
                                                  names=[out.params[n][0].path for n in out.trainable])
    # Keras applies each weight's constraint after the optimizer step.
    constrained = constrained_in_graph(out.params, dict(zip(out.trainable, new_params)))
    new_params = [constrained.get(name, value) for name, value in zip(out.trainable, new_params)]
    extra_outputs, extra_names = [], []
    for name, value in zip(out.trainable, new_params):
        extra_outputs.append(value)
        extra_names.append(names.take(f"new/{name}"))
        out.state_pairs.append((name, extra_names[-1]))
    for name, per_param in zip(out.trainable, new_slots):
        for slot in out.slot_names:
            extra_outputs.append(per_param[slot])
            extra_names.append(names.take(f"new/optimizer/{slot}/{name}"))
            out.state_pairs.append((out.slot_inputs[(slot, name)], extra_names[-1]))
    # The gradients too (not bound by the engine; for gradient checks and for exported files).
    for name, (_, grad) in zip(out.trainable, trained):
        extra_outputs.append(grad)
        extra_names.append(names.take(f"grad/{name}"))
        out.grad_names.append(extra_names[-1])
    known = {x.id for x in train.inputs} | {x.id for x in inputs.values()} | {lr.id, iteration.id}
    known |= {x.id for s in slots for x in s.values()}
    for node in train.nodes:
        known.update(y.id for y in node.outputs)
    step_nodes = train.nodes + _new_nodes(extra_outputs, known)

    slot_tensors = [x for s in slots for x in s.values()]
    all_inputs = list(train.inputs) + [inputs[i] for i in order] + slot_tensors + [lr, iteration]
    step = Graph(step_nodes, all_inputs, forward_outputs + extra_outputs,
                 list(train.input_names) + [x.name for x in all_inputs[len(train.inputs):]],
                 list(train.output_names) + extra_names)
    out.train_proto, leaked = to_model_proto(step, name=f"{model.name}_train_step")
    _check_no_weights(leaked, "train step")
    _check_names(out.train_proto, step)

    read = {x.id for node in evaluation.nodes for x in node.inputs if x is not None}
    eval_inputs = [inputs[i] for i in order if inputs[i].id in read]
    out.eval_params = [x.name for x in eval_inputs]
    evaluation.inputs = list(evaluation.inputs) + eval_inputs
    evaluation.input_names = list(evaluation.input_names) + out.eval_params
    out.eval_proto, leaked = to_model_proto(evaluation, name=f"{model.name}_eval")
    _check_no_weights(leaked, "evaluation")
    _check_names(out.eval_proto, evaluation)
    out.n_losses = ir.n_losses
    out.state_pairs_by_input = dict(out.state_pairs)
    return out


def _check_names(proto, graph: Graph) -> None:
    got = [x.name for x in proto.graph.input], [x.name for x in proto.graph.output]
    if got != (list(graph.input_names), list(graph.output_names)):
        raise RuntimeError("Training graph input/output names clash (a model input or output is named like a "
                           f"weight or a training output): {got} != {(graph.input_names, graph.output_names)}. "
                           "Rename the model's inputs or outputs.")


def _check_no_weights(weight_map: dict, what: str) -> None:
    if weight_map:
        raise RuntimeError(f"The {what} graph still holds {len(weight_map)} weight(s) as initializers after they "
                           "were made graph inputs; this is a bug in onnxgraph's training graph builder.")


def initial_slots(optimizer, shape, dtype) -> dict:
    """Slot name -> its initial numpy value for one parameter (zeros, or e.g. Adagrad's 0.1)."""
    return {slot: np.full(shape, init, dtype=dtype) for slot, init in optimizer._slot_specs().items()}
