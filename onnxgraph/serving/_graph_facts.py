"""What the serving analyses need to know about an ONNX graph: ranks, static dims, constants, attributes."""

from __future__ import annotations

import numpy as np
from onnx import helper, numpy_helper, shape_inference

__all__ = ["GraphFacts"]

_CONST_LIMIT = 1 << 16  # constants read for their values (shapes, axes): small ones only


class GraphFacts:
    """Shapes from onnx shape inference and the values of small constants of one ModelProto."""

    def __init__(self, proto):
        self.functions = list(proto.functions)
        self.opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 0)
        inferred = shape_inference.infer_shapes(proto, strict_mode=False, data_prop=False)
        self.graph = inferred.graph
        self.shapes: dict[str, tuple | None] = {}
        for info in (*self.graph.input, *self.graph.value_info, *self.graph.output):
            self.shapes[info.name] = _shape(info)
        self.consts: dict[str, np.ndarray] = {}
        for tensor in self.graph.initializer:
            self.shapes[tensor.name] = tuple(tensor.dims)
            if _small(tensor):
                self.consts[tensor.name] = numpy_helper.to_array(tensor)
        for node in self.graph.node:
            if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
                value = _constant_value(node)
                if value is not None:
                    self.consts[node.output[0]] = value
                    self.shapes[node.output[0]] = value.shape
        initializers = {t.name for t in self.graph.initializer}
        self.graph_inputs = [i.name for i in self.graph.input if i.name not in initializers]
        self.tainted: set[str] = set()  # values whose content depends on the batch size

    def rank(self, name: str) -> int | None:
        shape = self.shapes.get(name)
        return None if shape is None else len(shape)

    def dim(self, name: str, axis: int):
        """The static size of `axis` of `name`, or None when unknown/symbolic."""
        shape = self.shapes.get(name)
        if shape is None or axis >= len(shape):
            return None
        return shape[axis]

    def static_tail_size(self, name: str) -> int | None:
        shape = self.shapes.get(name)
        if shape is None or any(d is None for d in shape[1:]):
            return None
        return int(np.prod(shape[1:], dtype=np.int64))

    def attr(self, node, name: str, default):
        for attribute in node.attribute:
            if attribute.name == name:
                value = helper.get_attribute_value(attribute)
                return list(value) if isinstance(value, (list, tuple)) else value
        return default

    def const_ints(self, name: str) -> list[int] | None:
        value = self.consts.get(name)
        if value is None or value.dtype.kind not in "iu":
            return None
        return [int(v) for v in np.ravel(value)]

    def const_int(self, name: str) -> int | None:
        values = self.const_ints(name)
        return values[0] if values and len(values) == 1 else None

    def const_floats(self, name: str) -> list[float] | None:
        value = self.consts.get(name)
        if value is None or value.dtype.kind not in "fiu":
            return None
        return [float(v) for v in np.ravel(value)]


def _shape(info) -> tuple | None:
    kind = info.type.WhichOneof("value")
    if kind != "tensor_type" or not info.type.tensor_type.HasField("shape"):
        return None
    return tuple(d.dim_value if d.HasField("dim_value") else None for d in info.type.tensor_type.shape.dim)


def _small(tensor) -> bool:
    count = int(np.prod(tensor.dims, dtype=np.int64)) if tensor.dims else 1
    return count <= _CONST_LIMIT and not tensor.external_data


def _constant_value(node):
    for attribute in node.attribute:
        if attribute.name == "value" and _small(attribute.t):
            return numpy_helper.to_array(attribute.t)
        if attribute.name in ("value_int", "value_float"):
            return np.asarray(helper.get_attribute_value(attribute))
        if attribute.name in ("value_ints", "value_floats"):
            return np.asarray(list(helper.get_attribute_value(attribute)))
    return None
