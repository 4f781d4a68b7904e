"""What an ONNX model declares, checked before any runtime sees it.

onnxruntime and onnx's checker recurse through local functions and subgraphs: a function
that calls itself crashes the process, a chain of thousands of functions overflows the C
stack, and If/Loop/Scan bodies nested ~20 deep make session creation take minutes. This walk
is iterative (no recursion of its own) and refuses, with the limit and how to raise it:
cycles among local functions, function chains longer than `max_function_depth`, subgraphs
nested deeper than `max_subgraph_depth` (counting bodies reached through functions), more
than `max_nodes` nodes once functions are inlined, and inline tensors whose bytes do not
match their declared shape.
"""

from __future__ import annotations

import math

import numpy as np
import onnx

from onnxgraph.saving._limits import FileLimitError, get_file_limits, limit_hint

__all__ = ["check_structure", "tensor_nbytes"]

_GRAY, _BLACK = 1, 2


_ITEMSIZE: dict = {}


def _itemsize(data_type: int) -> int | None:
    if data_type not in _ITEMSIZE:
        size = None
        if data_type not in (onnx.TensorProto.STRING, onnx.TensorProto.UNDEFINED) and data_type < 17:
            try:
                size = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(data_type)).itemsize
            except (KeyError, TypeError, ValueError):
                size = None
        _ITEMSIZE[data_type] = size
    return _ITEMSIZE[data_type]


def tensor_nbytes(tensor) -> int | None:
    """Bytes the tensor's shape and type need, or None for strings and packed sub-byte types."""
    itemsize = _itemsize(tensor.data_type)
    return None if itemsize is None else math.prod(tensor.dims) * itemsize


def _check_tensors(proto, source: str) -> None:
    from onnxgraph.saving._external import iter_tensors

    for tensor in iter_tensors(proto):
        if any(d < 0 for d in tensor.dims):
            raise ValueError(f"{source}: tensor '{tensor.name}' has a negative dimension {list(tensor.dims)}.")
        if tensor.data_location == onnx.TensorProto.EXTERNAL or not tensor.HasField("raw_data"):
            continue
        expected = tensor_nbytes(tensor)
        if expected is not None and len(tensor.raw_data) != expected:
            raise ValueError(f"{source}: tensor '{tensor.name}' declares shape {list(tensor.dims)} "
                             f"({expected:,} bytes) but holds {len(tensor.raw_data):,} bytes; the file is "
                             "damaged or crafted.")


def _scan(nodes, functions: dict, limits, where: str, source: str):
    """(node count, deepest subgraph nesting, [(nesting, function key)]) of one body, iteratively."""
    count, deepest, calls = 0, 0, []
    stack = [(nodes, 0)]
    while stack:
        body, depth = stack.pop()
        for node in body:
            count += 1
            key = (node.domain, node.op_type, node.overload)
            if key in functions:
                calls.append((depth, key))
            for attr in node.attribute:
                graphs = ([attr.g] if attr.HasField("g") else []) + list(attr.graphs)
                if not graphs:
                    continue
                if depth + 1 > limits.max_subgraph_depth:
                    raise FileLimitError(
                        f"{source}: {where}, node '{node.name}' ({node.op_type}) nests subgraphs (If/Loop/Scan "
                        f"bodies) more than {limits.max_subgraph_depth} levels deep; onnxruntime takes minutes "
                        "to load such files. " + limit_hint("max_subgraph_depth", limits.max_subgraph_depth))
                deepest = max(deepest, depth + 1)
                stack.extend((graph.node, depth + 1) for graph in graphs)
    return count, deepest, calls


def _name(key) -> str:
    domain, name, overload = key
    return f"{domain or 'ai.onnx'}.{name}" + (f"@{overload}" if overload else "")


def _post_order(functions: dict, bodies: dict, source: str) -> list:
    """Functions callees-first; a call cycle (recursion) is refused, named."""
    state, order = {}, []
    for root in functions:
        if root in state:
            continue
        state[root] = _GRAY
        path, stack = [root], [iter({key for _, key in bodies[root][2]})]
        while stack:
            callee = next(stack[-1], None)
            if callee is None:
                state[path[-1]] = _BLACK
                order.append(path.pop())
                stack.pop()
            elif state.get(callee) == _GRAY:
                cycle = " -> ".join(_name(k) for k in path[path.index(callee):] + [callee])
                raise ValueError(f"{source}: local functions call themselves ({cycle}); ONNX functions cannot "
                                 "be recursive, and runtimes crash on them. The file is crafted or broken.")
            elif callee not in state:
                state[callee] = _GRAY
                path.append(callee)
                stack.append(iter({key for _, key in bodies[callee][2]}))
    return order


def check_structure(proto: onnx.ModelProto, source: str) -> None:
    """Refuse recursion, deep nesting, oversized node counts and inconsistent tensors (see module doc)."""
    limits = get_file_limits()
    _check_tensors(proto, source)
    functions = {(f.domain, f.name, f.overload): f for f in proto.functions}
    bodies = {key: _scan(f.node, functions, limits, f"function {_name(key)}", source) for key, f in functions.items()}
    chain, nodes, depth = {}, {}, {}
    cap = limits.max_nodes + 1
    for key in _post_order(functions, bodies, source):
        count, deepest, calls = bodies[key]
        chain[key] = 1 + max((chain[c] for _, c in calls), default=0)
        nodes[key] = min(cap, count + sum(nodes[c] for _, c in calls))
        depth[key] = max([deepest] + [d + depth[c] for d, c in calls])
        if chain[key] > limits.max_function_depth:
            raise FileLimitError(f"{source}: function {_name(key)} starts a chain of {chain[key]} local functions "
                                 f"calling each other; loading allows {limits.max_function_depth}. "
                                 + limit_hint("max_function_depth", limits.max_function_depth))
    graphs = [("the main graph", proto.graph)]
    for k, info in enumerate(proto.training_info):
        graphs += [(f"training info {k}", info.initialization), (f"training info {k}", info.algorithm)]
    totals = [(f"function {_name(key)}", nodes[key], depth[key]) for key in functions]
    for where, graph in graphs:
        count, deepest, calls = _scan(graph.node, functions, limits, where, source)
        totals.append((where, min(cap, count + sum(nodes[c] for _, c in calls)),
                       max([deepest] + [d + depth[c] for d, c in calls])))
    for where, count, deepest in totals:
        if deepest > limits.max_subgraph_depth:
            raise FileLimitError(
                f"{source}: {where} nests subgraphs (If/Loop/Scan bodies, through local functions) {deepest} "
                f"levels deep; loading allows {limits.max_subgraph_depth}. "
                + limit_hint("max_subgraph_depth", limits.max_subgraph_depth))
        if count > limits.max_nodes:
            raise FileLimitError(
                f"{source}: {where} has more than {limits.max_nodes:,} nodes once its local functions are "
                "inlined (functions calling functions many times over multiply the count). "
                + limit_hint("max_nodes", limits.max_nodes))
