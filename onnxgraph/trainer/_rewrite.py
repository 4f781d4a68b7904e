"""Node rewriting for training graphs: replace one node by an equivalent, gradient-safe subgraph.

A rule receives the node (a private copy from `backend.graph.collect`) and a `RewriteContext`,
emits replacement nodes with the ordinary `emit`, and returns one tensor per original output
(None for an output nobody reads) -- or None to keep the node. The original output tensors
are shared with the inference graph, so they are never touched: later nodes and the graph
outputs are re-pointed at the replacements instead.
"""

from __future__ import annotations

import contextlib

import numpy as np

from onnxgraph.backend.emit import constant, emit
from onnxgraph.backend.graph import Graph
from onnxgraph.backend.ir import Node, SymbolicTensor
from onnxgraph.backend.scope import name_scope

__all__ = ["RewriteContext", "rewrite", "attr", "const", "const_value", "E"]


class RewriteContext:
    """What rules may ask about the graph, and where they report state updates."""

    def __init__(self, graph: Graph):
        self.graph = graph
        used: set[int] = {x.id for x in graph.outputs}
        for node in graph.nodes:
            used.update(x.id for x in node.inputs if x is not None)
        self._used = used
        # (Variable, new value tensor): moving statistics written back after each step.
        self.updates: list[tuple[object, SymbolicTensor]] = []
        self._keep: set[int] = set()

    def keep_original(self, node: Node) -> None:
        """Keep `node` too (a rule reading its outputs, e.g. for their runtime shape)."""
        self._keep.add(node.id)

    def is_used(self, tensor: SymbolicTensor) -> bool:
        return tensor.id in self._used


def attr(node: Node, name: str, default=None):
    value = node.attrs.get(name, default)
    return value.decode() if isinstance(value, bytes) else value


def const(value, dtype="float32") -> SymbolicTensor:
    return constant(np.asarray(value, dtype=np.dtype(dtype)))


def const_value(x: SymbolicTensor | None, what: str, node: Node) -> np.ndarray | None:
    """The numpy value of a constant input (None when the optional input is absent)."""
    if x is None:
        return None
    if x.kind == "constant":
        return np.asarray(x.const)
    raise NotImplementedError(
        f"{_where(node)}: the training graph needs {what} to be a constant to rewrite {node.op_type} "
        "into a form onnxruntime-training can differentiate."
    )


def E(op_type: str, inputs, attrs=None, shape=None, dtype=None, outputs: int = 1):
    """emit() with optional single-output type (inferred by ONNX when not given)."""
    if outputs == 1 and shape is not None and dtype is not None:
        return emit(op_type, inputs, attrs, shapes=[tuple(shape)], dtypes_=[dtype])
    return emit(op_type, inputs, attrs, outputs=outputs)


def _where(node: Node) -> str:
    return "/".join(node.scope + (node.op_type,))


@contextlib.contextmanager
def _scope(names: tuple):
    with contextlib.ExitStack() as stack:
        for name in names:
            stack.enter_context(name_scope(name))
        yield


def _new_nodes(outputs, known: set[int]) -> list[Node]:
    """Nodes emitted by a rule: walk back from its outputs until known tensors or leaves."""
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


def rewrite(graph: Graph, rules: dict, context: RewriteContext | None = None) -> RewriteContext:
    """Apply `rules` ({op_type: fn(node, ctx)}) to every node of `graph`, in place."""
    ctx = context or RewriteContext(graph)
    substitute: dict[int, SymbolicTensor] = {}
    known: set[int] = {x.id for x in graph.inputs}
    nodes: list[Node] = []
    for node in graph.nodes:
        node.inputs = [None if x is None else substitute.get(x.id, x) for x in node.inputs]
        rule = rules.get(node.op_type) if node.domain in ("", "ai.onnx") else None
        replacement = None
        n_updates = len(ctx.updates)
        if rule is not None:
            with _scope(node.scope):
                replacement = rule(node, ctx)
        if replacement is None:
            nodes.append(node)
            known.update(x.id for x in node.outputs)
            continue
        if node.id in ctx._keep:
            nodes.append(node)
            known.update(x.id for x in node.outputs)
        # State updates a rule reports need their nodes too, even when no output reads them.
        emitted = _new_nodes(list(replacement) + [t for _, t in ctx.updates[n_updates:]], known)
        nodes.extend(emitted)
        for n in emitted:
            known.update(x.id for x in n.outputs)
        for old, new in zip(node.outputs, replacement):
            if new is not None:
                substitute[old.id] = new
            elif ctx.is_used(old):
                raise AssertionError(f"{_where(node)}: rewrite dropped output {old.index}, which is read later.")
    graph.nodes = nodes
    graph.outputs = [substitute.get(x.id, x) for x in graph.outputs]
    ctx.updates = [(var, substitute.get(t.id, t)) for var, t in ctx.updates]
    return ctx
