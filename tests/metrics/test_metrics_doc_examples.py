"""The docstring examples of onnxgraph.metrics run and print what they claim."""

import doctest
import importlib
import pkgutil

import pytest

import onnxgraph.metrics as package

MODULES = [package.__name__] + [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]


@pytest.mark.parametrize("name", MODULES)
def test_doc_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
