"""Gradients of pass-through ops (Identity, Cast) and ops that carry none (Shape, comparisons)."""

from __future__ import annotations

from onnxgraph.autodiff import _util as U
from onnxgraph.autodiff._registry import register_gradient

__all__ = []


@register_gradient("Identity")
def identity(node, grads):
    return [grads[0]]
