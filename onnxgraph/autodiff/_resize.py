"""Gradient of Resize (nearest, linear, cubic; the UpSampling1D/2D/3D layers emit it).

Resize without antialiasing is linear in its input and separable by axis: along each
resized axis it is a fixed (out, in) matrix M, so the input gradient applies M^T per axis.
- Nearest upsampling by an integer factor with asymmetric/floor rounding (UpSampling's
  "nearest") repeats each row s times: its adjoint sums blocks of s rows, a Reshape and a
  ReduceSum that work for runtime-sized axes too.
- Every other mode: M is read off onnxruntime's own Resize applied to the identity
  (`trainer._rules_resize.axis_matrix`, so every coordinate transform and rounding rule
  matches the forward exactly) and M^T is applied with one MatMul per axis.
"""

from __future__ import annotations

import math

import numpy as np

from onnxgraph.autodiff import _util
from onnxgraph.autodiff._conv import concat_shape, where
from onnxgraph.autodiff._registry import register_gradient
from onnxgraph.backend.emit import emit

__all__ = ["apply_along"]

_MODE_ATTRS = ("mode", "coordinate_transformation_mode", "nearest_mode", "cubic_coeff_a", "exclude_outside",
               "extrapolation_value")


def _constant_input(node, i, what):
    x = node.inputs[i] if len(node.inputs) > i else None
    if x is None:
        return None
    value = _util.const_value(x)
    if value is None:
        raise NotImplementedError(f"{where(node)}: the Resize gradient needs constant {what}; got a runtime tensor. "
                                  "Pass the scales or sizes as constants.")
    return value.reshape(-1) if value.size else None


def _targets(node, x):
    """Per axis of x: (scale, output size, by_scale); scale 1 and same size = not resized."""
    scales = _constant_input(node, 2, "scales")
    sizes = _constant_input(node, 3, "sizes")
    axes = _util.attr(node, "axes", None)
    axes = list(range(x.ndim)) if axes is None else [_util.norm_axis(int(a), x.ndim) for a in axes]
    result = [(1.0, d, True) for d in x.shape]
    for i, axis in enumerate(axes):
        size = x.shape[axis]
        if scales is not None:
            scale = float(scales[i])
            result[axis] = (scale, None if size is None else int(math.floor(size * scale)), True)
        elif sizes is not None:
            out = int(sizes[i])
            result[axis] = (None if size is None else out / size, out, False)
    return result


def _is_repeat(node, scale) -> bool:
    """Nearest with x_in = floor(x_out / s) for an integer s: each input row repeated s times."""
    return (_util.attr(node, "mode", "nearest") == "nearest"
            and _util.attr(node, "coordinate_transformation_mode", "half_pixel") == "asymmetric"
            and _util.attr(node, "nearest_mode", "round_prefer_floor") == "floor"
            and scale is not None and float(scale).is_integer() and scale >= 1)


def _axis_matrix(size, out, scale, by_scale, attrs):
    # Imported here: the trainer package may import autodiff; keep the dependency one way at import.
    from onnxgraph.trainer._rules_resize import axis_matrix

    return axis_matrix(size, out, scale, by_scale, attrs)


def apply_along(y, matrix: np.ndarray, axis: int):
    """Contract the numpy (out, in) `matrix` with `y` along `axis` (y's size there = in)."""
    rank = y.ndim
    shape = tuple(matrix.shape[0] if i == axis else d for i, d in enumerate(y.shape))
    if axis == rank - 1:
        return emit("MatMul", [y, _util.const(matrix.T, y.dtype)], shapes=[shape], dtypes_=[y.dtype])
    if axis == rank - 2:
        return emit("MatMul", [_util.const(matrix, y.dtype), y], shapes=[shape], dtypes_=[y.dtype])
    perm = [i for i in range(rank) if i != axis] + [axis]
    moved = apply_along(_util.transpose(y, perm), matrix, rank - 1)
    return _util.transpose(moved, [int(i) for i in np.argsort(perm)])


@register_gradient("Resize")
def resize(node, grads):
    x, dy = node.inputs[0], grads[0]
    if _util.attr(node, "antialias", 0) or \
            _util.attr(node, "coordinate_transformation_mode", "half_pixel") == "tf_crop_and_resize":
        raise NotImplementedError(f"{where(node)}: Resize with antialias or tf_crop_and_resize has no gradient rule; "
                                  "use plain nearest/linear/cubic resizing for a trained model.")
    if _util.attr(node, "keep_aspect_ratio_policy", "stretch") != "stretch":
        raise NotImplementedError(f"{where(node)}: Resize with keep_aspect_ratio_policy="
                                  f"{_util.attr(node, 'keep_aspect_ratio_policy')!r} has no gradient rule; pass the "
                                  "exact output sizes (policy 'stretch').")
    targets = _targets(node, x)
    resized = [i for i, (scale, out, _) in enumerate(targets) if not (scale == 1.0 and out == x.shape[i])]
    repeat = [i for i in resized if _is_repeat(node, targets[i][0])]
    mode_attrs = tuple(sorted((k, node.attrs[k]) for k in _MODE_ATTRS if k in node.attrs))
    g = dy
    for axis in resized:
        if axis in repeat:
            continue
        size = x.shape[axis]
        scale, out, by_scale = targets[axis]
        if size is None:
            raise NotImplementedError(f"{where(node)}: the gradient of this Resize along axis {axis} needs that axis's "
                                      f"size, got input shape {x.shape}; give that dimension a fixed size.")
        g = apply_along(g, _axis_matrix(size, out, scale, by_scale, mode_attrs).T, axis)
    if repeat:
        parts, reduce_axes = [], []
        for i in range(x.ndim):
            parts.append(x.shape[i] if x.shape[i] is not None else _util.shape_of(x, i, i + 1))
            if i in repeat:
                parts.append(int(targets[i][0]))
                reduce_axes.append(len(parts) - 1)
        blocks = []
        for i in range(x.ndim):
            blocks += [x.shape[i]] + ([int(targets[i][0])] if i in repeat else [])
        g = emit("Reshape", [g, concat_shape(parts)], shapes=[tuple(blocks)], dtypes_=[g.dtype])
        g = _util.reduce_sum(g, reduce_axes, keepdims=False)
    return [g] + [None] * (len(node.inputs) - 1)
