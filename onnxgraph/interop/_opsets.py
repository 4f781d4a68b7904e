"""Bring an imported graph of any opset (1 through 21+) to the opset onnxgraph emits, keeping its meaning.

Three tools, in this order:
1. Rewrites before conversion, for ops whose old forms onnx's version converter carries over
   with the wrong meaning or leaves unrunnable: inference-only ops (Dropout, with `is_test` or
   without) become Identity; opset < 7 PRelu's channel-wise slope is reshaped for numpy
   broadcasting, and so is B of an opset < 7 `broadcast=1, axis=k` op (onnx's converter asserts
   on those); BatchNormalization with `spatial=0` (per-activation statistics) is folded into a
   Mul and an Add.
2. onnx's version converter for every other signature change (Pad/Slice/Upsample/Reshape/Split/
   Squeeze/Unsqueeze/ReduceX attributes that became inputs, ...). Constants it creates become
   weights or constants like the model's own initializers.
3. Anything else is refused with the reason.

What happened is reported as `ImportedModel.import_report` and printed by `summary()`.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from onnxgraph.backend.emit import OPSET

__all__ = ["upgrade", "check_importable", "describe"]

# Ops and types an onnxgraph model cannot carry, with the reason given at import.
_TRAINING_DOMAINS = {"ai.onnx.preview.training": "training ops (ai.onnx.preview.training: Gradient, Adagrad...)"}
_SEQUENCE_OPS = {"SequenceConstruct", "SequenceEmpty", "SequenceInsert", "SequenceAt", "SequenceErase",
                 "SequenceLength", "SplitToSequence", "ConcatFromSequence", "SequenceMap"}
_STRING_OPS = {"StringNormalizer", "StringConcat", "StringSplit", "RegexFullMatch", "TfIdfVectorizer"}


def _version(proto: onnx.ModelProto) -> int:
    return next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), OPSET)


def check_importable(proto: onnx.ModelProto, source_name: str) -> None:
    """Refuse, with the reason, graphs that use what onnxgraph models cannot carry."""
    for opset in proto.opset_import:
        if opset.domain in _TRAINING_DOMAINS:
            raise ValueError(f"{source_name} uses {_TRAINING_DOMAINS[opset.domain]}, which are not inference "
                             "ops; onnxgraph imports inference graphs only (it builds training graphs itself).")
        if opset.domain not in ("", "ai.onnx"):
            raise ValueError(
                f"{source_name} uses ops of domain '{opset.domain}', which onnxgraph models cannot carry; "
                "only standard ONNX ops (default domain) can be imported."
            )
    graph = proto.graph
    for value in list(graph.input) + list(graph.output):
        kind = value.type.WhichOneof("value")
        if kind != "tensor_type":
            raise ValueError(f"{source_name}: graph {'input' if value in graph.input else 'output'} "
                             f"'{value.name}' is a {kind.replace('_type', '')}, not a tensor; onnxgraph models "
                             "take and return tensors only (sequences, maps and optionals are not supported).")
        if value.type.tensor_type.elem_type == onnx.TensorProto.STRING:
            raise ValueError(f"{source_name}: '{value.name}' is a string tensor; onnxgraph models compute on "
                             "numeric tensors only.")
    for node in graph.node:
        if node.op_type in _SEQUENCE_OPS:
            raise ValueError(f"{source_name}: node '{node.name or node.output[0]}' ({node.op_type}) builds a "
                             "tensor sequence; onnxgraph models carry tensors only.")
        if node.op_type in _STRING_OPS:
            raise ValueError(f"{source_name}: node '{node.name or node.output[0]}' ({node.op_type}) works on "
                             "strings; onnxgraph models compute on numeric tensors only.")


def upgrade(skeleton: onnx.ModelProto, weights: dict, source_name: str) -> tuple[onnx.ModelProto, dict]:
    """The skeleton at opset `OPSET` (weights as typed graph inputs) and a report of what was done.

    `weights` (initializer name -> numpy array) is updated in place with the arrays rewrites
    and the version converter create.
    """
    version = _version(skeleton)
    report = {"source_opset": version, "opset": OPSET, "rewrites": [], "method": "unchanged"}
    _rewrite_old_forms(skeleton, weights, version, report["rewrites"])
    if version != OPSET:
        from onnx import version_converter

        try:
            skeleton = version_converter.convert_version(skeleton, OPSET)
        except Exception as exc:  # noqa: BLE001 - re-raised with context
            raise ValueError(f"{source_name}: onnx's version converter cannot bring opset {version} to {OPSET} "
                             f"({exc}); re-export the model at opset {OPSET} or convert it with "
                             "onnx.version_converter first.") from None
        _take_initializers(skeleton, weights)
        report["method"] = f"onnx version converter {version} -> {OPSET}"
    if report["rewrites"] and report["method"] == "unchanged":
        report["method"] = "rewritten"
    return skeleton, report


def describe(report: dict | None) -> str:
    """One line for summary(): source opset and how it was brought to onnxgraph's."""
    if not report:
        return ""
    line = f"Imported from ONNX opset {report['source_opset']}"
    if report["method"] == "unchanged":
        return line + " (no conversion needed)."
    line += f"; {report['method']}"
    if report["rewrites"]:
        counts: dict[str, int] = {}
        for what in report["rewrites"]:
            counts[what] = counts.get(what, 0) + 1
        line += "; rewritten: " + ", ".join(f"{n} x {what}" for what, n in counts.items())
    return line + "."


def _take_initializers(skeleton: onnx.ModelProto, weights: dict) -> None:
    """Initializers the converter added (e.g. Pad's pads, Upsample's scales) join the weights."""
    from onnx import numpy_helper

    declared = {v.name for v in skeleton.graph.input}
    for tensor in skeleton.graph.initializer:
        weights[tensor.name] = numpy_helper.to_array(tensor)
        if tensor.name not in declared:
            skeleton.graph.input.append(helper.make_tensor_value_info(tensor.name, tensor.data_type,
                                                                      list(tensor.dims)))
    del skeleton.graph.initializer[:]


def _consumed(graph) -> set:
    used = {o.name for o in graph.output}
    for node in graph.node:
        used.update(n for n in node.input if n)
    return used


def _rewrite_old_forms(skeleton: onnx.ModelProto, weights: dict, version: int, done: list) -> None:
    graph = skeleton.graph
    used = _consumed(graph)
    ranks = _ranks(skeleton) if version < 7 else {}
    added: dict = {}
    nodes = []
    for node in graph.node:
        replacement, label = None, f"{node.op_type} (opset {version})"
        if node.op_type == "Dropout" and node.domain in ("", "ai.onnx"):
            replacement, label = _dropout(node, used), "Dropout -> Identity"
        elif node.op_type == "PRelu" and version < 7:
            replacement = _prelu(node, weights, ranks, added)
        elif node.op_type == "BatchNormalization" and version < 9:
            replacement = _spatial_batch_norm(node, weights, added)
        elif version < 7 and any(a.name == "broadcast" for a in node.attribute):
            replacement, label = _old_broadcast(node, weights, ranks, added), f"{node.op_type} broadcast attribute"
        if replacement is None:
            nodes.append(node)
        else:
            nodes.extend(replacement)
            done.append(label)
    del graph.node[:]
    graph.node.extend(nodes)
    for name, array in added.items():
        weights[name] = array
        graph.input.append(helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(array.dtype),
                                                         list(array.shape)))


def _ranks(skeleton) -> dict:
    try:
        inferred = onnx.shape_inference.infer_shapes(skeleton)
    except Exception:  # noqa: BLE001 - ranks are a hint; without them the default below applies
        return {}
    ranks = {}
    for value in list(inferred.graph.value_info) + list(inferred.graph.input):
        if value.type.tensor_type.HasField("shape"):
            ranks[value.name] = len(value.type.tensor_type.shape.dim)
    return ranks


def _dropout(node, used: set):
    """Inference Dropout is the identity; a Dropout whose mask is read, or in training mode, stays."""
    if len(node.input) > 2 and node.input[2]:
        return None  # opset 12+ with an explicit training_mode input
    if len(node.output) > 1 and node.output[1] and node.output[1] in used:
        return None
    return [helper.make_node("Identity", [node.input[0]], [node.output[0]], name=node.name)]


def _prelu(node, weights: dict, ranks: dict, added: dict):
    """Opset < 7 PRelu applies a 1-D slope per channel (axis 1); numpy broadcasting needs (C, 1, ...)."""
    slope = weights.get(node.input[1])
    rank = ranks.get(node.input[0])
    if slope is None or slope.ndim != 1 or slope.size == 1 or rank is None or rank < 3:
        return None
    name = f"{node.input[1]}__per_channel"
    added[name] = slope.reshape((slope.size,) + (1,) * (rank - 2))
    return [_replace_input(node, 1, name)]


def _spatial_batch_norm(node, weights: dict, added: dict):
    """BatchNormalization(spatial=0): statistics per activation, folded into Mul + Add (inference)."""
    spatial = next((a.i for a in node.attribute if a.name == "spatial"), 1)
    names = list(node.input[1:5])
    if spatial != 0 or len(names) != 4 or not all(n in weights for n in names):
        return None
    scale, bias, mean, var = (weights[n].astype(np.float64) for n in names)
    eps = next((a.f for a in node.attribute if a.name == "epsilon"), 1e-5)
    k = scale / np.sqrt(var + eps)
    dtype = weights[names[0]].dtype
    k_name, b_name, scaled = f"{names[0]}__folded_scale", f"{names[1]}__folded_bias", f"{node.output[0]}__scaled"
    added[k_name] = k.astype(dtype)
    added[b_name] = (bias - mean * k).astype(dtype)
    return [helper.make_node("Mul", [node.input[0], k_name], [scaled], name=f"{node.name}_mul"),
            helper.make_node("Add", [scaled, b_name], [node.output[0]], name=node.name)]


def _old_broadcast(node, weights: dict, ranks: dict, added: dict):
    """Opset < 7 `broadcast=1, axis=k` aligns B at axis k of A; numpy broadcasting aligns trailing axes.

    B gets trailing 1s (a reshaped weight, or an Unsqueeze) and the attributes go, so the
    converter sees numpy broadcasting. Without `axis`, old broadcasting already was trailing.
    """
    axis = next((a.i for a in node.attribute if a.name == "axis"), None)
    clone = onnx.NodeProto()
    clone.CopyFrom(node)
    del clone.attribute[:]
    clone.attribute.extend(a for a in node.attribute if a.name not in ("broadcast", "axis"))
    if node.op_type == "Gemm" or axis is None:
        return [clone]
    a, b = node.input[0], node.input[1]
    if a not in ranks or (b not in ranks and b not in weights):
        return None
    rank_b = weights[b].ndim if b in weights else ranks[b]
    trailing = ranks[a] - (axis % ranks[a]) - rank_b
    if trailing <= 0:
        return [clone]
    if b in weights:
        name = f"{b}__aligned_{node.output[0]}"
        added[name] = weights[b].reshape(weights[b].shape + (1,) * trailing)
        clone.input[1] = name
        return [clone]
    aligned = f"{b}__aligned_{node.output[0]}"
    clone.input[1] = aligned
    return [helper.make_node("Unsqueeze", [b], [aligned], axes=list(range(rank_b, rank_b + trailing))), clone]


def _replace_input(node, index: int, name: str):
    clone = onnx.NodeProto()
    clone.CopyFrom(node)
    clone.input[index] = name
    return clone
