"""Optimizer steps as ONNX nodes: Keras 3's apply order with the numpy optimizers' exact formulas.

`emit_step` emits one whole optimizer step into the graph being built (standard ONNX ops,
opset 21): divide by `loss_scale_factor`, clip (`clipnorm`, `global_clipnorm` or
`clipvalue`), decoupled weight decay, then each optimizer's `_emit_update`. The learning rate
(a float64 scalar: schedules stay evaluated in Python, once per step, exactly as the numpy
optimizers evaluate them) and the iteration count (int64 scalar, steps done before this one)
are graph inputs; so are the parameters and the slots. The new parameters and slots are its
outputs. Every operation is done in the parameter's dtype in the numpy optimizers' order, so a
step in the graph equals `Optimizer.apply` to float32 rounding.
"""

from __future__ import annotations

import numpy as np

from onnxgraph.backend import dtypes
from onnxgraph.backend.emit import constant, emit
from onnxgraph.backend.scope import name_scope

__all__ = ["StepInputs", "emit_step", "op", "scalar", "flush_subnormal"]


class StepInputs:
    """The per-step scalars the update nodes read, in the parameters' dtype (computed once)."""

    def __init__(self, lr64, iteration, dtype: str):
        self.lr64 = lr64                                   # float64 learning rate (as fed)
        self.dtype = dtype
        self.lr = emit("Cast", [lr64], {"to": dtypes.to_onnx(dtype)}, shapes=[()], dtypes_=[dtype])
        step = op("Add", iteration, constant(np.int64(1)))  # Keras: local_step = iterations + 1
        self.step = emit("Cast", [step], {"to": dtypes.to_onnx(dtype)}, shapes=[()], dtypes_=[dtype])
        self._cache: dict = {}

    def cached(self, key, make):
        """One node per step for scalars shared by every parameter (Adam's alpha, ...)."""
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]


def scalar(value, dtype: str):
    """A scalar constant in `dtype`, rounded from Python's double like `dtype.type(value)`."""
    return constant(np.asarray(value, dtype=dtypes.to_numpy(dtype)))


def op(op_type: str, *inputs, **attrs):
    """One elementwise node; the output takes the larger-rank input's shape (operands here broadcast
    only against scalars)."""
    shape = max((x.shape for x in inputs), key=len)
    return emit(op_type, list(inputs), attrs or None, shapes=[shape], dtypes_=[inputs[0].dtype])


def flush_subnormal(x, threshold: float | None = None):
    """x with the values below `threshold` (default: the smallest normal float) set to zero (see
    `Optimizer._flush_subnormal_slots`; the "onnx" engine on CUDA runs this on the slots every
    FLUSH_EVERY steps)."""
    if threshold is None:
        threshold = np.finfo(dtypes.to_numpy(x.dtype)).tiny
    small = emit("Less", [op("Abs", x), scalar(threshold, x.dtype)], shapes=[x.shape], dtypes_=["bool"])
    return emit("Where", [small, scalar(0.0, x.dtype), x], shapes=[x.shape], dtypes_=[x.dtype])


def _clip(optimizer, grads: list, dtype: str) -> list:
    if optimizer.clipnorm and optimizer.clipnorm > 0:
        clip = scalar(optimizer.clipnorm, dtype)
        out = []
        for g in grads:
            norm = emit("Sqrt", [emit("ReduceSumSquare", [g], {"keepdims": 0}, shapes=[()], dtypes_=[dtype])],
                        shapes=[()], dtypes_=[dtype])
            out.append(op("Div", op("Mul", g, clip), op("Max", norm, clip)))
        return out
    if optimizer.global_clipnorm and optimizer.global_clipnorm > 0:
        total = None
        for g in grads:
            squares = emit("ReduceSumSquare", [g], {"keepdims": 0}, shapes=[()], dtypes_=[dtype])
            total = squares if total is None else op("Add", total, squares)
        norm = op("Sqrt", total)
        one, clip = scalar(1.0, dtype), scalar(optimizer.global_clipnorm, dtype)
        # Keras: clip * min(1/norm, 1/clip), plus (norm - norm) so a non-finite norm gives NaN.
        scale = op("Add", op("Mul", clip, op("Min", op("Div", one, norm), op("Div", one, clip))),
                   op("Sub", norm, norm))
        return [op("Mul", g, scale) for g in grads]
    if optimizer.clipvalue and optimizer.clipvalue > 0:
        low, high = scalar(-optimizer.clipvalue, dtype), scalar(optimizer.clipvalue, dtype)
        return [emit("Clip", [g, low, high], shapes=[g.shape], dtypes_=[dtype]) for g in grads]
    return grads


def emit_step(optimizer, params: list, grads: list, slots: list[dict], lr64, iteration, names=None):
    """Emit one step of `optimizer`; returns (new params, new slots) as lists parallel to the inputs.

    Args:
        optimizer: an `onnxgraph.optimizers.Optimizer` whose class implements `_emit_update`.
        params: SymbolicTensors of the parameters (ONNX layout is fine: updates are elementwise).
        grads: their gradients, same shapes.
        slots: per parameter, {slot name: SymbolicTensor} (the names of `optimizer._slot_specs()`).
        lr64: float64 scalar tensor, the learning rate this step uses.
        iteration: int64 scalar tensor, the number of steps applied before this one.
        names: parameter paths, needed only with `exclude_from_weight_decay`.
    """
    if not params:
        return [], []
    from onnxgraph.optimizers._base import Optimizer

    if type(optimizer)._emit_update is Optimizer._emit_update:
        raise NotImplementedError(
            f"{type(optimizer).__name__} has no in-graph update (`_emit_update`), so the 'onnx' engine cannot run "
            "it. Implement `_emit_update(i, param, grad, slots, step)` for it, or compile with "
            "engine='ort-training', which applies `_update` in numpy.")
    dtype = params[0].dtype
    with name_scope("optimizer"):
        step = StepInputs(lr64, iteration, dtype)
        if optimizer.loss_scale_factor is not None:
            factor = scalar(optimizer.loss_scale_factor, dtype)
            grads = [op("Div", g, factor) for g in grads]
        grads = _clip(optimizer, list(grads), dtype)
        if optimizer.weight_decay is not None:
            mask = optimizer._weight_decay_mask(len(params), names)
            # numpy: p *= dtype(1 - weight_decay * lr), the factor computed in double precision.
            factor64 = op("Sub", constant(1.0, "float64"),
                          op("Mul", constant(optimizer.weight_decay, "float64"), lr64))
            factor = emit("Cast", [factor64], {"to": dtypes.to_onnx(dtype)}, shapes=[()], dtypes_=[dtype])
            params = [op("Mul", p, factor) if keep else p for p, keep in zip(params, mask)]
        new_params, new_slots = [], []
        for i, (p, g, s) in enumerate(zip(params, grads, slots)):
            with name_scope(f"param_{i}"):
                p_new, s_new = optimizer._emit_update(i, p, g, dict(s), step)
            new_params.append(p_new)
            new_slots.append(s_new)
    return new_params, new_slots
