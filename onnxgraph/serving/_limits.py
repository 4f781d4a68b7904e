"""What values a model's inputs can take, read from its graph, so bad requests get 400, not 500.

- Index ranges: a graph input used as the indices of a Gather on a weight table (Embedding)
  must hold integers inside the table ([0, n) for onnxgraph models, as in Keras; [-n, n) for
  other files, ONNX's rule). Negative ids would silently read from the end of the table.
- Spatial minimums: a free (None) image dimension that reaches a Conv or a pool must be at least
  as large as the kernel window needs (through strides, padding, dilations and earlier layers).
"""

from __future__ import annotations

import numpy as np

from onnxgraph.serving._graph_facts import GraphFacts

__all__ = ["InputLimits", "read_limits", "probe_inputs"]

_PASS = {"Identity", "Cast", "Relu", "LeakyRelu", "Sigmoid", "Tanh", "BatchNormalization", "Dropout", "Clip",
         "Elu", "Selu", "HardSigmoid", "Softplus", "Add", "Sub", "Mul", "Div", "Pad", "InstanceNormalization"}
_WINDOW = {"Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool", "ConvInteger", "QLinearConv"}
_MAX_SIZE = 2**31 - 1


class InputLimits:
    """Per input: allowed id range (lo, hi, layer) and minimum size per axis."""

    def __init__(self):
        self.ranges: dict[str, tuple[int, int, str]] = {}
        self.minimums: dict[str, dict[int, int]] = {}

    def check(self, feeds: dict) -> None:
        """Raise ValueError (a 400 for the client) naming the input and the allowed values."""
        for name, (lo, hi, node) in self.ranges.items():
            array = feeds.get(name)
            if array is None or array.size == 0:
                continue
            low, high = array.min().item(), array.max().item()
            if not (low >= lo and high < hi):  # NaN fails both comparisons
                bad = low if not low >= lo else high
                raise ValueError(f"Input '{name}' holds ids for '{node}', which has {hi} rows: ids must be in "
                                 f"[{lo}, {hi}), received {bad!r} (values from {low!r} to {high!r}).")
        for name, axes in self.minimums.items():
            array = feeds.get(name)
            if array is None:
                continue
            for axis, least in axes.items():
                if axis < array.ndim and array.shape[axis] < least:
                    raise ValueError(f"Input '{name}' is too small along axis {axis}: size {array.shape[axis]}, "
                                     f"but the model's convolution/pooling windows need at least {least} "
                                     f"(received shape {array.shape}).")

    def to_json(self) -> dict:
        return {"index_ranges": {k: [lo, hi] for k, (lo, hi, _) in self.ranges.items()},
                "min_sizes": {k: {str(a): m for a, m in v.items()} for k, v in self.minimums.items()}}


def read_limits(proto, keras_ids: bool) -> InputLimits:
    """The limits of `proto`'s inputs (`keras_ids`: ids start at 0, as in Keras's Embedding)."""
    limits = InputLimits()
    try:
        facts = GraphFacts(proto)
    except Exception:  # noqa: BLE001 - a graph shape inference cannot read: no extra checks
        return limits
    _index_ranges(facts, limits, keras_ids)
    _spatial_minimums(facts, limits)
    return limits


def _index_ranges(facts, limits, keras_ids: bool) -> None:
    source = {name: name for name in facts.graph_inputs}
    for node in facts.graph.node:
        if node.op_type in ("Cast", "Identity", "Squeeze", "Unsqueeze", "Transpose", "Reshape", "Flatten") \
                and node.input and node.input[0] in source:
            source[node.output[0]] = source[node.input[0]]
        if node.op_type != "Gather" or len(node.input) < 2 or node.input[1] not in source:
            continue
        axis = facts.attr(node, "axis", 0)
        size = facts.dim(node.input[0], axis if axis >= 0 else axis + (facts.rank(node.input[0]) or 0))
        if node.input[0] in source or size is None:
            continue
        name = source[node.input[1]]
        lo, hi = (0 if keras_ids else -size), size
        label = node.name.split("/")[0] if keras_ids and node.name else (node.name or node.output[0])
        if name in limits.ranges:  # used by several tables: the tightest range holds for all
            old = limits.ranges[name]
            lo, hi, label = max(lo, old[0]), min(hi, old[1]), old[2] if old[1] <= hi else label
        limits.ranges[name] = (lo, hi, label)


def _spatial_minimums(facts, limits) -> None:
    """Follow free image axes of each input to Conv/pool windows; the least size passing all of them."""
    # value -> {axis of this value: (input name, input axis, chain of window steps)}
    tracked: dict[str, dict[int, tuple]] = {}
    for name in facts.graph_inputs:
        shape = facts.shapes.get(name)
        if shape:
            tracked[name] = {a: (name, a, ()) for a in range(1, len(shape)) if shape[a] is None}
    needs: dict[tuple, list] = {}
    for node in facts.graph.node:
        if not node.input or node.input[0] not in tracked:
            continue
        axes = tracked[node.input[0]]
        op = node.op_type
        if op == "Transpose":
            perm = facts.attr(node, "perm", None)
            if perm is not None:
                tracked[node.output[0]] = {perm.index(a): v for a, v in axes.items() if a in perm}
        elif op in _PASS:
            if op == "Pad" or any(facts.rank(i) not in (None, 0, 1) for i in node.input[1:] if i):
                continue  # a padded or broadcast value: stop following (never wrongly refuse)
            tracked[node.output[0]] = dict(axes)
        elif op in _WINDOW:
            step_axes = _window(node, facts)
            if step_axes is None:
                continue
            out = {}
            for a, (src, src_axis, chain) in axes.items():
                if a >= 2 and a - 2 < len(step_axes):
                    new_chain = chain + (step_axes[a - 2],)
                    needs.setdefault((src, src_axis), []).append(new_chain)
                    out[a] = (src, src_axis, new_chain)
            tracked[node.output[0]] = out
    for (src, axis), chains in needs.items():
        least = _least(chains)
        if least > 1:
            limits.minimums.setdefault(src, {})[axis] = least


def _window(node, facts):
    """Per spatial axis (kernel, stride, dilation, pads, same, ceil) of a Conv/pool node."""
    if node.op_type in ("Conv", "ConvTranspose", "ConvInteger"):
        weight = facts.shapes.get(node.input[1])
        if weight is None or any(d is None for d in weight):
            return None
        kernel = list(weight[2:])
    elif node.op_type == "QLinearConv":
        return None
    else:
        kernel = facts.attr(node, "kernel_shape", None)
        if kernel is None:
            return None
    n = len(kernel)
    strides = facts.attr(node, "strides", [1] * n)
    dilations = facts.attr(node, "dilations", [1] * n)
    pads = facts.attr(node, "pads", [0] * 2 * n)
    auto_pad = facts.attr(node, "auto_pad", b"NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
    same = auto_pad in ("SAME_UPPER", "SAME_LOWER")
    if auto_pad == "VALID":
        pads = [0] * 2 * n
    ceil = bool(facts.attr(node, "ceil_mode", 0))
    transpose = node.op_type == "ConvTranspose"
    return [(kernel[i], strides[i], dilations[i], pads[i] + pads[i + n], same, ceil, transpose) for i in range(n)]


def _apply(size: int, step) -> int:
    kernel, stride, dilation, pads, same, ceil, transpose = step
    if transpose:
        return max(0, (size - 1) * stride + dilation * (kernel - 1) + 1 - pads) if size > 0 else 0
    if same:
        return -(-size // stride)
    span = size + pads - dilation * (kernel - 1) - 1
    if span < 0:
        return 0
    return (-(-span // stride) if ceil else span // stride) + 1


def _passes(size: int, chains) -> bool:
    for chain in chains:
        value = size
        for step in chain:
            value = _apply(value, step)
            if value < 1:
                return False
    return True


def _least(chains) -> int:
    """The least size passing every chain (each step is monotone, so a binary search finds it)."""
    if _passes(1, chains):
        return 1
    lo, hi = 1, 2
    while not _passes(hi, chains):
        lo, hi = hi, hi * 2
        if hi > _MAX_SIZE:
            return _MAX_SIZE
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if _passes(mid, chains) else (mid, hi)
    return hi


def probe_inputs(signatures, limits: InputLimits, rows: int, seed: int) -> dict:
    """Random inputs the model can take: ids inside their ranges, free axes at least their minimums."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for sig in signatures:
        least = limits.minimums.get(sig.name, {})
        shape = [rows] + [d if d is not None else max(least.get(a, 1), 4) for a, d in enumerate(sig.shape[1:], 1)]
        if sig.name in limits.ranges:
            lo, hi, _ = limits.ranges[sig.name]
            value = rng.integers(max(lo, 0), max(hi, 1), size=shape)
        elif sig.np_dtype.kind == "b":
            value = rng.integers(0, 2, size=shape).astype(bool)
        elif sig.np_dtype.kind in "iu":
            value = rng.integers(0, 2, size=shape)
        else:
            value = rng.standard_normal(shape)
        feeds[sig.name] = np.ascontiguousarray(value.astype(sig.np_dtype))
    return feeds
