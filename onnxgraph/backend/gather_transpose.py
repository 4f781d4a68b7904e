"""Export pass: transpose the indices instead of the gathered rows.

An Embedding followed by a recurrent layer emits Gather(table, indices) -> Transpose(perm=[1, 0, 2])
(batch-major to the time-major layout ONNX RNN ops read). Gathered rows are `output_dim` times
larger than their int64 indices, and the Transpose that moves them cost 10% of the guide's
ticket router at batch 256. When the Transpose only permutes the index axes, it commutes with
the Gather: Transpose(Gather(t, i), p) == Gather(t, Transpose(i, p[:r])), r = rank of i. The
result is bit-identical; only the small index tensor moves.

It runs on the private copy made by `graph.collect`: it builds new nodes and tensors and never
edits the shared ones.
"""

from __future__ import annotations

from onnxgraph.backend.graph import Graph
from onnxgraph.backend.ir import Node, SymbolicTensor

__all__ = ["transpose_indices", "register"]


def register() -> None:
    """Add the pass to `serialize.PASSES` once (the Embedding layer calls this on import)."""
    from onnxgraph.backend import serialize

    if transpose_indices not in serialize.PASSES:
        serialize.PASSES.append(transpose_indices)


def _index_perm(transpose: Node, gather: Node):
    """The permutation of the index axes when `transpose` permutes only them, else None."""
    perm = transpose.attrs.get("perm")
    indices = gather.inputs[1]
    if perm is None or indices is None or gather.attrs.get("axis", 0) != 0:
        return None
    rank = indices.ndim
    perm = [int(p) for p in perm]
    if rank < 2 or perm[rank:] != list(range(rank, len(perm))) or sorted(perm[:rank]) != list(range(rank)):
        return None
    return perm[:rank]


def transpose_indices(graph: Graph) -> None:
    """Rewrite Gather(axis=0) -> Transpose into Transpose(indices) -> Gather where that is exact."""
    producers = {out.id: node for node in graph.nodes for out in node.outputs}
    consumers = graph.consumers()
    output_ids = {x.id for x in graph.outputs}
    replaced: dict[int, tuple[Node, Node]] = {}  # Transpose node id -> (index Transpose, Gather)
    dead: set[int] = set()
    for node in graph.nodes:
        if node.op_type != "Transpose" or node.domain or not node.inputs or node.inputs[0] is None:
            continue
        rows = node.inputs[0]
        gather = producers.get(rows.id)
        if (gather is None or gather.op_type != "Gather" or gather.domain or gather.id in dead
                or rows.id in output_ids or len(consumers.get(rows.id, [])) != 1):
            continue
        perm = _index_perm(node, gather)
        if perm is None:
            continue
        table, indices = gather.inputs
        # In the Embedding's scope: with layer_functions=True the layer's function then holds both
        # nodes, and the recurrent layer's function stays whole.
        index_node = Node("Transpose", [indices], {"perm": perm}, "", gather.scope)
        index_node.outputs = [SymbolicTensor(tuple(indices.shape[p] for p in perm), indices.dtype,
                                             producer=index_node)]
        new_gather = Node("Gather", [table, index_node.outputs[0]], {"axis": 0}, "", gather.scope)
        out = node.outputs[0]
        new_gather.outputs = [SymbolicTensor(out.shape, out.dtype, producer=new_gather)]
        replaced[node.id] = (index_node, new_gather)
        dead.add(gather.id)
        new_out = new_gather.outputs[0]
        for consumer in consumers.get(out.id, []):
            consumer.inputs = [new_out if x is out else x for x in consumer.inputs]
        graph.outputs = [new_out if x is out else x for x in graph.outputs]
    if not replaced:
        return
    order: list[Node] = []
    for node in graph.nodes:
        if node.id in dead:
            continue
        order.extend(replaced.get(node.id, (node,)))
    graph.nodes[:] = order
