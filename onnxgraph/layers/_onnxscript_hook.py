"""Installs the onnxscript evaluator of `_onnxscript.py` as soon as onnxscript is imported.

onnxscript decides how to run a `@script()` function by asking its default evaluator, so
onnxgraph's evaluator must be in place before a function is called on a symbolic tensor. If
onnxscript is already imported, the first layer call or `Input()` installs it (a cheap
check). Otherwise a one-shot import watcher installs it right after `import onnxscript`
finishes, so importing onnxscript later in a script or notebook works too, without making
`import onnxgraph` import onnxscript (about as slow as onnxgraph itself). Kept apart from
`_onnxscript.py` so that `Layer` can call it without importing onnxscript.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
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


class _WatchOnnxscriptImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself: when `onnxscript` is first imported, installs the evaluator after it runs."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "onnxscript":
            return None
        sys.meta_path.remove(self)  # one shot; the real finders locate the package
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            try:
                ensure_installed()
            except ImportError:  # onnxscript imported while onnxgraph itself is importing
                _state["installed"] = False  # the next layer call or Input() installs it

        spec.loader.exec_module = exec_module  # this loader instance serves only the onnxscript package
        return spec


if "onnxscript" not in sys.modules and not any(isinstance(f, _WatchOnnxscriptImport) for f in sys.meta_path):
    sys.meta_path.insert(0, _WatchOnnxscriptImport())
