"""Keras 3 call and build conventions the Layer base class follows (kept here to keep _layer.py small)."""

from __future__ import annotations

import inspect

__all__ = ["first_input_positional", "build_at_init"]


def first_input_positional(call, args: tuple, kwargs: dict):
    """(args, kwargs) with call()'s first parameter moved out of kwargs when no positional argument came:
    `layer(inputs=x)`, `mha(query=q, value=v)` (Keras's CallSpec)."""
    if args or not kwargs:
        return args, kwargs
    for name, param in inspect.signature(call).parameters.items():
        if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD) and name in kwargs:
            kwargs = dict(kwargs)
            return (kwargs.pop(name),), kwargs
        break
    return args, kwargs


def build_at_init(layer) -> None:
    """Keras's `_build_at_init`: a stateless layer is built at the end of its __init__, unless its class
    (or a subclass) defines build()."""
    from onnxgraph.layers._layer import Layer

    if type(layer).build is Layer.build:
        layer.built = True
