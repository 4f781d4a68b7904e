"""Metrics with Keras 3's names, formulas and sample-weight rules, computed in numpy.

Interface for the training engine (model outputs and targets arrive as numpy arrays):

    m = metrics.get("accuracy", y_true_shape=y.shape, y_pred_shape=out.shape, loss=loss)
                                         # like compile(): a string names the metric after itself
                                         # ("acc" -> "acc", "mae" -> "mae"); "accuracy"/"acc" is
                                         # resolved by resolve_accuracy; objects keep their name
    m.update_state(y_true, y_pred, sample_weight=None)   # one batch
    m.result() -> float                  # running value over the batches since reset
    m.reset_state()                      # at each epoch start
    m.name, m.direction                  # history key (prefix "<output>_" per output); "up"/"down"

`resolve_accuracy(loss, y_true_shape, y_pred_shape)` follows Keras 3's compile: binary
accuracy when the output's last dim is 1; sparse categorical when the labels have lower
rank or a last dim of 1; else categorical. Without label shapes, the loss decides.

Example:
    >>> import numpy as np
    >>> from onnxgraph import metrics
    >>> m = metrics.get("accuracy", y_true_shape=(4,), y_pred_shape=(4, 3))
    >>> m(np.array([0, 1, 2, 2]), np.eye(3)[[0, 1, 2, 0]]), m.name, type(m).__name__
    (0.75, 'accuracy', 'SparseCategoricalAccuracy')
"""

from __future__ import annotations

import inspect

from onnxgraph.metrics._accuracy import (Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
                                         SparseTopKCategoricalAccuracy, TopKCategoricalAccuracy, accuracy,
                                         binary_accuracy, categorical_accuracy, sparse_categorical_accuracy,
                                         sparse_top_k_categorical_accuracy, top_k_categorical_accuracy)
from onnxgraph.metrics._auc import AUC
from onnxgraph.metrics._metric import Mean, MeanMetricWrapper, Metric, Sum
from onnxgraph.metrics._regression import (BinaryCrossentropy, CategoricalCrossentropy, MeanAbsoluteError,
                                           MeanSquaredError, RootMeanSquaredError, SparseCategoricalCrossentropy)
from onnxgraph.utils._naming import to_snake_case as _to_snake_case

__all__ = ["Metric", "Mean", "Sum", "MeanMetricWrapper", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy",
           "SparseCategoricalAccuracy", "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy", "AUC",
           "MeanSquaredError", "MeanAbsoluteError", "RootMeanSquaredError", "BinaryCrossentropy",
           "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "accuracy", "binary_accuracy",
           "categorical_accuracy", "sparse_categorical_accuracy", "top_k_categorical_accuracy",
           "sparse_top_k_categorical_accuracy", "get", "resolve_accuracy", "serialize", "deserialize"]

_CLASSES = [Mean, Sum, Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
            TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy, AUC, MeanSquaredError, MeanAbsoluteError,
            RootMeanSquaredError, BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy]
_BY_NAME = {cls.__name__: cls for cls in _CLASSES}
_BY_NAME.update({_to_snake_case(cls.__name__): cls for cls in _CLASSES})
_BY_NAME.update({"mse": MeanSquaredError, "MSE": MeanSquaredError, "mae": MeanAbsoluteError,
                 "MAE": MeanAbsoluteError, "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy})

_LOSS_TO_ACCURACY = {"sparse_categorical_crossentropy": SparseCategoricalAccuracy,
                     "SparseCategoricalCrossentropy": SparseCategoricalAccuracy,
                     "binary_crossentropy": BinaryAccuracy, "BinaryCrossentropy": BinaryAccuracy,
                     "categorical_crossentropy": CategoricalAccuracy, "CategoricalCrossentropy": CategoricalAccuracy}


def resolve_accuracy(loss=None, y_true_shape=None, y_pred_shape=None, name="accuracy") -> Metric:
    """The accuracy metric Keras 3's compile picks for "accuracy"/"acc".

    Args:
        loss: the output's loss (name or Loss); used only when label shapes are unknown.
        y_true_shape: shape of the targets as given (e.g. (n,) or (n, 1) for class ids).
        y_pred_shape: the model output's shape (batch may be None).
        name: the metric's name (the string the user wrote).

    Returns:
        BinaryAccuracy, SparseCategoricalAccuracy or CategoricalAccuracy named `name`.

    Example:
        >>> type(resolve_accuracy(y_true_shape=(8, 1), y_pred_shape=(None, 1))).__name__
        'BinaryAccuracy'
    """
    if y_pred_shape is not None and y_pred_shape[-1] == 1:
        return BinaryAccuracy(name=name)
    if y_true_shape is not None and y_pred_shape is not None:
        sparse = len(y_true_shape) < len(y_pred_shape) or (y_true_shape[-1] == 1 and y_pred_shape[-1] != 1)
        return SparseCategoricalAccuracy(name=name) if sparse else CategoricalAccuracy(name=name)
    names = [loss] if isinstance(loss, str) else [type(loss).__name__, getattr(loss, "name", None),
                                                   getattr(getattr(loss, "fn", None), "__name__", None)]
    cls = next((_LOSS_TO_ACCURACY[n] for n in names if n in _LOSS_TO_ACCURACY), None)
    if cls is None:
        if y_pred_shape is None:
            raise ValueError("metrics 'accuracy': cannot choose binary/categorical/sparse accuracy without "
                             "the output shape, label shape or a cross-entropy loss; name the metric instead.")
        cls = CategoricalAccuracy
    return cls(name=name)


def get(identifier, y_true_shape=None, y_pred_shape=None, loss=None) -> Metric:
    """A Metric from a Keras name, alias, class, config dict, Metric instance or function, as compile() does.

    Args:
        identifier: str ("accuracy", "acc", "mae", "AUC", "top_k_categorical_accuracy", ...), dict
            from `serialize`, Metric class or instance, or `fn(y_true, y_pred)` returning per-sample values.
        y_true_shape, y_pred_shape, loss: used to resolve "accuracy"/"acc".

    Returns:
        A Metric instance; a string identifier also becomes its name, like Keras's compile.

    Example:
        >>> get("mae").name, type(get("mae")).__name__
        ('mae', 'MeanAbsoluteError')
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if inspect.isclass(identifier) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, str):
        if identifier.lower() in ("accuracy", "acc"):
            return resolve_accuracy(loss, y_true_shape, y_pred_shape, name=identifier)
        cls = _BY_NAME.get(identifier)
        if cls is None:
            raise ValueError(f"Could not interpret metric identifier: '{identifier}'. Known metrics: "
                             f"{sorted(n for n in _BY_NAME if n[0].islower())}.")
        metric = cls()
        metric.name = identifier
        return metric
    if callable(identifier):
        return MeanMetricWrapper(identifier, name=getattr(identifier, "__name__", None))
    raise ValueError(f"Could not interpret metric identifier: {identifier!r}. Pass a name such as 'accuracy', "
                     "a Metric, or a function fn(y_true, y_pred) returning per-sample values.")


def serialize(metric: Metric) -> dict:
    """Keras-layout dict `{"module", "class_name", "config", "registered_name"}` of a Metric.

    Example:
        >>> serialize(AUC())["class_name"]
        'AUC'
    """
    from onnxgraph.saving import get_registered_name

    cls = type(metric)
    builtin = _BY_NAME.get(cls.__name__) is cls
    return {"module": "keras.metrics" if builtin else cls.__module__, "class_name": cls.__name__,
            "config": metric.get_config(), "registered_name": None if builtin else get_registered_name(cls)}


def deserialize(config: dict, custom_objects: dict | None = None) -> Metric:
    """Rebuild a Metric from `serialize`'s dict (built-ins, registered classes or `custom_objects`)."""
    from onnxgraph.saving import get_registered_object

    name = config.get("class_name")
    cls = (custom_objects or {}).get(name) or _BY_NAME.get(name)
    if cls is None:
        cls = get_registered_object(name, custom_objects, config.get("registered_name"))
    if not (inspect.isclass(cls) and issubclass(cls, Metric)):
        raise ValueError(f"Unknown metric class '{name}'. Register a custom Metric with "
                         "onnxgraph.saving.register_serializable() or pass custom_objects.")
    return cls.from_config(dict(config.get("config", {})))
