"""Opset targets: check op availability first, then convert with onnx's version converter."""

from __future__ import annotations

import onnx
from onnx import helper

__all__ = ["convert_to_opset", "missing_ops", "model_opset", "ir_version_for"]


def model_opset(proto: onnx.ModelProto) -> int:
    """The default-domain opset a model imports."""
    return next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 0)


def _introduced(op_type: str) -> int | None:
    """The first opset that has `op_type` (None if unknown to this onnx)."""
    for version in range(1, onnx.defs.onnx_opset_version() + 1):
        if onnx.defs.has(op_type, version):
            return version
    return None


def missing_ops(proto: onnx.ModelProto, target_opset: int) -> dict[str, int | None]:
    """Default-domain ops of `proto` that do not exist in `target_opset`: {op: first opset}."""
    ops = {n.op_type for n in proto.graph.node if n.domain in ("", "ai.onnx")}
    for function in proto.functions:
        ops |= {n.op_type for n in function.node if n.domain in ("", "ai.onnx")}
    return {op: _introduced(op) for op in sorted(ops) if not onnx.defs.has(op, target_opset)}


def convert_to_opset(proto: onnx.ModelProto, target_opset: int) -> onnx.ModelProto:
    """`proto` converted to `target_opset`, with the lowest IR version that opset needs.

    Raises a ValueError listing the ops that do not exist in the target opset (and the opset
    that introduced each) before trying any conversion.

    Example:
        >>> converted = convert_to_opset(model.to_onnx(), 17)
    """
    latest = onnx.defs.onnx_opset_version()
    if not 1 <= target_opset <= latest:
        raise ValueError(f"target_opset must be between 1 and {latest} (this onnx), got {target_opset}.")
    missing = missing_ops(proto, target_opset)
    if missing:
        listed = ", ".join(f"{op} (from opset {v})" if v else f"{op} (unknown to onnx)" for op, v in missing.items())
        raise ValueError(
            f"The model cannot be exported to opset {target_opset}: these ops do not exist there: {listed}. "
            f"Pick target_opset >= {max(v or 0 for v in missing.values())}, or replace the layers that use them."
        )
    if proto.functions:
        raise ValueError("Opset conversion needs a flat model; export the file saved without layer_functions.")
    source = model_opset(proto)
    if target_opset == source:
        return proto
    from onnx import version_converter

    from onnxgraph.export._skeleton import restore, skeleton

    try:
        converted = restore(version_converter.convert_version(skeleton(proto), target_opset), proto)
    except Exception as exc:  # noqa: BLE001 - falls back to a checked relabel
        converted = _relabel(proto, target_opset, str(exc).splitlines()[-1])
    converted.ir_version = ir_version_for(converted)
    onnx.checker.check_model(skeleton(converted), full_check=True)
    return converted


def ir_version_for(proto: onnx.ModelProto) -> int:
    """The oldest IR version that can carry the model's opsets, and at least 4 (IR 3 files must
    list every initializer as a graph input, which onnxgraph graphs do not)."""
    try:
        return max(helper.find_min_ir_version_for(list(proto.opset_import)), 4)
    except ValueError:  # opsets older than onnx's version table
        return 4


def _same_semantics(node, target_opset: int) -> bool:
    """Whether an op's meaning is the same in `target_opset` given its attributes and inputs."""
    if node.op_type in ("Softmax", "LogSoftmax", "Hardmax") and target_opset < 13:
        # Before opset 13 these flatten to 2D around `axis`: the same only on the last axis.
        axis = next((a.i for a in node.attribute if a.name == "axis"), -1)
        return axis == -1
    return node.op_type not in ("GridSample",)  # opset 20 renamed its modes


# Ops whose `axes` moved from an attribute to an input, and the opset where it moved.
_AXES_INPUT_SINCE = {"Squeeze": 13, "Unsqueeze": 13, "ReduceSum": 13, **{
    op: 18 for op in ("ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
                      "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare")}}


def _axes_to_attributes(model: onnx.ModelProto, target_opset: int) -> None:
    """Below the opset where `axes` became an input, a constant axes input becomes the attribute."""
    from onnx import numpy_helper

    constants = {t.name: t for t in model.graph.initializer}
    for node in model.graph.node:
        since = _AXES_INPUT_SINCE.get(node.op_type)
        if since is None or target_opset >= since or len(node.input) < 2 or node.input[1] not in constants:
            continue
        axes = [int(a) for a in numpy_helper.to_array(constants[node.input[1]]).ravel()]
        del node.input[1:]
        kept = [a for a in node.attribute if not (a.name == "noop_with_empty_axes" and a.i == 0)]
        del node.attribute[:]
        node.attribute.extend(kept)
        node.attribute.append(helper.make_attribute("axes", axes))
    used = {name for node in model.graph.node for name in node.input}
    unused = [t for t in model.graph.initializer if t.name not in used]
    for tensor in unused:
        model.graph.initializer.remove(tensor)


def _relabel(proto: onnx.ModelProto, target_opset: int, reason: str) -> onnx.ModelProto:
    """onnx's converter has no down-adapter for ops whose newer versions only added types
    (Add 14 -> 13, Relu 14 -> 13, ...). Relabel the opset (moving constant `axes` inputs back to
    attributes) and let the checker and strict shape inference verify every node against the
    older schema; refuse ops whose meaning changed."""
    if target_opset < 7:
        raise ValueError(f"Cannot convert to opset {target_opset}: onnx's version converter failed ({reason}), "
                         "and before opset 7 elementwise ops broadcast differently. Use target_opset >= 7.")
    changed = [n for n in proto.graph.node if not _same_semantics(n, target_opset)]
    if changed:
        raise ValueError(
            f"Cannot convert to opset {target_opset}: onnx's version converter failed ({reason}), and "
            f"{sorted({n.op_type for n in changed})} mean something else in that opset. Pick a newer opset."
        )
    converted = onnx.ModelProto()
    converted.CopyFrom(proto)
    for opset in converted.opset_import:
        if opset.domain in ("", "ai.onnx"):
            opset.version = target_opset
    _axes_to_attributes(converted, target_opset)
    converted.ir_version = ir_version_for(converted)
    from onnxgraph.export._skeleton import skeleton

    try:
        onnx.checker.check_model(skeleton(converted), full_check=True)
    except Exception as exc:  # noqa: BLE001 - re-raised with context
        raise ValueError(
            f"Cannot convert to opset {target_opset}: onnx's version converter failed ({reason}), and the "
            f"nodes do not validate against opset {target_opset}: {str(exc).splitlines()[0]}"
        ) from None
    return converted
