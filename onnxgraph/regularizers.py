"""Weight and activity regularizers (Keras 3 `keras.regularizers`).

A regularizer maps a tensor to a scalar penalty. It is written with `onnxgraph.ops`, so the
same object computes on numpy arrays (`model.losses`, tests) and emits ONNX nodes on a
symbolic tensor: the training graph adds the penalties of every regularized weight and every
activity regularizer to the loss, as Keras's `compute_loss` adds `model.losses`.

Example:
    >>> layer = layers.Dense(3, kernel_regularizer=regularizers.L2(0.01))
    >>> float(regularizers.L2(2.0)(np.ones((5, 5), np.float32)))
    50.0
"""

from __future__ import annotations

import inspect
import math

import numpy as np

from onnxgraph import ops

__all__ = ["Regularizer", "L1", "L2", "L1L2", "OrthogonalRegularizer", "l1", "l2", "l1_l2",
           "orthogonal_regularizer", "get", "serialize", "deserialize"]


def _factor(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
            or math.isinf(value) or math.isnan(value) or value < 0:
        raise ValueError(f"Invalid value for argument {name}: expected a non-negative float. "
                         f"Received: {name}={value!r}")
    return float(value)


def _scalar(value: float, like):
    """A constant of `like`'s dtype (keeps float16/float64 weights in their own precision)."""
    dtype = getattr(like, "dtype", None)
    return np.asarray(value, dtype=np.dtype(str(dtype)) if dtype is not None else np.float32)


class Regularizer:
    """Base class: `__call__(x)` returns a scalar penalty; subclasses define `get_config`."""

    def __call__(self, x):
        return 0.0

    def get_config(self) -> dict:
        raise NotImplementedError(f"{type(self).__name__} does not implement get_config().")

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)


class L1L2(Regularizer):
    """`l1 * sum(|x|) + l2 * sum(x**2)`."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _factor(0.0 if l1 is None else l1, "l1")
        self.l2 = _factor(0.0 if l2 is None else l2, "l2")

    def __call__(self, x):
        total = None
        if self.l1:
            total = _scalar(self.l1, x) * ops.sum(ops.absolute(x))
        if self.l2:
            term = _scalar(self.l2, x) * ops.sum(ops.square(x))
            total = term if total is None else total + term
        return total if total is not None else ops.sum(x) * _scalar(0.0, x)

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """`l1 * sum(|x|)`."""

    def __init__(self, l1=0.01):
        # Keras stores l1 as a float32 tensor: its config reports the float32-rounded value.
        self.l1 = float(np.float32(_factor(0.01 if l1 is None else l1, "l1")))

    def __call__(self, x):
        return _scalar(self.l1, x) * ops.sum(ops.absolute(x))

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    """`l2 * sum(x**2)`."""

    def __init__(self, l2=0.01):
        self.l2 = _factor(0.01 if l2 is None else l2, "l2")

    def __call__(self, x):
        return _scalar(self.l2, x) * ops.sum(ops.square(x))

    def get_config(self):
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Pushes the L2-normalized rows (or columns) of a rank-2 tensor to be orthogonal.

    Penalty: `factor * 0.5 * sum(|P - diag(P)|) / (n (n - 1) / 2)` with `P` the Gram matrix
    of the normalized rows (`mode="rows"`) or columns (`mode="columns"`).
    """

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = float(np.float32(_factor(factor, "factor")))  # a float32 tensor in Keras
        if mode not in ("rows", "columns"):
            raise ValueError(f'Invalid value for argument `mode`. Expected one of {{"rows", "columns"}}. '
                             f"Received: mode={mode!r}")
        self.mode = mode

    def __call__(self, inputs):
        if len(inputs.shape) != 2:
            raise ValueError(f"Inputs to OrthogonalRegularizer must have rank 2. Received: "
                             f"inputs.shape={tuple(inputs.shape)}")
        axis = 1 if self.mode == "rows" else 0
        # Keras's ops.nn.normalize: x * min(rsqrt(sum(x**2)), 1/epsilon).
        inv_norm = ops.minimum(ops.rsqrt(ops.sum(ops.square(inputs), axis=axis, keepdims=True)),
                               _scalar(1e7, inputs))
        unit = inputs * inv_norm
        if self.mode == "rows":
            product, size = ops.matmul(unit, ops.transpose(unit)), inputs.shape[0]
        else:
            product, size = ops.matmul(ops.transpose(unit), unit), inputs.shape[1]
        off_diagonal = product * (1.0 - np.eye(size, dtype=_scalar(0.0, inputs).dtype))
        num_pairs = size * (size - 1.0) / 2.0
        return _scalar(self.factor * 0.5, inputs) * ops.sum(ops.absolute(off_diagonal)) / _scalar(num_pairs, inputs)

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


l1, l2, l1_l2, orthogonal_regularizer = L1, L2, L1L2, OrthogonalRegularizer

_CLASSES = {cls.__name__: cls for cls in (Regularizer, L1, L2, L1L2, OrthogonalRegularizer)}
_NAMES = {"l1": L1, "l2": L2, "l1l2": L1L2, "l1_l2": L1L2, "orthogonal_regularizer": OrthogonalRegularizer}


def get(identifier):
    """A regularizer from None, a name ('l1', 'l2', 'l1_l2', 'L2', ...), a config dict or a callable.

    Example:
        >>> get("l2").l2
        0.01
    """
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = _NAMES.get(identifier) or _CLASSES.get(identifier)
        if cls is None:
            raise ValueError(f"Could not interpret regularizer identifier: {identifier!r}. Known names: "
                             f"{sorted(_NAMES) + sorted(_CLASSES)}.")
        return cls()
    if inspect.isclass(identifier) and issubclass(identifier, Regularizer):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret regularizer identifier: {identifier!r}. Pass a name such as "
                     "'l2', a Regularizer, or a function of one tensor written with onnxgraph.ops.")


def serialize(regularizer) -> dict | None:
    """Keras-layout dict `{"module", "class_name", "config", "registered_name"}` (None for None).

    Example:
        >>> serialize(L2(0.1))["config"]
        {'l2': 0.1}
    """
    if regularizer is None:
        return None
    from onnxgraph.saving import get_registered_name

    cls = type(regularizer)
    if not isinstance(regularizer, Regularizer):
        raise ValueError(f"Regularizer {regularizer!r} is not serializable: subclass "
                         "onnxgraph.regularizers.Regularizer, define get_config and register it with "
                         "onnxgraph.saving.register_serializable().")
    builtin = _CLASSES.get(cls.__name__) is cls
    return {"module": "keras.regularizers" if builtin else cls.__module__, "class_name": cls.__name__,
            "config": regularizer.get_config(), "registered_name": None if builtin else get_registered_name(cls)}


def deserialize(config: dict, custom_objects: dict | None = None):
    """Rebuild a regularizer from `serialize`'s dict (built-ins, registered classes, custom_objects)."""
    from onnxgraph.saving import get_registered_object

    name = config.get("class_name")
    cls = (custom_objects or {}).get(name) or _CLASSES.get(name)
    if cls is None:
        cls = get_registered_object(name, custom_objects, config.get("registered_name"))
    if not (inspect.isclass(cls) and issubclass(cls, Regularizer)):
        raise ValueError(f"Unknown regularizer class {name!r}. Register a custom Regularizer with "
                         "onnxgraph.saving.register_serializable() or pass custom_objects.")
    return cls.from_config(dict(config.get("config") or {}))
