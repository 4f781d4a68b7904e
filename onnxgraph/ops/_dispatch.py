"""Ops on layer outputs outside any layer become op-layers, as in Keras 3 functional code.

`outputs = layers.Dense(4)(x) * 2` or `ops.concatenate([a, b])` written between layer calls
must show up in `Model(inputs, outputs)`, which only knows layer calls. Each public op is
wrapped by `keras_op`: called outside any layer (empty naming scope) on a tensor that a
layer produced, it records an `OpLayer` that stores the op's name and its non-tensor
arguments as data and replays the same function. Inside a layer's `call` (or on arrays) the
wrapper is a plain call.
"""

from __future__ import annotations

import functools

from onnxgraph.backend.ir import SymbolicTensor
from onnxgraph.backend.scope import current_scope

__all__ = ["keras_op", "OPS"]

# op name -> the public op function. OpLayer configs name ops only through this table.
OPS: dict = {}


def _has_layer_history(value) -> bool:
    if isinstance(value, SymbolicTensor):
        return value._keras_history is not None
    if isinstance(value, (list, tuple)):
        return any(_has_layer_history(v) for v in value)
    if isinstance(value, dict):
        return any(_has_layer_history(v) for v in value.values())
    return False


def keras_op(fn):
    """Register `fn` as a public op and let it be called on layer outputs outside any layer."""
    name = fn.__name__

    @functools.wraps(fn)
    def op(*args, **kwargs):
        if not current_scope() and (_has_layer_history(args) or _has_layer_history(kwargs)):
            from onnxgraph.layers._node import is_recording

            if is_recording():
                from onnxgraph.layers._op_layer import call_op_layer

                return call_op_layer(name, args, kwargs)
        return fn(*args, **kwargs)

    OPS[name] = op
    return op
