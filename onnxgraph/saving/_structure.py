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


def declared_bytes(node, values: dict) -> int:
    """Bytes a folded node will make, for the ops that size their output from a constant input."""
    args = [values.get(n) if n else None for n in node.input]
    try:
        if node.op_type == "ConstantOfShape":
            value = next((a.t for a in node.attribute if a.name == "value"), None)
            itemsize = onnx.numpy_helper.to_array(value).itemsize if value is not None else 4
            return math.prod(int(d) for d in np.ravel(args[0])) * itemsize
        if node.op_type == "Expand":
            shape = np.broadcast_shapes(args[0].shape, tuple(int(d) for d in np.ravel(args[1])))
            return math.prod(shape) * args[0].itemsize
        if node.op_type == "Tile":
            return args[0].nbytes * math.prod(int(r) for r in np.ravel(args[1]))
        if node.op_type == "Range":
            start, limit, delta = (float(np.ravel(a)[0]) for a in args[:3])
            return (max(0, math.ceil((limit - start) / delta)) if delta else 0) * args[0].itemsize
        if node.op_type == "OneHot":
            return args[0].size * int(np.ravel(args[1])[0]) * args[2].itemsize
    except (TypeError, ValueError, IndexError, AttributeError, OverflowError):
        return 0
    return sum(a.nbytes for a in args if a is not None)


_SIZING_OPS = {"ConstantOfShape": 0, "Expand": 1, "Tile": 1, "Range": None, "OneHot": 1}


def _check_constants(graph, source: str, limits) -> None:
    """The constants onnxruntime folds at session creation from small constant inputs (a 200-byte
    ConstantOfShape([30000, 30000]) is 3.6 GB), summed and refused past `max_constant_bytes`."""
    small = {t.name: t for t in graph.initializer if math.prod(t.dims) <= 64}
    values, total = {}, 0
    for node in graph.node:
        if node.op_type == "Constant":
            tensor = next((a.t for a in node.attribute if a.name == "value" and a.HasField("t")), None)
            if tensor is not None and math.prod(tensor.dims) <= 64:
                values[node.output[0]] = onnx.numpy_helper.to_array(tensor)
            continue
        if node.op_type not in _SIZING_OPS:
            continue
        for name in node.input:
            if name and name not in values and name in small:
                values[name] = onnx.numpy_helper.to_array(small[name])
        if not all(not n or n in values for n in node.input):
            continue
        total += declared_bytes(node, values)
        if total > limits.max_constant_bytes:
            raise FileLimitError(f"{source}: node '{node.name}' ({node.op_type}) makes constants of {total:,} bytes "
                                 f"from a few declared numbers, past the {limits.max_constant_bytes:,} bytes allowed "
                                 "(runtimes build them when loading). "
                                 + limit_hint("max_constant_bytes", limits.max_constant_bytes))


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
    _check_constants(proto.graph, source, limits)
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
