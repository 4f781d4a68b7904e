"""Gradients of elementwise (broadcasting) math ops."""

from __future__ import annotations

from onnxgraph.autodiff import _util as U
from onnxgraph.autodiff._registry import register_gradient

__all__ = []


def _wants(x) -> bool:
    return U.is_float(x) and x.kind != "constant"


@register_gradient("Add")
def add(node, grads):
    a, b = node.inputs
    g = grads[0]
    return [U.unbroadcast(g, a) if _wants(a) else None, U.unbroadcast(g, b) if _wants(b) else None]


@register_gradient("Sub")
def sub(node, grads):
    a, b = node.inputs
    g = grads[0]
    return [U.unbroadcast(g, a) if _wants(a) else None, U.unbroadcast(U.neg(g), b) if _wants(b) else None]


@register_gradient("Mul")
def mul(node, grads):
    a, b = node.inputs
    g = grads[0]
    return [U.unbroadcast(U.mul(g, b), a) if _wants(a) else None,
            U.unbroadcast(U.mul(g, a), b) if _wants(b) else None]


@register_gradient("Div")
def div(node, grads):
    a, b = node.inputs
    g = grads[0]
    ga = U.div(g, b)
    # d(a/b)/db = -(a/b)/b = -y/b: reuses the forward output and the Div above.
    gb = U.unbroadcast(U.neg(U.mul(ga, node.outputs[0])), b) if _wants(b) else None
    return [U.unbroadcast(ga, a) if _wants(a) else None, gb]
