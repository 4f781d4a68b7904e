"""The gradient-rule registry: one function per (domain, op_type), filled by decorators."""

from __future__ import annotations

from typing import Callable

__all__ = ["RULES", "register_gradient", "NoGradientError", "rule_for"]

# (domain, op_type) -> rule(node, grads) -> list of input gradients (None = no gradient).
RULES: dict[tuple[str, str], Callable] = {}


class NoGradientError(NotImplementedError):
    """An op between a weight and the loss has no gradient rule."""


def register_gradient(*op_types: str, domain: str = ""):
    """Register the decorated function as the gradient rule of `op_types` in `domain`.

    The rule is called as ``rule(node, grads)``: `node` is the forward `backend.ir.Node`,
    `grads[i]` is dL/d(node.outputs[i]) or None (nothing flows back from that output). It
    returns one entry per `node.inputs`: a gradient of exactly that input's shape and dtype,
    or None (absent optional input, integer input, or no gradient).

    Example:
        >>> @register_gradient("Neg")
        ... def neg(node, grads):
        ...     return [_util.neg(grads[0])]
    """
    if not op_types:
        raise TypeError("register_gradient() needs at least one op type, e.g. @register_gradient('Relu').")
    domain = "" if domain == "ai.onnx" else domain

    def decorate(rule: Callable) -> Callable:
        for op_type in op_types:
            RULES[(domain, op_type)] = rule
        return rule

    return decorate


def rule_for(domain: str, op_type: str) -> Callable | None:
    return RULES.get(("" if domain in ("", "ai.onnx") else domain, op_type))
