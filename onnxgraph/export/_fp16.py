"""float32 -> float16 conversion driven by each op's ONNX schema.

Every float32 value becomes float16 where the consuming op slot accepts float16; slots
that only take float32 (e.g. Resize `scales`) and ops kept in float32 get a Cast in front.
Graph inputs and outputs stay float32 by default (a Cast after each input, before each
output), so callers feed and read the same arrays as before. Weights are rounded once, at
conversion, with values beyond the float16 range clipped to +-65504.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

__all__ = ["convert_float16", "KEEP_FLOAT32_OPS"]

FLOAT, HALF = TensorProto.FLOAT, TensorProto.FLOAT16

# Ops whose results lose meaning in float16 (index/count arithmetic, sorting by score).
KEEP_FLOAT32_OPS = ("Range", "CumSum", "NonMaxSuppression", "RoiAlign", "TopK")

# Ops whose output dtype comes from an attribute rather than from an input.
_DTYPE_ATTRS = {"Cast": "to", "RandomNormal": "dtype", "RandomUniform": "dtype", "EyeLike": "dtype",
                "RandomNormalLike": "dtype", "RandomUniformLike": "dtype", "Bernoulli": "dtype"}


def _half_array(array: np.ndarray) -> np.ndarray:
    finite = np.isfinite(array)
    clipped = np.where(finite, np.clip(array, -65504.0, 65504.0), array)
    return clipped.astype(np.float16)


def _half_tensor(tensor: onnx.TensorProto) -> onnx.TensorProto:
    return numpy_helper.from_array(_half_array(numpy_helper.to_array(tensor)), tensor.name)


def _slot_types(node, opset: int):
    """Per input slot and per output slot: the allowed type strings (None if unknown)."""
    if node.domain not in ("", "ai.onnx") or not onnx.defs.has(node.op_type, opset):
        return None, None
    schema = onnx.defs.get_schema(node.op_type, opset)
    constraints = {c.type_param_str: set(c.allowed_type_strs) for c in schema.type_constraints}

    def allowed(formals, i):
        if not formals:
            return set()
        formal = formals[min(i, len(formals) - 1)]  # variadic last parameter repeats
        return constraints.get(formal.type_str, {formal.type_str})

    return ([allowed(schema.inputs, i) for i in range(len(node.input))],
            [allowed(schema.outputs, i) for i in range(len(node.output))])


def convert_float16(proto: onnx.ModelProto, keep_io_types: bool = True,
                    keep_ops: tuple = KEEP_FLOAT32_OPS) -> onnx.ModelProto:
    """A float16 copy of `proto`.

    Args:
        proto: a flat model (no local functions, no subgraphs).
        keep_io_types: keep float32 graph inputs and outputs (Casts at the edges).
        keep_ops: op types computed in float32 (Casts around them).

    Returns:
        The converted ModelProto; it passes the ONNX checker.

    Example:
        >>> half = convert_float16(model.to_onnx())
    """
    if proto.functions or any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
                              for n in proto.graph.node for a in n.attribute):
        raise ValueError("float16 conversion needs a flat graph without local functions or subgraphs "
                         "(If/Loop/Scan); export the model saved without layer_functions.")
    from onnxgraph.export._opset import model_opset
    from onnxgraph.export._skeleton import skeleton

    opset = model_opset(proto)
    model = onnx.ModelProto()
    model.CopyFrom(proto)
    graph = model.graph
    inferred = onnx.shape_inference.infer_shapes(skeleton(model))
    types = {v.name: v.type.tensor_type.elem_type for v in
             list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output)}
    types.update({t.name: t.data_type for t in graph.initializer})

    # 1. Which slots want float16, and which node outputs become float16.
    wants, half_values = {}, set()
    for index, node in enumerate(graph.node):
        ins, outs = _slot_types(node, opset)
        keep = node.op_type in keep_ops or ins is None
        wants[index] = [not keep and types.get(n) == FLOAT and "tensor(float16)" in ins[i]
                        for i, n in enumerate(node.input)]
        for i, name in enumerate(node.output):
            if keep or types.get(name) != FLOAT:
                continue
            if "tensor(float16)" in outs[i]:
                half_values.add(name)
        _convert_attributes(node, keep)

    # 2. Initializers: float16 unless every reader wants float32 (then a float32 copy stays).
    readers: dict[str, list[bool]] = {}
    for index, node in enumerate(graph.node):
        for i, name in enumerate(node.input):
            readers.setdefault(name, []).append(wants[index][i])
    new_inits = []
    for tensor in graph.initializer:
        flags = readers.get(tensor.name, [])
        if tensor.data_type != FLOAT or not any(flags):
            new_inits.append(tensor)
            continue
        new_inits.append(_half_tensor(tensor))
        half_values.add(tensor.name)
        if not all(flags):
            copy = onnx.TensorProto()
            copy.CopyFrom(tensor)
            copy.name = f"{tensor.name}/float32"
            new_inits.append(copy)
    del graph.initializer[:]
    graph.initializer.extend(new_inits)
    float32_copies = {t.name[: -len("/float32")] for t in new_inits if t.name.endswith("/float32")}

    # 3. Graph inputs: float16 at the edge, or float32 with a Cast inside.
    casts, new_nodes = {}, []
    for value in graph.input:
        if value.type.tensor_type.elem_type == FLOAT and not keep_io_types:
            value.type.tensor_type.elem_type = HALF
            half_values.add(value.name)

    def cast(name: str, to_half: bool) -> str:
        if name in float32_copies and not to_half:
            return f"{name}/float32"
        key = (name, to_half)
        if key not in casts:
            casts[key] = f"{name}/cast_{'float16' if to_half else 'float32'}"
            new_nodes.append(helper.make_node("Cast", [name], [casts[key]], name=casts[key],
                                              to=HALF if to_half else FLOAT))
        return casts[key]

    # 4. Cast where a value's type differs from what its reader wants.
    for index, node in enumerate(graph.node):
        for i, name in enumerate(node.input):
            if not name or types.get(name) != FLOAT and name not in half_values:
                continue
            is_half = name in half_values
            if wants[index][i] != is_half:
                node.input[i] = cast(name, wants[index][i])
        new_nodes.append(node)

    # 5. Graph outputs: keep float32 with a final Cast, or declare float16.
    for value in graph.output:
        if value.name not in half_values:
            continue
        if keep_io_types:
            inner = f"{value.name}/float16"
            _rename_value(new_nodes, value.name, inner)
            new_nodes.append(helper.make_node("Cast", [inner], [value.name], name=f"{value.name}/cast_float32",
                                              to=FLOAT))
        else:
            value.type.tensor_type.elem_type = HALF
    del graph.node[:]
    graph.node.extend(new_nodes)
    del graph.value_info[:]
    # Strict inference and the checker on the weightless skeleton: same types, any model size.
    checked = onnx.shape_inference.infer_shapes(skeleton(model), strict_mode=True)
    onnx.checker.check_model(checked, full_check=True)
    weights = {t.name for t in graph.initializer}
    graph.value_info.extend(v for v in checked.graph.value_info if v.name not in weights)
    return model



def _convert_attributes(node, keep: bool) -> None:
    if keep:
        return
    attr_name = _DTYPE_ATTRS.get(node.op_type)
    for attr in node.attribute:
        if attr.name == attr_name and attr.i == FLOAT:
            attr.i = HALF
        if node.op_type in ("Constant", "ConstantOfShape") and attr.type == onnx.AttributeProto.TENSOR \
                and attr.t.data_type == FLOAT:
            attr.t.CopyFrom(_half_tensor(attr.t))


def _rename_value(nodes, old: str, new: str) -> None:
    for node in nodes:
        node.output[:] = [new if n == old else n for n in node.output]
        node.input[:] = [new if n == old else n for n in node.input]
