"""Is a model row-independent along the batch axis? Proven from the graph, then checked by a probe.

Dynamic batching stacks the rows of different clients into one run and hands each its slice of
the outputs. That is only correct when output row i depends on input row i alone: a model
computing `x - mean(x, axis=0)` would mix clients (and reveal one client's inputs to another).

`prove_rowwise` follows the batch axis from every graph input through the nodes (dataflow over
"which axis of this value is the batch axis, if any"), accepting only ops whose semantics keep
rows apart along that axis: elementwise ops with batch-free operands, MatMul/Gemm on a batch
that is not contracted, convolutions and pools over axis 0, normalizations over other axes,
reductions, softmax, transposes, reshapes and slices that leave the batch axis alone, recurrent
layers over their batch axis. Anything else (a reduction over the batch, a shape computed from
the batch size, control flow, random ops, local functions, ops it does not know) makes the proof
fail with the node named. `_probe.probe_rowwise` then runs stacked and separate requests on random
inputs and compares, so an analysis bug cannot silently mix clients.
"""

from __future__ import annotations

import numpy as np

from onnxgraph.serving._graph_facts import GraphFacts

__all__ = ["prove_rowwise"]

_ELEMENTWISE = {
    "Abs", "Acos", "Acosh", "Add", "And", "Asin", "Asinh", "Atan", "Atanh", "BitwiseAnd", "BitwiseNot",
    "BitwiseOr", "BitwiseXor", "Cast", "CastLike", "Ceil", "Celu", "Clip", "Cos", "Cosh", "Div", "Elu",
    "Equal", "Erf", "Exp", "Floor", "Gelu", "Greater", "GreaterOrEqual", "HardSigmoid", "HardSwish",
    "Identity", "IsInf", "IsNaN", "LeakyRelu", "Less", "LessOrEqual", "Log", "Max", "Mean", "Min", "Mish",
    "Mod", "Mul", "Neg", "Not", "Or", "Pow", "PRelu", "Reciprocal", "Relu", "Round", "Selu", "Shrink",
    "Sigmoid", "Sign", "Sin", "Sinh", "Softplus", "Softsign", "Sqrt", "Sub", "Sum", "Tan", "Tanh",
    "ThresholdedRelu", "Where", "Xor", "Dropout",
}
_OVER_N = {"Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool", "GlobalAveragePool", "GlobalMaxPool",
           "GlobalLpPool", "InstanceNormalization", "LRN", "DepthToSpace", "SpaceToDepth", "ConvInteger",
           "QLinearConv"}
_REDUCE = {"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
           "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"}
_ONE_AXIS = {"Softmax", "LogSoftmax", "Hardmax", "CumSum", "ArgMax", "ArgMin", "TopK", "Split",
             "LpNormalization"}


class _Unproven(Exception):
    pass


def prove_rowwise(proto) -> tuple[bool, str]:
    """(True, why) when every output row depends only on the same row of the inputs."""
    try:
        facts = GraphFacts(proto)
    except Exception as exc:  # noqa: BLE001 - a graph shape inference cannot follow is not proven
        return False, f"the graph could not be analysed ({type(exc).__name__}: {exc})"
    if facts.functions:
        return False, "the graph calls local functions, which the analysis does not follow"
    axis: dict[str, int | None] = {}  # value name -> batch axis (None: the value does not depend on rows)
    for name in facts.graph_inputs:
        axis[name] = 0
    try:
        for node in facts.graph.node:
            _step(node, axis, facts)
        for out in facts.graph.output:
            got = axis.get(out.name, "missing")
            if got != 0:
                raise _Unproven(f"output '{out.name}' does not keep the batch on axis 0")
    except _Unproven as exc:
        return False, str(exc)
    return True, "every node keeps rows apart along the batch axis"


def _step(node, axis: dict, facts: GraphFacts) -> None:
    ins = [axis.get(name) if name else None for name in node.input]
    for name in node.input:
        if name and name in facts.tainted:
            raise _Unproven(_where(node, f"it reads '{name}', a value computed from the batch size"))
    batched = [a for a in ins if a is not None]
    op = node.op_type
    if node.domain not in ("", "ai.onnx"):
        raise _Unproven(_where(node, f"its domain '{node.domain}' is not analysed"))
    if any(attr.g.node or attr.graphs for attr in node.attribute):
        raise _Unproven(_where(node, "it has subgraphs (control flow)"))
    if not batched:
        if op.startswith("Random") or op in ("Multinomial", "Bernoulli"):
            raise _Unproven(_where(node, "it draws random numbers"))
        for out in node.output:
            axis[out] = None
        return
    if op == "Shape":
        rank = facts.rank(node.input[0])
        start, end = facts.attr(node, "start", 0), facts.attr(node, "end", None)
        if rank is not None:  # the sizes of axes [start, end): batch-free unless the batch axis is among them
            start = max(0, start + rank if start < 0 else start)
            end = rank if end is None else min(rank, end + rank if end < 0 else end)
            if not start <= ins[0] < end:
                axis[node.output[0]] = None
                return
        facts.tainted.add(node.output[0])
        return
    if op == "Size":
        facts.tainted.add(node.output[0])
        return
    out_axes = _out_axes(node, ins, facts)
    for out, a in zip(node.output, out_axes):
        if out:
            axis[out] = a


def _where(node, why: str) -> str:
    return f"node '{node.name or node.output[0]}' ({node.op_type}) mixes or may mix rows: {why}"


def _out_axes(node, ins, facts):
    op = node.op_type
    p = next(a for a in ins if a is not None)
    n_out = len(node.output)
    if op in _ELEMENTWISE or op in ("QuantizeLinear", "DequantizeLinear"):
        return [_broadcast(node, ins, facts)] * n_out
    if op in _OVER_N:
        _only_first(node, ins, 0)
        return [0] * n_out
    if op == "BatchNormalization":
        _only_first(node, ins, 0)
        if facts.attr(node, "training_mode", 0):
            raise _Unproven(_where(node, "training-mode statistics are over the batch"))
        return [0] + [None] * (n_out - 1)
    if op in ("LayerNormalization", "GroupNormalization", "RMSNormalization"):
        _only_first(node, ins, p)
        rank = _rank(node, 0, facts)
        start = facts.attr(node, "axis", -1) if op != "GroupNormalization" else 1
        start = start + rank if start < 0 else start
        if p >= start:
            raise _Unproven(_where(node, "it normalizes over the batch axis"))
        return [p] * n_out
    if op in ("MatMul", "MatMulInteger", "Gemm"):
        return [_matmul(node, ins, facts)]
    if op in _REDUCE:
        _only_first(node, ins, p)
        return [_reduce(node, p, facts)]
    if op in _ONE_AXIS:
        _only_first(node, ins, p)
        rank = _rank(node, 0, facts)
        default = -1 if op in ("Softmax", "LogSoftmax", "Hardmax", "TopK", "LpNormalization") else 0
        a = facts.const_int(node.input[1]) if op == "CumSum" else facts.attr(node, "axis", default)
        if a is None:
            raise _Unproven(_where(node, "its axis is not a constant"))
        a = a + rank if a < 0 else a
        if op in ("Softmax", "LogSoftmax", "Hardmax") and facts.opset < 13:
            if p >= a:
                raise _Unproven(_where(node, "it flattens the batch into its softmax axis"))
        elif a == p:
            raise _Unproven(_where(node, "it works along the batch axis"))
        if op in ("ArgMax", "ArgMin") and not facts.attr(node, "keepdims", 1):
            return [p - (a < p)]
        return [p] * n_out
    if op == "Transpose":
        _only_first(node, ins, p)
        perm = facts.attr(node, "perm", None)
        rank = _rank(node, 0, facts)
        perm = list(perm) if perm is not None else list(range(rank))[::-1]
        return [perm.index(p)]
    if op == "Reshape":
        return [_reshape(node, ins, facts)]
    if op == "Flatten":
        _only_first(node, ins, 0)
        a = facts.attr(node, "axis", 1)
        a = a + _rank(node, 0, facts) if a < 0 else a
        if a < 1:
            raise _Unproven(_where(node, "axis 0 flattens the batch into the features"))
        return [0]
    if op in ("Squeeze", "Unsqueeze"):
        return [_squeeze(node, ins, p, facts)]
    if op == "Concat":
        if any(a is None for a in ins) or len(set(ins)) > 1:
            raise _Unproven(_where(node, "it concatenates batched and unbatched values"))
        a = facts.attr(node, "axis", 0)
        a = a + _rank(node, 0, facts) if a < 0 else a
        if a == p:
            raise _Unproven(_where(node, "it concatenates along the batch axis"))
        return [p]
    if op == "Slice":
        return [_slice(node, ins, p, facts)]
    if op == "Pad":
        _only_first(node, ins, p)
        pads = facts.const_ints(node.input[1]) if len(node.input) > 1 else facts.attr(node, "pads", None)
        rank = _rank(node, 0, facts)
        if len(node.input) > 3 and node.input[3]:
            axes = [a + rank if a < 0 else a for a in facts.const_ints(node.input[3]) or [None]]
        else:
            axes = list(range(rank))
        if pads is None or None in axes:
            raise _Unproven(_where(node, "its pads are not constants"))
        k = len(axes)
        if p in axes and (pads[axes.index(p)] or pads[k + axes.index(p)]):
            raise _Unproven(_where(node, "it pads the batch axis"))
        return [p]
    if op == "Gather":
        return [_gather(node, ins, facts)]
    if op in ("Expand", "Tile"):
        _only_first(node, ins, p)
        values = facts.const_ints(node.input[1])
        if values is None:
            raise _Unproven(_where(node, "its shape/repeats are not constants"))
        rank = _rank(node, 0, facts)
        if op == "Tile":
            if values[p] != 1:
                raise _Unproven(_where(node, "it repeats the batch axis"))
            return [p]
        out_rank = max(rank, len(values))
        q = out_rank - rank + p
        offset = out_rank - len(values)
        if q - offset >= 0 and values[q - offset] != 1:
            raise _Unproven(_where(node, "it expands the batch axis to a fixed size"))
        return [q]
    if op == "Resize":
        _only_first(node, ins, p)
        scales = facts.const_floats(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        if scales is None or len(node.input) > 3 and node.input[3] or scales[p] != 1:
            raise _Unproven(_where(node, "it may resize the batch axis"))
        return [p]
    if op in ("LSTM", "GRU", "RNN"):
        return _recurrent(node, ins, facts)
    raise _Unproven(_where(node, "the analysis does not know this op"))


def _rank(node, index, facts) -> int:
    rank = facts.rank(node.input[index])
    if rank is None:
        raise _Unproven(_where(node, f"the rank of '{node.input[index]}' is unknown"))
    return rank


def _only_first(node, ins, p) -> None:
    if ins[0] != p or any(a is not None for a in ins[1:]):
        raise _Unproven(_where(node, "its parameters depend on the batch, or the batch is on another axis"))


def _broadcast(node, ins, facts) -> int:
    """Output batch axis of a broadcasting op; batch-free operands must broadcast over the batch."""
    ranks = [facts.rank(name) if name else 0 for name in node.input]
    if any(r is None for r, name in zip(ranks, node.input) if name):
        raise _Unproven(_where(node, "an operand's rank is unknown"))
    out_rank = max(ranks)
    if node.op_type in ("QuantizeLinear", "DequantizeLinear") and ranks[1] > 0:
        a = facts.attr(node, "axis", 1)
        if (a + ranks[0] if a < 0 else a) == ins[0]:
            raise _Unproven(_where(node, "it quantizes per batch row"))
        return ins[0]
    targets = {out_rank - r + a for a, r in zip(ins, ranks) if a is not None}
    if len(targets) != 1:
        raise _Unproven(_where(node, "its operands carry the batch on different axes"))
    q = targets.pop()
    for name, a, r in zip(node.input, ins, ranks):
        if name and a is None and q - (out_rank - r) >= 0:
            dim = facts.dim(name, q - (out_rank - r))
            if dim != 1:
                raise _Unproven(_where(node, f"'{name}' has size {dim} along the batch axis"))
    return q


def _matmul(node, ins, facts) -> int:
    a, b = ins[0], ins[1]
    if node.op_type == "Gemm":
        if a != 0 or b is not None or facts.attr(node, "transA", 0) or len(ins) > 2 and ins[2] is not None:
            raise _Unproven(_where(node, "the batch is not the rows of A"))
        return 0
    ra, rb = _rank(node, 0, facts), _rank(node, 1, facts)
    if ra < 2 or rb < 2:
        raise _Unproven(_where(node, "a vector operand"))
    out_rank = max(ra, rb)
    axes = set()
    if a is not None:
        if a == ra - 1:
            raise _Unproven(_where(node, "it contracts the batch axis"))
        axes.add(out_rank - ra + a)
    if b is not None:
        if b >= rb - 2:
            raise _Unproven(_where(node, "the batch is a matrix axis of B"))
        axes.add(out_rank - rb + b)
    if len(axes) != 1:
        raise _Unproven(_where(node, "its operands carry the batch on different axes"))
    q = axes.pop()
    if q < out_rank - 2:  # a broadcast axis: the unbatched operand must broadcast over it
        for name, ax, r in zip(node.input, (a, b), (ra, rb)):
            if ax is None and q - (out_rank - r) >= 0 and facts.dim(name, q - (out_rank - r)) != 1:
                raise _Unproven(_where(node, f"'{name}' has a fixed size along the batch axis"))
    return q


def _reduce(node, p, facts) -> int:
    rank = _rank(node, 0, facts)
    axes = facts.attr(node, "axes", None)
    if axes is None and len(node.input) > 1 and node.input[1]:
        axes = facts.const_ints(node.input[1])
        if axes is None:
            raise _Unproven(_where(node, "its axes are not constants"))
    if not axes:
        if facts.attr(node, "noop_with_empty_axes", 0):
            return p
        raise _Unproven(_where(node, "it reduces over every axis, the batch included"))
    axes = [a + rank if a < 0 else a for a in axes]
    if p in axes:
        raise _Unproven(_where(node, "it reduces over the batch axis"))
    keep = facts.attr(node, "keepdims", 1)
    return p if keep else p - sum(a < p for a in axes)


def _reshape(node, ins, facts) -> int:
    if ins[0] != 0 or ins[1] is not None:
        raise _Unproven(_where(node, "the batch is not on axis 0"))
    shape = facts.const_ints(node.input[1])
    if shape is None:
        raise _Unproven(_where(node, "its target shape is not a constant"))
    if shape and shape[0] == 0 and not facts.attr(node, "allowzero", 0):
        return 0  # dimension 0 copied: rows stay rows
    if shape and shape[0] == -1 and all(s > 0 for s in shape[1:]):
        rest = facts.static_tail_size(node.input[0])
        if rest is not None and rest == int(np.prod(shape[1:])):
            return 0
    raise _Unproven(_where(node, f"target shape {shape} may move values across rows"))


def _squeeze(node, ins, p, facts) -> int:
    _only_first(node, ins, p)
    rank = _rank(node, 0, facts)
    axes = facts.attr(node, "axes", None)
    if axes is None and len(node.input) > 1 and node.input[1]:
        axes = facts.const_ints(node.input[1])
    if axes is None:
        raise _Unproven(_where(node, "its axes are not constants"))
    if node.op_type == "Squeeze":
        axes = [a + rank if a < 0 else a for a in axes]
        if p in axes:
            raise _Unproven(_where(node, "it squeezes the batch axis"))
        return p - sum(a < p for a in axes)
    out_rank = rank + len(axes)
    axes = sorted(a + out_rank if a < 0 else a for a in axes)
    kept = [i for i in range(out_rank) if i not in axes]
    return kept[p]


def _slice(node, ins, p, facts) -> int:
    _only_first(node, ins, p)
    rank = _rank(node, 0, facts)
    starts, ends = facts.const_ints(node.input[1]), facts.const_ints(node.input[2])
    axes = facts.const_ints(node.input[3]) if len(node.input) > 3 and node.input[3] else None
    steps = facts.const_ints(node.input[4]) if len(node.input) > 4 and node.input[4] else None
    if starts is None or ends is None or (len(node.input) > 3 and node.input[3] and axes is None):
        raise _Unproven(_where(node, "its bounds are not constants"))
    axes = [a + rank if a < 0 else a for a in (axes or range(len(starts)))]
    if p in axes:
        k = axes.index(p)
        whole = starts[k] == 0 and ends[k] >= 2**31 - 1 and (steps is None or steps[k] == 1)
        if not whole:
            raise _Unproven(_where(node, "it slices the batch axis"))
    return p


def _gather(node, ins, facts) -> int:
    data, indices = ins[0], ins[1]
    rank = _rank(node, 0, facts)
    a = facts.attr(node, "axis", 0)
    a = a + rank if a < 0 else a
    if data is not None and indices is None:
        if a == data:
            raise _Unproven(_where(node, "it picks rows of the batch"))
        index_rank = _rank(node, 1, facts)
        return data if data < a else data + index_rank - 1
    if data is None and indices is not None:
        return a + indices
    raise _Unproven(_where(node, "both data and indices carry the batch"))


def _recurrent(node, ins, facts):
    layout = facts.attr(node, "layout", 0)
    want = 0 if layout else 1
    if ins[0] != want or any(a is not None for a in ins[1:4]):
        raise _Unproven(_where(node, "the batch is not the sequence batch axis"))
    if len(ins) > 4 and ins[4] is not None and ins[4] != 0:
        raise _Unproven(_where(node, "sequence_lens is not per row"))
    for state in ins[5:]:
        if state is not None and state != want:
            raise _Unproven(_where(node, "an initial state is not per row"))
    if len(ins) > 4 and node.input[4] and ins[4] is None:
        raise _Unproven(_where(node, "sequence_lens is fixed for every row"))
    y, state = (0, 0) if layout else (2, 1)
    return [y] + [state] * (len(node.output) - 1)
