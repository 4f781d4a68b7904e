"""Training-graph rule for Resize (onnxruntime-training 1.19.2 has no ResizeGrad kernel).

Resize without antialiasing is linear in its input and separable by axis, so along each
resized axis it is a fixed (out, in) matrix. The matrix is read off onnxruntime's own Resize
applied to the identity -- so every mode, coordinate transform and rounding rule matches the
inference graph exactly -- and applied with Gather (nearest) or MatMul (linear, cubic).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from onnxgraph.trainer._rewrite import E, attr, const, const_value

__all__ = ["RULES", "axis_matrix"]

_MODE_ATTRS = ("mode", "coordinate_transformation_mode", "nearest_mode", "cubic_coeff_a", "exclude_outside",
               "extrapolation_value")


def _targets(node, x):
    """Per axis: (scale as Resize uses it, output size)."""
    scales = const_value(node.inputs[2] if len(node.inputs) > 2 else None, "the Resize scales", node)
    sizes = const_value(node.inputs[3] if len(node.inputs) > 3 else None, "the Resize sizes", node)
    axes = attr(node, "axes", None)
    axes = list(range(x.ndim)) if axes is None else [int(a) % x.ndim for a in axes]
    result = [(1.0, d) for d in x.shape]
    for i, axis in enumerate(axes):
        size = x.shape[axis]
        if scales is not None and scales.size:
            scale = float(scales.reshape(-1)[i])
            out = None if size is None else int(math.floor(size * scale))
        else:
            out = int(sizes.reshape(-1)[i])
            scale = None if size is None else out / size
        result[axis] = (scale, out)
    return result, scales is not None and scales.size > 0


@functools.lru_cache(maxsize=256)
def axis_matrix(size: int, out: int, scale: float, by_scale: bool, attrs: tuple) -> np.ndarray:
    """(out, size) matrix M with Resize(x) = M @ x along one axis, computed by onnxruntime."""
    from onnx import TensorProto, helper

    from onnxgraph.runtime import make_session

    extra = [helper.make_tensor("scales", TensorProto.FLOAT, [2], [1.0, scale])] if by_scale else \
        [helper.make_tensor("sizes", TensorProto.INT64, [2], [size, out])]
    inputs = ["x", "", "scales"] if by_scale else ["x", "", "", "sizes"]
    node = helper.make_node("Resize", inputs, ["y"], **dict(attrs))
    graph = helper.make_graph([node], "resize_matrix",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [size, size])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [size, out])], initializer=extra)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    session = make_session(model.SerializeToString(), "cpu")
    return session.run(None, {"x": np.eye(size, dtype=np.float32)})[0].T.copy()


def _resize(node, ctx):
    x = node.inputs[0]
    if attr(node, "antialias", 0) or attr(node, "coordinate_transformation_mode", "half_pixel") == "tf_crop_and_resize":
        raise NotImplementedError(f"{'/'.join(node.scope)}: Resize with antialias or tf_crop_and_resize cannot be "
                                  "trained (no gradient in onnxruntime-training); use plain nearest/linear/cubic.")
    targets, by_scale = _targets(node, x)
    mode_attrs = tuple(sorted((k, node.attrs[k]) for k in _MODE_ATTRS if k in node.attrs))
    nearest = attr(node, "mode", "nearest") == "nearest"
    y = x
    for axis, (scale, size_out) in enumerate(targets):
        size = x.shape[axis]
        if size_out == size and (scale == 1.0 or not by_scale):
            continue
        if size is None:
            raise NotImplementedError(f"{'/'.join(node.scope)}: Resize along axis {axis} of unknown size (input "
                                      f"{x.shape}) cannot be trained; give that dimension a fixed size.")
        matrix = axis_matrix(size, size_out, scale, by_scale, mode_attrs)
        shape = tuple(size_out if i == axis else d for i, d in enumerate(y.shape))
        if nearest:
            index = const(matrix.argmax(axis=1), "int64")
            y = E("Gather", [y, index], {"axis": axis}, shape, y.dtype)
        else:
            y = _apply_along(y, matrix, axis, shape)
    return [y]


def _apply_along(y, matrix: np.ndarray, axis: int, shape):
    """Contract the (out, in) numpy `matrix` with `y` along `axis`."""
    rank = y.ndim
    if axis == rank - 1:
        return E("MatMul", [y, const(matrix.T, y.dtype)], None, shape, y.dtype)
    if axis == rank - 2:
        return E("MatMul", [const(matrix, y.dtype), y], None, shape, y.dtype)
    perm = [i for i in range(rank) if i != axis] + [axis]
    moved = E("Transpose", [y], {"perm": perm}, tuple(y.shape[p] for p in perm), y.dtype)
    moved_shape = tuple(shape[p] for p in perm)
    applied = _apply_along(moved, matrix, rank - 1, moved_shape)
    return E("Transpose", [applied], {"perm": [int(i) for i in np.argsort(perm)]}, shape, y.dtype)


RULES = {"Resize": _resize}
