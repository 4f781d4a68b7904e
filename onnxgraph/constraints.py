"""Weight constraints (Keras 3 `keras.constraints`), applied after every optimizer step.

A constraint maps a weight (Keras layout) to its projected value. `__call__` is written with
`onnxgraph.ops`, so it computes on numpy arrays (the onnxruntime-training engine applies it to
its parameter buffers after each update) and emits ONNX nodes on a symbolic tensor.
`emit(w, transform, keras_shape)` is the in-graph form for an engine whose parameters are in
ONNX layout: it undoes the export transform with ONNX nodes, projects, and redoes it.

Example:
    >>> layer = layers.Dense(3, kernel_constraint=constraints.MaxNorm(2.0, axis=0))
    >>> constraints.NonNeg()(np.array([-1.0, 2.0], np.float32))
    array([0., 2.], dtype=float32)
"""

from __future__ import annotations

import inspect

import numpy as np

from onnxgraph import ops

__all__ = ["Constraint", "MaxNorm", "NonNeg", "UnitNorm", "MinMaxNorm", "max_norm", "non_neg", "unit_norm",
           "min_max_norm", "get", "serialize", "deserialize"]

_EPSILON = 1e-7  # keras.config.epsilon()


def _axis(axis):
    return tuple(axis) if isinstance(axis, (list, tuple)) else axis


def _norms(w, axis):
    return ops.sqrt(ops.sum(ops.square(w), axis=_axis(axis), keepdims=True))


def _const(value, like):
    return np.asarray(value, dtype=np.dtype(str(like.dtype)))


class Constraint:
    """Base class: `__call__(w)` returns the projected weight (same shape, Keras layout)."""

    def __call__(self, w):
        return w

    def emit(self, w, transform: tuple = (), keras_shape: tuple | None = None):
        """The projection as ONNX nodes on `w`, a symbolic weight in ONNX layout.

        Args:
            w: the weight as stored by the training graph (`transforms.apply(value, transform)`).
            transform: the weight's export transform (`onnxgraph.backend.transforms`).
            keras_shape: the weight's Keras-layout shape (needed when `transform` reshapes).

        Returns:
            The constrained weight, in the same (ONNX) layout as `w`.
        """
        if not transform:
            return self(w)
        keras_shape = tuple(keras_shape) if keras_shape is not None else _keras_shape(w.shape, transform)
        return _to_onnx_layout(self(_to_keras_layout(w, transform, keras_shape)), transform)

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)


def _keras_shape(onnx_shape, transform):
    if any(step[0] == "reshape" for step in transform):
        raise ValueError("Constraint.emit: the weight's transform reshapes it; pass keras_shape= "
                         "(the Variable's shape) so the constraint can undo the transform.")
    shape = tuple(onnx_shape)
    for step in reversed(transform):
        if step[0] == "transpose":
            shape = tuple(shape[i] for i in np.argsort(step[1]))
    return shape


def _step(x, step):
    kind = step[0]
    if kind == "transpose":
        return ops.transpose(x, tuple(step[1]))
    if kind == "reshape":
        return ops.reshape(x, tuple(step[1]))
    if kind == "flip":
        for axis in step[1]:
            x = ops.flip(x, axis=axis)
        return x
    if kind == "reorder":
        _, axis, order = step
        blocks = ops.split(x, len(order), axis=axis)
        return ops.concatenate([blocks[i] for i in order], axis=axis)
    raise ValueError(f"Unknown weight transform step {step!r}.")


def _to_onnx_layout(x, transform):
    """`transforms.apply` as ops (ONNX nodes on a symbolic tensor)."""
    for step in transform:
        x = _step(x, step)
    return x


def _to_keras_layout(x, transform, keras_shape):
    """`transforms.invert` as ops."""
    shapes = [tuple(keras_shape)]
    for step in transform:
        shapes.append(tuple(_step(np.empty(shapes[-1], dtype=np.uint8), step).shape))
    for step, before in zip(reversed(transform), reversed(shapes[:-1])):
        kind = step[0]
        if kind == "transpose":
            x = ops.transpose(x, tuple(int(i) for i in np.argsort(step[1])))
        elif kind == "reshape":
            x = ops.reshape(x, before)
        elif kind == "reorder":
            x = _step(x, ("reorder", step[1], tuple(int(i) for i in np.argsort(step[2]))))
        else:
            x = _step(x, step)
    return x


class MaxNorm(Constraint):
    """Rescales slices along `axis` whose L2 norm exceeds `max_value` back to `max_value`."""

    def __init__(self, max_value=2, axis=0):
        self.max_value = max_value
        self.axis = axis

    def __call__(self, w):
        norms = _norms(w, self.axis)
        desired = ops.clip(norms, _const(0.0, w), _const(self.max_value, w))
        return w * (desired / (_const(_EPSILON, w) + norms))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Clips negative weights to zero."""

    def __call__(self, w):
        return ops.maximum(w, _const(0.0, w))


class UnitNorm(Constraint):
    """Rescales slices along `axis` to unit L2 norm."""

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        return w / (_const(_EPSILON, w) + _norms(w, self.axis))

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Moves slice norms along `axis` towards `[min_value, max_value]` at `rate` (1: strictly)."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = min_value
        self.max_value = max_value
        self.rate = rate
        self.axis = axis

    def __call__(self, w):
        norms = _norms(w, self.axis)
        clipped = ops.clip(norms, _const(self.min_value, w), _const(self.max_value, w))
        desired = _const(self.rate, w) * clipped + _const(1 - self.rate, w) * norms
        return w * (desired / (_const(_EPSILON, w) + norms))

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate, "axis": self.axis}


max_norm, non_neg, unit_norm, min_max_norm = MaxNorm, NonNeg, UnitNorm, MinMaxNorm

_CLASSES = {cls.__name__: cls for cls in (Constraint, MaxNorm, NonNeg, UnitNorm, MinMaxNorm)}
_NAMES = {"max_norm": MaxNorm, "non_neg": NonNeg, "unit_norm": UnitNorm, "min_max_norm": MinMaxNorm}


def get(identifier):
    """A constraint from None, a name ('max_norm', 'non_neg', 'NonNeg', ...), a config dict or a callable.

    Example:
        >>> get("max_norm").max_value
        2
    """
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = _NAMES.get(identifier) or _CLASSES.get(identifier)
        if cls is None:
            raise ValueError(f"Could not interpret constraint identifier: {identifier!r}. Known names: "
                             f"{sorted(_NAMES) + sorted(_CLASSES)}.")
        return cls()
    if inspect.isclass(identifier) and issubclass(identifier, Constraint):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret constraint identifier: {identifier!r}. Pass a name such as "
                     "'max_norm', a Constraint, or a function of one weight written with onnxgraph.ops.")


def serialize(constraint) -> dict | None:
    """Keras-layout dict `{"module", "class_name", "config", "registered_name"}` (None for None)."""
    if constraint is None:
        return None
    from onnxgraph.saving import get_registered_name

    if not isinstance(constraint, Constraint):
        raise ValueError(f"Constraint {constraint!r} is not serializable: subclass "
                         "onnxgraph.constraints.Constraint, define get_config and register it with "
                         "onnxgraph.saving.register_serializable().")
    cls = type(constraint)
    builtin = _CLASSES.get(cls.__name__) is cls
    return {"module": "keras.constraints" if builtin else cls.__module__, "class_name": cls.__name__,
            "config": constraint.get_config(), "registered_name": None if builtin else get_registered_name(cls)}


def deserialize(config: dict, custom_objects: dict | None = None):
    """Rebuild a constraint from `serialize`'s dict (built-ins, registered classes, custom_objects)."""
    from onnxgraph.saving import get_registered_object

    name = config.get("class_name")
    cls = (custom_objects or {}).get(name) or _CLASSES.get(name)
    if cls is None:
        cls = get_registered_object(name, custom_objects, config.get("registered_name"))
    if not (inspect.isclass(cls) and issubclass(cls, Constraint)):
        raise ValueError(f"Unknown constraint class {name!r}. Register a custom Constraint with "
                         "onnxgraph.saving.register_serializable() or pass custom_objects.")
    return cls.from_config(dict(config.get("config") or {}))
