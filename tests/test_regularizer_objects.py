"""Regularizers: values, names and configs equal Keras 3's own classes."""

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph import regularizers
from onnxgraph.layers._input_layer import placeholder
from onnxgraph.runtime import GraphRunner

keras = pytest.importorskip("keras")

CASES = [
    ("L1", {"l1": 0.03}),
    ("L2", {"l2": 0.2}),
    ("L1L2", {"l1": 0.01, "l2": 0.05}),
    ("L1L2", {}),
    ("OrthogonalRegularizer", {"factor": 0.1, "mode": "rows"}),
    ("OrthogonalRegularizer", {"factor": 0.3, "mode": "columns"}),
]


def _symbolic(regularizer, value):
    x = placeholder(value.shape, "float32", "w")
    runner = GraphRunner([x], [regularizer(x)], ["w"], ["penalty"], [], name="reg")
    return runner.run_feeds({"w": value})[0]


@pytest.mark.parametrize("name,kwargs", CASES)
def test_values_and_config_equal_keras(name, kwargs):
    w = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    ours = getattr(regularizers, name)(**kwargs)
    theirs = getattr(keras.regularizers, name)(**kwargs)
    want = float(keras.ops.convert_to_numpy(theirs(keras.ops.convert_to_tensor(w))))
    np.testing.assert_allclose(float(ours(w)), want, rtol=1e-6, atol=1e-9)        # numpy
    np.testing.assert_allclose(float(_symbolic(ours, w)), want, rtol=1e-6, atol=1e-9)  # ONNX nodes
    assert regularizers.serialize(ours) == keras.regularizers.serialize(theirs)
    again = regularizers.deserialize(regularizers.serialize(ours))
    assert type(again) is type(ours) and again.get_config() == ours.get_config()


@pytest.mark.parametrize("identifier", ["l1", "l2", "l1l2", "L2", "orthogonal_regularizer"])
def test_string_identifiers_match_keras(identifier):
    assert regularizers.serialize(regularizers.get(identifier)) == \
        keras.regularizers.serialize(keras.regularizers.get(identifier))


def test_get_and_errors():
    assert regularizers.get(None) is None
    fn = lambda w: og.ops.sum(w)  # noqa: E731  (a plain callable is kept as is)
    assert regularizers.get(fn) is fn
    assert isinstance(regularizers.get({"class_name": "L2", "config": {"l2": 0.5}}), regularizers.L2)
    with pytest.raises(ValueError, match="Could not interpret regularizer identifier: 'l3'"):
        regularizers.get("l3")
    with pytest.raises(ValueError, match="expected a non-negative float. Received: l2=-1"):
        regularizers.L2(-1)
    with pytest.raises(ValueError, match="mode"):
        regularizers.OrthogonalRegularizer(mode="diagonal")
    with pytest.raises(ValueError, match="rank 2"):
        regularizers.OrthogonalRegularizer()(np.ones((2, 2, 2), np.float32))
    with pytest.raises(ValueError, match="not serializable"):
        regularizers.serialize(fn)


def test_layer_losses_like_keras_docstring():
    # keras.regularizers.Regularizer's example: a kernel L1 penalty of 0.25, an activity L2 of 5.0
    # (20 per sample, divided by the batch of 5).
    layer = og.layers.Dense(5, kernel_initializer="ones", kernel_regularizer=og.regularizers.L1(0.01),
                            activity_regularizer=og.regularizers.L2(0.01))
    inputs = og.Input(shape=(5,))
    model = og.Model(inputs, layer(inputs))
    activity, kernel = model.losses
    np.testing.assert_allclose(float(kernel), 0.25, rtol=1e-6)
    runner = GraphRunner(model.inputs, [activity], model.input_names, ["activity"], [], name="activity")
    np.testing.assert_allclose(float(runner.run_feeds({model.input_names[0]: np.full((5, 5), 2.0, np.float32)})[0]),
                               5.0, rtol=1e-6)
    k_layer = keras.layers.Dense(5, kernel_initializer="ones", kernel_regularizer=keras.regularizers.L1(0.01),
                                 activity_regularizer=keras.regularizers.L2(0.01))
    k_layer(keras.ops.ones((5, 5)) * 2.0)
    np.testing.assert_allclose(float(keras.ops.convert_to_numpy(keras.ops.sum(k_layer.losses))), 5.25, rtol=1e-6)


def test_config_of_regularized_layers_equals_keras():
    kwargs = dict(kernel_regularizer="l2", bias_regularizer={"class_name": "L1", "config": {"l1": 0.1}},
                  activity_regularizer="l1", kernel_constraint="max_norm", bias_constraint="non_neg")
    ours = og.layers.Dense(3, **kwargs).get_config()
    theirs = keras.layers.Dense(3, **kwargs).get_config()
    for key in ("kernel_regularizer", "bias_regularizer", "activity_regularizer", "kernel_constraint",
                "bias_constraint"):
        assert ours[key] == theirs[key], key
    lstm = og.layers.LSTM(2, recurrent_regularizer="l2", recurrent_constraint="unit_norm").get_config()
    k_lstm = keras.layers.LSTM(2, recurrent_regularizer="l2", recurrent_constraint="unit_norm").get_config()
    for key in ("kernel_regularizer", "recurrent_regularizer", "recurrent_constraint", "bias_constraint"):
        assert lstm[key] == k_lstm[key], key
    again = og.layers.Dense.from_config(ours)
    assert isinstance(again.kernel_regularizer, regularizers.L2) and again.get_config() == ours


LAYERS = [("Dense", (3,)), ("Conv1D", (2, 3)), ("Conv2D", (2, 3)), ("Conv2DTranspose", (2, 3)),
          ("DepthwiseConv2D", (3,)), ("SeparableConv1D", (2, 3)), ("Embedding", (5, 2)), ("BatchNormalization", ()),
          ("LayerNormalization", ()), ("GroupNormalization", (1,)), ("PReLU", ()), ("SimpleRNN", (2,)),
          ("LSTM", (2,)), ("GRU", (2,)), ("MultiHeadAttention", (2, 3))]


@pytest.mark.parametrize("name,args", LAYERS, ids=[n for n, _ in LAYERS])
def test_every_layer_lists_its_regularizers_and_constraints_like_keras(name, args):
    ours, theirs = getattr(og.layers, name)(*args).get_config(), getattr(keras.layers, name)(*args).get_config()
    keys = {k for k in list(ours) + list(theirs) if k.endswith(("_regularizer", "_constraint"))}
    assert keys and {k: ours.get(k, "missing") for k in keys} == {k: theirs.get(k, "missing") for k in keys}
