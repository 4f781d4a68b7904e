"""Gradients of the activation ops ONNX has (Relu, LeakyRelu, Elu, Gelu, Mish, ...).

Each is dY times a local derivative written from the forward output where that is cheaper
(Relu, Elu, Selu, Celu, HardSigmoid) and from the input otherwise.
"""

from __future__ import annotations

import math

from onnxgraph.autodiff import _util as U
from onnxgraph.autodiff._elementwise import mask, wants
from onnxgraph.autodiff._registry import register_gradient

__all__ = []


def _c(x, value):
    return U.const(value, x.dtype)


def _where(cond, a, b, like_):
    return U.emit("Where", [cond, a, b], shapes=[like_.shape], dtypes_=[like_.dtype])


def _positive(x):
    return U.emit_like_bool("Greater", x, _c(x, 0.0))


@register_gradient("Relu")
def relu(node, grads):
    # Mul(dY, Cast(Greater(Y, 0))): reads the forward output, the fastest form measured.
    y = node.outputs[0]
    return [U.mul(grads[0], mask("Greater", y, _c(y, 0.0), y.dtype))]


@register_gradient("LeakyRelu")
def leaky_relu(node, grads):
    x, g = node.inputs[0], grads[0]
    alpha = float(U.attr(node, "alpha", 0.01))
    return [U.mul(g, _where(_positive(x), _c(x, 1.0), _c(x, alpha), x))]


@register_gradient("ThresholdedRelu")
def thresholded_relu(node, grads):
    x = node.inputs[0]
    alpha = float(U.attr(node, "alpha", 1.0))
    return [U.mul(grads[0], mask("Greater", x, _c(x, alpha), x.dtype))]


@register_gradient("Elu")
def elu(node, grads):
    # x > 0: 1; else alpha * exp(x) = y + alpha.
    x, y = node.inputs[0], node.outputs[0]
    alpha = float(U.attr(node, "alpha", 1.0))
    return [U.mul(grads[0], _where(_positive(x), _c(x, 1.0), U.add(y, _c(y, alpha)), x))]


@register_gradient("Selu")
def selu(node, grads):
    x, y = node.inputs[0], node.outputs[0]
    alpha = float(U.attr(node, "alpha", 1.67326319217681884765625))
    gamma = float(U.attr(node, "gamma", 1.05070102214813232421875))
    return [U.mul(grads[0], _where(_positive(x), _c(x, gamma), U.add(y, _c(y, gamma * alpha)), x))]


@register_gradient("Celu")
def celu(node, grads):
    # x > 0: 1; else exp(x / alpha) = y / alpha + 1.
    x, y = node.inputs[0], node.outputs[0]
    alpha = float(U.attr(node, "alpha", 1.0))
    inner = U.add(U.mul(y, _c(y, 1.0 / alpha)), _c(y, 1.0))
    return [U.mul(grads[0], _where(_positive(x), _c(x, 1.0), inner, x))]


@register_gradient("Softplus")
def softplus(node, grads):
    return [U.mul(grads[0], U.like("Sigmoid", node.inputs[0]))]


@register_gradient("Softsign")
def softsign(node, grads):
    x = node.inputs[0]
    d = U.add(U.like("Abs", x), _c(x, 1.0))
    return [U.div(grads[0], U.mul(d, d))]


@register_gradient("HardSigmoid")
def hard_sigmoid(node, grads):
    y = node.outputs[0]
    alpha = float(U.attr(node, "alpha", 0.2))
    inside = U.emit_like_bool("And", U.emit_like_bool("Greater", y, _c(y, 0.0)),
                              U.emit_like_bool("Less", y, _c(y, 1.0)))
    return [U.mul(grads[0], U.mul(U.cast(inside, y.dtype), _c(y, alpha)))]


@register_gradient("HardSwish")
def hard_swish(node, grads):
    # y = x * clip(x / 6 + 1/2, 0, 1): dy/dx = 0 below -3, 1 above 3, x / 3 + 1/2 between.
    x = node.inputs[0]
    slope = U.add(U.mul(x, _c(x, 1.0 / 3.0)), _c(x, 0.5))
    slope = _where(U.emit_like_bool("Greater", x, _c(x, 3.0)), _c(x, 1.0), slope, x)
    slope = _where(U.emit_like_bool("Less", x, _c(x, -3.0)), _c(x, 0.0), slope, x)
    return [U.mul(grads[0], slope)]


@register_gradient("PRelu")
def prelu(node, grads):
    x, slope = node.inputs
    g = grads[0]
    gx = U.mul(g, _where(_positive(x), _c(x, 1.0), slope, U.mul(x, slope))) if wants(x) else None
    # dy/dslope = x where x <= 0, i.e. min(x, 0).
    gs = U.unbroadcast(U.mul(g, U.like("Min", x, _c(x, 0.0))), slope) if wants(slope) else None
    return [gx, gs]


@register_gradient("Gelu")
def gelu(node, grads):
    x = node.inputs[0]
    if U.attr(node, "approximate", "none") == "tanh":
        k, c = math.sqrt(2.0 / math.pi), 0.044715
        x2 = U.mul(x, x)
        t = U.like("Tanh", U.mul(U.mul(x, U.add(U.mul(x2, _c(x, c)), _c(x, 1.0))), _c(x, k)))
        du = U.add(U.mul(x2, _c(x, 3.0 * c * k)), _c(x, k))
        local = U.mul(U.add(U.mul(U.mul(x, U.sub(_c(x, 1.0), U.mul(t, t))), du), U.add(t, _c(x, 1.0))),
                      _c(x, 0.5))
    else:
        cdf = U.mul(U.add(U.like("Erf", U.mul(x, _c(x, 1.0 / math.sqrt(2.0)))), _c(x, 1.0)), _c(x, 0.5))
        pdf = U.mul(U.like("Exp", U.mul(U.mul(x, x), _c(x, -0.5))), _c(x, 1.0 / math.sqrt(2.0 * math.pi)))
        local = U.add(cdf, U.mul(x, pdf))
    return [U.mul(grads[0], local)]


@register_gradient("Mish")
def mish(node, grads):
    # y = x tanh(softplus(x)): dy/dx = t + x sigmoid(x) (1 - t^2), t = tanh(softplus(x)).
    x = node.inputs[0]
    t = U.like("Tanh", U.like("Softplus", x))
    local = U.add(t, U.mul(U.mul(x, U.like("Sigmoid", x)), U.sub(_c(x, 1.0), U.mul(t, t))))
    return [U.mul(grads[0], local)]
