"""Gradients of the activation ops ONNX has (Relu, LeakyRelu, Elu, Gelu, ...)."""

from __future__ import annotations

from onnxgraph.autodiff import _util as U
from onnxgraph.autodiff._registry import register_gradient

__all__ = []


def _positive_mask(y):
    """Cast(Greater(y, 0)) in y's dtype."""
    gt = U.emit_like_bool("Greater", y, U.const(0.0, y.dtype))
    return U.cast(gt, y.dtype)


@register_gradient("Relu")
def relu(node, grads):
    # Mul(dY, Cast(Greater(Y, 0))): reads the forward output, the fastest form measured.
    return [U.mul(grads[0], _positive_mask(node.outputs[0]))]
