"""Sequential as Keras 3 builds it: its Functional model, structures from data, errors (models/_sequential.py)."""

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph import layers


def test_functional_view_is_the_built_graph():
    model = og.Sequential([og.Input((2,)), layers.Dense(3)], name="seq")
    view = model._functional
    assert type(view) is og.Model and view.name == "seq_functional"
    x = np.ones((4, 2), "float32")
    np.testing.assert_allclose(view(x), model(x))
    assert og.Sequential([layers.Dense(3)])._functional is False


def test_dict_and_list_data_build_a_structured_graph():
    class Sum(layers.Layer):
        def call(self, inputs):
            return inputs["a"] + inputs["b"] if isinstance(inputs, dict) else inputs[0] - inputs[1]

    x = {"a": np.ones((3, 2), "float32"), "b": np.full((3, 2), 2.0, "float32")}
    np.testing.assert_allclose(og.Sequential([Sum()])(x), np.full((3, 2), 3.0))
    np.testing.assert_allclose(og.Sequential([Sum()])([x["a"], x["b"]]), np.full((3, 2), -1.0))


def test_built_model_first_gives_the_input_shape():
    inner = og.Model(*(lambda i: (i, layers.Dense(2)(i)))(og.Input((5,))))
    model = og.Sequential([inner, layers.Dense(1)])
    assert model.built and model.inputs[0].shape == (None, 5)


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="Only instances of `Layer`.*Received: 3"):
        og.Sequential().add(3)

    class TwoInputs(layers.Layer):
        def call(self, inputs, training):
            return inputs

    model = og.Sequential([TwoInputs(name="two")])
    with pytest.raises(ValueError, match=r"single required positional.*\('two'\).*\['inputs', 'training'\]"):
        model.build((None, 2))
