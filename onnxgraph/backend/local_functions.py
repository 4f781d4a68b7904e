"""Calls of ONNX local functions (FunctionProtos) in the emitted graph.

A node calling a model-local function carries the FunctionProto (and the functions that one
calls) in `Node.functions`; `serialize.to_model_proto` writes each distinct function once
and imports the domains they need. Output types come from ONNX shape inference run on a
one-call model, so a function is typed like any op. Functions are stored in layer configs
as base64 protobuf bytes: ONNX data, checked on the way in, never Python code.
"""

from __future__ import annotations

import base64

import numpy as np
import onnx
from onnx import helper, numpy_helper, shape_inference

from onnxgraph.backend import dtypes
from onnxgraph.backend.emit import OPSET, constant, emit
from onnxgraph.backend.scope import current_options

__all__ = ["call_function", "inline_function", "with_default_opset", "functions_to_data", "functions_from_data"]

# The oldest default-domain opset a function may import: every operator change from 18 to 21
# only added types or optional attributes, so such a function means the same under opset 21.
MIN_FUNCTION_OPSET = 18


def with_default_opset(function: onnx.FunctionProto, opset: int = OPSET) -> onnx.FunctionProto:
    """A copy of `function` importing the model's default-domain opset (checker-compatible)."""
    result = onnx.FunctionProto()
    result.CopyFrom(function)
    for entry in result.opset_import:
        if entry.domain in ("", "ai.onnx") and entry.version != opset:
            if entry.version < MIN_FUNCTION_OPSET:
                raise ValueError(
                    f"ONNX function '{function.name}' uses default-domain opset {entry.version}; onnxgraph "
                    f"models use opset {opset}. Write it with `from onnxscript import opset{opset} as op` "
                    f"(opsets {MIN_FUNCTION_OPSET}-{opset} work)."
                )
            entry.version = opset
    return result


def call_function(functions, inputs, attrs: dict, *, n_outputs: int | None = None):
    """Emit a call of `functions[0]` (the others are functions it calls) on symbolic `inputs`.

    In training graphs (onnxruntime-training has no gradient for a function call) and under
    the `inline_functions` emission option, the body is emitted node by node instead.

    Returns one SymbolicTensor, or a tuple for several outputs.
    """
    function = functions[0]
    options = current_options()
    if options.get("training_graph") or options.get("inline_functions"):
        outputs = inline_function(functions, inputs, attrs)
        return outputs[0] if len(outputs) == 1 else tuple(outputs)
    n_outputs = n_outputs or len(function.output)
    types = _infer_call(functions, inputs, attrs, n_outputs)
    outputs = emit(function.name, inputs, attrs, outputs=n_outputs, shapes=[s for s, _ in types],
                   dtypes_=[d for _, d in types], domain=function.domain)
    first = outputs[0] if isinstance(outputs, tuple) else outputs
    first.producer.functions = tuple(functions)
    return outputs


def inline_function(functions, inputs, attrs: dict) -> list:
    """Emit the body of `functions[0]` on `inputs` (attribute references resolved); returns its outputs."""
    function = functions[0]
    by_key = {(f.domain, f.name): f for f in functions}
    defaults = {a.name: helper.get_attribute_value(a) for a in function.attribute_proto}
    values = {**defaults, **attrs}
    env = {name: x for name, x in zip(function.input, inputs) if name}
    for node in function.node:
        node_attrs = {}
        for attr in node.attribute:
            if attr.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
                raise ValueError(f"ONNX function '{function.name}' has a subgraph ({node.op_type}); it can only be "
                                 "called as a local function, not inlined (as training graphs need).")
            if attr.ref_attr_name:
                if attr.ref_attr_name in values:
                    node_attrs[attr.name] = values[attr.ref_attr_name]
                continue
            node_attrs[attr.name] = helper.get_attribute_value(attr)
        node_attrs = {k: v.decode() if isinstance(v, bytes) else v for k, v in node_attrs.items()}
        node_inputs = [env[name] if name else None for name in node.input]
        callee = by_key.get((node.domain, node.op_type))
        if callee is not None:
            outs = inline_function(functions, node_inputs, node_attrs) if callee is function else \
                inline_function([callee, *functions], node_inputs, node_attrs)
        elif node.op_type == "Constant" and node.domain in ("", "ai.onnx") and not any(
                attr.ref_attr_name for attr in node.attribute):
            # A constant tensor (an initializer), not a node: later ops see its value when typed.
            outs = [_constant_value(node_attrs)]
        elif node.op_type == "CastLike" and node.domain in ("", "ai.onnx"):
            # The target type is known here; Cast has a gradient in onnxruntime-training, CastLike not.
            target = node_inputs[1].dtype
            outs = [emit("Cast", node_inputs[:1], {"to": dtypes.to_onnx(target)}, shapes=[node_inputs[0].shape],
                         dtypes_=[target])]
        else:
            outs = emit(node.op_type, node_inputs, node_attrs, outputs=len(node.output), domain=node.domain)
            outs = list(outs) if isinstance(outs, tuple) else [outs]
        for name, value in zip(node.output, outs):
            if name:
                env[name] = value
    return [env[name] for name in function.output]


def _constant_value(attrs: dict):
    """The value of a Constant node's attribute as a constant tensor."""
    (name, value), = attrs.items()
    if name == "value":
        return constant(numpy_helper.to_array(value))
    kinds = {"value_float": np.float32, "value_floats": np.float32, "value_int": np.int64, "value_ints": np.int64}
    if name in kinds:
        return constant(np.asarray(value, dtype=kinds[name]))
    return constant(np.asarray(value))


def _infer_call(functions, inputs, attrs, n_outputs):
    function = functions[0]
    names = [f"in{i}" for i in range(len(inputs))]
    graph_inputs = [
        helper.make_tensor_value_info(name, dtypes.to_onnx(x.dtype),
                                      [d if d is not None else f"unk_{i}_{k}" for k, d in enumerate(x.shape)])
        for i, (name, x) in enumerate(zip(names, inputs))
    ]
    call = helper.make_node(function.name, names, [f"out{i}" for i in range(n_outputs)], domain=function.domain,
                            **attrs)
    # Identity after each output keeps the call's outputs intermediate, so inference records them.
    tails = [helper.make_node("Identity", [f"out{i}"], [f"y{i}"]) for i in range(n_outputs)]
    graph = helper.make_graph([call, *tails], "infer", graph_inputs,
                              [helper.make_value_info(f"y{i}", onnx.TypeProto()) for i in range(n_outputs)])
    domains = {function.domain: 1}
    for f in functions:
        domains.update({o.domain: o.version for o in f.opset_import if o.domain not in ("", "ai.onnx")})
    model = helper.make_model(graph, functions=list(functions), opset_imports=[
        helper.make_opsetid("", OPSET), *(helper.make_opsetid(d, v) for d, v in domains.items())])
    model.ir_version = 10
    received = ", ".join(f"{x.dtype}{list(x.shape)}" for x in inputs)
    try:
        inferred = shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
    except Exception as exc:  # noqa: BLE001 - re-raised with context
        raise ValueError(f"ONNX function '{function.name}' cannot take inputs ({received}) with attributes "
                         f"{attrs}: {exc}") from None
    found = {v.name: v.type.tensor_type for v in inferred.graph.value_info}
    result = []
    for i in range(n_outputs):
        tensor_type = found.get(f"out{i}")
        if tensor_type is None or not tensor_type.HasField("shape") or not tensor_type.elem_type:
            raise ValueError(f"ONNX shape inference gave no type for output {i} of function '{function.name}' "
                             f"on inputs ({received}).")
        shape = tuple(d.dim_value if d.HasField("dim_value") else None for d in tensor_type.shape.dim)
        result.append((shape, dtypes.from_onnx(tensor_type.elem_type)))
    return result


def functions_to_data(functions) -> list[str]:
    """FunctionProtos as base64 strings (for a layer config)."""
    return [base64.b64encode(f.SerializeToString()).decode("ascii") for f in functions]


def functions_from_data(data) -> list[onnx.FunctionProto]:
    """Parse base64 FunctionProtos from a config, refusing anything that is not plain ONNX data."""
    if not isinstance(data, list) or not data or not all(isinstance(d, str) for d in data):
        raise ValueError("An ONNX function config must be a non-empty list of base64 strings.")
    functions = []
    for text in data:
        function = onnx.FunctionProto()
        try:
            function.ParseFromString(base64.b64decode(text, validate=True))
        except Exception as exc:  # noqa: BLE001 - binascii and protobuf errors
            raise ValueError(f"An ONNX function in the config is not a valid FunctionProto: {exc}") from None
        for node in function.node:
            for attr in node.attribute:
                tensors = ([attr.t] if attr.HasField("t") else []) + list(attr.tensors)
                if any(t.data_location == onnx.TensorProto.EXTERNAL for t in tensors):
                    raise ValueError(f"ONNX function '{function.name}' in the config refers to external data; "
                                     "functions must carry their constants inline.")
        functions.append(function)
    return functions
