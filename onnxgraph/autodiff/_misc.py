"""Gradients of pass-through ops (Identity, Cast, CastLike) and of ops that carry none.

Ops whose outputs are integer or bool (Shape, Size, comparisons, ArgMax, NonZero, ...) never
receive a gradient: the reverse pass skips them without a rule. The ones registered here
have float outputs that do not depend differentiably on their float inputs.
"""

from __future__ import annotations

from onnxgraph.autodiff import _util as U
from onnxgraph.autodiff._registry import register_gradient

__all__ = []


@register_gradient("Identity")
def identity(node, grads):
    return [grads[0]]


@register_gradient("Cast", "CastLike")
def cast(node, grads):
    x = node.inputs[0]
    rest = [None] * (len(node.inputs) - 1)
    if not U.is_float(x) or grads[0] is None:
        return [None, *rest]
    return [U.cast(grads[0], x.dtype), *rest]


@register_gradient("Shape", "Size", "Range", "ConstantOfShape", "EyeLike", "RandomNormalLike", "RandomUniformLike",
                   "Bernoulli", "Multinomial", "NonZero", "ArgMax", "ArgMin", "Equal", "Greater", "GreaterOrEqual",
                   "Less", "LessOrEqual", "Not", "And", "Or", "Xor", "BitShift")
def no_gradient(node, grads):
    """Outputs are integers, bools, shapes or random draws: no gradient reaches the inputs."""
    return [None] * len(node.inputs)
