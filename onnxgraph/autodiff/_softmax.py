"""Gradients of Softmax and LogSoftmax (opset 13+: one axis, any position)."""

from __future__ import annotations

from onnxgraph.autodiff import _util as U
from onnxgraph.autodiff._registry import register_gradient

__all__ = []


def _axis(node) -> int:
    return U.norm_axis(int(U.attr(node, "axis", -1)), node.inputs[0].ndim)


@register_gradient("Softmax")
def softmax(node, grads):
    # dx = y * (g - sum(g * y, axis))
    y, g = node.outputs[0], grads[0]
    gy = U.mul(g, y)
    return [U.sub(gy, U.mul(y, U.reduce_sum(gy, [_axis(node)], keepdims=True)))]


@register_gradient("LogSoftmax")
def log_softmax(node, grads):
    # dx = g - exp(y) * sum(g, axis)
    y, g = node.outputs[0], grads[0]
    return [U.sub(g, U.mul(U.like("Exp", y), U.reduce_sum(g, [_axis(node)], keepdims=True)))]
