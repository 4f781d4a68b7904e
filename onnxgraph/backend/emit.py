"""Emit one ONNX node into the IR and type its outputs.

Op helpers pass output shapes when they know them (cheap, and the usual case); otherwise
ONNX's own per-node shape inference types the outputs, and an inference failure is
re-raised naming the op and its input types.
"""

from __future__ import annotations

import numpy as np

from onnxgraph.backend import dtypes
from onnxgraph.backend.ir import Node, SymbolicTensor
from onnxgraph.backend.scope import current_scope

__all__ = ["emit", "as_tensor", "constant", "OPSET"]

OPSET = 21


def constant(value, dtype=None) -> SymbolicTensor:
    """A constant tensor (becomes one shared initializer per distinct value at export)."""
    if dtype is not None:
        array = np.asarray(value, dtype=dtypes.to_numpy(dtype))
    else:
        array = np.asarray(value)
        if array.dtype == np.float64:
            array = array.astype(np.float32)
    return SymbolicTensor(array.shape, array.dtype, kind="constant", const=array)


def as_tensor(x, dtype=None) -> SymbolicTensor:
    """Symbolic tensors pass through; variables give their graph handle; the rest is a constant.

    Python scalars take `dtype` (the other operand's dtype), like Keras's weak typing.
    """
    if isinstance(x, SymbolicTensor):
        return x
    graph_value = getattr(x, "graph_value", None)
    if graph_value is not None:
        return graph_value()
    if dtype is not None and isinstance(x, (bool, int, float)):
        return constant(x, dtype)
    return constant(x)


def emit(op_type: str, inputs, attrs=None, *, outputs: int = 1, shapes=None, dtypes_=None,
         domain: str = "", doc: str | None = None):
    """Emit `op_type` on `inputs` (None = omitted optional input).

    Returns one SymbolicTensor, or a tuple when `outputs` > 1. `shapes`/`dtypes_` give the
    output types; missing ones are inferred with ONNX shape inference.
    """
    inputs = [None if x is None else as_tensor(x) for x in inputs]
    node = Node(op_type, inputs, attrs or {}, domain, current_scope(), doc)
    if shapes is None or dtypes_ is None:
        inferred = _infer(node, outputs)
        shapes = shapes if shapes is not None else [s for s, _ in inferred]
        dtypes_ = dtypes_ if dtypes_ is not None else [d for _, d in inferred]
    node.outputs = [
        SymbolicTensor(shapes[i], dtypes_[i], producer=node, index=i) for i in range(outputs)
    ]
    return node.outputs[0] if outputs == 1 else tuple(node.outputs)


def _infer(node: Node, n_outputs: int):
    import onnx
    from onnx import helper, shape_inference

    names = [f"in{i}" if x is not None else "" for i, x in enumerate(node.inputs)]
    types, data = {}, {}
    for name, x in zip(names, node.inputs):
        if x is None:
            continue
        dims = [d if d is not None else f"unk__{i}" for i, d in enumerate(x.shape)]
        types[name] = helper.make_tensor_type_proto(dtypes.to_onnx(x.dtype), dims)
        if x.kind == "constant" and x.const.size <= 64:
            data[name] = onnx.numpy_helper.from_array(np.asarray(x.const), name)
    proto = helper.make_node(node.op_type, names, [f"out{i}" for i in range(n_outputs)],
                             domain=node.domain, **node.attrs)
    try:
        schema = onnx.defs.get_schema(node.op_type, OPSET, node.domain)
        result = shape_inference.infer_node_outputs(schema, proto, types, data)
    except Exception as exc:  # noqa: BLE001 - re-raised with context
        received = ", ".join(f"{x.dtype}{list(x.shape)}" for x in node.inputs if x is not None)
        raise ValueError(
            f"ONNX {node.op_type} (opset {OPSET}) cannot take inputs ({received}) with attributes "
            f"{node.attrs}: {exc}"
        ) from None
    result_types = []
    for i in range(n_outputs):
        tensor_type = result[f"out{i}"].tensor_type
        if not tensor_type.HasField("shape"):
            raise ValueError(f"ONNX shape inference gave no rank for {node.op_type}; pass shapes=.")
        shape = tuple(d.dim_value if d.HasField("dim_value") else None for d in tensor_type.shape.dim)
        result_types.append((shape, dtypes.from_onnx(tensor_type.elem_type)))
    return result_types
