"""Training-graph rules for elementwise ops, reductions and plumbing ops.

onnxruntime-training 1.19.2 has no gradient for Elu, Selu, Softplus, Softsign, HardSigmoid,
HardSwish, PRelu, Mish, Sign, Sum, Mean, ReduceMax/Min/SumSquare/L1/LogSum and
LpNormalization, and silently wrong ones for Where with a broadcast operand, Split with an
unused output and Dropout without `training_mode` (see notes/onnxruntime-training.md). Each
rule below writes the same function with ops whose gradients were checked.
"""

from __future__ import annotations

import numpy as np

from onnxgraph.backend.ir import SymbolicTensor
from onnxgraph.trainer._rewrite import E, attr, const, const_value

__all__ = ["RULES"]


def _like(op, x, *others, attrs=None):
    """An op whose output has x's shape and dtype."""
    return E(op, [x, *others], attrs, x.shape, x.dtype)


def _c(x: SymbolicTensor, value):
    return const(value, x.dtype)


def _neg_part(x):
    """min(x, 0)."""
    return _like("Min", x, _c(x, 0.0))


def _elu_core(x, alpha: float):
    """relu(x) + alpha * (exp(min(x, 0)) - 1): no Where, finite everywhere."""
    expm1 = _like("Sub", _like("Exp", _neg_part(x)), _c(x, 1.0))
    return _like("Add", _like("Relu", x), _like("Mul", expm1, _c(x, alpha)))


def _elu(node, ctx):
    return [_elu_core(node.inputs[0], float(attr(node, "alpha", 1.0)))]


def _selu(node, ctx):
    x = node.inputs[0]
    alpha = float(attr(node, "alpha", 1.67326319217681884765625))
    gamma = float(attr(node, "gamma", 1.05070102214813232421875))
    return [_like("Mul", _elu_core(x, alpha), _c(x, gamma))]


def _softplus_core(x):
    """relu(x) + log(1 + exp(-|x|)): stable for large |x|."""
    tail = _like("Log", _like("Add", _like("Exp", _like("Neg", _like("Abs", x))), _c(x, 1.0)))
    return _like("Add", _like("Relu", x), tail)


def _softplus(node, ctx):
    return [_softplus_core(node.inputs[0])]


def _softsign(node, ctx):
    x = node.inputs[0]
    return [_like("Div", x, _like("Add", _like("Abs", x), _c(x, 1.0)))]


def _hard_sigmoid_core(x, alpha: float, beta: float):
    linear = _like("Add", _like("Mul", x, _c(x, alpha)), _c(x, beta))
    return _like("Clip", linear, _c(x, 0.0), _c(x, 1.0))


def _hard_sigmoid(node, ctx):
    return [_hard_sigmoid_core(node.inputs[0], float(attr(node, "alpha", 0.2)), float(attr(node, "beta", 0.5)))]


def _hard_swish(node, ctx):
    x = node.inputs[0]
    return [_like("Mul", x, _hard_sigmoid_core(x, 1.0 / 6.0, 0.5))]


def _prelu(node, ctx):
    x, slope = node.inputs
    return [_like("Add", _like("Relu", x), E("Mul", [_neg_part(x), slope], None, node.outputs[0].shape, x.dtype))]


def _mish(node, ctx):
    x = node.inputs[0]
    return [_like("Mul", x, _like("Tanh", _softplus_core(x)))]


def _sign(node, ctx):
    # Comparisons carry no gradient, which is sign's true derivative (0 almost everywhere).
    x = node.inputs[0]
    to = {"to": _onnx_type(x)}
    positive = E("Cast", [E("Greater", [x, _c(x, 0.0)], None, x.shape, "bool")], to, x.shape, x.dtype)
    negative = E("Cast", [E("Less", [x, _c(x, 0.0)], None, x.shape, "bool")], to, x.shape, x.dtype)
    return [_like("Sub", positive, negative)]


def _onnx_type(x) -> int:
    from onnxgraph.backend import dtypes

    return dtypes.to_onnx(x.dtype)


def _chain(op: str, inputs, out):
    result = inputs[0]
    for x in inputs[1:]:
        result = E(op, [result, x], None, out.shape, out.dtype)
    return result


def _sum(node, ctx):
    inputs = [x for x in node.inputs if x is not None]
    if len(inputs) == 1:
        return [E("Identity", inputs, None, node.outputs[0].shape, node.outputs[0].dtype)]
    return [_chain("Add", inputs, node.outputs[0])]


def _mean(node, ctx):
    out = node.outputs[0]
    total = _sum(node, ctx)[0]
    return [E("Div", [total, const(len(node.inputs), out.dtype)], None, out.shape, out.dtype)]


def _variadic(op: str):
    def rule(node, ctx):
        if len(node.inputs) <= 2:
            return None
        return [_chain(op, node.inputs, node.outputs[0])]
    return rule


# -- reductions ------------------------------------------------------------------------------------
def _reduce_axes(node, rank: int):
    axes = const_value(node.inputs[1] if len(node.inputs) > 1 else None, "the reduction axes", node)
    if axes is None or axes.size == 0:
        if attr(node, "noop_with_empty_axes", 0):
            return None
        return list(range(rank))
    return sorted(int(a) % rank for a in axes.reshape(-1))


def _arg_reduce(x, axes, op: str):
    """max/min over `axes` (kept as size 1): ArgMax/ArgMin then GatherElements, one axis at a time."""
    for axis in axes:
        shape = tuple(1 if i == axis else d for i, d in enumerate(x.shape))
        index = E(op, [x], {"axis": axis, "keepdims": 1}, shape, "int64")
        x = E("GatherElements", [x, index], {"axis": axis}, shape, x.dtype)
    return x


def _squeeze_axes(x, axes, out):
    return E("Squeeze", [x, const(axes, "int64")], None, out.shape, out.dtype) if axes else x


def _reduce_extreme(arg_op: str):
    def rule(node, ctx):
        x, out = node.inputs[0], node.outputs[0]
        axes = _reduce_axes(node, x.ndim)
        if axes is None:
            return [E("Identity", [x], None, out.shape, out.dtype)]
        reduced = _arg_reduce(x, axes, arg_op)
        return [reduced if attr(node, "keepdims", 1) else _squeeze_axes(reduced, axes, out)]
    return rule


def _reduce_via(pre_op: str | None, post_op: str | None):
    """ReduceSum of pre_op(x) (x*x or |x|), then post_op (Log) -- for SumSquare, L1, LogSum."""
    def rule(node, ctx):
        x, out = node.inputs[0], node.outputs[0]
        axes = _reduce_axes(node, x.ndim)
        if axes is None:
            return None
        y = x
        if pre_op == "Mul":
            y = _like("Mul", x, x)
        elif pre_op is not None:
            y = _like(pre_op, x)
        keep = int(attr(node, "keepdims", 1))
        y = E("ReduceSum", [y, const(axes, "int64")], {"keepdims": keep}, out.shape, out.dtype)
        return [_like(post_op, y) if post_op else y]
    return rule


def _lp_normalization(node, ctx):
    x = node.inputs[0]
    axis = int(attr(node, "axis", -1)) % x.ndim
    p = int(attr(node, "p", 2))
    kept = tuple(1 if i == axis else d for i, d in enumerate(x.shape))
    axes = const([axis], "int64")
    if p == 2:
        norm = E("ReduceL2", [x, axes], {"keepdims": 1}, kept, x.dtype)
    else:
        norm = E("ReduceSum", [_like("Abs", x), axes], {"keepdims": 1}, kept, x.dtype)
    return [E("Div", [x, norm], None, x.shape, x.dtype)]


def _cumsum(node, ctx):
    """CumSum as a contraction with a triangular 0/1 matrix along its (known-length) axis."""
    from onnxgraph.trainer._rules_resize import _apply_along

    x, out = node.inputs[0], node.outputs[0]
    axis = int(const_value(node.inputs[1], "the CumSum axis", node).reshape(-1)[0]) % x.ndim
    n = x.shape[axis]
    if n is None:
        raise NotImplementedError(f"{'/'.join(node.scope)}: CumSum along an axis of unknown length (shape "
                                  f"{x.shape}) cannot be trained; give that dimension a fixed size.")
    rows, cols = np.indices((n, n))  # out[j] = sum over i of M[j, i] * x[i]
    exclusive, reverse = attr(node, "exclusive", 0), attr(node, "reverse", 0)
    if reverse:
        matrix = cols > rows if exclusive else cols >= rows
    else:
        matrix = cols < rows if exclusive else cols <= rows
    return [_apply_along(x, matrix.astype(np.float64), axis, out.shape)]


# -- plumbing --------------------------------------------------------------------------------------
def _where(node, ctx):
    """Where's gradient is not reduced over a broadcast operand: expand X and Y to the output shape."""
    cond, a, b = node.inputs
    out = node.outputs[0]
    if a.shape == out.shape and b.shape == out.shape:
        return None
    if None in out.shape:
        ctx.keep_original(node)  # only its runtime shape is read; no gradient flows through it
        target = E("Shape", [out], None, (out.ndim,), "int64")
    else:
        target = const(out.shape, "int64")
    a = a if a.shape == out.shape else E("Expand", [a, target], None, out.shape, a.dtype)
    b = b if b.shape == out.shape else E("Expand", [b, target], None, out.shape, b.dtype)
    return [E("Where", [cond, a, b], None, out.shape, out.dtype)]


def _split(node, ctx):
    """Split with an unused output gets garbage gradients: use one Slice per used output."""
    if all(ctx.is_used(y) for y in node.outputs):
        return None
    x = node.inputs[0]
    axis = int(attr(node, "axis", 0)) % x.ndim
    sizes = const_value(node.inputs[1] if len(node.inputs) > 1 else None, "the split sizes", node)
    if sizes is None:
        sizes = [y.shape[axis] for y in node.outputs]
        if None in sizes:
            raise NotImplementedError(
                f"{'/'.join(node.scope)}: Split of an axis of unknown size ({x.shape}) with an unused output "
                "cannot be rewritten for training; split a known-size axis."
            )
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int)
    results = []
    for y, start, size in zip(node.outputs, starts, sizes):
        if not ctx.is_used(y):
            results.append(None)
            continue
        results.append(E("Slice", [x, const([start], "int64"), const([start + int(size)], "int64"),
                                   const([axis], "int64")], None, y.shape, y.dtype))
    return results


def _slice(node, ctx):
    """Slice with a negative step has no gradient: gather the same indices instead."""
    x = node.inputs[0]
    steps = const_value(node.inputs[4] if len(node.inputs) > 4 else None, "the slice steps", node)
    if steps is None or (np.asarray(steps) > 0).all():
        return None
    starts = const_value(node.inputs[1], "the slice starts", node).reshape(-1)
    ends = const_value(node.inputs[2], "the slice ends", node).reshape(-1)
    axes = const_value(node.inputs[3] if len(node.inputs) > 3 else None, "the slice axes", node)
    axes = list(range(len(starts))) if axes is None else [int(a) % x.ndim for a in axes.reshape(-1)]
    y = x
    for start, end, axis, step in zip(starts, ends, axes, steps.reshape(-1)):
        dim = y.shape[axis]
        if step > 0 and start == 0 and end >= (dim if dim is not None else np.iinfo(np.int64).max):
            continue
        if dim is not None:
            index = np.arange(dim)[slice(_clip(start, dim), _clip(end, dim), int(step))]
            out_shape = tuple(len(index) if i == axis else d for i, d in enumerate(y.shape))
            y = E("Gather", [y, const(index, "int64")], {"axis": axis}, out_shape, y.dtype)
        elif step == -1 and start >= -1 and end <= -np.iinfo(np.int32).max:
            y = _reverse_dynamic(y, axis)
        else:
            raise NotImplementedError(
                f"{'/'.join(node.scope)}: a reversed slice of an axis of unknown size (shape {x.shape}) can be "
                "trained only as a full reversal x[::-1] along that axis."
            )
    return [y]


def _clip(index, dim):
    # numpy slicing handles negatives and overflow like ONNX Slice once huge values are clipped.
    return int(max(min(int(index), dim), -dim - 1))


def _reverse_dynamic(x, axis: int):
    """x reversed along an axis of runtime size: Gather with (n-1) - Range(0, n, 1).

    Not Range(n-1, -1, -1): onnxruntime-training's GatherToSlice fusion turns that pattern into a
    Slice with end=-1, which selects nothing, and a negative-step Slice has no gradient anyway.
    """
    shape = E("Shape", [x], None, (x.ndim,), "int64")
    n = E("Gather", [shape, const(axis, "int64")], {"axis": 0}, (), "int64")
    last = E("Sub", [n, const(1, "int64")], None, (), "int64")
    ascending = E("Range", [const(0, "int64"), n, const(1, "int64")], None, (None,), "int64")
    index = E("Sub", [last, ascending], None, (None,), "int64")
    return E("Gather", [x, index], {"axis": axis}, x.shape, x.dtype)


def _range(node, ctx):
    """Range with a negative step as start - Range(0, start - limit, -step).

    Feeding a Gather, a descending Range is fused by onnxruntime-training into a negative-step
    Slice whose end is wrong for a full reversal (it selects nothing); an ascending Range is not.
    """
    start, limit, delta = node.inputs
    step = const_value(delta, "the Range step", node) if delta.kind == "constant" else None
    if step is None or float(step) >= 0:
        return None
    out = node.outputs[0]
    span = E("Sub", [start, limit], None, (), start.dtype)
    ascending = E("Range", [const(0, start.dtype), span, const(-step, start.dtype)], None, out.shape, out.dtype)
    return [E("Sub", [start, ascending], None, out.shape, out.dtype)]


def _dropout(node, ctx):
    """Active Dropout gets its mask output declared and loses its `seed` attribute.

    ORT's DropoutGrad needs the mask as an output. A seeded Dropout kernel keeps its own
    generator for the session's life, so its masks could not be replayed; without the attribute
    every mask comes from onnxruntime's global generator, which fit() reseeds from
    (training seed, epoch) at each epoch start -- reproducible runs and exact resumes.
    """
    x = node.inputs[0]
    training = node.inputs[2] if len(node.inputs) > 2 else None
    if training is None or (training.kind == "constant" and not bool(np.asarray(training.const))):
        # No (or false) training_mode means inference: the identity (ORT would scale its gradient by 1/(1-p)).
        return [x] + [None] * (len(node.outputs) - 1)
    if len(node.outputs) == 2 and "seed" not in node.attrs:
        return None
    attrs = {k: v for k, v in node.attrs.items() if k != "seed"}
    y, mask = E("Dropout", node.inputs, attrs, outputs=2)
    return [y, mask][:len(node.outputs)]


def _pad(node, ctx):
    """Pad with an `axes` input: ORT's PadGrad assumes full-rank pads, so expand them."""
    if len(node.inputs) < 4 or node.inputs[3] is None:
        return None
    x = node.inputs[0]
    pads = const_value(node.inputs[1], "the pads", node).reshape(-1)
    axes = [int(a) % x.ndim for a in const_value(node.inputs[3], "the pad axes", node).reshape(-1)]
    full = np.zeros(2 * x.ndim, np.int64)
    for i, axis in enumerate(axes):
        full[axis], full[x.ndim + axis] = pads[i], pads[len(axes) + i]
    out = node.outputs[0]
    inputs = [x, const(full, "int64")] + ([node.inputs[2]] if node.inputs[2] is not None else [])
    return [E("Pad", inputs, node.attrs, out.shape, out.dtype)]


def _layer_normalization(node, ctx):
    """ORT's LayerNormalizationGrad needs Mean and InvStdDev declared as outputs."""
    if len(node.outputs) == 3:
        return None
    outputs = E("LayerNormalization", node.inputs, node.attrs, outputs=3)
    return list(outputs[:len(node.outputs)])


RULES = {
    "Elu": _elu, "Selu": _selu, "Softplus": _softplus, "Softsign": _softsign,
    "HardSigmoid": _hard_sigmoid, "HardSwish": _hard_swish, "PRelu": _prelu, "Mish": _mish,
    "Sign": _sign, "Sum": _sum, "Mean": _mean, "Max": _variadic("Max"), "Min": _variadic("Min"),
    "ReduceMax": _reduce_extreme("ArgMax"), "ReduceMin": _reduce_extreme("ArgMin"),
    "ReduceSumSquare": _reduce_via("Mul", None), "ReduceL1": _reduce_via("Abs", None),
    "ReduceLogSum": _reduce_via(None, "Log"), "LpNormalization": _lp_normalization, "CumSum": _cumsum,
    "Where": _where, "Split": _split, "Slice": _slice, "Range": _range, "Dropout": _dropout, "Pad": _pad,
    "LayerNormalization": _layer_normalization,
}
