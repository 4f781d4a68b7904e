"""model.summary(): a Keras 3 style table (Layer (type), Output Shape, Param #, Connected to)."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["print_summary", "readable_memory_size"]


def readable_memory_size(size: float) -> str:
    """Keras's formatting: 220200 bytes -> '215.04 KB'."""
    for unit in ["B", "KB", "MB", "GB", "TB", "PB"]:
        if size / 1024 < 1:
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} PB"


def _count(weights) -> tuple[int, int]:
    n = sum(math.prod(w.shape) for w in weights)
    size = sum(math.prod(w.shape) * np.dtype(w.value.dtype).itemsize for w in weights)
    return n, size


def _is_sequential_like(model) -> bool:
    if type(model).__name__ == "Sequential" or not getattr(model, "_functional", False):
        return True
    nodes = []
    for depth_nodes in model._nodes_by_depth.values():
        if len(depth_nodes) > 1 or (len(depth_nodes) == 1 and len(depth_nodes[0].input_tensors) > 1):
            return False
        nodes += depth_nodes
    node_ids = {id(n) for n in nodes}
    for layer in model.layers:
        if sum(1 for n in layer._inbound_nodes if id(n) in node_ids) > 1:
            return False
    return True


def _model_nodes(model, layer):
    if not getattr(model, "_functional", False):
        return layer._inbound_nodes[:1]
    ids = {id(n) for nodes in model._nodes_by_depth.values() for n in nodes}
    return [n for n in layer._inbound_nodes if id(n) in ids]


def _shape_text(model, layer) -> str:
    nodes = _model_nodes(model, layer)
    if not nodes:
        return "?" if not layer._inbound_nodes else str(layer._inbound_nodes[0].output_tensors[0].shape)
    shapes = {tuple(t.shape for t in n.output_tensors) for n in nodes}
    if len(shapes) > 1:
        return "multiple"
    shapes = next(iter(shapes))
    return str(shapes[0]) if len(shapes) == 1 else ", ".join(str(s) for s in shapes)


def _connections(model, layer) -> str:
    parts = []
    for node in _model_nodes(model, layer):
        for t in node.input_tensors:
            inbound, node_index, tensor_index = t._keras_history
            relative = _model_nodes(model, inbound)
            index = next((i for i, n in enumerate(relative) if n is inbound._inbound_nodes[node_index]), node_index)
            parts.append(f"{inbound.name}[{index}][{tensor_index}]")
    return ", ".join(parts) or "-"


def _rows(model, with_connections, show_trainable, expand_nested, indent=""):
    rows = []
    layers = model.layers
    if type(model).__name__ == "Sequential":
        layers = [layer for layer in layers if type(layer).__name__ != "InputLayer"]
    for layer in layers:
        params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
        row = [f"{indent}{layer.name} ({_type_name(layer)})", _shape_text(model, layer), params]
        if with_connections:
            row.append(_connections(model, layer))
        if show_trainable:
            row.append("Y" if layer.trainable else "N")
        rows.append(row)
        if expand_nested and hasattr(layer, "layers") and hasattr(layer, "_functional"):
            rows += _rows(layer, with_connections and not _is_sequential_like(layer), show_trainable,
                          True, indent + " └ ")
    return rows


def _type_name(layer) -> str:
    if hasattr(layer, "_summary_type"):  # op-layers show their operation, as Keras 3 does
        return layer._summary_type()
    name = type(layer).__name__
    return "Functional" if name == "Model" and getattr(layer, "_functional", False) else name


def _table(headers, rows, right_align) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def cell(text, i):
        return f" {text.rjust(widths[i]) if i in right_align else text.ljust(widths[i])} "

    def rule(left, mid, right, fill):
        return left + mid.join(fill * (w + 2) for w in widths) + right

    lines = [rule("┏", "┳", "┓", "━"),
             "┃" + "┃".join(cell(h, i) for i, h in enumerate(headers)) + "┃",
             rule("┡", "╇", "┩", "━")]
    for k, row in enumerate(rows):
        lines.append("│" + "│".join(cell(c, i) for i, c in enumerate(row)) + "│")
        if k + 1 < len(rows):
            lines.append(rule("├", "┼", "┤", "─"))
    lines.append(rule("└", "┴", "┘", "─"))
    return lines


def print_summary(model, line_length=None, print_fn=None, expand_nested=False, show_trainable=False):
    print_fn = print_fn or print
    if not model.built and not (type(model).__name__ == "Sequential" and model.layers):
        # Keras prints an unbuilt Sequential's layers ("?" shapes, "0 (unbuilt)"); other models need a call.
        raise ValueError(
            f"Model '{model.name}' has not been built yet: call it on data (or build it) before summary()."
        )
    with_connections = not _is_sequential_like(model)
    headers = ["Layer (type)", "Output Shape", "Param #"]
    if with_connections:
        headers.append("Connected to")
    if show_trainable:
        headers.append("Traina…")
    lines = [f'Model: "{model.name}"']
    lines += _table(headers, _rows(model, with_connections, show_trainable, expand_nested), right_align={2})
    total, total_bytes = _count(model.weights)
    trainable, trainable_bytes = _count(model.trainable_weights)
    lines.append(f" Total params: {total:,} ({readable_memory_size(total_bytes)})")
    lines.append(f" Trainable params: {trainable:,} ({readable_memory_size(trainable_bytes)})")
    lines.append(f" Non-trainable params: {total - trainable:,} ({readable_memory_size(total_bytes - trainable_bytes)})")
    print_fn("\n".join(lines))
