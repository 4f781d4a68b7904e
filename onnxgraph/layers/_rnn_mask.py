"""Masked SimpleRNN / LSTM / GRU with one fused, trainable node over a dynamic-length sequence.

Keras semantics (keras/src/backend/torch/rnn.py): at a masked step the states keep their
previous values and the output repeats the previous step's output (zeros before the first
unmasked step; zeros everywhere masked with `zero_output_for_mask`). Masks are general, so
`sequence_lens` (right padding only, and no gradient in onnxruntime-training) cannot express
them. Instead, per sample, the unmasked steps are moved to the front in order (a stable TopK
on `t + T * masked` gives the source steps; GatherElements moves them), the fused node runs
over that compacted sequence, and output t reads the compacted output after `cumsum(mask)[t]`
steps (a triangular matmul). The states after the last unmasked step are that output (h), and for an LSTM the cell
state comes from Y_c, kept exact over the padded tail by one extra input channel that
saturates the forget gate open and the input gate shut there. Every op on the path from the
weights is differentiable in onnxruntime-training, so inference and training graphs share it.
"""

from __future__ import annotations

import numpy as np

from onnxgraph import ops
from onnxgraph.backend import dtypes
from onnxgraph.backend.emit import constant, emit
from onnxgraph.utils._tree import flatten

__all__ = ["time_major_mask", "run_masked"]


def time_major_mask(mask):
    """(T, B) bool from a Keras mask (B, T) (the first one when a structure of masks is given)."""
    mask = flatten(mask)[0] if isinstance(mask, (list, tuple)) else mask
    if mask.dtype != "bool":
        mask = ops.cast(mask, "bool")
    if mask.ndim == 3:  # (B, T, 1) masks are accepted by Keras too
        mask = ops.squeeze(mask, axis=-1)
    return ops.transpose(mask, (1, 0))


def _i64(value):
    return constant(np.array(value, dtype=np.int64))


def run_masked(layer, x_tm, mask_tm, initial):
    """(outputs (T, B, u), final states [(B, u)], last output (B, u)) of `layer` under `mask_tm`."""
    dtype = x_tm.dtype
    np_dtype = dtypes.to_numpy(dtype)
    m = ops.cast(mask_tm, dtype)                                                     # (T, B)
    steps = emit("Shape", [x_tm], {"start": 0, "end": 1}, shapes=[(1,)], dtypes_=["int64"])
    steps_scalar = emit("Squeeze", [steps, _i64([0])], shapes=[()], dtypes_=["int64"])
    t = emit("Range", [_i64(0), steps_scalar, _i64(1)], shapes=[(x_tm.shape[0],)], dtypes_=["int64"])
    t = ops.expand_dims(ops.cast(t, dtype), -1)                                        # (T, 1)
    one = constant(np.array(1, dtype=np_dtype))
    key = ops.add(t, ops.multiply(ops.cast(steps_scalar, dtype), ops.subtract(one, m)))
    _, source = emit("TopK", [key, steps], {"axis": 0, "largest": 0, "sorted": 1}, outputs=2,
                     shapes=[key.shape, key.shape], dtypes_=[dtype, "int64"])
    x_c = _gather_steps(x_tm, source)
    length = ops.sum(m, axis=0)                                                        # (B,)
    carry = type(layer).__name__ == "LSTM" and layer.return_state
    if carry:
        tail = ops.cast(ops.greater_equal(t, length), dtype)                          # (T, B)
        x_c = ops.concatenate([x_c, ops.expand_dims(tail, -1)], axis=-1)
    y, *states = layer._emit(x_c, initial, carry=carry) if carry else layer._emit(x_c, initial)
    y = ops.squeeze(y, 1)                                                              # (T, B, u)
    # cumsum(m) over time as a lower-triangular matmul: CumSum has no gradient rule for an unknown
    # length, and nothing on this path needs one (the mask does not depend on the weights).
    steps_row = ops.transpose(t, (1, 0))                                               # (1, T)
    lower = ops.cast(ops.greater_equal(t, steps_row), dtype)                           # (T, T)
    count = ops.matmul(lower, m)                                                       # (T, B)
    index = ops.cast(ops.maximum(ops.subtract(count, one), constant(np.array(0, dtype=np_dtype))), "int64")
    out = _gather_steps(y, index)
    zero = constant(np.array(0, dtype=np_dtype))
    out = ops.where(ops.expand_dims(ops.greater(count, zero), -1), out, zero)
    last_step = emit("Sub", [steps_scalar, _i64(1)], shapes=[()], dtypes_=["int64"])
    h_last = emit("Gather", [out, last_step], {"axis": 0}, shapes=[out.shape[1:]], dtypes_=[dtype])
    h_final = h_last
    if initial[0] is not None:  # all steps masked: the state stays the given initial state
        h_final = ops.where(ops.expand_dims(ops.greater(length, zero), -1), h_last, ops.squeeze(initial[0], 0))
    final = [h_final] + [ops.squeeze(s, 0) for s in states[1:]]
    if layer.zero_output_for_mask:
        out = ops.where(ops.expand_dims(mask_tm, -1), out, zero)
        mask_last = emit("Gather", [mask_tm, last_step], {"axis": 0}, shapes=[mask_tm.shape[1:]], dtypes_=["bool"])
        h_last = ops.where(ops.expand_dims(mask_last, -1), h_last, zero)
    return out, final, h_last


def _gather_steps(x, steps):
    """x[steps[t, b], b, ...] for time-major x (GatherElements along time, indices broadcast)."""
    index = ops.expand_dims(steps, -1)
    shape = emit("Shape", [x], shapes=[(x.ndim,)], dtypes_=["int64"])
    index = emit("Expand", [index, shape], shapes=[x.shape], dtypes_=["int64"])
    return emit("GatherElements", [x, index], {"axis": 0}, shapes=[x.shape], dtypes_=[x.dtype])
