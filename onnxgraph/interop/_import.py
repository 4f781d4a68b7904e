"""Model.from_onnx: wrap an ONNX model made by any tool as a functional Model of OnnxNode layers.

Each node becomes a layer named after it; float initializers (and any large initializer)
become that layer's weights, small integer initializers become constants. Nodes that read
only initializers and constants (Constant, shape arithmetic, the DequantizeLinear of a QDQ
model's int8 weights) are folded at import with onnx's reference runtime: their results
become constants or float weights, so a QDQ model imports with dequantized float weights. Every node output is a tensor
with Keras history, so `Model(m.inputs, m.get_layer(name).output)` cuts a feature extractor
that keeps only the nodes and weights it needs.

Large models: shape inference and opset conversion run on a skeleton whose weights are
graph inputs (no bytes), so protos above 2 GB (external data) never get serialized whole.
"""

from __future__ import annotations

import math
import os

import numpy as np
import onnx
from onnx import helper, numpy_helper

from onnxgraph.backend import dtypes
from onnxgraph.backend.emit import OPSET
from onnxgraph.interop._node_layer import OnnxNode, encode_array, encode_attribute
from onnxgraph.interop._opsets import check_importable, describe, upgrade
from onnxgraph.interop._validate import check_graph_values
from onnxgraph.models._model import Model
from onnxgraph.saving._registry import register_serializable

__all__ = ["from_onnx", "ImportedModel"]

_SMALL = 64  # integer initializers up to this many elements are inlined as constants


@register_serializable(package="onnxgraph")
class ImportedModel(Model):
    """A Model wrapped around an ONNX graph from another tool (see `Model.from_onnx`).

    `get_layer(name)` also accepts an ONNX value name (the output of some node);
    `get_tensor(name)` returns that one value as a symbolic tensor.
    """

    def __init__(self, inputs=None, outputs=None, name=None, onnx_output_names=None, import_report=None, **kwargs):
        super().__init__(inputs, outputs, name=name, **kwargs)
        if onnx_output_names:
            self.output_names = list(onnx_output_names)  # the source graph's output names
        # Source opset and how it became onnxgraph's (see interop/_opsets.py); printed by summary().
        self.import_report = import_report

    def summary(self, *args, print_fn=None, **kwargs):
        super().summary(*args, print_fn=print_fn, **kwargs)
        line = describe(self.import_report)
        if line:
            (print_fn or print)(line)

    def _values(self) -> dict:
        found = {}
        for layer in self.layers:
            for node in layer._inbound_nodes[:1]:
                for tensor in node.output_tensors:
                    found.setdefault(tensor.name, (layer, tensor))
        return found

    def get_layer(self, name=None, index=None):
        """A layer by node name, by ONNX output value name, or by index."""
        if name is not None and all(layer.name != name for layer in self.layers):
            values = self._values()
            if name in values:
                return values[name][0]
        return super().get_layer(name=name, index=index)

    def get_tensor(self, name: str):
        """The symbolic tensor of ONNX value `name` (a graph input or a node output)."""
        values = self._values()
        if name not in values:
            raise ValueError(f"No ONNX value named '{name}' in model '{self.name}'. Node outputs include "
                             f"{sorted(values)[:20]}.")
        return values[name][1]

    def get_config(self) -> dict:
        config = super().get_config()
        config["onnx_output_names"] = list(self.output_names)
        if self.import_report:
            config["import_report"] = self.import_report
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        names = config.pop("onnx_output_names", None)
        report = config.pop("import_report", None)
        model = super().from_config(config, custom_objects)
        if names:
            model.output_names = list(names)
        model.import_report = report
        return model


def _read(source):
    if isinstance(source, onnx.ModelProto):
        from onnxgraph.saving._safe_io import check_onnx_proto

        check_onnx_proto(source, "from_onnx")  # in memory: no folder, so external data is refused
        proto = onnx.ModelProto()
        proto.CopyFrom(source)
        return proto, getattr(source, "name", "") or "imported"
    if isinstance(source, (str, os.PathLike)):
        from onnxgraph.saving._files import read_model_file

        path = os.fspath(source)
        return read_model_file(path), os.path.splitext(os.path.basename(path))[0]
    raise TypeError(f"from_onnx takes a path to a .onnx file or an onnx.ModelProto, got {type(source).__name__}.")


def _skeleton(proto: onnx.ModelProto) -> tuple[onnx.ModelProto, dict]:
    """Move initializer values out (name -> numpy) and declare them as typed graph inputs."""
    weights = {}
    for tensor in proto.graph.initializer:
        weights[tensor.name] = numpy_helper.to_array(tensor)
        tensor.ClearField("raw_data")  # free the protobuf copy as we go
    declared = {v.name for v in proto.graph.input}
    for tensor in proto.graph.initializer:
        if tensor.name not in declared:
            proto.graph.input.append(helper.make_tensor_value_info(tensor.name, tensor.data_type, list(tensor.dims)))
    del proto.graph.initializer[:]
    return proto, weights


def _types(skeleton) -> dict:
    """Value name -> (Keras shape or None, dtype) from ONNX shape inference."""
    inferred = onnx.shape_inference.infer_shapes(skeleton, data_prop=True)
    result = {}
    for value in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        tensor_type = value.type.tensor_type
        if not value.type.HasField("tensor_type") or not tensor_type.elem_type:
            continue
        shape = None
        if tensor_type.HasField("shape"):
            shape = [d.dim_value if d.HasField("dim_value") else None for d in tensor_type.shape.dim]
        result[value.name] = (shape, dtypes.from_onnx(tensor_type.elem_type))
    return result


def _fold(node, values: dict) -> list:
    """Outputs of a node whose inputs are all constants, computed with onnx's reference runtime."""
    from onnx.reference import ReferenceEvaluator

    feeds = {name: values[name] for name in node.input if name}
    return list(ReferenceEvaluator(node).run(None, feeds))


def _fold_bytes(node, values: dict, so_far: int, source_name: str) -> int:
    """Refuse, before allocating, constants folded at import past `max_constant_bytes` in total:
    a 200-byte ConstantOfShape([30000, 30000]) must not take 3.6 GB."""
    from onnxgraph.saving._limits import FileLimitError, get_file_limits, limit_hint

    from onnxgraph.saving._structure import declared_bytes

    nbytes = declared_bytes(node, values)
    limit = get_file_limits().max_constant_bytes
    if so_far + nbytes > limit:
        raise FileLimitError(f"{source_name}: node '{node.name}' ({node.op_type}) would make a constant of {nbytes:,} "
                             f"bytes at import, past the {limit:,} bytes that folded constants may take in total; "
                             "nothing was allocated. " + limit_hint("max_constant_bytes", limit))
    return nbytes


def _unique(hint: str, used: set) -> str:
    name, k = hint, 0
    while name in used:
        k += 1
        name = f"{hint}_{k}"
    used.add(name)
    return name


def from_onnx(source, name: str | None = None) -> ImportedModel:
    """Wrap an ONNX model (path or ModelProto) from any exporter as an onnxgraph Model.

    Args:
        source: a `.onnx` path (external data beside it is read, from inside its folder
            only) or an `onnx.ModelProto`.
        name: the model name (default: the file name or the graph name).

    Returns:
        An ImportedModel: one OnnxNode layer per node, addressable by node or value name.

    Example:
        >>> m = Model.from_onnx("resnet.onnx")
        >>> features = Model(m.inputs, m.get_layer("/layer3/Relu").output)
    """
    proto, default_name = _read(source)
    source_name = name or default_name
    check_graph_values(proto, source_name)
    if proto.functions:
        raise ValueError(f"{source_name} has local functions; inline them first (onnx.inliner.inline_local_functions).")
    check_importable(proto, source_name)
    graph_outputs = [o.name for o in proto.graph.output]
    skeleton, weights = _skeleton(proto)
    skeleton, report = upgrade(skeleton, weights, source_name)
    types = _types(skeleton)
    graph = skeleton.graph

    from onnxgraph.layers import Input

    used: set[str] = set()
    tensors, consts, folded_bytes = {}, {}, 0
    inputs = []
    for value in graph.input:
        if value.name in weights:
            continue
        shape, dtype = types[value.name]
        tensor = Input(batch_shape=tuple(shape), dtype=dtype, name=_unique(value.name, used))
        tensors[value.name] = tensor
        inputs.append(tensor)
    consumers: dict[str, int] = {}
    for node in graph.node:
        for n in node.input:
            consumers[n] = consumers.get(n, 0) + 1

    for index, node in enumerate(graph.node):
        _check_subgraphs(node, source_name)
        if all(not n or n in weights or n in consts for n in node.input):
            known = {**weights, **consts}
            folded_bytes += _fold_bytes(node, known, folded_bytes, source_name)  # before allocating
            folded = _fold(node, known)
            consts.update(zip(node.output, folded))
            continue
        slots, weight_specs, args = [], [], []
        for n in node.input:
            if not n:
                slots.append(["none"])
            elif n in tensors:
                slots.append(["tensor", len(args)])
                args.append(tensors[n])
            else:
                value = weights[n] if n in weights else consts[n]
                # Float initializers and any large array are weights; small integer tensors
                # (shapes, axes) are constants that ONNX shape inference can read.
                if value.size > _SMALL or (value.dtype.kind == "f" and n in weights):
                    local = f"w{len(weight_specs)}"
                    weight_specs.append([local, list(value.shape), dtypes.standardize(value.dtype), n])
                    slots.append(["weight", local])
                else:
                    slots.append(["const", encode_array(value)])
        outputs = []
        for n in node.output:
            shape, dtype = types.get(n, (None, None))
            outputs.append([n, shape, dtype])
        if any(o[2] is None for o in outputs):
            outputs = [[o[0], None, None] for o in outputs]
        layer = OnnxNode(node.op_type, node.domain, [encode_attribute(a) for a in node.attribute], slots,
                         weight_specs, outputs, node_name=node.name,
                         name=_unique(node.name or f"{node.op_type.lower()}_{index}", used))
        layer.build(None)
        for local, _, _, source_weight in weight_specs:
            layer._by_name[local].assign(weights[source_weight] if source_weight in weights else consts[source_weight])
        result = layer(args)
        for n, tensor in zip(node.output, result if isinstance(result, list) else [result]):
            tensors[n] = tensor
    missing = [n for n in graph_outputs if n not in tensors]
    if missing:
        raise ValueError(f"{source_name}: outputs {missing} are constants (no path from an input); "
                         "onnxgraph models compute every output from the inputs.")
    outputs = [tensors[n] for n in graph_outputs]
    return ImportedModel(inputs[0] if len(inputs) == 1 else inputs, outputs[0] if len(outputs) == 1 else outputs,
                         name=source_name, onnx_output_names=graph_outputs, import_report=report)


def _check_subgraphs(node, source_name: str) -> None:
    if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute):
        raise ValueError(
            f"{source_name}: node '{node.name}' ({node.op_type}) has a subgraph; control flow (If/Loop/Scan) "
            "is not supported by from_onnx yet."
        )
