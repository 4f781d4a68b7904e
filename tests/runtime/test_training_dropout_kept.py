"""A Dropout called with training=True keeps dropping when it sits inside a graph.

onnxruntime 1.32's optimizer removes a training-mode Dropout whose mask is unused when its
output feeds another node (1.19 kept it); onnxgraph's sessions disable that optimizer.
"""

import numpy as np
import pytest

import onnxgraph as og


def _mc_dropout_model():
    inputs = og.Input(shape=(10,))
    hidden = og.layers.Dense(10, kernel_initializer="ones", use_bias=False)(inputs)
    dropped = og.layers.Dropout(0.5)(hidden, training=True)  # Keras: always-on (MC) dropout
    outputs = og.layers.Dense(1, kernel_initializer="ones", use_bias=False)(dropped)
    return og.Model(inputs, outputs)


def test_training_mode_dropout_inside_a_model_drops():
    values = np.unique(_mc_dropout_model().predict(np.ones((64, 10), "float32"), verbose=0))
    # Each output sums 10 hidden units of 10 (kept units doubled): without dropping it is always 100.
    assert len(values) > 3 and set(values) <= set(np.arange(0, 201, 20, dtype=np.float32))


@pytest.mark.parametrize("noise_shape", [None, (None, 1, None)])
def test_eager_training_dropout_followed_by_an_op_drops(noise_shape):
    layer = og.layers.Dropout(0.5, noise_shape=noise_shape, seed=3)
    out = layer(np.ones((20, 5, 10), "float32"), training=True)
    assert set(np.unique(out)) == {0.0, 2.0}
