"""Time recurrences for the recurrent-op gradients: one ONNX Scan, or unrolled steps.

A recurrent gradient is mostly batched work over all time steps at once (gate values
recomputed from the forward outputs, weight gradients as one MatMul over T*B rows); only
the part that truly carries state from step to step goes through `recurrence`. A step
function is written once against SymbolicTensors with `emit`: it runs inside a Scan body
(per-step tensors without the time axis) or once per step of a known length (per-step
tensors keep a time axis of 1), so both forms compute exactly the same formulas.

`MODE` picks the form (a knob for benchmarks/recurrent_gradients.py): "scan" (the default;
any length) or "unroll" (per-step nodes; a length unknown when the graph is built still runs
as a Scan, so nothing needs a static length). Scan was measured faster: on the ticket
router's LSTMs and a Bidirectional LSTM(64) the unrolled graphs took 0.9-1.4x the Scan
graphs' forward+backward time (2-core shared machine), and their node count grows with T.
"""

from __future__ import annotations

import numpy as np

from onnxgraph.backend.emit import constant, emit
from onnxgraph.backend.graph import collect
from onnxgraph.backend.ir import SymbolicTensor
from onnxgraph.backend.scope import name_scope

__all__ = ["recurrence", "MODE", "e", "reverse_time"]

MODE = {"value": "scan"}


def e(op: str, inputs, shape, dtype, attrs=None) -> SymbolicTensor:
    """One node with a known output type."""
    return emit(op, inputs, attrs, shapes=[tuple(shape)], dtypes_=[dtype])


def _i64(values) -> SymbolicTensor:
    return constant(np.asarray(values, dtype=np.int64))


def reverse_time(x: SymbolicTensor) -> SymbolicTensor:
    """x with axis 0 reversed (Gather; any length)."""
    steps = x.shape[0]
    if steps is not None:
        return e("Gather", [x, _i64(np.arange(steps - 1, -1, -1))], x.shape, x.dtype, {"axis": 0})
    length = e("Shape", [x], (1,), "int64", {"start": 0, "end": 1})
    length = e("Squeeze", [length, _i64([0])], (), "int64")
    ascending = e("Range", [_i64(0), length, _i64(1)], (None,), "int64")
    indices = e("Sub", [e("Sub", [length, _i64(1)], (), "int64"), ascending], (None,), "int64")
    return e("Gather", [x, indices], x.shape, x.dtype, {"axis": 0})


def recurrence(step, states, sequences, weights, out_like, *, reverse: bool, name: str):
    """Run ``step(states, per_step_inputs, weights) -> (new_states, per_step_outputs)`` over axis 0.

    Args:
        step: the step function (emits with `emit`; works for any leading axes).
        states: initial state tensors (B, ...), carried from step to step.
        sequences: (T, B, ...) tensors, one slice per step.
        weights: tensors every step reads unchanged (recurrent kernels).
        out_like: (shape without the time axis, dtype) of each per-step output.
        reverse: walk time from the last step to the first (outputs stay in time order).
        name: scope of the emitted nodes.

    Returns:
        (final states, [(T, B, ...) per-step outputs, stacked in time order]).
    """
    steps = sequences[0].shape[0]
    with name_scope(name):
        if MODE["value"] == "unroll" and steps is not None:
            return _unrolled(step, states, sequences, weights, out_like, reverse, steps)
        return _scan(step, states, sequences, weights, out_like, reverse)


def _placeholders(tensors, prefix, drop_time=False):
    return [SymbolicTensor(x.shape[1:] if drop_time else x.shape, x.dtype, kind="input", name=f"{prefix}_{i}")
            for i, x in enumerate(tensors)]


def _scan(step, states, sequences, weights, out_like, reverse):
    """One Scan node; weights ride along as states that the body passes through (Identity)."""
    from onnxgraph.backend.serialize import to_model_proto

    body_states, body_weights = _placeholders(states, "state"), _placeholders(weights, "weight")
    body_xs = _placeholders(sequences, "x", drop_time=True)
    new_states, outs = step(body_states, body_xs, body_weights)
    kept = [e("Identity", [w], w.shape, w.dtype) for w in body_weights]
    inputs = body_states + body_weights + body_xs
    outputs = list(new_states) + kept + list(outs)
    names_out = [f"out_{i}" for i in range(len(outputs))]
    body = to_model_proto(collect(inputs, outputs, [x.name for x in inputs], names_out),
                          name="recurrence_step")[0].graph
    steps = sequences[0].shape[0]
    attrs = {"body": body, "num_scan_inputs": len(sequences),
             "scan_input_directions": [int(reverse)] * len(sequences),
             "scan_output_directions": [int(reverse)] * len(outs)}
    carried = list(states) + list(weights)
    shapes = [s.shape for s in carried] + [(steps,) + tuple(shape) for shape, _ in out_like]
    dtypes_ = [s.dtype for s in carried] + [dtype for _, dtype in out_like]
    results = emit("Scan", carried + list(sequences), attrs, outputs=len(shapes), shapes=shapes, dtypes_=dtypes_)
    results = [results] if len(shapes) == 1 else list(results)
    return results[:len(states)], results[len(carried):]


def _unrolled(step, states, sequences, weights, out_like, reverse, steps):
    """The step emitted once per time step; per-step tensors keep a time axis of length 1."""
    split = []
    for x in sequences:
        shape = (1,) + x.shape[1:]
        parts = emit("Split", [x], {"axis": 0, "num_outputs": steps}, outputs=steps,
                     shapes=[shape] * steps, dtypes_=[x.dtype] * steps) if steps > 1 else x
        split.append([parts] if steps == 1 else list(parts))
    states = [e("Unsqueeze", [s, _i64([0])], (1,) + s.shape, s.dtype) for s in states]
    per_step = [None] * steps
    for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
        states, outs = step(states, [parts[t] for parts in split], weights)
        per_step[t] = outs
    stacked = []
    for k, (shape, dtype) in enumerate(out_like):
        pieces = [per_step[t][k] for t in range(steps)]
        stacked.append(pieces[0] if steps == 1 else e("Concat", pieces, (steps,) + tuple(shape), dtype, {"axis": 0}))
    final = [e("Squeeze", [s, _i64([0])], s.shape[1:], s.dtype) for s in states]
    return final, stacked
