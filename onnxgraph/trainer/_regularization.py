"""Regularization terms of the training loss, as Keras's `Trainer.compute_loss` adds them.

Keras: `total = compiled_loss + sum(sum(l) for l in model.losses)`, where `model.losses` are
the `add_loss` / activity-regularizer terms of the forward pass and one penalty per trainable
weight with a regularizer. The reported `loss` metric is that total; per-output losses are not
regularized. Both training graphs (onnxruntime-training's and the standard-ONNX engine's) are
built from `_graph._emit_parts`, which calls `add_to_total` once.
"""

from __future__ import annotations

from onnxgraph import ops, regularizers
from onnxgraph.backend.emit import emit
from onnxgraph.backend.scope import name_scope
from onnxgraph.constraints import _to_keras_layout, _to_onnx_layout

__all__ = ["add_to_total", "has_added_losses", "constrained_in_graph"]

# Penalties that do not depend on the element order: computed on the weight as the graph reads it.
_LAYOUT_FREE = (regularizers.L1, regularizers.L2, regularizers.L1L2)


def has_added_losses(model) -> bool:
    """Whether a forward pass of `model` adds losses (activity regularizers, `add_loss` in call)."""
    from onnxgraph.layers._layer import _all_sublayers

    return any(layer.activity_regularizer is not None or layer._losses for layer in [model, *_all_sublayers(model)])


def add_to_total(total, model, preds, added: list):
    """`total` plus the weight penalties and the losses the replay added (unchanged if none)."""
    terms = list(added)
    layouts = _variable_layouts(preds)
    for variable in model.trainable_weights:
        regularizer = getattr(variable, "regularizer", None)
        if regularizer is None or id(variable) not in layouts:
            continue  # a weight the outputs do not read has no gradient either (Keras would add a constant)
        with name_scope("regularization"), name_scope(variable.path.replace("/", "_")):
            terms.append(regularizer(_keras_view(variable, layouts[id(variable)], regularizer)))
    if not terms:
        return total
    with name_scope("loss"), name_scope("regularization"):
        for term in terms:
            term = ops.cast(term, "float32") if term.dtype != "float32" else term
            total = total + (ops.sum(term) if term.ndim else term)
        return emit("Identity", [total], shapes=[()], dtypes_=["float32"])


def _keras_view(variable, transform, regularizer):
    """The weight in Keras layout, read through the handle the forward graph already uses."""
    handle = variable.graph_value(transform)
    if not transform or isinstance(regularizer, _LAYOUT_FREE):
        return handle
    return _to_keras_layout(handle, transform, variable.shape)


def _variable_layouts(tensors) -> dict:
    """id(Variable) -> the layout transform the graph behind `tensors` reads it with."""
    found, seen, stack = {}, set(), list(tensors)
    while stack:
        x = stack.pop()
        if x is None or x.id in seen:
            continue
        seen.add(x.id)
        if x.kind == "variable":
            found.setdefault(id(x.variable), x.transform)
        elif x.producer is not None:
            stack.extend(x.producer.inputs)
    return found



def constrained_in_graph(params: dict, updated: dict) -> dict:
    """In-graph constraints for an engine that updates the weights with ONNX nodes.

    Args:
        params: `ForwardGraph.params`: initializer name -> (Variable, export transform).
        updated: initializer name -> the symbolic updated value (ONNX layout), for the trained ones.

    Returns:
        initializer name -> the projected value, for every updated weight with a constraint
        (Keras applies the constraint after the optimizer step).
    """
    result = {}
    for name, value in updated.items():
        variable, transform = params[name]
        constraint = getattr(variable, "constraint", None)
        if constraint is None:
            continue
        if hasattr(constraint, "emit"):
            result[name] = constraint.emit(value, transform, variable.shape)
        else:  # a plain function of the Keras-layout weight, written with onnxgraph.ops
            result[name] = _to_onnx_layout(constraint(_to_keras_layout(value, transform, variable.shape)), transform)
    return result
