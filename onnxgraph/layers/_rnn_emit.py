"""Emit one ONNX LSTM / GRU / RNN node for a whole time-major sequence.

Conventions (chosen so the same graph runs and trains on onnxruntime-training 1.19):
- inputs are time-major `(T, B, F)` with the default `layout=0`; `layout=1`,
  `direction="reverse"`/`"bidirectional"` and `sequence_lens` have no gradient there, so
  every node runs forward and backward processing reverses time with a Gather;
- optional inputs are padded with "" to the full arity (LSTM 8, GRU 6, RNN 6) and every
  output is declared, as the gradient builder needs;
- gate reordering and transposes are initializer transforms: Keras LSTM gates i, f, c, o
  become ONNX i, o, f, c; GRU keeps z, r, h (Keras `reset_after=True` is
  `linear_before_reset=1`). The ONNX B input is `[Wb, Rb]`: Keras's single bias is the
  initializer for Wb and a Pad node appends the zero Rb (constant-folded at inference;
  in training the gradient reaches exactly the Keras bias). GRU reset_after keeps both of
  its bias rows. (Concat with a zero constant would do, but ORT-training's gradient
  builder names a `<const>_grad` per Concat, which collides when two layers share it.)
- ORT-training's LSTM/GRU gradients accept only the default activations (sigmoid, tanh);
  other activations emit fine for inference and raise in a training graph.
"""

from __future__ import annotations

import numpy as np

from onnxgraph import activations, ops
from onnxgraph.backend.emit import constant, emit
from onnxgraph.backend.scope import current_options
from onnxgraph.layers._rnn_cells import ONNX_ACTIVATIONS

__all__ = ["lstm", "gru", "simple_rnn", "simple_rnn_as_gru", "reverse_time", "activation_attrs"]

IFCO_TO_IOFC = (0, 3, 1, 2)
_DEFAULTS = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"], "RNN": ["Tanh"]}
# Pre-activation that saturates a sigmoid gate to 0 or 1 (see simple_rnn_as_gru).
_SATURATE = 1e4


def activation_attrs(layer_name: str, op: str, functions) -> dict:
    """ONNX `activations` (+ alpha/beta) for Keras activation functions; {} for the defaults."""
    names, alphas, betas = [], [], []
    for fn in functions:
        key = activations.serialize(fn)
        if key not in ONNX_ACTIVATIONS:
            raise ValueError(
                f"Layer '{layer_name}': activation {key!r} has no ONNX {op} equivalent. Use one of "
                f"{sorted(ONNX_ACTIVATIONS)} (the functions ONNX recurrent ops support)."
            )
        name, alpha, beta = ONNX_ACTIVATIONS[key]
        names.append(name)
        alphas += alpha
        betas += beta
    if names == _DEFAULTS[op]:
        return {}
    if current_options().get("training_graph"):
        raise ValueError(
            f"Layer '{layer_name}': onnxruntime-training's {op} gradient supports only the default "
            f"activations ({', '.join(_DEFAULTS[op])}), got {names}. Train with activation='tanh' and "
            "recurrent_activation='sigmoid'; inference works with any of " f"{sorted(ONNX_ACTIVATIONS)}."
        )
    attrs = {"activations": names}
    if alphas:
        attrs["activation_alpha"] = [float(a) for a in alphas]
        attrs["activation_beta"] = [float(b) for b in betas]
    return attrs


def reverse_time(x):
    """Reverse axis 0 with a Gather (trainable, unlike Slice with a negative step).

    For an unknown length the indices are (T - 1) - Range(0, T, 1): onnxruntime 1.19's
    extended optimizations rewrite Gather(x, Range(T - 1, -1, -1)) into a Slice that comes
    out empty (and crash an RNN reading it), so the indices must not come straight from a
    descending Range.
    """
    steps = x.shape[0]
    if steps is not None:
        indices = constant(np.arange(steps - 1, -1, -1, dtype=np.int64))
    else:
        length = emit("Shape", [x], {"start": 0, "end": 1}, shapes=[(1,)], dtypes_=["int64"])
        length = emit("Squeeze", [length, constant(np.array([0], dtype=np.int64))], shapes=[()], dtypes_=["int64"])
        zero, one = constant(np.array(0, dtype=np.int64)), constant(np.array(1, dtype=np.int64))
        ascending = emit("Range", [zero, length, one], shapes=[(None,)], dtypes_=["int64"])
        last = emit("Sub", [length, one], shapes=[()], dtypes_=["int64"])
        indices = emit("Sub", [last, ascending], shapes=[(None,)], dtypes_=["int64"])
    return emit("Gather", [x, indices], {"axis": 0}, shapes=[x.shape], dtypes_=[x.dtype])


def _weights(cell, features: int, order=None):
    """W (1, G*u, F) and R (1, G*u, u) from Keras kernels (F, G*u) and (u, G*u)."""
    width = cell.units * cell.gates
    reorder = (("reorder", 1, order),) if order else ()
    w = cell.kernel.graph_value(reorder + (("transpose", (1, 0)), ("reshape", (1, width, features))))
    r = cell.recurrent_kernel.graph_value(reorder + (("transpose", (1, 0)), ("reshape", (1, width, cell.units))))
    return w, r


def _bias_with_zero_recurrent(cell, order=None):
    """B = [Wb, 0] (1, 2*G*u) from a Keras bias (G*u,); None without bias."""
    if not cell.use_bias:
        return None
    width = cell.units * cell.gates
    reorder = (("reorder", 0, order),) if order else ()
    wb = cell.bias.graph_value(reorder + (("reshape", (1, width)),))
    return _pad(wb, axis=1, after=width)


def _pad(x, axis: int, before: int = 0, after: int = 0):
    """Zero-pad one axis (Pad: differentiable; Concat with a shared constant breaks ORT's gradient builder)."""
    pads = [0] * (2 * x.ndim)
    pads[axis], pads[x.ndim + axis] = before, after
    shape = list(x.shape)
    shape[axis] += before + after
    return emit("Pad", [x, constant(np.array(pads, dtype=np.int64))], shapes=[tuple(shape)], dtypes_=[x.dtype])


def _outputs(x, units: int, n_states: int):
    steps, batch = x.shape[0], x.shape[1]
    shapes = [(steps, 1, batch, units)] + [(1, batch, units)] * n_states
    return dict(outputs=1 + n_states, shapes=shapes, dtypes_=[x.dtype] * (1 + n_states))


def lstm(layer_name: str, cell, x, h0=None, c0=None, carry=False):
    """Y (T, 1, B, u), Y_h, Y_c (1, B, u) of an ONNX LSTM over time-major x (T, B, F).

    With `carry`, x has one more feature channel, 1 on steps that must leave the cell state
    unchanged: its weights open the forget gate and shut the input gate there (`_rnn_mask.py`).
    """
    w, r = _weights(cell, x.shape[-1] - int(carry), IFCO_TO_IOFC)
    if carry:
        u = cell.units
        column = np.zeros((1, 4 * u, x.shape[-1]), dtype=np.dtype(w.dtype))
        column[0, :u, -1], column[0, 2 * u:3 * u, -1] = -_SATURATE, _SATURATE  # ONNX gates i, o, f, c
        w = ops.add(_pad(w, axis=2, after=1), constant(column))
    b = _bias_with_zero_recurrent(cell, IFCO_TO_IOFC)
    attrs = {"hidden_size": cell.units, **activation_attrs(layer_name, "LSTM", cell.onnx_activations())}
    return emit("LSTM", [x, w, r, b, None, h0, c0, None], attrs, **_outputs(x, cell.units, 2))


def gru(layer_name: str, cell, x, h0=None):
    """Y (T, 1, B, u), Y_h (1, B, u) of an ONNX GRU over time-major x (T, B, F)."""
    w, r = _weights(cell, x.shape[-1])
    if not cell.use_bias:
        b = None
    elif cell.reset_after:
        b = cell.bias.graph_value((("reshape", (1, 6 * cell.units)),))
    else:
        b = _bias_with_zero_recurrent(cell)
    attrs = {"hidden_size": cell.units, "linear_before_reset": int(cell.reset_after),
             **activation_attrs(layer_name, "GRU", cell.onnx_activations())}
    return emit("GRU", [x, w, r, b, None, h0], attrs, **_outputs(x, cell.units, 1))


def simple_rnn(layer_name: str, cell, x, h0=None):
    """Y, Y_h of an ONNX RNN (the inference form: the RNN op has no gradient in ORT-training)."""
    w, r = _weights(cell, x.shape[-1])
    b = _bias_with_zero_recurrent(cell)
    attrs = {"hidden_size": cell.units, **activation_attrs(layer_name, "RNN", cell.onnx_activations())}
    return emit("RNN", [x, w, r, b, None, h0], attrs, **_outputs(x, cell.units, 1))


def simple_rnn_as_gru(layer_name: str, cell, x, h0=None):
    """The same SimpleRNN as a GRU whose gates are saturated constants (the trainable form).

    With update gate z = 0 and reset gate r = 1 (zero weights, bias -/+1e4), a GRU with
    `linear_before_reset=1` computes h = g(x W + h R + b): SimpleRNN exactly, up to the
    ~1e-7 that onnxruntime's clamped sigmoid leaves. GRU has a gradient in ORT-training;
    the weights keep the RNN form's initializer layout, so either graph loads the other's
    trained values.
    """
    units, features = cell.units, x.shape[-1]
    w, r = _weights(cell, features)
    w, r = _pad(w, axis=1, before=2 * units), _pad(r, axis=1, before=2 * units)
    np_dtype = np.dtype(w.dtype)
    gates = np.zeros((1, 6 * units), np_dtype)
    gates[0, :units], gates[0, units:2 * units] = -_SATURATE, _SATURATE
    if cell.use_bias:
        b = ops.add(_pad(cell.bias.graph_value((("reshape", (1, units)),)), axis=1, before=2 * units,
                         after=3 * units), constant(gates))
    else:
        b = constant(gates)
    functions = [activations.sigmoid, cell.activation]
    attrs = {"hidden_size": units, "linear_before_reset": 1, **activation_attrs(layer_name, "GRU", functions)}
    return emit("GRU", [x, w, r, b, None, h0], attrs, **_outputs(x, units, 1))
