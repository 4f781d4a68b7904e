"""Layer grouping: each layer call becomes one call of an ONNX local function.

`model.save(path, layer_functions=True)` writes this form for reading in Netron: the main
graph shows one node per layer (op type = the layer class, node name = the layer name,
layer config JSON in the node's doc_string and metadata), and the layer's ONNX nodes are
the function body, one click away. The default file stays flat; both forms compute the
same values (onnxruntime inlines local functions).

Grouping works on the flat ModelProto: node names are `<layer>/<Op>` (nested models and
sublayers add scopes), and emission keeps a call's nodes together, so consecutive nodes under
one layer's prefix belong to one call, up to the node that produced the call's last output
(known from the collected graph, whose nodes align one to one with the proto's). Weights and
constants become function inputs: a function cannot see the main graph's initializers.
"""

from __future__ import annotations

import json
import re

import onnx
from onnx import helper

from onnxgraph.backend.serialize import UniqueNames

__all__ = ["group_layers", "FUNCTION_DOMAIN"]

FUNCTION_DOMAIN = "onnxgraph.layers"


def _children(layer) -> list:
    """Sublayers whose nodes are named under this layer's scope (model layers or tracked layers)."""
    if getattr(layer, "_functional", False):
        return [sub for sub in layer.layers if type(sub).__name__ != "InputLayer"]
    return list(getattr(layer, "_layers", []))


def _layer_entry(layer) -> dict:
    from onnxgraph.models._config import serialize_layer

    return serialize_layer(layer)


def _json(value) -> str:
    from onnxgraph.models._export import _json_default

    return json.dumps(value, default=_json_default)


class _Context:
    def __init__(self, proto: onnx.ModelProto, call_ends: dict):
        self.call_ends = call_ends  # node id -> ids of layers one of whose calls ends there
        self.functions: list[onnx.FunctionProto] = []
        self.bodies: dict[bytes, str] = {}  # serialized body -> function name (dedup)
        self.names: set[str] = set()
        self.initializers = {t.name for t in proto.graph.initializer}
        self.graph_outputs = {o.name for o in proto.graph.output}
        self.consumers: dict[str, set[str]] = {}
        for node in proto.graph.node:
            for name in node.input:
                self.consumers.setdefault(name, set()).add(node.name)
        self.opsets = list(proto.opset_import)


def group_layers(proto: onnx.ModelProto, model, graph) -> onnx.ModelProto:
    """A copy of the flat `proto` with each layer call as a local function.

    Args:
        proto: the model's flat ModelProto, written by `to_model_proto(graph)`.
        model: the onnxgraph Model that produced it (gives layer names, classes and configs).
        graph: the collected Graph `proto` was written from (its nodes align with the proto's).

    Returns:
        A new ModelProto whose main graph has one node per layer call.

    Example:
        >>> grouped = model.to_onnx(layer_functions=True)
    """
    if len(graph.nodes) != len(proto.graph.node):
        raise ValueError("group_layers: the graph and the proto it was written to do not align.")
    result = onnx.ModelProto()
    result.CopyFrom(proto)
    ctx = _Context(result, _call_ends(model))
    # Each entry: (node, original node names it covers, id of its last IR node).
    items = [(node, {node.name}, ir.id) for node, ir in zip(result.graph.node, graph.nodes)]
    grouped = _group(items, _children(model), "", ctx)
    del result.graph.node[:]
    result.graph.node.extend(node for node, _, _ in grouped)
    if ctx.functions:
        result.functions.extend(ctx.functions)
        result.opset_import.append(helper.make_opsetid(FUNCTION_DOMAIN, 1))
    visible = {name for node in result.graph.node for name in list(node.input) + list(node.output)}
    kept = [v for v in result.graph.value_info if v.name in visible]
    del result.graph.value_info[:]
    result.graph.value_info.extend(kept)
    return result


def _call_ends(model) -> dict:
    """IR node id -> ids of the layers one of whose calls ends at that node (its last output)."""
    ends: dict[int, set[int]] = {}
    stack = list(_children(model))
    seen: set[int] = set()
    while stack:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        for call in layer._inbound_nodes:
            ids = [t.producer.id for t in call.output_tensors if t.producer is not None]
            if ids:
                ends.setdefault(max(ids), set()).add(id(layer))
        stack.extend(_children(layer))
    return ends


def _owner(name: str, layers: list, prefix: str):
    for layer in layers:
        if name.startswith(f"{prefix}{layer.name}/"):
            return layer
    return None


def _group(items, layers, prefix, ctx):
    """Replace each run of nodes under one layer's scope by a call node (recursively)."""
    runs: list[tuple[object, list]] = []
    open_run = False
    for item in items:
        layer = _owner(item[0].name, layers, prefix)
        if open_run and runs[-1][0] is layer and layer is not None:
            runs[-1][1].append(item)
        else:
            runs.append((layer, [item]))
        # A layer called twice in a row gives two runs: a call ends at its last output's node.
        open_run = id(layer) not in ctx.call_ends.get(item[2], ())
    calls: dict[int, int] = {}
    result = []
    for layer, run in runs:
        k = calls[id(layer)] = calls.get(id(layer), -1) + 1
        if layer is None or not getattr(layer, "_group_as_function", True) or _keep_flat(run, k == 0):
            result.extend(run)
            continue
        inner_prefix = f"{prefix}{layer.name}/"
        inner = _group(run, _children(layer), inner_prefix, ctx)
        # Node names must stay unique: a shared layer's later calls are `<layer>/call_<k>`.
        result.append(_make_call(layer, inner, inner_prefix, ctx, layer.name if k == 0 else f"{layer.name}/call_{k}"))
    return result


def _keep_flat(run, first_call: bool) -> bool:
    # The Identity the exporter adds to give an output its own node is plumbing, not a call.
    if not first_call and len(run) == 1 and run[0][0].op_type == "Identity":
        return True
    # Subgraph attributes may read outer-scope values by name; grouping would hide them.
    return any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
               for node, _, _ in run for a in node.attribute)


def _strip(name: str, prefix: str) -> str:
    return (name[len(prefix):] if name.startswith(prefix) else name.rsplit("/", 1)[-1]) or "value"


def _make_call(layer, items, prefix, ctx, call_name: str):
    covered = set().union(*(c for _, c, _ in items))
    produced, inputs, outputs = set(), [], []
    for node, _, _ in items:
        for name in node.input:
            if name and name not in produced and name not in inputs:
                inputs.append(name)
        produced.update(o for o in node.output if o)
    for node, _, _ in items:
        for name in node.output:
            if name and (name in ctx.graph_outputs or ctx.consumers.get(name, set()) - covered):
                outputs.append(name)
    # Tensor inputs read as `inputs`, weights by their weight name (`kernel`, `bias`).
    names, local = UniqueNames(), {}
    tensor_in = [n for n in inputs if n not in ctx.initializers]
    for i, n in enumerate(tensor_in):
        local[n] = names.take("inputs" if i == 0 else f"inputs_{i}")
    for n in inputs:
        if n in ctx.initializers:
            local[n] = names.take(_strip(n, prefix))
    for i, n in enumerate(outputs):
        local[n] = names.take("outputs" if i == 0 else f"outputs_{i}")
    # Names local to the body (`MatMul`, `Relu`, values after their node) so every call of one
    # layer class with the same structure shares one function.
    body, node_names = [], UniqueNames()
    for node, _, _ in items:
        name = node.name[len(prefix):] if node.name.startswith(prefix) else node.name
        if node.domain != FUNCTION_DOMAIN:
            name = re.sub(r"_\d+$", "", name)
        clone = onnx.NodeProto()
        clone.CopyFrom(node)
        clone.name = node_names.take(name)
        for i, n in enumerate(node.output):
            if n and n not in local:
                local[n] = names.take(clone.name if i == 0 else f"{clone.name}:{i}")
        clone.input[:] = [local.get(n, n) if n else "" for n in node.input]
        clone.output[:] = [local.get(n, n) if n else "" for n in node.output]
        body.append(clone)
    entry = _layer_entry(layer)
    # Nested models read best under their own name (`encoder`); layers under their class.
    cls = layer.name if getattr(layer, "_functional", False) else type(layer).__name__
    opsets = list(ctx.opsets)
    if any(n.domain == FUNCTION_DOMAIN for n in body):
        opsets.append(helper.make_opsetid(FUNCTION_DOMAIN, 1))
    function = helper.make_function(
        FUNCTION_DOMAIN, cls, [local[n] for n in inputs], [local[n] for n in outputs], body, opsets,
        doc_string=f"{entry['class_name']} layer (onnxgraph): the ONNX nodes of one call.",
    )
    function_name = _register(function, cls, ctx)
    call = helper.make_node(function_name, inputs, outputs, name=call_name, domain=FUNCTION_DOMAIN,
                            doc_string=_json(entry))
    call.metadata_props.add(key="onnxgraph.class_name", value=entry["class_name"])
    call.metadata_props.add(key="onnxgraph.config", value=_json(entry["config"]))
    return call, covered, items[-1][2]


def _register(function: onnx.FunctionProto, cls: str, ctx) -> str:
    """Reuse an identical body (same layer class and structure); else a new name `Cls`, `Cls_v2`..."""
    key = function.SerializeToString(deterministic=True)
    if key in ctx.bodies:
        return ctx.bodies[key]
    name, k = cls, 1
    while name in ctx.names:
        k += 1
        name = f"{cls}_v{k}"
    ctx.names.add(name)
    ctx.bodies[key] = name
    function.name = name
    ctx.functions.append(function)
    return name
