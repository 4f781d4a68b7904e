"""UpSampling1D/2D/3D, ZeroPadding1D/2D/3D and Cropping1D/2D/3D.

ZeroPadding is one ONNX Pad and Cropping one Slice, in the data's own layout (the layout pass
moves a neighbouring conv's Transpose through them). UpSampling is ONNX Resize on channels-first
data: "nearest" repeats rows exactly (asymmetric/floor), "bilinear" and "bicubic" follow
Keras's torch backend (half-pixel centres; bicubic a=-0.75).
"""

from __future__ import annotations

import numpy as np

from onnxgraph.backend.emit import constant, emit
from onnxgraph.layers._input_spec import InputSpec
from onnxgraph.layers._args import positive_int_message
from onnxgraph.layers._layer import Layer
from onnxgraph.ops._base import int64s
from onnxgraph.ops._conv_utils import (from_channels_first, standardize_data_format, standardize_tuple,
                                       to_channels_first)

__all__ = ["UpSampling1D", "UpSampling2D", "UpSampling3D", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D",
           "Cropping1D", "Cropping2D", "Cropping3D"]

_RESIZE = {
    "nearest": {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"},
    "bilinear": {"mode": "linear", "coordinate_transformation_mode": "half_pixel"},
    "bicubic": {"mode": "cubic", "coordinate_transformation_mode": "half_pixel", "cubic_coeff_a": -0.75},
}


def _pairs(value, rank: int, name: str) -> tuple:
    """int -> ((v, v),)*rank; rank ints -> symmetric pairs; rank pairs as given (1D: one (begin, end))."""
    if rank == 1:
        return (standardize_tuple(value, 2, name, allow_zero=True),)
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"`{name}` must contain non-negative ints, got {value!r}.")
        return ((int(value), int(value)),) * rank
    if not hasattr(value, "__len__") or len(value) != rank:
        raise ValueError(f"`{name}` must be an int, a tuple of {rank} ints or a tuple of {rank} (begin, end) "
                         f"pairs; got {value!r}.")
    return tuple(standardize_tuple(v, 2, f"{name}[{i}]", allow_zero=True) for i, v in enumerate(value))


def _spatial_axes(rank: int, data_format: str) -> list:
    return list(range(1, rank + 1)) if data_format == "channels_last" else list(range(2, rank + 2))


_RESIZE_DTYPES = ("float32", "float16", "int32", "int8", "uint8")  # onnxruntime CPU Resize kernels


class _UpSampling(Layer):
    rank = 2

    def __init__(self, size=2, data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        self.size = standardize_tuple(size, self.rank, "size")
        self.data_format = standardize_data_format(data_format)
        self.interpolation = str(interpolation).lower()
        if self.interpolation not in _RESIZE or (self.rank != 2 and self.interpolation != "nearest"):
            allowed = sorted(_RESIZE) if self.rank == 2 else ["nearest"]
            raise ValueError(f"{type(self).__name__}: `interpolation` must be one of {allowed}, got "
                             f"{interpolation!r}.")
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def call(self, inputs):
        if self.interpolation == "nearest" and inputs.dtype not in _RESIZE_DTYPES:
            # onnxruntime's Resize has no int64/float64/bool kernel: nearest by an integer factor is
            # an exact repeat per spatial axis (Keras's UpSampling does ops.repeat too).
            from onnxgraph import ops

            for axis, size in zip(_spatial_axes(self.rank, self.data_format), self.size):
                inputs = ops.repeat(inputs, size, axis=axis) if size != 1 else inputs
            return inputs
        if inputs.dtype not in _RESIZE_DTYPES:  # interpolate in float32, then back (rounded, as Keras on torch)
            from onnxgraph import ops

            y = self.call(ops.cast(inputs, "float32"))
            return ops.cast(ops.round(y) if not inputs.dtype.startswith(("float", "bfloat")) else y, inputs.dtype)
        x = to_channels_first(inputs, self.data_format)
        scales = constant(np.array((1.0, 1.0) + tuple(float(s) for s in self.size), dtype=np.float32))
        shape = x.shape[:2] + tuple(None if d is None else d * s for d, s in zip(x.shape[2:], self.size))
        if self.interpolation == "bicubic" and self.data_format == "channels_last":
            return from_channels_first(self._cubic_per_plane(x, scales, shape), self.data_format)
        y = emit("Resize", [x, None, scales], _RESIZE[self.interpolation], shapes=[shape], dtypes_=[x.dtype])
        return from_channels_first(y, self.data_format)

    def _cubic_per_plane(self, x, scales, shape):
        """Resize each (H, W) plane as its own (N*C, 1, H, W) batch.

        onnxruntime's graph optimizer moves a Transpose through a lone Resize, and its CPU cubic
        kernel rejects the resulting channels_last scales; the Reshapes keep the Resize NCHW.
        """
        planes = emit("Reshape", [x, int64s([-1, 1, 0, 0])], shapes=[(None, 1) + x.shape[2:]], dtypes_=[x.dtype])
        y = emit("Resize", [planes, None, scales], _RESIZE["bicubic"], shapes=[(None, 1) + shape[2:]],
                 dtypes_=[x.dtype])
        if None not in shape[1:]:
            target = int64s([-1, *shape[1:]])
        else:
            target = emit("Concat", [emit("Shape", [x], {"start": 0, "end": 2}, shapes=[(2,)], dtypes_=["int64"]),
                                     emit("Shape", [y], {"start": 2}, shapes=[(2,)], dtypes_=["int64"])],
                          {"axis": 0}, shapes=[(4,)], dtypes_=["int64"])
        return emit("Reshape", [y, target], shapes=[shape], dtypes_=[x.dtype])

    def get_config(self):
        config = {**super().get_config(), "size": list(self.size), "data_format": self.data_format}
        if self.rank == 2:
            config["interpolation"] = self.interpolation
        return config


class UpSampling1D(_UpSampling):
    """Repeat each step `size` times: (batch, steps, features) -> (batch, steps * size, features).

    Example:
        >>> UpSampling1D(2)(Input(shape=(5, 3))).shape
        (None, 10, 3)
    """

    rank = 1

    def __init__(self, size=2, **kwargs):
        if not isinstance(size, int) or isinstance(size, bool):
            raise TypeError(f"UpSampling1D: `size` must be a positive integer, got {size!r} (a {type(size).__name__}). "
                            "(Expected an integer value for `size`.)")
        if size <= 0:
            raise ValueError(positive_int_message("UpSampling1D", "size", size))
        super().__init__(size, **kwargs)

    def get_config(self):
        return {**Layer.get_config(self), "size": self.size[0]}


class UpSampling2D(_UpSampling):
    """Scale rows and columns by `size` ("nearest" repeats; "bilinear"/"bicubic" interpolate).

    Example:
        >>> UpSampling2D(3)(Input(shape=(8, 8, 32))).shape
        (None, 24, 24, 32)
    """

    rank = 2


class UpSampling3D(_UpSampling):
    """Repeat along the three spatial axes by `size`.

    Example:
        >>> UpSampling3D(2)(Input(shape=(2, 3, 4, 1))).shape
        (None, 4, 6, 8, 1)
    """

    rank = 3

    def __init__(self, size=(2, 2, 2), data_format=None, **kwargs):
        super().__init__(size, data_format, **kwargs)


class _ZeroPadding(Layer):
    rank = 2

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = _pairs(padding, self.rank, "padding")
        self.data_format = standardize_data_format(data_format)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def call(self, inputs):
        axes = _spatial_axes(self.rank, self.data_format)
        shape = list(inputs.shape)
        for axis, (begin, end) in zip(axes, self.padding):
            shape[axis] = None if shape[axis] is None else shape[axis] + begin + end
        # Pads for every axis and no `axes` input: onnxruntime 1.19's transpose optimizer fails on
        # a Pad with `axes` next to a Transpose ("indices element out of data bounds").
        begins, ends = [0] * inputs.ndim, [0] * inputs.ndim
        for axis, (begin, end) in zip(axes, self.padding):
            begins[axis], ends[axis] = begin, end
        fill = constant(np.zeros((), dtype=np.dtype(inputs.dtype)))
        return emit("Pad", [inputs, int64s(begins + ends), fill], {"mode": "constant"},
                    shapes=[tuple(shape)], dtypes_=[inputs.dtype])

    def get_config(self):
        padding = self.padding[0] if self.rank == 1 else self.padding
        return {**super().get_config(), "padding": _lists(padding), "data_format": self.data_format}


def _lists(value):
    return [_lists(v) for v in value] if isinstance(value, (list, tuple)) else value


class ZeroPadding1D(_ZeroPadding):
    """Add zeros before and after the steps axis (`padding` int or (begin, end)).

    Example:
        >>> ZeroPadding1D((1, 2))(Input(shape=(5, 3))).shape
        (None, 8, 3)
    """

    rank = 1


class ZeroPadding2D(_ZeroPadding):
    """Add rows and columns of zeros: int, (rows, cols) or ((top, bottom), (left, right)).

    Example:
        >>> ZeroPadding2D(((3, 3), (3, 3)))(Input(shape=(224, 224, 3))).shape
        (None, 230, 230, 3)
    """

    rank = 2

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)


class ZeroPadding3D(_ZeroPadding):
    """Add zeros along the three spatial axes.

    Example:
        >>> ZeroPadding3D(1)(Input(shape=(2, 3, 4, 1))).shape
        (None, 4, 5, 6, 1)
    """

    rank = 3

    def __init__(self, padding=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)


class _Cropping(Layer):
    rank = 2

    def __init__(self, cropping=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.cropping = _pairs(cropping, self.rank, "cropping")
        self.data_format = standardize_data_format(data_format)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def call(self, inputs):
        axes = _spatial_axes(self.rank, self.data_format)
        shape = list(inputs.shape)
        for axis, (begin, end) in zip(axes, self.cropping):
            if shape[axis] is not None:
                if begin + end >= shape[axis]:
                    raise ValueError(
                        f"Layer '{self.name}': cropping {self.cropping} removes all of axis {axis} of input "
                        f"shape {inputs.shape}; each (begin, end) must sum to less than the axis size. "
                        + (f"(Keras: `cropping` parameter of `{type(self).__name__}` layer must be smaller than "
                           "the input length.)" if self.rank == 1 else "(Keras: Values in `cropping` argument "
                           "should be smaller than the corresponding spatial dimension of the input.)")
                    )
                shape[axis] -= begin + end
        starts = [p[0] for p in self.cropping]
        ends = [-p[1] if p[1] else np.iinfo(np.int64).max for p in self.cropping]
        return emit("Slice", [inputs, int64s(starts), int64s(ends), int64s(axes)], shapes=[tuple(shape)],
                    dtypes_=[inputs.dtype])

    def get_config(self):
        cropping = self.cropping[0] if self.rank == 1 else self.cropping
        config = {**super().get_config(), "cropping": _lists(cropping)}
        if self.rank > 1:
            config["data_format"] = self.data_format
        return config


class Cropping1D(_Cropping):
    """Remove steps from the start and end: (batch, steps, features).

    Example:
        >>> Cropping1D((1, 2))(Input(shape=(10, 3))).shape
        (None, 7, 3)
    """

    rank = 1

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(cropping, None, **kwargs)


class Cropping2D(_Cropping):
    """Remove rows and columns: int, (rows, cols) or ((top, bottom), (left, right)).

    Example:
        >>> Cropping2D(((2, 2), (4, 4)))(Input(shape=(28, 28, 3))).shape
        (None, 24, 20, 3)
    """

    rank = 2

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(cropping, data_format, **kwargs)


class Cropping3D(_Cropping):
    """Remove slices along the three spatial axes.

    Example:
        >>> Cropping3D(1)(Input(shape=(4, 5, 6, 1))).shape
        (None, 2, 3, 4, 1)
    """

    rank = 3

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(cropping, data_format, **kwargs)
