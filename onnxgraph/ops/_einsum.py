"""einsum as Transpose / Reshape / MatMul / ReduceSum / Mul, with ONNX Einsum as the fallback.

onnxruntime-training has no gradient for Einsum, so contractions are decomposed into ops it
can differentiate: each pair of operands becomes one (batched) MatMul between transposes and
reshapes, indices found in one operand only are summed first, and pairs without a
contracted index become a broadcast Mul. Repeated indices in one operand (traces,
diagonals), or merges that would need two unknown dimensions in one Reshape, fall back to a
single Einsum node.
"""

from __future__ import annotations

import collections
import math
import string

import numpy as np

from onnxgraph.ops._base import any_symbolic, as_tensor, binary_operands, emit, int64s, to_numpy
from onnxgraph.ops._dispatch import keras_op

__all__ = ["einsum"]


class _Fallback(Exception):
    """The decomposition cannot express this contraction; emit ONNX Einsum instead."""


@keras_op
def einsum(subscripts, *operands):
    """Evaluate an Einstein summation, numpy conventions (implicit output, `...` broadcasting).

    Example:
        >>> einsum("ij,jk->ik", np.ones((2, 3)), np.ones((3, 4))).shape
        (2, 4)
    """
    if not any_symbolic(*operands):
        return np.einsum(subscripts, *[to_numpy(x) for x in operands])
    xs = [as_tensor(x) for x in operands]
    for i in range(1, len(xs)):  # one common dtype, with the usual promotion
        xs[0], xs[i] = binary_operands(xs[0], xs[i])
    xs = [binary_operands(xs[0], x)[1] for x in xs]
    terms, out = _parse(subscripts, [x.ndim for x in xs])
    try:
        _check_decomposable(terms, out)
        return _contract_all(terms, out, xs)
    except _Fallback:
        equation = ",".join(terms) + "->" + out
        return emit("Einsum", xs, {"equation": equation}, dtypes_=[xs[0].dtype])


def _parse(subscripts: str, ranks: list[int]) -> tuple[list[str], str]:
    """Explicit per-operand index strings (ellipsis expanded to spare letters) and the output."""
    text = subscripts.replace(" ", "")
    lhs, out = text.split("->") if "->" in text else (text, None)
    terms = lhs.split(",")
    if len(terms) != len(ranks):
        raise ValueError(f"einsum: '{subscripts}' names {len(terms)} operands, but {len(ranks)} were given.")
    spare = [c for c in string.ascii_letters if c not in text]
    n_ell = max([rank - (len(t) - 3) for t, rank in zip(terms, ranks) if "..." in t] or [0])
    ell = "".join(spare[:n_ell])
    expanded = []
    for t, rank in zip(terms, ranks):
        if "..." in t:
            k = rank - (len(t) - 3)
            t = t.replace("...", ell[n_ell - k:])
        if len(t) != rank or not t.isalpha() and t:
            raise ValueError(f"einsum: operand subscripts '{t}' do not match an operand of rank {rank}.")
        expanded.append(t)
    if out is None:
        counts = collections.Counter("".join(expanded))
        out = ell + "".join(sorted(c for c in counts if counts[c] == 1 and c not in ell))
    else:
        out = out.replace("...", ell)
    missing = [c for c in out if c not in "".join(expanded)]
    if missing:
        raise ValueError(f"einsum: output index {missing[0]!r} in '{subscripts}' appears in no operand.")
    return expanded, out


def _check_decomposable(terms, out) -> None:
    if any(len(set(t)) != len(t) for t in terms) or len(set(out)) != len(out):
        raise _Fallback


def _contract_all(terms, out, xs):
    cur_t, cur = terms[0], xs[0]
    for i in range(1, len(terms)):
        later = set("".join(terms[i + 1:])) | set(out)
        keep = "".join(c for c in dict.fromkeys(cur_t + terms[i]) if c in later)
        cur = _pair(cur_t, cur, terms[i], xs[i], keep)
        cur_t = keep
    cur, cur_t = _sum_out(cur, cur_t, set(out))
    return _permute(cur, cur_t, out)


def _sum_out(x, t: str, keep: set):
    axes = [i for i, c in enumerate(t) if c not in keep]
    if not axes:
        return x, t
    shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
    y = emit("ReduceSum", [x, int64s(axes)], {"keepdims": 0}, shapes=[shape], dtypes_=[x.dtype])
    return y, "".join(c for c in t if c in keep)


def _permute(x, t: str, order: str):
    if t == order:
        return x
    perm = [t.index(c) for c in order]
    return emit("Transpose", [x], {"perm": perm}, shapes=[tuple(x.shape[p] for p in perm)], dtypes_=[x.dtype])


def _entry(dims: list):
    """Reshape entry for a merged group: its size, or -1 when a dimension is unknown."""
    return -1 if None in dims else math.prod(dims)


def _reshape(x, spec: list, shape: tuple):
    if spec.count(-1) > 1:
        raise _Fallback
    return emit("Reshape", [x, int64s(spec)], shapes=[shape], dtypes_=[x.dtype])


def _pair(ta: str, a, tb: str, b, to: str):
    """Contract two operands into the index string `to` with one MatMul (or a Mul)."""
    a, ta = _sum_out(a, ta, set(tb) | set(to))
    b, tb = _sum_out(b, tb, set(ta) | set(to))
    size = {}
    for t, x in ((ta, a), (tb, b)):
        for c, d in zip(t, x.shape):
            if size.get(c) in (None, 1):
                size[c] = d
    batch = [c for c in to if c in ta and c in tb]
    contr = [c for c in ta if c in tb and c not in to]
    a_kept = [c for c in to if c in ta and c not in tb]
    b_kept = [c for c in to if c in tb and c not in ta]
    nb = len(batch)
    if not contr:  # no summed index: a broadcast product laid out as batch + a_kept + b_kept
        order = "".join(batch + a_kept + b_kept)
        y = emit("Mul", [_align(a, ta, order), _align(b, tb, order)],
                 shapes=[tuple(size[c] for c in order)], dtypes_=[a.dtype])
        return _permute(y, order, to)
    # Feasibility first, so a fallback never leaves half-emitted nodes behind.
    merge_a = len(a_kept) > 1 and nb > 0  # without batch dims MatMul broadcasts A's leading dims
    a_part = [1] if not a_kept else ([_entry([size[c] for c in a_kept])] if merge_a else [0] * len(a_kept))
    spec_a = [0] * nb + a_part + [_entry([size[c] for c in contr])]
    spec_b = [0] * nb + [_entry([size[c] for c in contr]), _entry([size[c] for c in b_kept]) if b_kept else 1]
    reshape_a = not a_kept or merge_a or len(contr) > 1
    reshape_b = len(contr) != 1 or len(b_kept) != 1
    reshape_y = reshape_a or len(b_kept) != 1
    spec_y = [0] * nb + ([0] * len(a_kept) if (a_kept and not merge_a) else
                         [-1 if size[c] is None else size[c] for c in a_kept])
    spec_y += [-1 if size[c] is None else size[c] for c in b_kept]
    for spec, needed in ((spec_a, reshape_a), (spec_b, reshape_b), (spec_y, reshape_y)):
        if needed and spec.count(-1) > 1:
            raise _Fallback
    a = _permute(a, ta, "".join(batch + a_kept + contr))
    b = _permute(b, tb, "".join(batch + contr + b_kept))
    batch_a, batch_b = a.shape[:nb], b.shape[:nb]
    if reshape_a:
        m_dims = ((1,) if not a_kept else ((None if -1 in a_part else a_part[0],) if merge_a
                                           else a.shape[nb:nb + len(a_kept)]))
        a = _reshape(a, spec_a, batch_a + m_dims + (None if spec_a[-1] == -1 else spec_a[-1],))
    if reshape_b:
        b = _reshape(b, spec_b, batch_b + tuple(None if s == -1 else s for s in spec_b[nb:]))
    batch_y = tuple(size[c] for c in batch)
    y = emit("MatMul", [a, b], shapes=[batch_y + a.shape[nb:-1] + b.shape[-1:]], dtypes_=[a.dtype])
    order = "".join(batch + a_kept + b_kept)
    if reshape_y:
        y = _reshape(y, spec_y, tuple(size[c] for c in order))
    return _permute(y, order, to)


def _align(x, t: str, order: str):
    """Transpose x's indices into `order`'s relative order and insert 1s for the absent ones."""
    present = "".join(c for c in order if c in t)
    x = _permute(x, t, present)
    missing = [i for i, c in enumerate(order) if c not in t]
    if not missing:
        return x
    dims = iter(x.shape)
    shape = tuple(1 if i in missing else next(dims) for i in range(len(order)))
    return emit("Unsqueeze", [x, int64s(missing)], shapes=[shape], dtypes_=[x.dtype])
