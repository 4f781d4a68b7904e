"""Weightless copies of a model, so any size can be shape-inferred, checked and converted.

onnx's shape inference, checker and version converter serialize the proto, which protobuf
cannot do above 2 GB. They only need the weights' types and shapes: a skeleton declares each
large initializer as a typed graph input instead (small ones, such as axes and shapes that
converters read, stay), and `restore` puts the tensors back afterwards.
"""

from __future__ import annotations

import onnx
from onnx import helper

__all__ = ["skeleton", "restore"]

_KEEP_BYTES = 1024  # initializers up to this size stay in the skeleton


def _stripped(model: onnx.ModelProto) -> list:
    declared = {v.name for v in model.graph.input}
    return [t for t in model.graph.initializer if t.name not in declared and _nbytes(t) > _KEEP_BYTES]


def _nbytes(tensor: onnx.TensorProto) -> int:
    if tensor.data_location == onnx.TensorProto.EXTERNAL:
        return _KEEP_BYTES + 1
    return tensor.ByteSize()


def skeleton(model: onnx.ModelProto) -> onnx.ModelProto:
    """`model` with its large initializers replaced by typed graph inputs (no weight bytes)."""
    stripped = _stripped(model)
    names = {t.name for t in stripped}
    graph = helper.make_graph(
        list(model.graph.node), model.graph.name,
        list(model.graph.input) + [helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in stripped],
        list(model.graph.output), initializer=[t for t in model.graph.initializer if t.name not in names],
        value_info=list(model.graph.value_info), doc_string=model.graph.doc_string)
    result = helper.make_model(graph, opset_imports=list(model.opset_import), ir_version=model.ir_version,
                               functions=list(model.functions), doc_string=model.doc_string,
                               producer_name=model.producer_name, producer_version=model.producer_version)
    result.metadata_props.extend(model.metadata_props)
    return result


def restore(converted: onnx.ModelProto, original: onnx.ModelProto) -> onnx.ModelProto:
    """Put the initializers `skeleton(original)` took out back into `converted`."""
    stripped = _stripped(original)
    names = {t.name for t in stripped}
    kept_inputs = [v for v in converted.graph.input if v.name not in names]
    del converted.graph.input[:]
    converted.graph.input.extend(kept_inputs)
    converted.graph.initializer.extend(stripped)
    return converted
