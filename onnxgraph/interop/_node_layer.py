"""OnnxNode: one node of an imported ONNX graph, as a layer (its weights are its initializers)."""

from __future__ import annotations

import base64
import io

import numpy as np
import onnx

from onnxgraph.backend import dtypes
from onnxgraph.backend.emit import constant, emit
from onnxgraph.backend.scope import current_scope
from onnxgraph.layers._layer import Layer
from onnxgraph.saving._registry import register_serializable

__all__ = ["OnnxNode", "encode_attribute", "encode_array", "decode_array"]

_PLAIN = {onnx.AttributeProto.INT: "int", onnx.AttributeProto.FLOAT: "float", onnx.AttributeProto.STRING: "string",
          onnx.AttributeProto.INTS: "ints", onnx.AttributeProto.FLOATS: "floats",
          onnx.AttributeProto.STRINGS: "strings"}


def encode_array(array: np.ndarray) -> str:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def decode_array(text: str) -> np.ndarray:
    return np.load(io.BytesIO(base64.b64decode(text)), allow_pickle=False)


def encode_attribute(attr: onnx.AttributeProto) -> list:
    """[name, kind, value]: plain JSON for scalars and lists, base64 protobuf for tensors/graphs."""
    kind = _PLAIN.get(attr.type)
    if kind is not None:
        value = onnx.helper.get_attribute_value(attr)
        if kind == "string":
            value = value.decode("utf-8", "replace")
        elif kind == "strings":
            value = [v.decode("utf-8", "replace") for v in value]
        else:
            value = list(value) if isinstance(value, (list, tuple)) else value
        return [attr.name, kind, value]
    return [attr.name, "proto", base64.b64encode(attr.SerializeToString()).decode("ascii")]


def _decode_attribute(entry) -> tuple[str, object]:
    name, kind, value = entry
    if kind != "proto":
        return name, value
    attr = onnx.AttributeProto()
    attr.ParseFromString(base64.b64decode(value))
    return name, onnx.helper.get_attribute_value(attr)


@register_serializable(package="onnxgraph")
class OnnxNode(Layer):
    """One ONNX node of an imported model (see `Model.from_onnx`).

    Args:
        op_type, domain: the ONNX op.
        attributes: list of [name, kind, value] (see `encode_attribute`).
        slots: one entry per ONNX input: ["tensor", k] (k-th tensor argument), ["weight", name]
            (a weight of this layer), ["const", base64 npy] or ["none"] (omitted optional input).
        weights: [[name, shape, dtype, initializer name], ...] for the "weight" slots.
        outputs: [[value name, shape, dtype], ...] (shape with None for unknown dims; shape None
            when ONNX inference must type it).
        node_name: the node's name in the source model (kept in the exported graph).
    """

    # Already one ONNX node: `layer_functions=True` leaves it as is instead of wrapping it.
    _group_as_function = False

    def __init__(self, op_type, domain="", attributes=(), slots=(), weights=(), outputs=(), node_name="",
                 **kwargs):
        super().__init__(**kwargs)
        self.op_type, self.domain, self.node_name = op_type, domain, node_name
        self.attributes = [list(a) for a in attributes]
        self.slots = [list(s) for s in slots]
        self.weight_specs = [list(w) for w in weights]
        self.output_specs = [list(o) for o in outputs]

    def build(self, input_shape) -> None:
        self._by_name = {}
        for name, shape, dtype, source_name in self.weight_specs:
            variable = self.add_weight(shape=tuple(shape), initializer="zeros", dtype=dtype, name=name,
                                       trainable=dtypes.is_float(dtype))
            variable.path = source_name  # keep the source model's initializer name in exports
            self._by_name[name] = variable
        self.built = True

    def call(self, inputs):
        tensors = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        args = []
        for slot in self.slots:
            if slot[0] == "tensor":
                args.append(tensors[slot[1]])
            elif slot[0] == "weight":
                args.append(self._by_name[slot[1]].graph_value())
            elif slot[0] == "const":
                array = decode_array(slot[1])
                args.append(constant(array, dtype=array.dtype))  # float64 stays float64
            else:
                args.append(None)
        attrs = dict(_decode_attribute(a) for a in self.attributes)
        known = all(o[1] is not None for o in self.output_specs)
        outs = emit(self.op_type, args, attrs, outputs=len(self.output_specs), domain=self.domain,
                    shapes=[tuple(o[1]) for o in self.output_specs] if known else None,
                    dtypes_=[o[2] for o in self.output_specs] if known else None)
        outs = list(outs) if isinstance(outs, tuple) else [outs]
        node = outs[0].producer
        # Keep the source node's name when it reads `<scope>/<Op>` (torch.onnx names do).
        suffix = f"/{self.op_type}"
        if self.node_name.endswith(suffix):
            node.scope = current_scope()[:-1] + (self.node_name[: -len(suffix)],)
        for out, spec in zip(outs, self.output_specs):
            out.name = spec[0]
        return outs[0] if len(outs) == 1 else outs

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(op_type=self.op_type, domain=self.domain, attributes=self.attributes, slots=self.slots,
                      weights=self.weight_specs, outputs=self.output_specs, node_name=self.node_name)
        return config
