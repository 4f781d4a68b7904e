"""Naming scopes (`dense_1/MatMul`) and emission options shared while a graph is emitted."""

from __future__ import annotations

import contextlib
import threading

__all__ = ["name_scope", "current_scope", "emit_options", "current_options"]

_state = threading.local()


def _stack() -> list:
    if not hasattr(_state, "scopes"):
        _state.scopes = []
        _state.options = {}
    return _state.scopes


@contextlib.contextmanager
def name_scope(name: str):
    """Prefix node names emitted inside the block with `name/`."""
    stack = _stack()
    stack.append(name)
    try:
        yield
    finally:
        stack.pop()


def current_scope() -> tuple:
    return tuple(_stack())


@contextlib.contextmanager
def emit_options(**options):
    """Set emission options (e.g. ``training_graph=True``) for ops emitted inside the block."""
    _stack()
    saved = dict(_state.options)
    _state.options.update(options)
    try:
        yield
    finally:
        _state.options = saved


def current_options() -> dict:
    _stack()
    return _state.options
