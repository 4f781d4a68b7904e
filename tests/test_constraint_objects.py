"""Constraints: values and configs equal Keras 3's; the in-graph `emit` form undoes layout transforms."""

import numpy as np
import pytest

from onnxgraph import constraints
from onnxgraph.backend import transforms
from onnxgraph.layers._input_layer import placeholder
from onnxgraph.runtime import GraphRunner

keras = pytest.importorskip("keras")

CASES = [
    ("MaxNorm", {"max_value": 1.5, "axis": 0}),
    ("MaxNorm", {"max_value": 0.5, "axis": [0, 1, 2]}),
    ("NonNeg", {}),
    ("UnitNorm", {"axis": 1}),
    ("UnitNorm", {"axis": [0, 1]}),
    ("MinMaxNorm", {"min_value": 0.5, "max_value": 1.0, "rate": 0.7, "axis": 0}),
    ("MinMaxNorm", {"min_value": 2.0, "max_value": 3.0, "rate": 1.0, "axis": -1}),
]

# Layout transforms of real layers: Conv2D kernels, LSTM kernels (gate reorder + transpose + reshape).
TRANSFORMS = [
    ((3, 3, 2, 4), (("transpose", (3, 2, 0, 1)),)),
    ((2, 8), (("reorder", 1, (0, 3, 1, 2)), ("transpose", (1, 0)), ("reshape", (1, 8, 2)))),
    ((3, 2, 4), (("flip", (0,)), ("transpose", (2, 1, 0)))),
]


def _keras_value(constraint, w):
    return keras.ops.convert_to_numpy(constraint(keras.ops.convert_to_tensor(w)))


@pytest.mark.parametrize("name,kwargs", CASES)
def test_values_and_config_equal_keras(name, kwargs):
    w = 2.0 * np.random.default_rng(1).standard_normal((3, 3, 2, 4)).astype(np.float32)
    ours = getattr(constraints, name)(**kwargs)
    theirs = getattr(keras.constraints, name)(**kwargs)
    np.testing.assert_allclose(ours(w), _keras_value(theirs, w), rtol=1e-6, atol=1e-7)
    assert constraints.serialize(ours) == keras.constraints.serialize(theirs)
    again = constraints.deserialize(constraints.serialize(ours))
    assert type(again) is type(ours) and again.get_config() == ours.get_config()


@pytest.mark.parametrize("keras_shape,transform", TRANSFORMS, ids=["conv", "lstm", "flip"])
@pytest.mark.parametrize("constraint", [constraints.MaxNorm(1.0, axis=0), constraints.UnitNorm(axis=-1),
                                        constraints.NonNeg(), constraints.MinMaxNorm(0.5, 1.0, 0.5, axis=[0, 1])],
                         ids=["maxnorm", "unitnorm", "nonneg", "minmax"])
def test_emit_on_onnx_layout(constraint, keras_shape, transform):
    w = np.random.default_rng(2).standard_normal(keras_shape).astype(np.float32)
    onnx_value = transforms.apply(w, transform)
    x = placeholder(onnx_value.shape, "float32", "w")
    runner = GraphRunner([x], [constraint.emit(x, transform, keras_shape)], ["w"], ["projected"], [], name="c")
    got = runner.run_feeds({"w": onnx_value})[0]
    np.testing.assert_allclose(got, transforms.apply(constraint(w), transform), rtol=1e-6, atol=1e-7)


def test_emit_infers_shape_without_reshape_and_asks_otherwise():
    shape, transform = TRANSFORMS[0]
    x = placeholder(transforms.apply(np.zeros(shape, np.float32), transform).shape, "float32", "w")
    assert constraints.MaxNorm().emit(x, transform).shape == x.shape
    lstm_shape, lstm_transform = TRANSFORMS[1]
    y = placeholder((1, 8, 2), "float32", "w")
    with pytest.raises(ValueError, match="pass keras_shape="):
        constraints.MaxNorm().emit(y, lstm_transform)
    assert constraints.MaxNorm().emit(y, lstm_transform, lstm_shape).shape == (1, 8, 2)


@pytest.mark.parametrize("identifier", ["max_norm", "non_neg", "unit_norm", "min_max_norm", "MaxNorm"])
def test_string_identifiers_match_keras(identifier):
    assert constraints.serialize(constraints.get(identifier)) == \
        keras.constraints.serialize(keras.constraints.get(identifier))


def test_get_and_errors():
    assert constraints.get(None) is None
    assert isinstance(constraints.get({"class_name": "NonNeg", "config": {}}), constraints.NonNeg)
    with pytest.raises(ValueError, match="Could not interpret constraint identifier: 'positive'"):
        constraints.get("positive")
    with pytest.raises(ValueError, match="not serializable"):
        constraints.serialize(lambda w: w)
