"""Keras's auto config: a layer that does not override `get_config` serializes its `__init__` arguments.

Captured once at construction (`Layer.__new__`), and only when every argument is plain data
(None, bool, int, float, str, and lists/tuples/dicts of them): then `from_config` can call
`__init__` again with them. A layer taking objects (another layer, a function) gets no auto config
and must define `get_config`, as in Keras.
"""

from __future__ import annotations

import inspect

__all__ = ["capture"]


def _plain(value) -> bool:
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def capture(cls, args: tuple, kwargs: dict) -> dict | None:
    """The `__init__` arguments as a config dict, or None when they are not all plain data."""
    try:
        bound = inspect.signature(cls.__init__).bind(None, *args, **kwargs)
    except (TypeError, ValueError):
        return None
    config = {}
    params = inspect.signature(cls.__init__).parameters
    for name, value in list(bound.arguments.items())[1:]:  # [0] is self
        kind = params[name].kind
        if kind is inspect.Parameter.VAR_KEYWORD:
            config.update(value)
        elif kind is inspect.Parameter.VAR_POSITIONAL:
            if value:
                return None  # *args have no names to put in a config
        else:
            config[name] = value
    return config if _plain(config) else None
