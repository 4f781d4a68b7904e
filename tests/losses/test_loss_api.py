"""Loss lookup, names, configs, label specs and the errors that teach."""

import numpy as np
import pytest

from onnxgraph import losses, ops
from onnxgraph.layers._input_layer import placeholder


@pytest.mark.parametrize("identifier,cls,name", [
    ("mse", losses.MeanSquaredError, "mean_squared_error"),
    ("MSE", losses.MeanSquaredError, "mean_squared_error"),
    ("mae", losses.MeanAbsoluteError, "mean_absolute_error"),
    ("mean_squared_error", losses.MeanSquaredError, "mean_squared_error"),
    ("huber", losses.Huber, "huber"),
    ("Huber", losses.Huber, "huber_loss"),
    ("bce", losses.BinaryCrossentropy, "binary_crossentropy"),
    ("binary_crossentropy", losses.BinaryCrossentropy, "binary_crossentropy"),
    ("CategoricalCrossentropy", losses.CategoricalCrossentropy, "categorical_crossentropy"),
    ("sparse_categorical_crossentropy", losses.SparseCategoricalCrossentropy, "sparse_categorical_crossentropy"),
    (losses.mean_absolute_error, losses.MeanAbsoluteError, "mean_absolute_error"),
    (losses.Huber, losses.Huber, "huber_loss"),
])
def test_get_resolves_keras_identifiers(identifier, cls, name):
    loss = losses.get(identifier)
    assert type(loss) is cls and loss.name == name
    assert losses.get(loss) is loss


@pytest.mark.parametrize("y_shape,p_shape,cls", [
    ((8,), (None, 1), losses.BinaryCrossentropy),
    ((8, 1), (None, 4), losses.SparseCategoricalCrossentropy),
    ((8,), (None, 4), losses.SparseCategoricalCrossentropy),
    ((8, 4), (None, 4), losses.CategoricalCrossentropy),
])
def test_crossentropy_is_resolved_from_shapes_like_keras(y_shape, p_shape, cls):
    assert type(losses.get("crossentropy", y_true_shape=y_shape, y_pred_shape=p_shape)) is cls
    assert type(losses.get("ce", y_true_shape=y_shape, y_pred_shape=p_shape)) is cls


def test_label_specs_and_coercion():
    scce = losses.get("sparse_categorical_crossentropy")
    assert scce.label_spec((None, 10)) == ((None,), "int64")
    assert scce.label_spec((None, 7, 10)) == ((None, 7), "int64")
    y = scce.coerce_labels(np.array([[1.0], [9.0]]), (None, 10))
    assert y.dtype == np.int64 and y.tolist() == [1, 9]
    bce = losses.get("binary_crossentropy")
    assert bce.label_spec((None, 1)) == ((None, 1), "float32")
    assert bce.coerce_labels(np.array([0, 1, 1]), (None, 1)).shape == (3, 1)
    assert losses.get("mse").coerce_labels(np.ones((4, 1, 3), np.float64), (None, 1, 3)).dtype == np.float32


def test_label_errors_teach():
    scce = losses.SparseCategoricalCrossentropy()
    with pytest.raises(ValueError, match=r"class ids must be in \[0, 10\).*\[0, 12\]"):
        scce.coerce_labels(np.array([0, 12]), (None, 10))
    with pytest.raises(ValueError, match="integer class ids.*categorical_crossentropy"):
        scce.coerce_labels(np.array([0.5, 1.0]), (None, 10))
    with pytest.raises(ValueError, match=r"expects labels of shape \(None, 10\).*got labels of shape \(4, 3\)"):
        losses.CategoricalCrossentropy().coerce_labels(np.ones((4, 3)), (None, 10))
    with pytest.raises(ValueError, match="Known losses"):
        losses.get("mean_squared_eror")
    with pytest.raises(ValueError, match="y_true_shape and y_pred_shape"):
        losses.get("crossentropy")
    with pytest.raises(ValueError, match="reduction"):
        losses.MeanSquaredError(reduction="avg")
    with pytest.raises(TypeError, match="symbolic"):
        losses.MeanSquaredError().emit(np.ones((2, 2)), np.ones((2, 2)))


def test_serialize_round_trip_keeps_options():
    for loss in (losses.Huber(delta=2.5, reduction="sum"), losses.BinaryCrossentropy(from_logits=True,
                                                                                  label_smoothing=0.3),
                 losses.CategoricalCrossentropy(label_smoothing=0.1, name="cce"), losses.get("mae"),
                 losses.SparseCategoricalCrossentropy(from_logits=True)):
        again = losses.deserialize(losses.serialize(loss))
        assert type(again) is type(loss) and again.get_config() == loss.get_config()


def test_custom_function_loss_runs_on_arrays_and_emits():
    def cubic(y_true, y_pred):
        return ops.mean(ops.absolute(ops.subtract(y_true, y_pred)) ** 3, axis=-1)

    loss = losses.get(cubic)
    assert loss.name == "cubic"
    y, p = np.zeros((2, 3), np.float32), np.full((2, 3), 2.0, np.float32)
    assert float(loss(y, p)) == pytest.approx(8.0)
    per_sample = loss.emit(placeholder((None, 3)), placeholder((None, 3)))
    assert per_sample.shape == (None,)


def test_sequence_outputs_with_unknown_length_emit():
    # (batch, time, classes) with time unknown: per-sample losses and the default reduction still work.
    loss = losses.SparseCategoricalCrossentropy(from_logits=True)
    y_true, y_pred = placeholder((None, None), "int64"), placeholder((None, None, 5))
    assert loss.emit(y_true, y_pred).shape == (None,)
    assert loss.emit_reduced(y_true, y_pred, placeholder((None,))).shape == ()
    with pytest.raises(ValueError, match="static non-batch dims"):
        losses.SparseCategoricalCrossentropy(reduction="sum").emit_reduced(y_true, y_pred)
