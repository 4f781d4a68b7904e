"""Gradients of elementwise (broadcasting) math ops.

Rules reuse the forward output where that saves work (Exp, Sqrt, Tanh, Sigmoid, Reciprocal,
Div) and build masks as Cast(comparison) multiplied in, the form measured fastest.
"""

from __future__ import annotations

import math

import numpy as np

from onnxgraph.autodiff import _util as U
from onnxgraph.autodiff._registry import register_gradient

__all__ = []


def wants(x) -> bool:
    """Whether input `x` can carry a gradient (float and not a constant)."""
    return U.is_float(x) and x.kind != "constant"


def _c(x, value):
    return U.const(value, x.dtype)


def mask(op: str, a, b, dtype: str):
    """Cast(op(a, b)) to `dtype`: a 0/1 float mask of the broadcast shape."""
    return U.cast(U.emit_like_bool(op, a, b), dtype)


@register_gradient("Add")
def add(node, grads):
    a, b = node.inputs
    g = grads[0]
    return [U.unbroadcast(g, a) if wants(a) else None, U.unbroadcast(g, b) if wants(b) else None]


@register_gradient("Sub")
def sub(node, grads):
    a, b = node.inputs
    g = grads[0]
    return [U.unbroadcast(g, a) if wants(a) else None, U.unbroadcast(U.neg(g), b) if wants(b) else None]


@register_gradient("Mul")
def mul(node, grads):
    a, b = node.inputs
    g = grads[0]
    return [U.unbroadcast(U.mul(g, b), a) if wants(a) else None,
            U.unbroadcast(U.mul(g, a), b) if wants(b) else None]


@register_gradient("Div")
def div(node, grads):
    a, b = node.inputs
    g = grads[0]
    ga = U.div(g, b)
    # d(a/b)/db = -(a/b)/b = -y/b: reuses the forward output and the Div above.
    gb = U.unbroadcast(U.neg(U.mul(ga, node.outputs[0])), b) if wants(b) else None
    return [U.unbroadcast(ga, a) if wants(a) else None, gb]


@register_gradient("Pow")
def pow_(node, grads):
    a, b = node.inputs
    y, g = node.outputs[0], grads[0]
    ga = gb = None
    if wants(a):
        exponent = U.const_value(b)
        if exponent is not None and exponent.size == 1 and float(exponent.reshape(-1)[0]) == 2.0:
            local = U.mul(a, _c(a, 2.0))
        elif exponent is not None and exponent.size == 1 and float(exponent.reshape(-1)[0]) == 1.0:
            local = None
        elif exponent is not None:
            e = np.asarray(exponent, np.float64)
            local = U.mul(U.emit("Pow", [a, U.const(e - 1.0, a.dtype)], shapes=[y.shape], dtypes_=[a.dtype]),
                          U.const(e, a.dtype))
        else:
            bm1 = U.sub(b, U.const(1, b.dtype))
            local = U.mul(U.emit("Pow", [a, bm1], shapes=[y.shape], dtypes_=[a.dtype]), U.cast_like(b, a))
        ga = U.unbroadcast(g if local is None else U.mul(g, local), a)
    if wants(b):
        gb = U.unbroadcast(U.mul(U.mul(g, y), U.like("Log", a)), b)
    return [ga, gb]


@register_gradient("Neg")
def neg(node, grads):
    return [U.neg(grads[0])]


@register_gradient("Abs")
def abs_(node, grads):
    return [U.mul(grads[0], U.like("Sign", node.inputs[0]))]


@register_gradient("Exp")
def exp(node, grads):
    return [U.mul(grads[0], node.outputs[0])]


@register_gradient("Log")
def log(node, grads):
    return [U.div(grads[0], node.inputs[0])]


@register_gradient("Sqrt")
def sqrt(node, grads):
    y = node.outputs[0]
    return [U.div(U.mul(grads[0], _c(y, 0.5)), y)]


@register_gradient("Reciprocal")
def reciprocal(node, grads):
    y = node.outputs[0]
    return [U.neg(U.mul(grads[0], U.mul(y, y)))]


@register_gradient("Sin")
def sin(node, grads):
    return [U.mul(grads[0], U.like("Cos", node.inputs[0]))]


@register_gradient("Cos")
def cos(node, grads):
    return [U.neg(U.mul(grads[0], U.like("Sin", node.inputs[0])))]


@register_gradient("Tan")
def tan(node, grads):
    y = node.outputs[0]
    return [U.mul(grads[0], U.add(U.mul(y, y), _c(y, 1.0)))]


@register_gradient("Tanh")
def tanh(node, grads):
    y = node.outputs[0]
    return [U.mul(grads[0], U.sub(_c(y, 1.0), U.mul(y, y)))]


@register_gradient("Sigmoid")
def sigmoid(node, grads):
    y = node.outputs[0]
    return [U.mul(grads[0], U.mul(y, U.sub(_c(y, 1.0), y)))]


@register_gradient("Erf")
def erf(node, grads):
    x = node.inputs[0]
    bump = U.like("Exp", U.neg(U.mul(x, x)))
    return [U.mul(grads[0], U.mul(bump, _c(x, 2.0 / math.sqrt(math.pi))))]


def _extremum(node, grads, first_wins: str):
    """Max/Min: the gradient goes to the input holding the result (the first one on ties)."""
    g, y, xs = grads[0], node.outputs[0], node.inputs
    if len(xs) == 1:
        return [g]
    if len(xs) == 2:
        a, b = xs
        win = U.emit_like_bool(first_wins, a, b)
        ga = U.unbroadcast(U.mul(g, U.cast(win, g.dtype)), a) if wants(a) else None
        gb = U.unbroadcast(U.mul(g, U.cast(U.like("Not", win), g.dtype)), b) if wants(b) else None
        return [ga, gb]
    result, taken = [], None
    for x in xs:
        hit = U.emit_like_bool("Equal", x, y)
        mine = hit if taken is None else U.emit_like_bool("And", hit, U.like("Not", taken))
        taken = hit if taken is None else U.emit_like_bool("Or", taken, hit)
        result.append(U.unbroadcast(U.mul(g, U.cast(mine, g.dtype)), x) if wants(x) else None)
    return result


@register_gradient("Max")
def max_(node, grads):
    return _extremum(node, grads, "GreaterOrEqual")


@register_gradient("Min")
def min_(node, grads):
    return _extremum(node, grads, "LessOrEqual")


@register_gradient("Sum")
def sum_(node, grads):
    return [U.unbroadcast(grads[0], x) if wants(x) else None for x in node.inputs]


@register_gradient("Mean")
def mean(node, grads):
    g = U.mul(grads[0], _c(grads[0], 1.0 / len(node.inputs)))
    return [U.unbroadcast(g, x) if wants(x) else None for x in node.inputs]


@register_gradient("Where")
def where(node, grads):
    c, a, b = node.inputs
    g = grads[0]
    zero = _c(g, 0.0)
    ga = U.unbroadcast(U.emit("Where", [c, g, zero], shapes=[g.shape], dtypes_=[g.dtype]), a) if wants(a) else None
    gb = U.unbroadcast(U.emit("Where", [c, zero, g], shapes=[g.shape], dtypes_=[g.dtype]), b) if wants(b) else None
    return [None, ga, gb]


@register_gradient("Clip")
def clip(node, grads):
    x = node.inputs[0]
    lo = node.inputs[1] if len(node.inputs) > 1 else None
    hi = node.inputs[2] if len(node.inputs) > 2 else None
    y, g = node.outputs[0], grads[0]
    # x passes where it was not clipped: y == x (one comparison for both bounds).
    gx = U.mul(g, mask("Equal", x, y, g.dtype)) if wants(x) else None
    glo = U.unbroadcast(U.mul(g, mask("Less", x, lo, g.dtype)), lo) if wants(lo) else None
    ghi = U.unbroadcast(U.mul(g, mask("Greater", x, hi, g.dtype)), hi) if wants(hi) else None
    return [gx, glo, ghi][:len(node.inputs)]


@register_gradient("Mod")
def mod(node, grads):
    """Float Mod (fmod=1): y = a - b * trunc(a / b), so dy/da = 1 and dy/db = -trunc(a / b)."""
    a, b = node.inputs
    g, y = grads[0], node.outputs[0]
    if not U.is_float(y):
        return [None, None]
    quotient = U.div(U.sub(a, y), b)
    return [U.unbroadcast(g, a) if wants(a) else None,
            U.unbroadcast(U.neg(U.mul(g, quotient)), b) if wants(b) else None]


@register_gradient("Sign", "Floor", "Ceil", "Round", "IsInf", "IsNaN", "Hardmax")
def piecewise_constant(node, grads):
    """Zero gradient almost everywhere: nothing flows back."""
    return [None] * len(node.inputs)
