"""Keras's auto config: layers without get_config serialize plain __init__ arguments (layers/_auto_config.py)."""

import numpy as np

import onnxgraph as og
from onnxgraph import layers


class Scaled(layers.Layer):
    def __init__(self, units, scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.units, self.scale = units, scale
        self.dense = layers.Dense(units)

    def call(self, x):
        return self.dense(x) * self.scale


class TakesALayer(layers.Layer):
    def __init__(self, inner, **kwargs):
        super().__init__(**kwargs)
        self.inner = inner


def test_plain_arguments_round_trip():
    layer = Scaled(4, scale=2.0, name="scaled")
    config = layer.get_config()
    assert config["units"] == 4 and config["scale"] == 2.0 and config["name"] == "scaled"
    x = og.Input((3,))
    model = og.Model(x, layer(x))
    revived = og.Model.from_config(model.get_config(), custom_objects={"Scaled": Scaled})
    assert revived.get_layer("scaled").units == 4 and revived.get_layer("scaled").scale == 2.0
    assert revived(np.ones((1, 3), "float32")).shape == (1, 4)


def test_object_arguments_give_no_auto_config():
    assert "inner" not in TakesALayer(layers.Dense(2)).get_config()
