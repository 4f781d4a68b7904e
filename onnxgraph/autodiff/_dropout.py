"""Gradient of Dropout: dx = dy · mask / (1 - ratio) in training mode, dy at inference.

The mask must be the forward node's own `mask` output (a re-run Dropout would draw another
mask): onnxgraph's Dropout layer declares it, and the trainer rewrite declares it on nodes
that come from imported models. A runtime `training_mode` selects between the two forms.
"""

from __future__ import annotations

import numpy as np

from onnxgraph.autodiff import _util
from onnxgraph.autodiff._conv import where
from onnxgraph.autodiff._registry import register_gradient
from onnxgraph.backend.emit import emit

__all__ = []


@register_gradient("Dropout")
def dropout(node, grads):
    x, dy = node.inputs[0], grads[0]
    ratio = node.inputs[1] if len(node.inputs) > 1 else None
    training = node.inputs[2] if len(node.inputs) > 2 else None
    rest = [None] * (len(node.inputs) - 1)
    if dy is None:
        return [None] + rest
    value = _util.const_value(training)
    if training is None or (value is not None and not bool(value.reshape(-1)[0])):
        return [dy] + rest  # inference mode: the identity
    if len(node.outputs) < 2:
        raise NotImplementedError(
            f"{where(node)}: a training-mode Dropout without its `mask` output cannot be differentiated (re-running "
            "it would draw another mask). Declare the mask output (emit Dropout with outputs=2).")
    ratio = _util.const(0.5, x.dtype) if ratio is None else _util.cast(ratio, x.dtype)
    ratio_value = _util.const_value(ratio)
    if ratio_value is not None:
        r = float(ratio_value.reshape(-1)[0])
        scale = _util.const(0.0 if r >= 1.0 else 1.0 / (1.0 - r), x.dtype)
    else:
        scale = _util.like("Reciprocal", _util.sub(_util.const(1.0, x.dtype), ratio))
    kept = _util.mul(_util.cast(node.outputs[1], x.dtype), scale)
    if value is None:  # training_mode decided at runtime
        kept = emit("Where", [training, kept, _util.const(np.ones(()), x.dtype)], shapes=[x.shape], dtypes_=[x.dtype])
    return [_util.mul(dy, kept)] + rest
