"""Every public name is in __all__, and every name in __all__ exists."""

import importlib
import inspect

import pytest

PACKAGES = ["onnxgraph", "onnxgraph.layers", "onnxgraph.ops", "onnxgraph.models", "onnxgraph.saving",
            "onnxgraph.utils", "onnxgraph.activations", "onnxgraph.initializers", "onnxgraph.runtime",
            "onnxgraph.losses", "onnxgraph.metrics", "onnxgraph.optimizers", "onnxgraph.optimizers.schedules", "onnxgraph.callbacks",
            "onnxgraph.serving", "onnxgraph.data", "onnxgraph.backend", "onnxgraph.datasets"]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_explicit_and_complete(name):
    module = importlib.import_module(name)
    assert isinstance(module.__all__, list)
    for public in module.__all__:
        assert hasattr(module, public), f"{name}.__all__ lists missing name {public!r}"
    for attr, value in vars(module).items():
        if attr.startswith("_") or inspect.ismodule(value):
            continue
        if (inspect.isclass(value) or inspect.isfunction(value)) and value.__module__.startswith("onnxgraph"):
            assert attr in module.__all__, f"{name}.{attr} is public but not in __all__"
