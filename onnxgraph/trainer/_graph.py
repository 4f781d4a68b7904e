"""Build the two graphs training runs on: the training forward graph and the evaluation graph.

Training graph: the model replayed with ``training=True`` inside
``emit_options(training_graph=True, state_updates=[...])`` (Dropout active, batch statistics),
then per-output losses, the weighted total and the moving-statistics updates, then the
gradient-safe rewrite. Outputs: ``[loss, *per-output losses, *predictions, *state updates]``.

Evaluation graph: the model's own inference graph plus the same losses, with every weight as
a graph input named like the training checkpoint's parameters, so onnxruntime-training's
Module evaluates with the weights it is training (no copies).
"""

from __future__ import annotations

import onnx
from onnx import helper

from onnxgraph.backend import dtypes
from onnxgraph.backend.emit import emit
from onnxgraph.backend.graph import Graph, collect
from onnxgraph.backend.scope import emit_options, name_scope
from onnxgraph.backend.serialize import to_model_proto
from onnxgraph.layers._input_layer import placeholder
from onnxgraph.layers._node import recording
from onnxgraph.trainer import _regularization, _rules
from onnxgraph.utils._tree import flatten

__all__ = ["ForwardGraph", "TrainingIR", "build_ir", "build_graphs"]


class ForwardGraph:
    """A serialized forward graph and how to feed it and read it."""

    def __init__(self, proto, input_names, label_names, weight_names, loss_names, pred_names, update_names,
                 params):
        self.proto: onnx.ModelProto = proto
        self.input_names = input_names      # model inputs, in order
        self.label_names = label_names      # per loss-bearing output
        self.weight_names = weight_names    # sample weights, per loss-bearing output
        self.loss_names = loss_names        # ["loss", *per-output losses when several]
        self.pred_names = pred_names        # one per model output
        self.update_names = update_names    # one per state update
        self.params = params                # initializer name -> (Variable, transform)
        self.mask_outputs = []              # (output index, name) of predictions with a Keras mask: last

    @property
    def feed_names(self) -> list[str]:
        return self.input_names + [n for pair in zip(self.label_names, self.weight_names) for n in pair]


class _Parts:
    """Symbolic pieces of one graph before collection."""

    def __init__(self):
        self.inputs, self.input_names = [], []
        self.outputs, self.output_names = [], []


def _default_terms(losses, loss_weights, out_names):
    """One term per output with a loss (callers that pass plain per-output lists)."""
    from onnxgraph.trainer._loss_plan import LossTerm

    return [LossTerm((i,), loss, weight, name, i)
            for i, (loss, weight, name) in enumerate(zip(losses, loss_weights, out_names)) if loss is not None]


def _loss_terms(parts, preds, out_names, losses, loss_weights, label_specs):
    """Append label/sample-weight inputs per output that a loss reads, and one loss output per term."""
    labels, weights = [], []
    y_trues, sample_weights = [None] * len(preds), [None] * len(preds)
    for i, (name, loss, spec) in enumerate(zip(out_names, losses, label_specs)):
        if loss is None:
            continue
        shape, dtype = spec
        y_trues[i] = placeholder(shape, dtype, f"{name}_true")
        sample_weights[i] = placeholder((None,), "float32", f"{name}_sample_weight")
        parts.inputs += [y_trues[i], sample_weights[i]]
        parts.input_names += [y_trues[i].name, sample_weights[i].name]
        labels.append(y_trues[i].name)
        weights.append(sample_weights[i].name)
    terms = []
    plan = getattr(losses, "terms", None) or _default_terms(losses, loss_weights, out_names)
    for term in plan:
        with name_scope("loss"), name_scope(term.name.replace("/", "_")):
            # A loss over several outputs takes the first one's sample weights (Keras: one per batch).
            value = term.loss.emit_reduced(term.pack(y_trues), term.pack(preds), sample_weights[term.indices[0]])
            if value.dtype != "float32":
                value = emit("Cast", [value], {"to": dtypes.to_onnx("float32")}, shapes=[()], dtypes_=["float32"])
        terms.append((term.name, value, term.weight))
    if not terms:
        raise ValueError("compile() was given no loss for any output; fit() needs at least one.")
    with name_scope("loss"):
        total = None
        for _, value, weight in terms:
            scaled = value if weight is None or weight == 1.0 else value * float(weight)
            total = scaled if total is None else total + scaled
        total = emit("Identity", [total], shapes=[()], dtypes_=["float32"])
    loss_outputs = [(total, "loss")]
    if len(terms) > 1:
        seen: dict = {}
        for name, value, _ in terms:  # graph names unique (two losses on one output share a log name)
            key = f"{name}_loss"
            seen[key] = seen.get(key, -1) + 1
            key = key if not seen[key] else f"{key}_{seen[key]}"
            loss_outputs.append((emit("Identity", [value], shapes=[()], dtypes_=["float32"]), key))
    return loss_outputs, labels, weights


def _emit_parts(model, losses, loss_weights, label_specs, training: bool):
    parts = _Parts()
    updates: list = []
    added: list = []  # add_loss / activity regularizer terms of this replay
    with recording(False), emit_options(training_graph=training, state_updates=updates, added_losses=added):
        if training or _regularization.has_added_losses(model):
            # The evaluation graph replays too when layers add losses: they belong to this graph.
            inputs = [placeholder(x.shape, x.dtype, n) for x, n in zip(model.inputs, model.input_names)]
            subclassed = getattr(model, "_is_subclassed", lambda: False)()
            replay = model._run_subclassed if subclassed else model._run_graph
            preds = [x for x in flatten(replay(inputs, training=training)) if x is not None]
        else:
            inputs, preds = list(model.inputs), list(model.outputs)
        parts.inputs += inputs
        parts.input_names += list(model.input_names)
        loss_outputs, labels, weights = _loss_terms(parts, preds, model.output_names, losses, loss_weights,
                                                    label_specs)
        loss_outputs[0] = (_regularization.add_to_total(loss_outputs[0][0], model, preds, added), "loss")
    for tensor, name in loss_outputs:
        parts.outputs.append(tensor)
        parts.output_names.append(name)
    parts.outputs += preds
    parts.output_names += [f"{n}_pred" for n in model.output_names]
    if training:
        # Moving-statistics updates reported by layers: outputs, so their nodes are collected.
        parts.outputs += [value for _, value in updates]
        parts.output_names += [f"update_{i}" for i in range(len(updates))]
    # Keras masks of the predictions, last: metrics weigh masked steps out as Keras does.
    parts.masks = [(i, f"{name}_mask") for i, (pred, name) in enumerate(zip(preds, model.output_names))
                   if getattr(pred, "_keras_mask", None) is not None]
    parts.outputs += [preds[i]._keras_mask for i, _ in parts.masks]
    parts.output_names += [name for _, name in parts.masks]
    return parts, updates, labels, weights, len(loss_outputs)


def _masks_last(graph: Graph, masks) -> int:
    """Move the prediction-mask outputs behind the state updates the rewrite appended."""
    n = len(masks)
    names = {name for _, name in masks}
    keep = [(x, name) for x, name in zip(graph.outputs, graph.output_names) if name not in names]
    moved = [(x, name) for x, name in zip(graph.outputs, graph.output_names) if name in names]
    graph.outputs = [x for x, _ in keep + moved]
    graph.output_names = [name for _, name in keep + moved]
    return n


def _graph(parts) -> Graph:
    return collect(parts.inputs, parts.outputs, parts.input_names, parts.output_names)


class TrainingIR:
    """Both graphs as onnxgraph IR, before serialization: what each engine starts from."""

    def __init__(self, train_graph, eval_graph, update_vars, labels, weights, n_losses, train_masks, eval_masks):
        self.train_graph: Graph = train_graph  # outputs: loss(es), predictions, state updates, masks
        self.eval_graph: Graph = eval_graph    # outputs: loss(es), predictions, masks
        self.update_vars = update_vars         # Variable per state-update output, in order
        self.label_names, self.weight_names = labels, weights
        self.n_losses = n_losses
        self.train_masks, self.eval_masks = train_masks, eval_masks  # (prediction index, output name), last


def build_ir(model, losses, loss_weights, label_specs, ort_check: bool = True) -> TrainingIR:
    """The training graph (replayed with training=True, gradient-safe rewrite applied) and the
    evaluation graph, with one layout per weight across both."""
    from onnxgraph.layers._recurrent import refuse_stateful

    refuse_stateful(model, "training or evaluating")
    train_parts, layer_updates, labels, weights, n_losses = _emit_parts(model, losses, loss_weights, label_specs, True)
    train_graph = _graph(train_parts)
    ctx = _rules.rewrite_for_training(train_graph, check=ort_check)
    n_layer = len(layer_updates)
    for i, (_, value) in enumerate(ctx.updates):
        train_graph.outputs.append(value)
        train_graph.output_names.append(f"update_{n_layer + i}")
    _masks_last(train_graph, train_parts.masks)
    update_vars = [var for var, _ in layer_updates] + [var for var, _ in ctx.updates]

    eval_parts, _, _, _, _ = _emit_parts(model, losses, loss_weights, label_specs, False)
    eval_graph = _graph(eval_parts)
    _rules.unify_layouts([train_graph, eval_graph])
    return TrainingIR(train_graph, eval_graph, update_vars, labels, weights, n_losses, train_parts.masks,
                      eval_parts.masks)


def build_graphs(model, losses, loss_weights, label_specs):
    """(training ForwardGraph, evaluation ForwardGraph, trainable initializer names, frozen names)."""
    ir = build_ir(model, losses, loss_weights, label_specs)
    train_graph, eval_graph, update_vars = ir.train_graph, ir.eval_graph, ir.update_vars
    labels, weights, n_losses = ir.label_names, ir.weight_names, ir.n_losses
    n_masks = len(ir.train_masks)

    train_proto, train_weights = to_model_proto(train_graph, name=f"{model.name}_training")
    eval_proto, eval_weights = to_model_proto(eval_graph, name=f"{model.name}_eval")
    params = _params(model, train_weights)
    trainable_ids = {id(v) for v in model.trainable_weights}
    reachable = _reachable_variables(train_graph, n_losses)
    requires_grad = [name for name, (var, _) in params.items() if id(var) in trainable_ids and id(var) in reachable]
    frozen = [name for name in params if name not in requires_grad]
    order = [init for init in train_proto.graph.initializer if init.name in params]
    _params_as_inputs(eval_proto, eval_weights, {id(v): n for n, (v, _) in params.items()}, order)

    n_out = len(model.outputs)
    names = [o.name for o in train_proto.graph.output]
    train = ForwardGraph(train_proto, list(model.input_names), labels, weights, names[:n_losses],
                         names[n_losses:n_losses + n_out], names[n_losses + n_out:len(names) - n_masks], params)
    train.updates = list(zip(update_vars, train.update_names))
    train.mask_outputs = ir.train_masks
    eval_names = [o.name for o in eval_proto.graph.output]
    evaluation = ForwardGraph(eval_proto, list(model.input_names), labels, weights, eval_names[:n_losses],
                              eval_names[n_losses:n_losses + n_out], [], params)
    evaluation.mask_outputs = ir.eval_masks
    return train, evaluation, requires_grad, frozen


def _params(model, weight_map) -> dict:
    by_id = {id(v): v for v in model.weights}
    params = {}
    for var_id, (name, transform) in weight_map.items():
        if var_id in by_id:
            params[name] = (by_id[var_id], transform)
    return params


def _reachable_variables(graph: Graph, n_losses: int) -> set[int]:
    """ids of the Variables the total loss depends on (others get no gradient)."""
    found, seen = set(), set()
    stack = [graph.outputs[0]]
    producers = {x.id: node for node in graph.nodes for x in node.outputs}
    while stack:
        tensor = stack.pop()
        if tensor is None or tensor.id in seen:
            continue
        seen.add(tensor.id)
        if tensor.kind == "variable":
            found.add(id(tensor.variable))
        node = producers.get(tensor.id)
        if node is not None:
            stack.extend(node.inputs)
    return found


def _params_as_inputs(proto, weight_map, train_names: dict, order) -> None:
    """Rename the eval graph's weights to the training names and make them graph inputs.

    onnxruntime-training's Module feeds the eval model its parameters positionally, in the
    training model's order, so the eval model declares all of them, in that order (a weight
    the eval graph does not read is an unused input).
    """
    rename = {}
    for var_id, (name, _) in weight_map.items():
        if var_id in train_names:
            rename[name] = train_names[var_id]
    taken = {i.name for i in proto.graph.input} | {o.name for o in proto.graph.output}
    clash = taken & set(rename.values())
    if clash:
        raise RuntimeError(f"Evaluation graph names {sorted(clash)} collide with weight names.")
    for node in proto.graph.node:
        node.input[:] = [rename.get(n, n) for n in node.input]
    keep = [init for init in proto.graph.initializer if init.name not in rename]
    del proto.graph.initializer[:]
    proto.graph.initializer.extend(keep)
    for init in order:
        proto.graph.input.append(helper.make_tensor_value_info(init.name, init.data_type, list(init.dims)))
