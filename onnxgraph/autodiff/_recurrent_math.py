"""Small typed emitters the recurrent gradients share: elementwise math, matmuls, activations.

Every helper emits one node with its output type computed here (the recurrent gradients
emit hundreds of nodes; ONNX shape inference per node would dominate building them).
"""

from __future__ import annotations

import numpy as np

from onnxgraph.autodiff._recurrent_loop import e
from onnxgraph.autodiff._registry import NoGradientError
from onnxgraph.backend import dtypes
from onnxgraph.backend.emit import constant

__all__ = ["ew", "mm", "gemm_t", "scalar", "one_minus", "split_last", "concat_last", "prev_steps",
           "zeros_state", "sum_rows", "rows", "act", "dact", "activation_specs", "i64"]


def i64(values):
    return constant(np.asarray(values, dtype=np.int64))


def scalar(value, dtype):
    return constant(np.asarray(value, dtype=dtypes.to_numpy(dtype)))


def _broadcast(a, b) -> tuple:
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)
    out = []
    for x, y in zip(a, b):
        out.append(y if x == 1 else x if y == 1 else x if x is not None else y)
    return tuple(out)


def ew(op: str, a, b):
    """Elementwise binary op (Add, Sub, Mul, Div) with numpy broadcasting."""
    return e(op, [a, b], _broadcast(a.shape, b.shape), a.dtype)


def one_minus(x):
    return ew("Sub", scalar(1.0, x.dtype), x)


def mm(a, b):
    """a @ b for b of rank 2."""
    return e("MatMul", [a, b], a.shape[:-1] + (b.shape[-1],), a.dtype)


def gemm_t(a, b):
    """a^T @ b for rank-2 a (n, p), b (n, q): the weight gradient summed over rows."""
    return e("Gemm", [a, b], (a.shape[1], b.shape[1]), a.dtype, {"transA": 1})


def rows(x):
    """(T, B, k) -> (T*B, k)."""
    return e("Reshape", [x, i64([-1, x.shape[-1]])], (None, x.shape[-1]), x.dtype)


def sum_rows(x):
    """(n, k) -> (k,)."""
    return e("ReduceSum", [x, i64([0])], x.shape[1:], x.dtype, {"keepdims": 0})


def split_last(x, sizes):
    outs = e_multi("Split", [x, i64(sizes)], [x.shape[:-1] + (s,) for s in sizes], x.dtype, {"axis": -1})
    return outs


def e_multi(op, inputs, shapes, dtype, attrs):
    from onnxgraph.backend.emit import emit

    result = emit(op, inputs, attrs, outputs=len(shapes), shapes=shapes, dtypes_=[dtype] * len(shapes))
    return [result] if len(shapes) == 1 else list(result)


def concat_last(parts):
    width = sum(p.shape[-1] for p in parts)
    shape = _broadcast(parts[0].shape[:-1], parts[-1].shape[:-1]) + (width,)
    return e("Concat", parts, shape, parts[0].dtype, {"axis": -1})


def prev_steps(seq, initial):
    """(T, B, u) values of the step before each step: [initial or 0, seq[0], ..., seq[T-2]]."""
    steps = seq.shape[0]
    grown = (None if steps is None else steps + 1,) + seq.shape[1:]
    if initial is None:
        padded = e("Pad", [seq, i64([1, 0, 0, 0, 0, 0])], grown, seq.dtype)
    else:
        padded = e("Concat", [e("Unsqueeze", [initial, i64([0])], (1,) + initial.shape, seq.dtype), seq],
                   grown, seq.dtype, {"axis": 0})
    return e("Slice", [padded, i64([0]), i64([-1]), i64([0])], seq.shape, seq.dtype)


def zeros_state(seq):
    """Zeros (B, u) shaped like one step of `seq` (T, B, u); works for a symbolic batch."""
    shape = e("Shape", [seq], (2,), "int64", {"start": 1})
    return e("Expand", [scalar(0.0, seq.dtype), shape], seq.shape[1:], seq.dtype)


# ONNX recurrent activations: name -> number of (alpha, beta) values it consumes.
_PARAMS = {"Sigmoid": 0, "Tanh": 0, "Relu": 0, "Softsign": 0, "Softplus": 0, "Affine": 2, "HardSigmoid": 2}


def activation_specs(node, defaults: list[str], n_directions: int, where: str) -> list[list[tuple]]:
    """Per direction, [(name, alpha, beta)] for the node's activations (ONNX defaults when absent)."""
    names = node.attrs.get("activations")
    names = [n.decode() if isinstance(n, bytes) else n for n in names] if names else defaults * n_directions
    alphas, betas = list(node.attrs.get("activation_alpha", [])), list(node.attrs.get("activation_beta", []))
    specs = []
    for name in names:
        if name not in _PARAMS:
            raise NoGradientError(f"{where}: no gradient for recurrent activation {name!r}; supported: "
                                  f"{sorted(_PARAMS)}. Use one of them, or train with engine='ort-training'.")
        if _PARAMS[name]:
            default = (1.0, 0.0) if name == "Affine" else (0.2, 0.5)
            specs.append((name, alphas.pop(0) if alphas else default[0], betas.pop(0) if betas else default[1]))
        else:
            specs.append((name, None, None))
    if len(specs) == len(defaults) and n_directions == 2:  # one list given for both directions
        specs = specs * 2
    if len(specs) != len(defaults) * n_directions:
        raise NoGradientError(f"{where}: expected {len(defaults) * n_directions} activations "
                              f"({len(defaults)} per direction), got {names}.")
    per = len(defaults)
    return [specs[d * per:(d + 1) * per] for d in range(n_directions)]


def act(spec, x):
    """The forward activation, as ONNX recurrent ops define it."""
    name, alpha, beta = spec
    if name == "Affine":
        return ew("Add", ew("Mul", x, scalar(alpha, x.dtype)), scalar(beta, x.dtype))
    if name == "HardSigmoid":
        return e("HardSigmoid", [x], x.shape, x.dtype, {"alpha": float(alpha), "beta": float(beta)})
    return e(name, [x], x.shape, x.dtype)


def dact(spec, y):
    """d act / d x written with the activation's output y (every supported one allows it)."""
    name, alpha, _ = spec
    dtype = y.dtype
    if name == "Sigmoid":
        return ew("Mul", y, one_minus(y))
    if name == "Tanh":
        return one_minus(ew("Mul", y, y))
    if name == "Relu":
        return e("Cast", [e("Greater", [y, scalar(0.0, dtype)], y.shape, "bool")], y.shape, dtype,
                 {"to": dtypes.to_onnx(dtype)})
    if name == "Affine":
        return scalar(alpha, dtype)
    if name == "HardSigmoid":
        inside = e("And", [e("Greater", [y, scalar(0.0, dtype)], y.shape, "bool"),
                           e("Less", [y, scalar(1.0, dtype)], y.shape, "bool")], y.shape, "bool")
        return ew("Mul", e("Cast", [inside], y.shape, dtype, {"to": dtypes.to_onnx(dtype)}), scalar(alpha, dtype))
    if name == "Softsign":
        rest = one_minus(e("Abs", [y], y.shape, dtype))
        return ew("Mul", rest, rest)
    if name == "Softplus":  # sigmoid(x) = 1 - exp(-softplus(x))
        return one_minus(e("Exp", [e("Neg", [y], y.shape, dtype)], y.shape, dtype))
    raise AssertionError(name)
