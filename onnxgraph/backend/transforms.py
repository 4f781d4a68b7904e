"""Invertible weight-layout transforms applied to initializers at export.

Keras layout stays in `get_weights()`; ONNX layout lives only in the file. A transform is a
tuple of JSON-able steps so it can be recorded in the file and inverted on load:

- ``("transpose", perm)``
- ``("reshape", shape)``          (inverse restores the shape before the step)
- ``("flip", axes)``
- ``("reorder", axis, order)``    (split `axis` into len(order) equal blocks, take them in `order`)
"""

from __future__ import annotations

import numpy as np

__all__ = ["apply", "invert", "to_spec", "from_spec"]


def _step(value: np.ndarray, step) -> np.ndarray:
    kind = step[0]
    if kind == "transpose":
        return np.ascontiguousarray(np.transpose(value, step[1]))
    if kind == "reshape":
        return value.reshape(step[1])
    if kind == "flip":
        return np.ascontiguousarray(np.flip(value, axis=tuple(step[1])))
    if kind == "reorder":
        _, axis, order = step
        blocks = np.split(value, len(order), axis=axis)
        return np.concatenate([blocks[i] for i in order], axis=axis)
    raise ValueError(f"Unknown weight transform step {step!r}.")


def apply(value: np.ndarray, transform: tuple) -> np.ndarray:
    """Keras layout -> ONNX layout."""
    for step in transform:
        value = _step(value, step)
    return value


def invert(value: np.ndarray, transform: tuple, keras_shape: tuple) -> np.ndarray:
    """ONNX layout -> Keras layout (`keras_shape` is the shape before the transform)."""
    shapes = [tuple(keras_shape)]
    for step in transform:
        shapes.append(_step(np.empty(shapes[-1], dtype=np.uint8), step).shape)
    for step, shape_before in zip(reversed(transform), reversed(shapes[:-1])):
        kind = step[0]
        if kind == "transpose":
            value = np.transpose(value, np.argsort(step[1]))
        elif kind == "reshape":
            value = value.reshape(shape_before)
        elif kind == "flip":
            value = np.flip(value, axis=tuple(step[1]))
        elif kind == "reorder":
            _, axis, order = step
            value = _step(value, ("reorder", axis, tuple(int(i) for i in np.argsort(order))))
    # np.ascontiguousarray turns a 0-d array into shape (1,): keep scalars scalar.
    return np.ascontiguousarray(value).reshape(np.shape(value))


def to_spec(transform: tuple) -> list:
    return [list(step) for step in transform]


def from_spec(spec) -> tuple:
    return tuple(tuple(_freeze(x) for x in step) for step in spec)


def _freeze(x):
    return tuple(_freeze(i) for i in x) if isinstance(x, list) else x
