"""Layer.from_config wraps a constructor error in a TypeError, as Keras does, keeping the cause."""

import pytest

import onnxgraph as og


def test_from_config_wraps_constructor_errors_in_type_error():
    with pytest.raises(TypeError, match="`input_dim` must be a positive integer") as info:
        og.layers.Embedding.from_config({"input_dim": 3.7, "output_dim": 8})
    assert isinstance(info.value.__cause__, ValueError)
    assert "Embedding" in str(info.value)


def test_constructor_still_raises_value_error():
    with pytest.raises(ValueError, match="`output_dim` must be a positive integer"):
        og.layers.Embedding(input_dim=10, output_dim=0)
