"""Models cut at intermediate tensors get new Inputs, as Keras's clone_graph_nodes (models/_graph_walk.py)."""

import numpy as np

import onnxgraph as og
from onnxgraph import layers


def test_head_from_an_intermediate_tensor_matches_the_full_model():
    inputs = og.Input((None, 2), name="input")
    x1 = layers.Dense(3, name="dense1")(inputs)
    x2 = layers.Dense(4, name="dense2")(x1)
    full = og.Model(inputs, layers.Dense(5, name="dense3")(x2))
    head = og.Model(x1, full.outputs[0])
    assert [type(l).__name__ for l in head.layers] == ["InputLayer", "Dense", "Dense"]
    assert head.input_names == ["dense1"] and head.inputs[0].shape == (None, None, 3)
    data = np.random.default_rng(0).random((2, 6, 2), dtype=np.float32)
    feature = og.Model(inputs, x1).predict(data, verbose=0)
    np.testing.assert_allclose(head.predict(feature, verbose=0), full.predict(data, verbose=0), rtol=1e-5, atol=1e-6)
    head.get_layer("dense3").set_weights([np.zeros((4, 5), "float32"), np.ones(5, "float32")])  # shared weights
    np.testing.assert_allclose(full.predict(data, verbose=0), np.ones((2, 6, 5)))


def test_intermediate_input_that_is_also_the_output():
    x = og.Input((3,))
    h = layers.Dense(2, name="h")(x)
    identity = og.Model(h, h)
    np.testing.assert_allclose(identity(np.ones((1, 2), "float32")), np.ones((1, 2)))
