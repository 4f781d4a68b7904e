"""Gradients of MatMul and Gemm."""

from __future__ import annotations

import numpy as np

from onnxgraph.autodiff import _util as U
from onnxgraph.autodiff._registry import register_gradient
from onnxgraph.backend.emit import constant, emit

__all__ = []


def _wants(x) -> bool:
    return U.is_float(x) and x.kind != "constant"


def _swap_last(x):
    perm = list(range(x.ndim))
    perm[-1], perm[-2] = perm[-2], perm[-1]
    return U.transpose(x, perm)


def _unsqueeze(x, axis: int):
    axis = U.norm_axis(axis, x.ndim + 1)
    shape = x.shape[:axis] + (1,) + x.shape[axis:]
    return emit("Unsqueeze", [x, constant(np.asarray([axis], np.int64))], shapes=[shape], dtypes_=[x.dtype])


def _flatten_rows(x):
    """[..., k] -> [prod(...), k]."""
    rows = None
    if all(d is not None for d in x.shape[:-1]):
        rows = int(np.prod(x.shape[:-1]))
    if x.shape[-1] is not None:
        target = U.const([-1, x.shape[-1]], "int64")
    else:
        target = emit("Concat", [U.const([-1], "int64"), U.shape_of(x, -1)], {"axis": 0}, shapes=[(2,)],
                      dtypes_=["int64"])
    return U.reshape(x, target, (rows, x.shape[-1]))


@register_gradient("MatMul")
def matmul(node, grads):
    a, b = node.inputs
    g = grads[0]
    # numpy.matmul promotes a 1-D a (k,) to (1, k) and a 1-D b (k,) to (k, 1), then drops that dim.
    a2 = a if a.ndim > 1 else U.reshape(a, U.const([1, -1], "int64"), (1, a.shape[0]))
    b2 = b if b.ndim > 1 else U.reshape(b, U.const([-1, 1], "int64"), (b.shape[0], 1))
    g2 = g
    if a.ndim == 1 and b.ndim == 1:
        g2 = U.reshape(g, U.const([1, 1], "int64"), (1, 1))
    elif a.ndim == 1:
        g2 = _unsqueeze(g, -2)
    elif b.ndim == 1:
        g2 = _unsqueeze(g, -1)
    ga = gb = None
    if _wants(a):
        ga = U.unbroadcast(U.matmul(g2, _swap_last(b2)), a2)
        ga = U.reshape_like(ga, a) if a.ndim == 1 else ga
    if _wants(b):
        if b2.ndim == 2 and a2.ndim > 2 and b2.shape[-1] is not None:
            # Dense on [batch, ..., k]: one [k, rows] x [rows, n] product, no batched partials.
            gb = U.matmul(_swap_last(_flatten_rows(a2)), _flatten_rows(g2))
        else:
            gb = U.unbroadcast(U.matmul(_swap_last(a2), g2), b2)
        gb = U.reshape_like(gb, b) if b.ndim == 1 else gb
    return [ga, gb]


def _gemm(a, b, trans_a: int, trans_b: int, alpha: float):
    rows = a.shape[1] if trans_a else a.shape[0]
    cols = b.shape[0] if trans_b else b.shape[1]
    attrs = {"transA": trans_a, "transB": trans_b}
    if alpha != 1.0:
        attrs["alpha"] = alpha
    return emit("Gemm", [a, b], attrs, shapes=[(rows, cols)], dtypes_=[a.dtype])


@register_gradient("Gemm")
def gemm(node, grads):
    """Y = alpha * A' @ B' + beta * C (A' = A.T when transA, B' = B.T when transB); each input grad one Gemm."""
    a, b = node.inputs[:2]
    c = node.inputs[2] if len(node.inputs) > 2 else None
    g = grads[0]
    ta, tb = int(U.attr(node, "transA", 0)), int(U.attr(node, "transB", 0))
    alpha, beta = float(U.attr(node, "alpha", 1.0)), float(U.attr(node, "beta", 1.0))
    ga = gb = gc = None
    if _wants(a):
        ga = _gemm(b, g, tb, 1, alpha) if ta else _gemm(g, b, 0, 1 - tb, alpha)
    if _wants(b):
        gb = _gemm(g, a, 1, ta, alpha) if tb else _gemm(a, g, 1 - ta, 0, alpha)
    if _wants(c):
        gc = U.unbroadcast(g if beta == 1.0 else U.mul(g, U.const(beta, g.dtype)), c)
    return [ga, gb, gc][:len(node.inputs)]
