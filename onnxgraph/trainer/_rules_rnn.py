"""Training-graph rules for LSTM / GRU / RNN nodes.

onnxruntime-training 1.19.2 differentiates LSTM and GRU only when every optional input slot
is present (padded with "" to 8 / 6), every output is declared, the direction is forward,
layout is 0 and there are no `sequence_lens`; RNN has no gradient at all. The recurrent
layers already emit that form (and SimpleRNN as a GRU); these rules pad and declare what
another emitter may have left out, run reverse and bidirectional nodes as forward passes
over time-reversed sequences, and explain what cannot be trained.
"""

from __future__ import annotations

import numpy as np

from onnxgraph.trainer._rewrite import E, attr, const
from onnxgraph.trainer._rules_basic import _reverse_dynamic

__all__ = ["RULES"]

_ARITY = {"LSTM": 8, "GRU": 6}
_STATES = {"LSTM": 2, "GRU": 1}


def _reverse_time(x):
    """Reverse axis 0 with a Gather (Slice with a negative step has no gradient)."""
    if x.shape[0] is not None:
        index = const(np.arange(x.shape[0] - 1, -1, -1), "int64")
        return E("Gather", [x, index], {"axis": 0}, x.shape, x.dtype)
    return _reverse_dynamic(x, 0)


def _direction_slice(x, d: int):
    """Row d of a (num_directions, ...) weight/state input, kept as (1, ...)."""
    if x is None:
        return None
    shape = (1,) + x.shape[1:]
    return E("Slice", [x, const([d], "int64"), const([d + 1], "int64"), const([0], "int64")], None, shape, x.dtype)


def _forward_node(op, inputs, attrs, n_outputs):
    attrs = {k: v for k, v in attrs.items() if k != "direction"}
    inputs = list(inputs) + [None] * (_ARITY[op] - len(inputs))
    return list(E(op, inputs, attrs, outputs=n_outputs))


def _recurrent(node, ctx):
    op = node.op_type
    where = "/".join(node.scope + (op,))
    if op == "RNN":
        raise NotImplementedError(f"{where}: onnxruntime-training has no gradient for ONNX RNN; emit SimpleRNN as "
                                  "a GRU with saturated gates (layers/_rnn_emit.py simple_rnn_as_gru) to train it.")
    if attr(node, "layout", 0) != 0:
        raise NotImplementedError(f"{where}: {op} with layout=1 has no gradient in onnxruntime-training; emit "
                                  "time-major inputs (layout=0).")
    if len(node.inputs) > 4 and node.inputs[4] is not None:
        raise NotImplementedError(f"{where}: {op} with sequence_lens has no gradient in onnxruntime-training; "
                                  "mask padded steps another way (e.g. train on unpadded batches).")
    direction = attr(node, "direction", "forward")
    n_out = 1 + _STATES[op]
    complete = len(node.inputs) == _ARITY[op] and len(node.outputs) == n_out
    if direction == "forward":
        if complete:
            return None
        outputs = _forward_node(op, node.inputs, node.attrs, n_out)
        return outputs[:len(node.outputs)]
    x = node.inputs[0]
    runs = []
    directions = [1] if direction == "reverse" else [0, 1]
    for d in directions:
        inputs = [x] + [_direction_slice(t, d if len(directions) == 2 else 0) for t in node.inputs[1:]]
        if d == 1:
            inputs[0] = _reverse_time(x)
        outs = _forward_node(op, inputs, _one_direction_attrs(node, d, len(directions)), n_out)
        if d == 1:
            outs[0] = _reverse_time(outs[0])
        runs.append(outs)
    if len(runs) == 1:
        return runs[0][:len(node.outputs)]
    y = E("Concat", [runs[0][0], runs[1][0]], {"axis": 1}, node.outputs[0].shape, x.dtype)
    states = [E("Concat", [runs[0][i], runs[1][i]], {"axis": 0}, node.outputs[i].shape if i < len(node.outputs)
                else None, x.dtype) for i in range(1, n_out)]
    return ([y] + states)[:len(node.outputs)]


def _one_direction_attrs(node, d: int, n_directions: int) -> dict:
    """Per-direction activations: a bidirectional node lists the forward ones, then the reverse ones."""
    attrs = dict(node.attrs)
    names = attrs.get("activations")
    if names and n_directions == 2:
        half = len(names) // 2
        attrs["activations"] = list(names[half * d: half * (d + 1)])
        for key in ("activation_alpha", "activation_beta"):
            if key in attrs:
                values = list(attrs[key])
                half_v = len(values) // 2
                attrs[key] = values[half_v * d: half_v * (d + 1)]
    return attrs


RULES = {"LSTM": _recurrent, "GRU": _recurrent, "RNN": _recurrent}
