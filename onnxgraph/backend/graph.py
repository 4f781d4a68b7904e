"""Collect the nodes between a model's inputs and outputs into a private, editable graph.

Nodes are shared by every model built on the same tensors (a feature extractor shares the
nodes of the model it was cut from), so collection copies them: export passes may then
rewrite the copy freely.
"""

from __future__ import annotations

from onnxgraph.backend.ir import Node, SymbolicTensor

__all__ = ["Graph", "collect", "GraphDisconnectedError"]


class GraphDisconnectedError(ValueError):
    pass


class Graph:
    """Topologically ordered node copies plus the graph's inputs and outputs."""

    def __init__(self, nodes, inputs, outputs, input_names, output_names):
        self.nodes: list[Node] = nodes
        self.inputs: list[SymbolicTensor] = list(inputs)
        self.outputs: list[SymbolicTensor] = list(outputs)
        self.input_names = list(input_names)
        self.output_names = list(output_names)

    def consumers(self) -> dict[int, list[Node]]:
        """Tensor id -> nodes reading it."""
        result: dict[int, list[Node]] = {}
        for node in self.nodes:
            for x in node.inputs:
                if x is not None:
                    result.setdefault(x.id, []).append(node)
        return result


def _copy(node: Node) -> Node:
    clone = Node(node.op_type, node.inputs, node.attrs, node.domain, node.scope, node.doc, node.functions)
    clone.outputs = node.outputs
    clone.id = node.id
    return clone


def collect(inputs, outputs, input_names, output_names) -> Graph:
    """Walk back from `outputs` to `inputs`; raise if an output needs a tensor not given."""
    stop = {x.id for x in inputs}
    order: list[Node] = []
    seen: set[int] = set()
    for out in outputs:
        stack = [(out, False)]
        while stack:
            tensor, expanded = stack.pop()
            if tensor is None or tensor.id in stop:
                continue
            node = tensor.producer
            if node is None:
                if tensor.kind == "input":
                    raise GraphDisconnectedError(
                        f"Graph disconnected: an output depends on input '{tensor.name}' "
                        f"(shape {tensor.shape}), which is not among the model's inputs "
                        f"{[x.name for x in inputs]}. Pass it in `inputs=`."
                    )
                continue
            if expanded:
                if node.id not in seen:
                    seen.add(node.id)
                    order.append(_copy(node))
                continue
            if node.id in seen:
                continue
            stack.append((tensor, True))
            for x in reversed(node.inputs):
                if x is not None and x.id not in stop and x.producer is not None and x.producer.id not in seen:
                    stack.append((x, False))
                elif x is not None and x.kind == "input" and x.id not in stop:
                    stack.append((x, False))
    # Depth-first post-order from the outputs: topological, and a function of the graph alone
    # (not of the order layers were called in), so a reloaded model writes the same file.
    return Graph(order, inputs, outputs, input_names, output_names)
