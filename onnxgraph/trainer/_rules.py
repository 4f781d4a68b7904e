"""The gradient-safe rewrite of training graphs, and one layout per weight across graphs.

`rewrite_for_training` applies every rule (see `_rules_*.py`) to a collected training graph;
the inference `.onnx` never sees these rewrites. `unify_layouts` makes each weight one
checkpoint parameter: a weight read in two layouts (two export transforms) is read raw and
transformed by nodes inside the graphs instead.
"""

from __future__ import annotations

import numpy as np

from onnxgraph.backend.emit import constant, emit
from onnxgraph.backend.graph import Graph
from onnxgraph.trainer import _rules_basic, _rules_conv, _rules_norm, _rules_resize, _rules_rnn
from onnxgraph.trainer._rewrite import RewriteContext, rewrite

__all__ = ["RULES", "rewrite_for_training", "unify_layouts", "NO_GRADIENT"]

RULES = {**_rules_basic.RULES, **_rules_conv.RULES, **_rules_norm.RULES, **_rules_resize.RULES,
         **_rules_rnn.RULES}

# Ops onnxruntime-training 1.19.2 cannot differentiate and no rule rewrites.
NO_GRADIENT = {"Einsum", "ReduceProd", "Floor", "Ceil", "Round", "Pad", "Loop", "Scan", "If"}


def rewrite_for_training(graph: Graph, check: bool = True) -> RewriteContext:
    """Rewrite `graph` in place; the context lists the state updates rules found (BatchNorm).

    `check`: raise for ops onnxruntime-training cannot differentiate (the "onnx" engine, whose
    own gradient rules name what they miss, passes False).
    """
    ctx = rewrite(graph, RULES)
    if check:
        _check_differentiable(graph)
    return ctx


def _check_differentiable(graph: Graph) -> None:
    """Raise for an op without a gradient that lies between a weight and the loss."""
    from_weights: set[int] = set()
    for node in graph.nodes:  # topological order: forward reachability from the variables
        if any(x is not None and (x.kind == "variable" or x.id in from_weights) for x in node.inputs):
            from_weights.update(y.id for y in node.outputs)
    to_loss: set[int] = {graph.outputs[0].id}
    for node in reversed(graph.nodes):
        if any(y.id in to_loss for y in node.outputs):
            to_loss.update(x.id for x in node.inputs if x is not None)
    for node in graph.nodes:
        if node.op_type not in NO_GRADIENT:
            continue
        if node.op_type == "Pad" and node.attrs.get("mode", "constant") in ("constant", b"constant"):
            continue
        on_path = any(y.id in to_loss for y in node.outputs) and any(
            x is not None and x.dtype.startswith("float") and (x.kind == "variable" or x.id in from_weights)
            for x in node.inputs)
        if on_path:
            where = "/".join(node.scope + (node.op_type,))
            raise NotImplementedError(
                f"{where}: onnxruntime-training 1.19.2 has no gradient for {node.op_type}, and onnxgraph has no "
                "gradient-safe rewrite for it yet, so this model cannot be trained. The inference model is "
                "unaffected; for training, build this part from other ops."
            )


def unify_layouts(graphs: list[Graph]) -> None:
    """Variables used with several layout transforms are read raw and transformed by nodes."""
    transforms: dict[int, set] = {}
    for graph in graphs:
        for node in graph.nodes:
            for x in node.inputs:
                if x is not None and x.kind == "variable":
                    transforms.setdefault(id(x.variable), set()).add(x.transform)
    mixed = {var_id for var_id, used in transforms.items() if len(used) > 1}
    if not mixed:
        return
    for graph in graphs:
        cache: dict[tuple, object] = {}
        new_nodes = []
        for node in graph.nodes:
            inputs = []
            for x in node.inputs:
                if x is not None and x.kind == "variable" and id(x.variable) in mixed and x.transform:
                    key = (id(x.variable), x.transform)
                    if key not in cache:
                        before = _emitted_since()
                        cache[key] = _runtime_transform(x.variable.graph_value(()), x.transform)
                        new_nodes.extend(_nodes_from(cache[key], before))
                    x = cache[key]
                inputs.append(x)
            node.inputs = inputs
            new_nodes.append(node)
        graph.nodes = new_nodes


def _emitted_since():
    from onnxgraph.backend.ir import _ids

    return next(_ids)


def _nodes_from(tensor, start_id):
    nodes = []
    while tensor.producer is not None and tensor.producer.id > start_id:
        nodes.append(tensor.producer)
        tensor = tensor.producer.inputs[0]
    return list(reversed(nodes))


def _runtime_transform(x, transform):
    """backend.transforms steps as ONNX nodes (each step reads the previous step's output)."""
    for step in transform:
        kind = step[0]
        if kind == "transpose":
            perm = list(step[1])
            x = emit("Transpose", [x], {"perm": perm}, shapes=[tuple(x.shape[p] for p in perm)], dtypes_=[x.dtype])
        elif kind == "reshape":
            shape = tuple(step[1])
            x = emit("Reshape", [x, constant(np.asarray(shape, np.int64))], shapes=[shape], dtypes_=[x.dtype])
        elif kind == "flip":
            for axis in step[1]:
                index = constant(np.arange(x.shape[axis])[::-1].astype(np.int64))
                x = emit("Gather", [x, index], {"axis": int(axis)}, shapes=[x.shape], dtypes_=[x.dtype])
        elif kind == "reorder":
            _, axis, order = step
            block = x.shape[axis] // len(order)
            index = np.concatenate([np.arange(i * block, (i + 1) * block) for i in order]).astype(np.int64)
            x = emit("Gather", [x, constant(index)], {"axis": int(axis)}, shapes=[x.shape], dtypes_=[x.dtype])
        else:
            raise ValueError(f"Unknown weight transform step {step!r}.")
    return x
