"""Installs the onnxscript evaluator of `_onnxscript.py` once onnxscript is imported (a cheap check).

Kept apart from `_onnxscript.py` so that `Layer` can call it without importing onnxscript.
"""

from __future__ import annotations

import sys

__all__ = ["ensure_installed"]

_state = {"installed": False}


def ensure_installed() -> None:
    """Put onnxgraph's evaluator in front of onnxscript's default one (once, if onnxscript is loaded)."""
    if _state["installed"] or "onnxscript" not in sys.modules:
        return
    _state["installed"] = True
    from onnxgraph.layers._onnxscript import install

    install()
