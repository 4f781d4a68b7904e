"""The docstring examples of the applications, BN/activation/preprocessing layers and load_weights run."""

import doctest
import importlib

import numpy as np
import pytest

import onnxgraph as og

MODULES = ["onnxgraph.applications._vgg", "onnxgraph.applications._resnet", "onnxgraph.applications._mobilenet_v2",
           "onnxgraph.layers._activations", "onnxgraph.layers._normalization", "onnxgraph.layers._preprocessing",
           "onnxgraph.saving._keras_weights"]


@pytest.mark.parametrize("name", MODULES)
def test_doc_examples(name):
    module = importlib.import_module(name)
    globs = {"np": np, "og": og, "Input": og.Input, "Model": og.Model, "layers": og.layers,
             **{k: getattr(module, k) for k in module.__all__}}
    result = doctest.testmod(module, extraglobs=globs, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
