"""Losses with Keras 3's names, formulas, reductions and configs; they run on numpy and emit ONNX.

Interface for the training engine:

    loss = losses.get("sparse_categorical_crossentropy")   # name, alias ("mse", "mae", "bce"),
                                                          # class name, config dict, Loss, or a
                                                          # function fn(y_true, y_pred) -> always a Loss
    loss = losses.get("crossentropy", y_true_shape=..., y_pred_shape=...)   # Keras's "ce" resolution
    shape, dtype = loss.label_spec(y_pred.shape)         # label graph input: Keras shape (None =
                                                          # batch) and dtype ("float32"; "int64" for
                                                          # sparse CE, shape y_pred.shape[:-1])
    y = loss.coerce_labels(y_array, y_pred.shape)        # numpy targets cast/reshaped to label_spec
                                                          # (raises a teaching error on a mismatch)
    per_sample = loss.emit(y_true, y_pred)               # SymbolicTensor (batch,): ONNX nodes whose
                                                          # gradients are right in onnxruntime-training
    total = loss.emit_reduced(y_true, y_pred, sample_weight=None)   # scalar with loss.reduction
    loss(y_true_np, y_pred_np, sample_weight=None)       # reduced numpy value (Keras's __call__)
    loss.call(y_true_np, y_pred_np)                      # Keras's unreduced values (numpy)

With the default reduction "sum_over_batch_size", `mean(per_sample * sample_weight)` is
Keras's loss for any output rank (per_sample is the mean over all non-batch axes).
Cross-entropies with `from_logits=True` stay finite at |logit| = 1e4.

Example:
    >>> import numpy as np
    >>> from onnxgraph import losses
    >>> float(losses.get("mse")(np.zeros((2, 3)), np.ones((2, 3))))
    1.0
"""

from __future__ import annotations

import inspect

from onnxgraph.losses._functions import (binary_crossentropy, categorical_crossentropy, huber,
                                         mean_absolute_error, mean_squared_error, sparse_categorical_crossentropy)
from onnxgraph.losses._loss import (BinaryCrossentropy, CategoricalCrossentropy, Huber, Loss, LossFunctionWrapper,
                                    MeanAbsoluteError, MeanSquaredError, SparseCategoricalCrossentropy)

__all__ = ["Loss", "LossFunctionWrapper", "MeanSquaredError", "MeanAbsoluteError", "Huber", "BinaryCrossentropy",
           "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "mean_squared_error",
           "mean_absolute_error", "huber", "binary_crossentropy", "categorical_crossentropy",
           "sparse_categorical_crossentropy", "get", "serialize", "deserialize"]

_CLASSES = {cls.__name__: cls for cls in (MeanSquaredError, MeanAbsoluteError, Huber, BinaryCrossentropy,
                                          CategoricalCrossentropy, SparseCategoricalCrossentropy)}
_FUNCTIONS = {fn.__name__: fn for fn in (mean_squared_error, mean_absolute_error, huber, binary_crossentropy,
                                         categorical_crossentropy, sparse_categorical_crossentropy)}
_ALIASES = {"mse": mean_squared_error, "MSE": mean_squared_error, "mae": mean_absolute_error,
            "MAE": mean_absolute_error, "bce": binary_crossentropy, "BCE": binary_crossentropy}
# A built-in function named in compile() becomes its class with the function's name, like Keras's
# LossFunctionWrapper(fn, name=fn.__name__), and keeps the class's label_spec (int labels for sparse CE).
_CLASS_OF = {mean_squared_error: MeanSquaredError, mean_absolute_error: MeanAbsoluteError, huber: Huber,
             binary_crossentropy: BinaryCrossentropy, categorical_crossentropy: CategoricalCrossentropy,
             sparse_categorical_crossentropy: SparseCategoricalCrossentropy}


def _resolve_crossentropy(y_true_shape, y_pred_shape):
    if y_pred_shape is None:
        raise ValueError("The loss 'crossentropy'/'ce' is chosen from the label and output shapes; pass "
                         "y_true_shape and y_pred_shape, or name the loss (e.g. 'binary_crossentropy').")
    if y_pred_shape[-1] == 1:
        return binary_crossentropy
    if y_true_shape is not None and (len(y_true_shape) < len(y_pred_shape) or y_true_shape[-1] == 1):
        return sparse_categorical_crossentropy
    return categorical_crossentropy


def get(identifier, y_true_shape=None, y_pred_shape=None) -> Loss:
    """A Loss object from a Keras name, alias, class name, config dict, function or Loss.

    Function names and aliases give the matching class named after the function, like
    `model.compile` in Keras: "mse" gives MeanSquaredError(name="mean_squared_error"); class
    names give the class with defaults; other functions are wrapped in LossFunctionWrapper.

    Args:
        identifier: str, dict (`serialize` layout), callable `fn(y_true, y_pred)`, Loss class or instance.
        y_true_shape, y_pred_shape: only for "crossentropy"/"ce", resolved from shapes like Keras.

    Returns:
        A Loss instance.

    Example:
        >>> get("huber").name
        'huber'
        >>> get("Huber").name
        'huber_loss'
    """
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if inspect.isclass(identifier) and issubclass(identifier, Loss):
        return identifier()
    if isinstance(identifier, str):
        if identifier.lower() in ("crossentropy", "ce"):
            fn = _resolve_crossentropy(y_true_shape, y_pred_shape)
            return _CLASS_OF[fn](name=fn.__name__)
        if identifier in _CLASSES:
            return _CLASSES[identifier]()
        fn = _FUNCTIONS.get(identifier) or _ALIASES.get(identifier)
        if fn is None:
            raise ValueError(f"Could not interpret loss identifier: '{identifier}'. Known losses: "
                             f"{sorted(_FUNCTIONS) + sorted(_CLASSES) + sorted(_ALIASES)}.")
        return _CLASS_OF[fn](name=fn.__name__)
    if identifier in _CLASS_OF:
        return _CLASS_OF[identifier](name=identifier.__name__)
    if callable(identifier):
        return LossFunctionWrapper(identifier, name=getattr(identifier, "__name__", None))
    raise ValueError(f"Could not interpret loss identifier: {identifier!r}. Pass a name such as "
                     "'mse', a Loss, or a function fn(y_true, y_pred) written with onnxgraph.ops.")


def serialize(loss: Loss) -> dict:
    """Keras-layout dict `{"module", "class_name", "config", "registered_name"}` of a Loss.

    Example:
        >>> serialize(Huber(delta=2.0))["config"]["delta"]
        2.0
    """
    from onnxgraph.saving import get_registered_name

    cls = type(loss)
    builtin = _CLASSES.get(cls.__name__) is cls
    return {"module": "keras.losses" if builtin else cls.__module__, "class_name": cls.__name__,
            "config": loss.get_config(), "registered_name": None if builtin else get_registered_name(cls)}


def deserialize(config: dict, custom_objects: dict | None = None) -> Loss:
    """Rebuild a Loss from `serialize`'s dict (built-ins, registered classes, or `custom_objects`).

    Example:
        >>> deserialize(serialize(get("mae"))).name
        'mean_absolute_error'
    """
    from onnxgraph.saving import get_registered_object

    name = config.get("class_name")
    if name == "function":
        return get(config["config"])
    cls = (custom_objects or {}).get(name) or _CLASSES.get(name)
    if cls is None:
        cls = get_registered_object(name, custom_objects, config.get("registered_name"))
    if not (inspect.isclass(cls) and issubclass(cls, Loss)):
        raise ValueError(f"Unknown loss class '{name}'. Register a custom Loss with "
                         "onnxgraph.saving.register_serializable() or pass custom_objects.")
    return cls.from_config(dict(config.get("config", {})))
