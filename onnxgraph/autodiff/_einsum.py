"""Gradient of ONNX Einsum (what `ops.einsum` leaves undecomposed: traces, diagonals).

For operand k the gradient is another einsum: the output gradient contracted with the other
operands, onto operand k's indices. Indices only operand k has (summed in the forward) are
broadcast back with Expand; an index repeated in operand k (a diagonal or trace) gets a
fresh letter and an identity matrix that puts the gradient on the diagonal; a size-1
ellipsis dim broadcast against a larger one is summed back (`unbroadcast`).
"""

from __future__ import annotations

import collections
import string

import numpy as np

from onnxgraph.autodiff._registry import register_gradient
from onnxgraph.autodiff._util import attr, is_float, shape_of, unbroadcast
from onnxgraph.backend import dtypes
from onnxgraph.backend.emit import constant, emit

__all__ = ["einsum"]


def _parse(equation: str, ranks: list[int]) -> tuple[list[str], str]:
    """Per-operand index strings with `...` expanded to spare letters, and the output indices."""
    text = equation.replace(" ", "")
    lhs, out = text.split("->") if "->" in text else (text, None)
    terms = lhs.split(",")
    spare = [c for c in string.ascii_letters if c not in text]
    n_ell = max([rank - (len(t) - 3) for t, rank in zip(terms, ranks) if "..." in t] or [0])
    ell = "".join(spare[:n_ell])
    expanded = [t.replace("...", ell[n_ell - (rank - (len(t) - 3)):]) if "..." in t else t
                for t, rank in zip(terms, ranks)]
    if out is None:
        counts = collections.Counter("".join(expanded))
        out = ell + "".join(sorted(c for c in counts if counts[c] == 1 and c not in ell))
    return expanded, out.replace("...", ell)


def _sizes(terms, tensors) -> dict:
    """index letter -> static size (None when no operand knows it; 1-sized broadcasts ignored)."""
    sizes: dict[str, int | None] = {}
    for term, x in zip(terms, tensors):
        for c, d in zip(term, x.shape):
            if d is not None and d != 1:
                sizes[c] = d
            else:
                sizes.setdefault(c, d)
    return sizes


def _eye(x, axis: int, size, dtype):
    """Identity matrix (n, n) for dim `axis` of x (EyeLike when n is only known at runtime)."""
    if size is not None:
        return constant(np.eye(size, dtype=dtypes.to_numpy(dtype)))
    n = shape_of(x, axis, axis + 1)
    square = emit("Concat", [n, n], {"axis": 0}, shapes=[(2,)], dtypes_=["int64"])
    zeros = emit("ConstantOfShape", [square], {"value": _zero_tensor(dtype)}, shapes=[(None, None)], dtypes_=[dtype])
    return emit("EyeLike", [zeros], shapes=[(None, None)], dtypes_=[dtype])


def _zero_tensor(dtype):
    from onnx import numpy_helper

    return numpy_helper.from_array(np.zeros(1, dtype=dtypes.to_numpy(dtype)))


def _operand_gradient(k, terms, out, xs, g):
    x, term = xs[k], terms[k]
    sizes = _sizes(terms + [out], xs + [g])
    others = [(terms[j], xs[j]) for j in range(len(xs)) if j != k]
    available = set(out).union(*[set(t) for t, _ in others]) if others else set(out)
    spare = iter(c for c in string.ascii_letters if c not in "".join(terms) + out)
    # Target indices: a repeated letter gets a fresh letter, tied to the first by an identity.
    target, ties, seen = "", [], {}
    for pos, c in enumerate(term):
        if c in seen:
            fresh = next(spare)
            ties.append((c, fresh, pos))
            target += fresh
        else:
            seen[c] = pos
            target += c
    available |= {c for tie in ties for c in tie[:2]}
    known = "".join(c for c in target if c in available)
    inputs = [g] + [t for _, t in others] + [_eye(x, pos, sizes.get(c), g.dtype) for c, _, pos in ties]
    equation = ",".join([out] + [t for t, _ in others] + [c + fresh for c, fresh, _ in ties]) + "->" + known
    shape = tuple(sizes.get(c) if c in sizes else x.shape[target.index(c)] for c in known)
    grad = emit("Einsum", inputs, {"equation": equation}, shapes=[shape], dtypes_=[g.dtype])
    missing = [c for c in target if c not in known]
    if missing:  # indices summed in operand k only: every element got the same gradient
        axes = list(range(len(known), len(known) + len(missing)))
        grad = emit("Unsqueeze", [grad, constant(np.asarray(axes, np.int64))],
                    shapes=[shape + (1,) * len(missing)], dtypes_=[g.dtype])
        order = known + "".join(missing)
        dims = shape_of(x)
        target_shape = emit("Gather", [dims, constant(np.asarray([target.index(c) for c in order], np.int64))],
                            {"axis": 0}, shapes=[(len(order),)], dtypes_=["int64"])
        shape = tuple(x.shape[target.index(c)] for c in order)
        grad = emit("Expand", [grad, target_shape], shapes=[shape], dtypes_=[g.dtype])
        known = order
    if known != target:
        perm = [known.index(c) for c in target]
        grad = emit("Transpose", [grad], {"perm": perm}, shapes=[tuple(grad.shape[p] for p in perm)],
                    dtypes_=[g.dtype])
    return unbroadcast(grad, x) if grad.shape != x.shape else grad


@register_gradient("Einsum")
def einsum(node, grads):
    equation = attr(node, "equation")
    terms, out = _parse(equation, [x.ndim for x in node.inputs])
    return [_operand_gradient(k, terms, out, list(node.inputs), grads[0]) if is_float(x) else None
            for k, x in enumerate(node.inputs)]
