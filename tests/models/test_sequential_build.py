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


def test_predict_on_a_generator_builds_and_opens_varying_dims():
    def batches():
        yield (np.arange(105, dtype="float32").reshape(3, 5, 7),)
        yield (np.ones((2, 7, 5), "float32"),)

    model = og.Sequential([layers.Flatten()])
    got = model.predict(batches(), verbose=0)
    assert got.shape == (5, 35)
    np.testing.assert_array_equal(got[:3], np.arange(105).reshape(3, 35))
    assert model.inputs[0].shape == (None, None, None)


def test_eager_calls_open_only_data_built_inputs():
    model = og.Sequential([layers.Reshape((-1, 8))])
    model(np.ones((1, 12, 2), "float32"))
    assert model(np.ones((1, 20, 2), "float32")).shape == (1, 5, 8)
    fixed = og.Sequential([og.Input((12, 2)), layers.Reshape((-1, 8))])
    with pytest.raises(ValueError, match=r"expects shape \(None, 12, 2\)"):
        fixed(np.ones((1, 20, 2), "float32"))


def test_fit_on_a_generator_of_varying_lengths():
    def batches():
        for n in (12, 20, 12, 20):
            yield np.ones((1, n, 2), "float32"), np.zeros((1, n // 4, 8), "float32")

    model = og.Sequential([layers.Reshape((-1, 8))])
    model.compile(loss="mean_squared_error")
    model.fit(batches(), steps_per_epoch=4, epochs=1, verbose=0)
    assert model.inputs[0].shape == (None, None, 2)
    stacked = og.Sequential([layers.Conv1D(2, 3), layers.Flatten(), layers.Dense(1)])  # needs the sizes
    stacked.compile(optimizer="sgd", loss="mse")
    stacked.fit(iter([(np.ones((4, 6, 3), "float32"), np.zeros((4, 1), "float32"))]), epochs=1, verbose=0)
    assert stacked.inputs[0].shape == (None, 6, 3)
