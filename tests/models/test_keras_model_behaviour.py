"""Keras 3 Model/Sequential behaviours that Keras's own model tests check (tests/keras_compat), pinned here."""

import json

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph import layers
from onnxgraph.saving import deserialize_keras_object


def _functional():
    x = og.Input(shape=(3,), name="x")
    return og.Model(x, layers.Dense(2, name="out")(x), name="net")


def test_layers_attribute_is_reserved():
    with pytest.raises(AttributeError, match="`Model.layers` attribute is reserved"):
        _functional().layers = [layers.Dense(4)]
    with pytest.raises(AttributeError, match=r"Use `add\(\)` and `pop\(\)`"):
        og.Sequential().layers = [layers.Dense(4)]


def test_to_json_round_trips_through_the_config():
    model = _functional()
    config = json.loads(model.to_json())
    assert config["class_name"] in ("Functional", "Model") and config["config"]["name"] == "net"
    revived = deserialize_keras_object(config)
    revived.set_weights(model.get_weights())
    x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    np.testing.assert_allclose(revived.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_sequential_build_creates_the_graph():
    model = og.Sequential([layers.Dense(2)])
    model.build((None, 3))
    assert model.count_params() == 8
    assert model.predict(np.ones((1, 3), "float32"), verbose=0).shape == (1, 2)


def test_sequential_configuration_errors():
    model = og.Sequential()
    model.add(og.Input(shape=(2,), batch_size=3))
    with pytest.raises(ValueError, match="already been configured"):
        model.add(og.Input(shape=(2,), batch_size=3))
    with pytest.raises(ValueError, match="already been configured"):
        model.add(layers.InputLayer(shape=(2,), batch_size=3))
    model.add(layers.Dense(2, name="d"))
    with pytest.raises(ValueError, match="should have unique names"):
        model.add(layers.Dense(2, name="d"))
    with pytest.raises(ValueError, match="already been configured"):
        model.build((3, 4))
    model.build((3, 2))
    with pytest.raises(ValueError, match="no layers"):
        og.Sequential()(np.ones((3, 2)))
    with pytest.raises(ValueError, match="input_shape"):
        og.Sequential([layers.Dense(2)]).build()


def test_input_shape_error_carries_keras_wording():
    with pytest.raises(ValueError, match=r"expected shape=\(None, 3\), found shape=\(2, 4\)"):
        _functional().predict(np.zeros((2, 4), "float32"), verbose=0)


def test_one_entry_loss_list_is_that_loss():
    x = og.Input(shape=(3,))
    model = og.Model(x, [layers.Dense(1)(x), layers.Dense(1, activation="sigmoid")(x)])
    model.compile(optimizer="sgd", loss=["mean_squared_error", ["binary_crossentropy"]])
    data = np.random.default_rng(0).random((8, 3)).astype("float32")
    history = model.fit(data, (data[:, :1], (data[:, 1:2] > 0.5).astype("float32")), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    model.compile(optimizer="sgd", loss=["mse", ["mse", "mae"]])  # Keras: two losses on output 1, summed
    keys = model.fit(data, (data[:, :1], data[:, 1:2]), epochs=1, verbose=0).history
    assert sorted(keys) == sorted(["loss"] + [f"{name}_loss" for name in model.output_names])
    model.compile(optimizer="sgd", loss="mse", metrics={"nope": ["mae"]})
    with pytest.raises(ValueError, match="Invalid `metrics`"):  # checked against the outputs at fit
        model.fit(data, (data[:, :1], data[:, 1:2]), epochs=1, verbose=0)


def test_none_for_an_input_and_non_tensor_model_inputs_are_refused_clearly():
    a, b = og.Input(shape=(2,), name="a"), og.Input(shape=(2,), name="b")
    model = og.Model({"a": a, "b": b}, layers.Add()([a, b]))
    with pytest.raises(ValueError, match="Input 'b' received None, but it is not optional"):
        model({"a": np.ones((2, 2), "float32"), "b": None})
    with pytest.raises(ValueError, match="All `inputs` values must be KerasTensors"):
        og.Model({"a": "a"}, layers.Dense(1)(a))


def test_summary_of_an_unbuilt_sequential_lists_its_layers(capsys):
    model = og.Sequential([layers.Dense(4), layers.Dense(5)], name="seq")
    model.summary()
    text = capsys.readouterr().out
    assert "dense (Dense)" in text and text.count("0 (unbuilt)") == 2 and "Total params: 0" in text
    model(np.ones((3, 2), "float32"))
    model.summary()
    assert "Total params: 37" in capsys.readouterr().out
    with pytest.raises(ValueError, match="not been built"):
        og.Sequential().summary()
