"""Training-graph rules for normalization ops.

BatchNormalization in a training graph is silently switched to batch statistics by
onnxruntime-training, even with training_mode=0; Instance- and GroupNormalization have no
gradient. All three become ReduceMean/Sub/Mul/Sqrt/Div; a BatchNormalization with
training_mode=1 also reports its moving-statistics updates to the engine.
"""

from __future__ import annotations

from onnxgraph.trainer._rewrite import E, attr, const

__all__ = ["RULES"]


def _per_channel(v, rank: int):
    """A (C,) tensor shaped (C, 1, ..., 1) to broadcast over (N, C, ...)."""
    shape = (v.shape[0],) + (1,) * (rank - 2)
    return E("Reshape", [v, const(shape, "int64")], None, shape, v.dtype)


def _normalize(x, axes, epsilon: float):
    """(x - mean) / sqrt(var + eps) over `axes` (kept); returns (normalized, mean, var)."""
    kept = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
    axes_c = const(axes, "int64")
    mean = E("ReduceMean", [x, axes_c], {"keepdims": 1}, kept, x.dtype)
    centered = E("Sub", [x, mean], None, x.shape, x.dtype)
    var = E("ReduceMean", [E("Mul", [centered, centered], None, x.shape, x.dtype), axes_c], {"keepdims": 1},
            kept, x.dtype)
    std = E("Sqrt", [E("Add", [var, const(epsilon, x.dtype)], None, kept, x.dtype)], None, kept, x.dtype)
    return E("Div", [centered, std], None, x.shape, x.dtype), mean, var


def _affine(y, scale, bias):
    if scale is not None:
        y = E("Mul", [y, _per_channel(scale, y.ndim)], None, y.shape, y.dtype)
    if bias is not None:
        y = E("Add", [y, _per_channel(bias, y.ndim)], None, y.shape, y.dtype)
    return y


def _batch_norm(node, ctx):
    x, scale, bias, mean, var = node.inputs[:5]
    epsilon = float(attr(node, "epsilon", 1e-5))
    if not attr(node, "training_mode", 0):
        c = (mean.shape[0],)
        inv = E("Div", [scale, E("Sqrt", [E("Add", [var, const(epsilon, x.dtype)], None, c, x.dtype)], None, c,
                                    x.dtype)], None, c, x.dtype)
        shift = E("Sub", [bias, E("Mul", [mean, inv], None, c, x.dtype)], None, c, x.dtype)
        return [_affine(x, inv, shift)] + [None] * (len(node.outputs) - 1)
    axes = [0] + list(range(2, x.ndim))
    y, batch_mean, batch_var = _normalize(x, axes, epsilon)
    y = _affine(y, scale, bias)
    momentum = float(attr(node, "momentum", 0.9))
    results = [y]
    # The updates are recorded even when the node leaves its running-statistics outputs undeclared.
    for running, batch in zip((mean, var), (batch_mean, batch_var)):
        flat = E("Reshape", [batch, const(running.shape, "int64")], None, running.shape, x.dtype)
        new = E("Add", [E("Mul", [running, const(momentum, x.dtype)], None, running.shape, x.dtype),
                        E("Mul", [flat, const(1.0 - momentum, x.dtype)], None, running.shape, x.dtype)],
                None, running.shape, x.dtype)
        results.append(new)
        if running.kind == "variable" and not running.transform:
            ctx.updates.append((running.variable, new))
    return results[:len(node.outputs)]


def _instance_norm(node, ctx):
    x, scale, bias = node.inputs
    y, _, _ = _normalize(x, list(range(2, x.ndim)), float(attr(node, "epsilon", 1e-5)))
    return [_affine(y, scale, bias)]


def _group_norm(node, ctx):
    """ONNX GroupNormalization (opset 21: per-channel scale and bias)."""
    x, scale, bias = node.inputs
    groups = int(attr(node, "num_groups"))
    channels = x.shape[1]
    if channels is None or None in x.shape[2:]:
        raise NotImplementedError(f"{'/'.join(node.scope)}: GroupNormalization needs known channel and spatial "
                                  f"sizes to train, got {x.shape}.")
    grouped = E("Reshape", [x, const([0, groups, -1], "int64")], None,
                (x.shape[0], groups, _prod(x.shape[1:]) // groups), x.dtype)
    y, _, _ = _normalize(grouped, [2], float(attr(node, "epsilon", 1e-5)))
    y = E("Reshape", [y, const([0, *x.shape[1:]], "int64")], None, x.shape, x.dtype)
    return [_affine(y, scale, bias)]


def _prod(dims):
    out = 1
    for d in dims:
        out *= d
    return out


RULES = {"BatchNormalization": _batch_norm, "InstanceNormalization": _instance_norm,
         "GroupNormalization": _group_norm}
