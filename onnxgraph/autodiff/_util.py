"""Small emitters every gradient rule uses: one `emit` call each, output types given when known.

All of them work with unknown (None) dims: they fall back to Shape-based ops only where a
dim is unknown, so static graphs get constant shapes and no runtime shape arithmetic.
"""

from __future__ import annotations

import numpy as np
from onnx import numpy_helper

from onnxgraph.backend import dtypes
from onnxgraph.backend.emit import constant, emit
from onnxgraph.backend.ir import Node, SymbolicTensor

__all__ = [
    "emit", "attr", "const", "shape_of", "full", "zeros_like", "ones_like", "full_like", "cast", "cast_like", "transpose",
    "matmul", "add", "sub", "mul", "div", "neg", "reduce_sum", "unbroadcast", "reshape", "reshape_like",
    "expand_like", "broadcast_shape", "like", "emit_like_bool", "norm_axis", "const_value", "accumulate", "is_float",
]


def attr(node: Node, name: str, default=None):
    """An attribute of `node` (bytes decoded to str), or `default`."""
    value = node.attrs.get(name, default)
    return value.decode() if isinstance(value, bytes) else value


def is_float(x: SymbolicTensor | None) -> bool:
    return x is not None and x.dtype in ("float16", "bfloat16", "float32", "float64")


def const(value, dtype="float32") -> SymbolicTensor:
    """A constant of `dtype` (a Keras dtype name, e.g. another tensor's `.dtype`)."""
    return constant(np.asarray(value, dtype=dtypes.to_numpy(dtype)))


def const_value(x: SymbolicTensor | None) -> np.ndarray | None:
    """The numpy value of a constant tensor, else None."""
    return np.asarray(x.const) if x is not None and x.kind == "constant" else None


def norm_axis(axis: int, rank: int) -> int:
    return axis + rank if axis < 0 else axis


def like(op: str, x: SymbolicTensor, *others, attrs=None) -> SymbolicTensor:
    """An op whose output has `x`'s shape and dtype (unary math, same-shape binary ops)."""
    return emit(op, [x, *others], attrs, shapes=[x.shape], dtypes_=[x.dtype])


def emit_like_bool(op: str, x: SymbolicTensor, *others) -> SymbolicTensor:
    """A comparison whose bool output has the broadcast shape of its operands."""
    shape = broadcast_shape(x.shape, *(o.shape for o in others))
    return emit(op, [x, *others], shapes=[shape], dtypes_=["bool"])


def shape_of(x: SymbolicTensor, start: int | None = None, end: int | None = None) -> SymbolicTensor:
    """`x`'s runtime shape as int64 (a constant when every dim in the range is known)."""
    dims = x.shape[slice(start, end)]
    if all(d is not None for d in dims):
        return constant(np.asarray(dims, dtype=np.int64))
    attrs = {}
    if start is not None:
        attrs["start"] = start
    if end is not None:
        attrs["end"] = end
    return emit("Shape", [x], attrs, shapes=[(len(dims),)], dtypes_=["int64"])


def full(shape_tensor: SymbolicTensor, shape, value, dtype: str) -> SymbolicTensor:
    """ConstantOfShape: a tensor of runtime shape `shape_tensor` (static `shape`) filled with `value`."""
    fill = numpy_helper.from_array(np.asarray([value], dtype=dtypes.to_numpy(dtype)), "value")
    return emit("ConstantOfShape", [shape_tensor], {"value": fill}, shapes=[tuple(shape)], dtypes_=[dtype])


def full_like(x: SymbolicTensor, value, dtype=None) -> SymbolicTensor:
    """A tensor of `x`'s shape filled with `value`."""
    return full(shape_of(x), x.shape, value, dtype or x.dtype)


def zeros_like(x: SymbolicTensor, dtype=None) -> SymbolicTensor:
    return full_like(x, 0, dtype)


def ones_like(x: SymbolicTensor, dtype=None) -> SymbolicTensor:
    return full_like(x, 1, dtype)


def cast(x: SymbolicTensor, dtype: str) -> SymbolicTensor:
    if x.dtype == dtype:
        return x
    return emit("Cast", [x], {"to": dtypes.to_onnx(dtype)}, shapes=[x.shape], dtypes_=[dtype])


def cast_like(x: SymbolicTensor, like_: SymbolicTensor) -> SymbolicTensor:
    return cast(x, like_.dtype)


def transpose(x: SymbolicTensor, perm) -> SymbolicTensor:
    perm = [int(p) for p in perm]
    if perm == list(range(x.ndim)):
        return x
    return emit("Transpose", [x], {"perm": perm}, shapes=[tuple(x.shape[p] for p in perm)], dtypes_=[x.dtype])


def broadcast_shape(*shapes) -> tuple:
    """Numpy broadcasting of Keras shapes (None = unknown)."""
    rank = max(len(s) for s in shapes)
    result = []
    for i in range(rank):
        dims = [s[i - rank + len(s)] for s in shapes if i - rank + len(s) >= 0]
        known = [d for d in dims if d is not None and d != 1]
        if known:
            result.append(known[0])
        elif any(d is None for d in dims):
            result.append(None)
        else:
            result.append(1)
    return tuple(result)


def _binary(op: str, a, b) -> SymbolicTensor:
    return emit(op, [a, b], shapes=[broadcast_shape(a.shape, b.shape)], dtypes_=[a.dtype])


def add(a, b):
    return _binary("Add", a, b)


def sub(a, b):
    return _binary("Sub", a, b)


def mul(a, b):
    return _binary("Mul", a, b)


def div(a, b):
    return _binary("Div", a, b)


def neg(x):
    return like("Neg", x)


def matmul(a: SymbolicTensor, b: SymbolicTensor) -> SymbolicTensor:
    """numpy.matmul semantics (1-D operands promoted and the added dim dropped)."""
    sa, sb = a.shape, b.shape
    if len(sa) == 1 and len(sb) == 1:
        shape = ()
    elif len(sa) == 1:
        shape = sb[:-2] + sb[-1:]
    elif len(sb) == 1:
        shape = sa[:-1]
    else:
        shape = broadcast_shape(sa[:-2], sb[:-2]) + (sa[-2], sb[-1])
    return emit("MatMul", [a, b], shapes=[shape], dtypes_=[a.dtype])


def reduce_sum(x: SymbolicTensor, axes, keepdims: bool = True) -> SymbolicTensor:
    """ReduceSum over `axes` (ints); no axes returns `x` itself."""
    axes = sorted(norm_axis(int(a), x.ndim) for a in axes)
    if not axes:
        return x
    if keepdims:
        shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
    else:
        shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
    return emit("ReduceSum", [x, constant(np.asarray(axes, np.int64))], {"keepdims": int(keepdims)},
                shapes=[shape], dtypes_=[x.dtype])


def reshape(x: SymbolicTensor, shape_tensor: SymbolicTensor, out_shape) -> SymbolicTensor:
    return emit("Reshape", [x, shape_tensor], shapes=[tuple(out_shape)], dtypes_=[x.dtype])


def reshape_like(x: SymbolicTensor, like_: SymbolicTensor) -> SymbolicTensor:
    """`x` reshaped to `like_`'s shape (constant target when at most one dim is unknown)."""
    if x.shape == like_.shape and None not in x.shape:
        return x
    unknown = [i for i, d in enumerate(like_.shape) if d is None]
    if len(unknown) <= 1:
        target = constant(np.asarray([-1 if d is None else d for d in like_.shape], np.int64))
    else:
        target = shape_of(like_)
    return reshape(x, target, like_.shape)


def expand_like(x: SymbolicTensor, like_: SymbolicTensor) -> SymbolicTensor:
    """`x` broadcast to `like_`'s shape."""
    if x.shape == like_.shape and None not in x.shape:
        return x
    return emit("Expand", [x, shape_of(like_)], shapes=[like_.shape], dtypes_=[x.dtype])


def unbroadcast(grad: SymbolicTensor, like_: SymbolicTensor) -> SymbolicTensor:
    """Sum `grad` (of the broadcast result's shape) down to `like_`'s shape.

    Leading extra dims are summed away; a dim where `like_` is 1 is summed with keepdims.
    A dim `like_` does not know while the result's is a known size > 1 could be 1 at
    runtime: only then are the axes computed at runtime (from the two shapes).
    """
    g, l = grad.shape, like_.shape
    lead = len(g) - len(l)
    if lead < 0:
        raise ValueError(f"unbroadcast: gradient shape {g} has lower rank than the input {l}.")
    axes, ambiguous = list(range(lead)), False
    for i, ld in enumerate(l):
        gd = g[lead + i]
        if ld == 1 and gd != 1:
            axes.append(lead + i)
        elif ld is None and gd is not None and gd != 1:
            ambiguous = True
    if ambiguous:
        return _unbroadcast_dynamic(grad, like_)
    out = reduce_sum(grad, axes[lead:], keepdims=True) if axes[lead:] else grad
    out = reduce_sum(out, axes[:lead], keepdims=False) if lead else out
    if out.shape != l:  # the types differ only where one side has None: retype (ORT drops Identity)
        out = emit("Identity", [out], shapes=[l], dtypes_=[out.dtype])
    return out


def _unbroadcast_dynamic(grad: SymbolicTensor, like_: SymbolicTensor) -> SymbolicTensor:
    lead = grad.ndim - like_.ndim
    target = shape_of(like_)
    padded = target if lead == 0 else emit(
        "Concat", [constant(np.ones(lead, np.int64)), target], {"axis": 0}, shapes=[(grad.ndim,)],
        dtypes_=["int64"])
    ones = emit("Equal", [padded, constant(np.asarray(1, np.int64))], shapes=[(grad.ndim,)], dtypes_=["bool"])
    axes = emit("NonZero", [ones], shapes=[(1, None)], dtypes_=["int64"])
    axes = emit("Reshape", [axes, constant(np.asarray([-1], np.int64))], shapes=[(None,)], dtypes_=["int64"])
    summed = emit("ReduceSum", [grad, axes], {"keepdims": 1, "noop_with_empty_axes": 1},
                  shapes=[tuple(None for _ in grad.shape)], dtypes_=[grad.dtype])
    return emit("Reshape", [summed, target], shapes=[like_.shape], dtypes_=[grad.dtype])


def accumulate(terms: list[SymbolicTensor]) -> SymbolicTensor:
    """The sum of same-shape gradient contributions (one Add, or one Sum for three or more)."""
    if len(terms) == 1:
        return terms[0]
    shape = broadcast_shape(*(t.shape for t in terms))
    if len(terms) == 2:
        return emit("Add", terms, shapes=[shape], dtypes_=[terms[0].dtype])
    return emit("Sum", terms, shapes=[shape], dtypes_=[terms[0].dtype])
