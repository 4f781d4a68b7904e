"""Gradients of BatchNormalization (training and inference form), LayerNormalization,
GroupNormalization (opset 21), InstanceNormalization and LpNormalization.

All of the mean/variance normalizations share one formula: with x̂ = (x - μ)·r over the
reduced axes A (r = 1/sqrt(var + ε), M = the number of reduced elements) and g = dL/dx̂,

    dx = r · (g - mean_A(g) - x̂ · mean_A(g · x̂))

plus μ's and var's own gradients when a node outputs them (BatchNormalization's running
statistics, LayerNormalization's Mean and InvStdDev): dx += dμ/M + dvar · 2(x - μ)/M.
The statistics are recomputed in the backward graph from x (a few reductions) instead of
being kept from the forward node, whose optional outputs may be undeclared.
"""

from __future__ import annotations

import math


from onnxgraph.autodiff import _util
from onnxgraph.autodiff._conv import where
from onnxgraph.autodiff._registry import register_gradient
from onnxgraph.backend.emit import emit

__all__ = ["normalized_grad", "moments"]


def _kept(x, axes):
    return tuple(1 if i in axes else d for i, d in enumerate(x.shape))


def _reduce(op, x, axes, keepdims=True):
    shape = _kept(x, axes) if keepdims else tuple(d for i, d in enumerate(x.shape) if i not in axes)
    return emit(op, [x, _util.const(sorted(axes), "int64")], {"keepdims": int(keepdims)}, shapes=[shape],
                dtypes_=[x.dtype])


def _count(x, axes):
    """The number of elements reduced over `axes` (a constant when their sizes are known)."""
    dims = [x.shape[a] for a in axes]
    if None not in dims:
        return _util.const(float(math.prod(dims)), x.dtype)
    picked = emit("Gather", [_util.shape_of(x), _util.const(sorted(axes), "int64")], {"axis": 0},
                  shapes=[(len(axes),)], dtypes_=["int64"])
    size = emit("ReduceProd", [picked], {"keepdims": 0}, shapes=[()], dtypes_=["int64"])
    return _util.cast(size, x.dtype)


def moments(x, axes, epsilon: float):
    """(x - μ, r = 1/sqrt(var + ε)) over `axes`, both broadcastable against x."""
    centered = _util.sub(x, _reduce("ReduceMean", x, axes))
    var = _reduce("ReduceMean", _util.mul(centered, centered), axes)
    inv = _util.like("Reciprocal", _util.like("Sqrt", _util.add(var, _util.const(epsilon, x.dtype))))
    return centered, inv


def normalized_grad(x, g, axes, epsilon: float, d_mean=None, d_var=None):
    """(dx, x̂, r) for x̂ = normalize(x over axes) given g = dL/dx̂ (and dL/dμ, dL/dvar, kept shape)."""
    centered, inv = moments(x, axes, epsilon)
    xhat = _util.mul(centered, inv)
    inner = _util.sub(_util.sub(g, _reduce("ReduceMean", g, axes)),
                      _util.mul(xhat, _reduce("ReduceMean", _util.mul(g, xhat), axes)))
    dx = _util.mul(inner, inv)
    if d_mean is not None or d_var is not None:
        per = _util.like("Reciprocal", _count(x, axes))
        if d_mean is not None:
            dx = _util.add(dx, _util.mul(d_mean, per))
        if d_var is not None:
            dx = _util.add(dx, _util.mul(_util.mul(d_var, _util.mul(per, _util.const(2.0, x.dtype))), centered))
    return dx, xhat, inv


def _channel(v, rank: int):
    """A (C,) tensor shaped (C, 1, ..., 1) to broadcast over (N, C, ...)."""
    shape = (v.shape[0],) + (1,) * (rank - 2)
    target = _util.const([-1 if v.shape[0] is None else v.shape[0]] + [1] * (rank - 2), "int64")
    return emit("Reshape", [v, target], shapes=[shape], dtypes_=[v.dtype])


def _flat_channel(v, c_shape):
    return emit("Reshape", [v, _util.const([-1], "int64")], shapes=[c_shape], dtypes_=[v.dtype])


def _needs(x) -> bool:
    return x is not None and x.kind != "constant" and _util.is_float(x)


@register_gradient("BatchNormalization")
def batch_normalization(node, grads):
    x, scale, bias, mean, var = node.inputs[:5]
    dy = grads[0]
    eps = float(_util.attr(node, "epsilon", 1e-5))
    rank, axes = x.ndim, [0] + list(range(2, x.ndim))
    c_shape = (x.shape[1],)
    if dy is None:
        dy = _util.zeros_like(node.outputs[0])
    if not _util.attr(node, "training_mode", 0):
        # y = (x - mean) * a + bias with a = scale / sqrt(var + eps): linear in x.
        inv = _util.like("Reciprocal", _util.like("Sqrt", _util.add(var, _util.const(eps, var.dtype))))
        a = _util.mul(scale, inv)
        dx = _util.mul(dy, _channel(a, rank)) if _needs(x) else None
        sum_dy = _reduce("ReduceSum", dy, axes, keepdims=False)
        need_stats = _needs(scale) or _needs(var)
        s_dyc = None
        if need_stats:
            centered = _util.sub(x, _channel(mean, rank))
            s_dyc = _reduce("ReduceSum", _util.mul(dy, centered), axes, keepdims=False)
        d_scale = _util.mul(s_dyc, inv) if _needs(scale) else None
        d_bias = sum_dy if _needs(bias) else None
        d_mean = _util.neg(_util.mul(sum_dy, a)) if _needs(mean) else None
        d_var = None
        if _needs(var):
            cube = _util.mul(_util.mul(inv, inv), inv)
            d_var = _util.mul(_util.mul(s_dyc, scale), _util.mul(cube, _util.const(-0.5, var.dtype)))
        return [dx, d_scale, d_bias, d_mean, d_var]
    momentum = float(_util.attr(node, "momentum", 0.9))
    g_run_mean = grads[1] if len(grads) > 1 else None
    g_run_var = grads[2] if len(grads) > 2 else None
    keep = _kept(x, axes)
    # running = input * momentum + batch * (1 - momentum): the batch part flows into x.
    batch_mean_grad = None if g_run_mean is None else _util.reshape(
        _util.mul(g_run_mean, _util.const(1.0 - momentum, x.dtype)), _util.const(keep, "int64"), keep)
    batch_var_grad = None if g_run_var is None else _util.reshape(
        _util.mul(g_run_var, _util.const(1.0 - momentum, x.dtype)), _util.const(keep, "int64"), keep)
    g = _util.mul(dy, _channel(scale, rank))
    dx, xhat, _ = normalized_grad(x, g, axes, eps, batch_mean_grad, batch_var_grad)
    d_scale = _reduce("ReduceSum", _util.mul(dy, xhat), axes, keepdims=False) if _needs(scale) else None
    d_bias = _reduce("ReduceSum", dy, axes, keepdims=False) if _needs(bias) else None
    d_mean = _util.mul(g_run_mean, _util.const(momentum, x.dtype)) if g_run_mean is not None else None
    d_var = _util.mul(g_run_var, _util.const(momentum, x.dtype)) if g_run_var is not None else None
    return [dx if _needs(x) else None, d_scale, d_bias, d_mean, d_var]


@register_gradient("LayerNormalization")
def layer_normalization(node, grads):
    x, scale = node.inputs[0], node.inputs[1]
    bias = node.inputs[2] if len(node.inputs) > 2 else None
    rank = x.ndim
    axes = list(range(_util.norm_axis(int(_util.attr(node, "axis", -1)), rank), rank))
    eps = float(_util.attr(node, "epsilon", 1e-5))
    dy = grads[0] if grads[0] is not None else _util.zeros_like(node.outputs[0])
    d_mean = _util.cast(grads[1], x.dtype) if len(grads) > 1 and grads[1] is not None else None
    d_var = None
    if len(grads) > 2 and grads[2] is not None:
        _, inv = moments(x, axes, eps)  # InvStdDev = (var + eps)^-1/2: d/dvar = -r^3 / 2
        cube = _util.mul(_util.mul(inv, inv), inv)
        d_var = _util.mul(_util.cast(grads[2], x.dtype), _util.mul(cube, _util.const(-0.5, x.dtype)))
    dx, xhat, _ = normalized_grad(x, _util.mul(dy, scale), axes, eps, d_mean, d_var)
    d_scale = _util.unbroadcast(_util.mul(dy, xhat), scale) if _needs(scale) else None
    d_bias = _util.unbroadcast(dy, bias) if _needs(bias) else None
    return [dx if _needs(x) else None, d_scale, d_bias][:len(node.inputs)]


@register_gradient("InstanceNormalization")
def instance_normalization(node, grads):
    x, scale, bias = node.inputs
    dy, rank = grads[0], x.ndim
    eps = float(_util.attr(node, "epsilon", 1e-5))
    dx, xhat, _ = normalized_grad(x, _util.mul(dy, _channel(scale, rank)), list(range(2, rank)), eps)
    axes = [0] + list(range(2, rank))
    d_scale = _reduce("ReduceSum", _util.mul(dy, xhat), axes, keepdims=False) if _needs(scale) else None
    d_bias = _reduce("ReduceSum", dy, axes, keepdims=False) if _needs(bias) else None
    return [dx if _needs(x) else None, d_scale, d_bias]


@register_gradient("GroupNormalization")
def group_normalization(node, grads):
    x, scale, bias = node.inputs
    dy, rank = grads[0], x.ndim
    groups, channels = int(_util.attr(node, "num_groups")), x.shape[1]
    if scale.shape[0] != channels:
        raise NotImplementedError(f"{where(node)}: GroupNormalization with a per-group scale of shape {scale.shape} "
                                  f"(opset 18) has no gradient rule; use the opset-21 per-channel form ({channels},).")
    eps = float(_util.attr(node, "epsilon", 1e-5))
    per_group = None if None in x.shape[1:] else math.prod(x.shape[1:]) // groups
    grouped_shape = (x.shape[0], groups, per_group)
    target = _util.const([0, groups, -1], "int64")
    xg = _util.reshape(x, target, grouped_shape)
    gg = _util.reshape(_util.mul(dy, _channel(scale, rank)), target, grouped_shape)
    dxg, xhat_g, _ = normalized_grad(xg, gg, [2], eps)
    xhat = _util.reshape_like(xhat_g, x)
    axes = [0] + list(range(2, rank))
    d_scale = _reduce("ReduceSum", _util.mul(dy, xhat), axes, keepdims=False) if _needs(scale) else None
    d_bias = _reduce("ReduceSum", dy, axes, keepdims=False) if _needs(bias) else None
    return [_util.reshape_like(dxg, x) if _needs(x) else None, d_scale, d_bias]


@register_gradient("LpNormalization")
def lp_normalization(node, grads):
    """y = x / ||x||_p along `axis`: dx = (dy - s · sum(dy · y)) / ||x||_p, s = y (p=2) or sign(x) (p=1)."""
    x, dy = node.inputs[0], grads[0]
    axis = _util.norm_axis(int(_util.attr(node, "axis", -1)), x.ndim)
    p = int(_util.attr(node, "p", 2))
    if p not in (1, 2):
        raise NotImplementedError(f"{where(node)}: LpNormalization with p={p} (ONNX allows only 1 and 2).")
    norm = _reduce("ReduceL2" if p == 2 else "ReduceL1", x, [axis])
    y = _util.div(x, norm)
    direction = y if p == 2 else _util.like("Sign", x)
    dot = _reduce("ReduceSum", _util.mul(dy, y), [axis])
    return [_util.div(_util.sub(dy, _util.mul(direction, dot)), norm)]
