"""Loss building blocks that run on numpy arrays and emit ONNX on symbolic tensors.

Only ops whose gradients onnxruntime-training 1.19.2 computes correctly are emitted
(see shared/notes/onnxruntime-training.md): Relu, Abs, Exp, Log, Clip, Min, LogSoftmax,
GatherElements, ReduceSum/ReduceMean, Add/Sub/Mul/Div. No BCEWithLogitsLoss, no Where on
differentiable operands, no Softplus.
"""

from __future__ import annotations

import numpy as np

from onnxgraph import ops
from onnxgraph.backend.emit import constant, emit
from onnxgraph.backend.ir import SymbolicTensor

__all__ = ["EPSILON", "is_symbolic", "clip", "take_class", "cast", "same_rank", "mean_except_batch"]

EPSILON = 1e-7  # keras.backend.epsilon()


def is_symbolic(*xs) -> bool:
    return any(isinstance(x, SymbolicTensor) for x in xs)


def cast(x, dtype: str):
    """Cast a numpy array or symbolic tensor to `dtype`."""
    if is_symbolic(x):
        return ops.cast(x, dtype)
    return np.asarray(x).astype(dtype, copy=False)


def clip(x, lo: float, hi: float):
    """Clamp to [lo, hi] (ONNX Clip, whose gradient is 1 inside and 0 outside, like torch.clip)."""
    if not is_symbolic(x):
        return np.clip(x, x.dtype.type(lo), x.dtype.type(hi))
    lo_t, hi_t = constant(np.array(lo, dtype=np.float32)), constant(np.array(hi, dtype=np.float32))
    return emit("Clip", [x, lo_t, hi_t], shapes=[x.shape], dtypes_=[x.dtype])


def take_class(values, labels):
    """values[..., labels[...]]: pick each sample's class entry (ONNX GatherElements on the last axis)."""
    if not is_symbolic(values, labels):
        idx = np.asarray(labels).astype(np.int64)[..., None]
        return np.take_along_axis(values, idx, axis=-1)[..., 0]
    labels = ops.expand_dims(ops.cast(labels, "int64"), -1)
    picked = emit("GatherElements", [values, labels], {"axis": values.ndim - 1},
                  shapes=[values.shape[:-1] + (1,)], dtypes_=[values.dtype])
    return ops.squeeze(picked, -1)


def same_rank(y_true, y_pred):
    """Keras's squeeze_or_expand_to_same_rank: fix a trailing length-1 axis on either side."""
    t_rank, p_rank = len(y_true.shape), len(y_pred.shape)
    if t_rank == p_rank + 1 and y_true.shape[-1] == 1:
        if p_rank == 1:
            y_pred = ops.expand_dims(y_pred, -1)
        else:
            y_true = ops.squeeze(y_true, -1)
    elif p_rank == t_rank + 1 and y_pred.shape[-1] == 1:
        if t_rank == 1:
            y_true = ops.expand_dims(y_true, -1)
        else:
            y_pred = ops.squeeze(y_pred, -1)
    return y_true, y_pred


def mean_except_batch(values):
    """Mean over every axis but the first: (batch, ...) -> (batch,). Rank-1 input is returned as is."""
    if len(values.shape) <= 1:
        return values
    return ops.mean(values, axis=list(range(1, len(values.shape))))
