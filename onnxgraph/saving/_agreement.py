"""An onnxgraph file holds a config and a graph; loading proves they describe the same model.

`load_model` rebuilds layers from the config and restores weights from the initializers; the
command line, onnxruntime and every other tool run the stored graph. A doctored file whose
graph differs from its config would give two answers, so after the rebuild the model is
exported again and compared with the stored graph: the same nodes (op, domain, attributes,
input and output names: the topology), the same initializers (name, type, shape, bytes),
graph inputs and outputs, local functions and opsets. Node order is not compared (the rebuild
replays layers in config order; a graph is a set of nodes wired by names).
"""

from __future__ import annotations

import collections

import onnx

__all__ = ["verify_graph_matches_config", "GraphMismatchError"]


class GraphMismatchError(ValueError):
    """The stored graph computes something other than the file's config describes."""


def _node_key(node) -> bytes:
    return node.SerializeToString(deterministic=True)


def _same_tensor(a, b) -> bool:
    if (a.name, a.data_type, list(a.dims)) != (b.name, b.data_type, list(b.dims)):
        return False
    if a.HasField("raw_data") and b.HasField("raw_data"):
        return a.raw_data == b.raw_data
    from onnx import numpy_helper

    return numpy_helper.to_array(a).tobytes() == numpy_helper.to_array(b).tobytes()


def _first_difference(stored: onnx.GraphProto, rebuilt: onnx.GraphProto) -> str:
    for what in ("input", "output"):
        a = [(v.name, v.type.SerializeToString()) for v in getattr(stored, what)]
        b = [(v.name, v.type.SerializeToString()) for v in getattr(rebuilt, what)]
        if a != b:
            return f"the graph {what}s differ (file {[n for n, _ in a]}, config {[n for n, _ in b]})"
    ours = {t.name: t for t in rebuilt.initializer}
    theirs = {t.name: t for t in stored.initializer}
    for name in sorted(set(ours) ^ set(theirs)):
        where = "the file" if name in theirs else "the config"
        return f"initializer '{name}' is only in {where}"
    for name, tensor in theirs.items():
        if not _same_tensor(tensor, ours[name]):
            return f"initializer '{name}' differs (type, shape or values)"
    stored_nodes = collections.Counter(_node_key(n) for n in stored.node)
    rebuilt_nodes = collections.Counter(_node_key(n) for n in rebuilt.node)
    by_key = {_node_key(n): n for n in list(stored.node) + list(rebuilt.node)}
    extra, missing = stored_nodes - rebuilt_nodes, rebuilt_nodes - stored_nodes
    if extra or missing:
        node = by_key[next(iter(extra or missing))]
        side = "the stored graph has" if extra else "the config makes"
        return f"{side} node '{node.name}' ({node.op_type}, inputs {list(node.input)}) that the other lacks"
    if stored.sparse_initializer or stored.value_info != rebuilt.value_info:
        return "sparse initializers or value_info differ"
    return "the graphs differ"


def _graph_differs(stored: onnx.GraphProto, rebuilt: onnx.GraphProto) -> bool:
    if stored.input != rebuilt.input or stored.output != rebuilt.output or stored.sparse_initializer:
        return True
    if len(stored.node) != len(rebuilt.node) or len(stored.initializer) != len(rebuilt.initializer):
        return True
    if collections.Counter(map(_node_key, stored.node)) != collections.Counter(map(_node_key, rebuilt.node)):
        return True
    ours = {t.name: t for t in rebuilt.initializer}
    if any(t.name not in ours or not _same_tensor(t, ours[t.name]) for t in stored.initializer):
        return True
    stored_info = sorted(v.SerializeToString(deterministic=True) for v in stored.value_info)
    rebuilt_info = sorted(v.SerializeToString(deterministic=True) for v in rebuilt.value_info)
    return stored_info != rebuilt_info


def verify_graph_matches_config(model, proto: onnx.ModelProto, source: str) -> None:
    """Refuse a file whose stored graph is not the graph its config and weights rebuild to."""
    from onnxgraph.backend.emit import OPSET

    version = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), OPSET)
    rebuilt = model.to_onnx(layer_functions=bool(proto.functions) and version == OPSET,
                            target_opset=None if version == OPSET else version)
    problem = None
    if _graph_differs(proto.graph, rebuilt.graph):
        problem = _first_difference(proto.graph, rebuilt.graph)
    elif sorted(f.SerializeToString(deterministic=True) for f in proto.functions) != \
            sorted(f.SerializeToString(deterministic=True) for f in rebuilt.functions):
        problem = "the local functions differ"
    elif sorted((o.domain or "ai.onnx", o.version) for o in proto.opset_import) != \
            sorted((o.domain or "ai.onnx", o.version) for o in rebuilt.opset_import):
        problem = "the opset imports differ"
    if problem:
        raise GraphMismatchError(
            f"{source}: the stored ONNX graph does not match the model its onnxgraph config describes ({problem}). "
            "onnxruntime and other tools run the graph, load_model runs the config: such a file gives two "
            "answers, so it is refused. It was edited after saving (or its custom layers' code changed): "
            "re-save it from the code that defines it, or load only the graph with og.Model.from_onnx(path).")
