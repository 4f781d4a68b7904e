"""Write a collected Graph as an onnx ModelProto: names, initializers, value_info, metadata.

This file and `saving/_files.py` are the only places that build protobuf messages.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from onnxgraph.backend import dtypes, transforms
from onnxgraph.backend.emit import OPSET
from onnxgraph.backend.graph import Graph
from onnxgraph.backend.ir import Node, SymbolicTensor

__all__ = ["to_model_proto", "in_memory_tensor", "IR_VERSION", "PASSES", "UniqueNames", "EXTERNAL_MIN_BYTES"]

IR_VERSION = 10
EXTERNAL_MIN_BYTES = 2**16

# Export passes: functions Graph -> None that rewrite the collected copy (layout changes,
# clean-ups). Layer families append theirs here when imported.
PASSES: list = []


class UniqueNames:
    """Hands out names unique within one namespace: `hint`, then `hint_1`, `hint_2`, ..."""

    def __init__(self):
        self.used: set[str] = set()

    def take(self, hint: str) -> str:
        name, k = hint, 0
        while name in self.used:
            k += 1
            name = f"{hint}_{k}"
        self.used.add(name)
        return name


def _value_info(name: str, tensor: SymbolicTensor, symbolic_batch: bool):
    dims = list(tensor.shape)
    if symbolic_batch:
        dims = ["batch" if (i == 0 and d is None) else (f"{name}_dim{i}" if d is None else d)
                for i, d in enumerate(dims)]
    return helper.make_tensor_value_info(name, dtypes.to_onnx(tensor.dtype), dims)


def _ensure_distinct_outputs(graph: Graph) -> None:
    """Each graph output must be a node output of its own: insert Identity where it is not."""
    seen: set[int] = set()
    input_ids = {x.id for x in graph.inputs}
    for i, out in enumerate(graph.outputs):
        if out.producer is None or out.id in seen or out.id in input_ids:
            node = Node("Identity", [out], {}, "", (graph.output_names[i],))
            node.outputs = [SymbolicTensor(out.shape, out.dtype, producer=node)]
            graph.nodes.append(node)
            graph.outputs[i] = node.outputs[0]
        seen.add(graph.outputs[i].id)


def to_model_proto(graph: Graph, *, name: str, doc: str = "", metadata=None,
                   opset: int = OPSET, functions=(), extra_opsets=None,
                   external: dict | None = None) -> tuple[onnx.ModelProto, dict]:
    """Return (ModelProto, weight_map). weight_map: variable path -> (initializer name, transform).

    `external` (a dict to fill) keeps weights of EXTERNAL_MIN_BYTES or more out of the proto: each
    becomes an initializer declared external ("in-memory") and its array goes into `external`
    under the initializer's name, for onnxruntime's `add_external_initializers` (no protobuf copy
    of the weights; VGG19's 548 MB otherwise cost seconds to copy and serialize).
    """
    for run_pass in PASSES:
        run_pass(graph)
    _ensure_distinct_outputs(graph)

    value_names, node_names = UniqueNames(), UniqueNames()
    names: dict[int, str] = {}
    for tensor, tensor_name in zip(graph.inputs, graph.input_names):
        names[tensor.id] = value_names.take(tensor_name)
    for tensor, tensor_name in zip(graph.outputs, graph.output_names):
        names[tensor.id] = value_names.take(tensor_name)

    initializers, weight_map, const_names = [], {}, {}
    nodes, value_info = [], []
    for node in graph.nodes:
        node_name = node_names.take("/".join(node.scope + (node.op_type,)))
        input_names = []
        for x in node.inputs:
            if x is None:
                input_names.append("")
                continue
            if x.id not in names:
                names[x.id] = _name_leaf(x, node, value_names, const_names, initializers, weight_map, external)
            input_names.append(names[x.id])
        output_names = []
        for i, out in enumerate(node.outputs):
            if out.id not in names:
                hint = out.name or (node_name if i == 0 else f"{node_name}:{i}")
                names[out.id] = value_names.take(hint)
                value_info.append(_value_info(names[out.id], out, symbolic_batch=False))
            output_names.append(names[out.id])
        proto = helper.make_node(node.op_type, input_names, output_names, name=node_name,
                                 domain=node.domain or None, **node.attrs)
        if node.doc:
            proto.doc_string = node.doc
        nodes.append(proto)

    output_ids = {x.id for x in graph.outputs}
    value_info = [v for v in value_info if v.name not in {names[i] for i in output_ids}]
    onnx_graph = helper.make_graph(
        nodes, name,
        [_value_info(names[x.id], x, True) for x in graph.inputs],
        [_value_info(names[x.id], x, True) for x in graph.outputs],
        initializer=initializers, value_info=value_info,
    )
    functions, domains = _local_functions(graph, functions, extra_opsets, opset)
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in domains.items()]
    model = helper.make_model(onnx_graph, opset_imports=opsets, producer_name="onnxgraph",
                              functions=functions, doc_string=doc)
    model.ir_version = IR_VERSION
    from onnxgraph import __version__

    model.producer_version = __version__
    for key, value in (metadata or {}).items():
        model.metadata_props.add(key=key, value=value)
    return model, weight_map


def _local_functions(graph: Graph, functions, extra_opsets, opset: int):
    """The model's local functions (given ones, then those nodes call) and the domains they need.

    Functions are kept once per (domain, name); two different bodies under one name are an
    error. Every non-default domain a function lives in or imports is imported by the model.
    """
    result: dict[tuple, onnx.FunctionProto] = {}
    for function in [*functions, *(f for node in graph.nodes for f in node.functions)]:
        key = (function.domain, function.name)
        if key in result:
            if result[key] is not function and result[key].SerializeToString() != function.SerializeToString():
                raise ValueError(f"Two different ONNX functions are named '{function.name}' in domain "
                                 f"'{function.domain}'; give one of them another name or domain.")
            continue
        result[key] = function
    domains = dict(extra_opsets or {})
    for function in result.values():
        needed = {o.domain: o.version for o in function.opset_import}
        needed.setdefault(function.domain, domains.get(function.domain, 1))
        for domain, version in needed.items():
            if domain in ("", "ai.onnx"):
                if version != opset:
                    raise ValueError(f"ONNX function '{function.name}' imports opset {version} of the default "
                                     f"domain, but the model uses opset {opset}.")
                continue
            if domains.setdefault(domain, version) != version:
                raise ValueError(f"Domain '{domain}' is needed at versions {domains[domain]} and {version} "
                                 f"(function '{function.name}'); a model imports one version per domain.")
    return list(result.values()), domains


def _name_leaf(x, node, value_names, const_names, initializers, weight_map, external=None) -> str:
    if x.kind == "variable":
        var = x.variable
        name = value_names.take(var.path if not x.transform else var.path)
        array = transforms.apply(var.value, x.transform)
        # ascontiguousarray turns a 0-d array into shape (1,): keep the shape.
        array = np.ascontiguousarray(array).reshape(np.shape(array))
        if external is not None and array.nbytes >= EXTERNAL_MIN_BYTES:
            initializers.append(in_memory_tensor(name, array))
            external[name] = array
        else:
            initializers.append(numpy_helper.from_array(array, name))
        weight_map.setdefault(id(var), (name, x.transform))
        return name
    if x.kind == "constant":
        array = np.ascontiguousarray(x.const).reshape(np.shape(x.const))
        key = (array.dtype.str, array.shape, array.tobytes())
        if key not in const_names:
            const_names[key] = value_names.take("/".join(node.scope + ("const",)))
            initializers.append(numpy_helper.from_array(array, const_names[key]))
        return const_names[key]
    raise ValueError(
        f"Tensor {x} feeds node {'/'.join(node.scope + (node.op_type,))} but is neither produced "
        "inside the model nor one of its inputs."
    )


def in_memory_tensor(name: str, array: np.ndarray) -> onnx.TensorProto:
    """An initializer with no bytes, declared external: onnxruntime gets its array from memory."""
    tensor = onnx.TensorProto(name=name, data_type=helper.np_dtype_to_tensor_dtype(array.dtype), dims=array.shape)
    tensor.data_location = onnx.TensorProto.EXTERNAL
    for key, value in (("location", "in-memory"), ("offset", "0"), ("length", str(array.nbytes))):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    return tensor
