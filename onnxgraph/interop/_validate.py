"""Checks `from_onnx` makes before wrapping a graph: ONNX's single-assignment rule, order of nodes."""

from __future__ import annotations

__all__ = ["check_graph_values"]


def check_graph_values(proto, source_name: str) -> None:
    """Every value is defined once, before it is read (ONNX requires both; a file breaking either
    would otherwise give one node's output to another node's reader, or a bare KeyError)."""
    graph = proto.graph
    defined: dict[str, str] = {}
    for value in graph.input:
        _define(defined, value.name, "a graph input", source_name)
    for tensor in graph.initializer:
        if tensor.name not in defined or defined[tensor.name] != "a graph input":  # initializer may back an input
            _define(defined, tensor.name, "an initializer", source_name)
    for index, node in enumerate(graph.node):
        label = f"node {index} '{node.name or node.op_type}' ({node.op_type})"
        if not any(a.HasField("g") or a.graphs for a in node.attribute):  # subgraphs may read outer values
            for name in node.input:
                if name and name not in defined:
                    raise ValueError(f"{source_name}: {label} reads '{name}', which no graph input, initializer or "
                                     "earlier node defines. ONNX nodes must be in topological order, each input "
                                     "defined first; re-export the model or fix the file.")
        for name in node.output:
            if name:
                _define(defined, name, label, source_name)
    for value in graph.output:
        if value.name not in defined:
            raise ValueError(f"{source_name}: graph output '{value.name}' is not defined by any node, input or "
                             "initializer.")


def _define(defined: dict, name: str, what: str, source_name: str) -> None:
    if name in defined:
        raise ValueError(f"{source_name}: value '{name}' is defined twice, by {defined[name]} and by {what}. ONNX "
                         "values are assigned once (single static assignment); rename one of them.")
    defined[name] = what
