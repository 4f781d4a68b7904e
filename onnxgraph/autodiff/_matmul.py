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
    return U.reshape(x, U.const([-1, x.shape[-1] if x.shape[-1] is not None else 0], "int64"),
                     (rows, x.shape[-1]))


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
