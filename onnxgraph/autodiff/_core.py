"""Reverse-mode differentiation over a collected onnxgraph Graph.

`gradients(graph, loss, wrt)` walks `graph.nodes` (topologically ordered) backwards, calling
each op's rule (see `_registry`) only for nodes on a path from a `wrt` tensor to `loss`,
summing fan-in with Add/Sum. The emitted backward nodes are appended to `graph.nodes`, so the
graph with the gradients added to its outputs serializes as one forward+backward model.
"""

from __future__ import annotations

import contextlib
from typing import Sequence

from onnxgraph.autodiff import _util
from onnxgraph.autodiff._registry import NoGradientError, rule_for
from onnxgraph.backend.graph import Graph
from onnxgraph.backend.ir import Node, SymbolicTensor
from onnxgraph.backend.local_functions import inline_function
from onnxgraph.backend.scope import name_scope

__all__ = ["gradients", "inline_local_functions", "GRADIENT_SCOPE"]

# Backward nodes are named `gradients/<layer>/<Op>`.
GRADIENT_SCOPE = "gradients"


def _where(node: Node) -> str:
    return "/".join(node.scope + (node.op_type,))


@contextlib.contextmanager
def _scope(names):
    with contextlib.ExitStack() as stack:
        for name in names:
            stack.enter_context(name_scope(name))
        yield


def _new_nodes(outputs, known: set[int]) -> list[Node]:
    """Nodes producing `outputs` back to `known` tensors or leaves, in creation order."""
    found: dict[int, Node] = {}
    stack = [x for x in outputs if x is not None]
    while stack:
        tensor = stack.pop()
        node = tensor.producer
        if tensor.id in known or node is None or node.id in found:
            continue
        found[node.id] = node
        stack.extend(x for x in node.inputs if x is not None)
    return [found[k] for k in sorted(found)]


def inline_local_functions(graph: Graph) -> dict[int, SymbolicTensor]:
    """Replace, in place, each node calling an ONNX local function by the function's body.

    Returns old tensor id -> replacement for the call outputs (graph outputs are re-pointed).
    """
    if not any(node.functions for node in graph.nodes):
        return {}
    substitute: dict[int, SymbolicTensor] = {}
    known = {x.id for x in graph.inputs}
    nodes: list[Node] = []
    for node in graph.nodes:
        node.inputs = [None if x is None else substitute.get(x.id, x) for x in node.inputs]
        if not node.functions:
            nodes.append(node)
            known.update(x.id for x in node.outputs)
            continue
        with _scope(node.scope):
            outs = inline_function(list(node.functions), node.inputs, dict(node.attrs))
        emitted = _new_nodes(outs, known)
        nodes.extend(emitted)
        for n in emitted:
            known.update(x.id for x in n.outputs)
        for old, new in zip(node.outputs, outs):
            substitute[old.id] = new
    graph.nodes = nodes
    graph.outputs = [substitute.get(x.id, x) for x in graph.outputs]
    return substitute


def _check(node: Node, result, rule) -> list:
    name = getattr(rule, "__qualname__", repr(rule))
    if not isinstance(result, (list, tuple)) or len(result) != len(node.inputs):
        raise AssertionError(f"Gradient rule {name} for {_where(node)} returned {result!r}; it must return one "
                             f"entry per input ({len(node.inputs)}).")
    for i, (g, x) in enumerate(zip(result, node.inputs)):
        if g is None:
            continue
        if x is None:
            raise AssertionError(f"Gradient rule {name} for {_where(node)} returned a gradient for absent input {i}.")
        same_rank = len(g.shape) == len(x.shape)
        if not same_rank or any(a is not None and b is not None and a != b for a, b in zip(g.shape, x.shape)) \
                or g.dtype != x.dtype:
            raise AssertionError(f"Gradient rule {name} for {_where(node)}: input {i} is {x.dtype}{list(x.shape)} "
                                 f"but its gradient is {g.dtype}{list(g.shape)}.")
    return list(result)


def _no_rule(node: Node) -> NoGradientError:
    domain = f" (domain '{node.domain}')" if node.domain else ""
    layer = "/".join(node.scope) or "<top level>"
    return NoGradientError(
        f"No gradient rule for ONNX op {node.op_type}{domain} at node {_where(node)} (layer '{layer}'), which lies "
        f"between a trained tensor and the loss. Train this model with compile(engine='ort-training'), build "
        f"this part from other ops, or add a rule with onnxgraph.autodiff.register_gradient('{node.op_type}')."
    )


def gradients(graph: Graph, loss: SymbolicTensor,
              wrt: Sequence[SymbolicTensor]) -> list[SymbolicTensor | None]:
    """dloss/dx for each x in `wrt` (None where loss does not depend on x through floats).

    Args:
        graph: a collected Graph (private copy); nodes calling local functions are inlined and
            the backward nodes appended to `graph.nodes`, in place.
        loss: a float tensor of the graph (normally a scalar; otherwise the gradient of its sum).
        wrt: tensors of the graph (variables, graph inputs or intermediates), matched by identity.

    Returns:
        One gradient per `wrt` entry, with that tensor's shape and dtype, or None.

    Raises:
        NoGradientError: an op on a path from `wrt` to `loss` has no rule.
    """
    substitute = inline_local_functions(graph)
    loss = substitute.get(loss.id, loss)
    wrt = [substitute.get(x.id, x) for x in wrt]
    if not _util.is_float(loss):
        raise TypeError(f"gradients(): the loss must be a float tensor, got {loss.dtype}{list(loss.shape)}.")
    produced = {y.id for node in graph.nodes for y in node.outputs} | {x.id for x in graph.inputs}
    if loss.id not in produced:
        raise ValueError(f"gradients(): the loss {loss} is not computed by this graph's nodes; collect the graph "
                         "with the loss among its outputs (backend.graph.collect(inputs, [loss, ...], ...)).")
    targets = {x.id for x in wrt if _util.is_float(x)}
    # Forward: tensors that depend (through float values) on some wrt tensor.
    live = set(targets)
    for node in graph.nodes:
        if any(x is not None and x.id in live for x in node.inputs):
            live.update(y.id for y in node.outputs if _util.is_float(y))
    # Backward: tensors the loss depends on.
    needed = {loss.id}
    path: list[Node] = []
    for node in reversed(graph.nodes):
        if any(y.id in needed for y in node.outputs) and any(x is not None and x.id in live for x in node.inputs):
            needed.update(x.id for x in node.inputs if x is not None)
            path.append(node)

    known = {x.id for x in graph.inputs}
    for node in graph.nodes:
        known.update(y.id for y in node.outputs)
    with _scope((GRADIENT_SCOPE,)):
        seed = _util.const(1.0, loss.dtype) if loss.shape == () else _util.ones_like(loss)
    pending: dict[int, list[SymbolicTensor]] = {loss.id: [seed]}

    def total(tensor: SymbolicTensor):
        terms = pending.get(tensor.id)
        if not terms:
            return None
        if len(terms) > 1:
            pending[tensor.id] = [_util.accumulate(terms)]
        return pending[tensor.id][0]

    for node in path:  # reverse topological order
        with _scope((GRADIENT_SCOPE, *node.scope)):
            grads = [total(y) if _util.is_float(y) else None for y in node.outputs]
            if all(g is None for g in grads):
                continue
            rule = rule_for(node.domain, node.op_type)
            if rule is None:
                raise _no_rule(node)
            result = _check(node, rule(node, grads), rule)
        for x, g in zip(node.inputs, result):
            if g is not None and x.id in live:
                pending.setdefault(x.id, []).append(g)

    with _scope((GRADIENT_SCOPE,)):
        results = [total(x) if x.id in targets else None for x in wrt]
    graph.nodes.extend(_new_nodes(results, known))
    return results
