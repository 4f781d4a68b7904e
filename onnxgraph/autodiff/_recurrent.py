"""Gradients of ONNX LSTM, GRU and RNN (backpropagation through time).

The forward node stays fused. Its output Y holds every hidden state, so the gate values
of all steps are recomputed at once from X and the previous states (two MatMuls over the
whole sequence); only the truly sequential parts run step by step through
`_recurrent_loop.recurrence` (a Scan, or unrolled steps): the LSTM cell state, and the
backward state gradient dh (one MatMul per step). Weight gradients are then one Gemm over
all T*B rows. Reverse and bidirectional nodes are forward passes over time-reversed
sequences, per direction.

Supported: layout=0, no `sequence_lens`, no `clip`, LSTM without peepholes or
`input_forget`; activations Sigmoid, Tanh, Relu, Affine, HardSigmoid, Softsign, Softplus.
"""

from __future__ import annotations

from onnxgraph.autodiff._recurrent_loop import e, recurrence, reverse_time
from onnxgraph.autodiff._recurrent_math import (act, activation_specs, concat_last, dact, ew, gemm_t, i64, mm,
                                                 one_minus, prev_steps, rows, split_last, sum_rows, zeros_state)
from onnxgraph.autodiff._registry import NoGradientError, register_gradient

__all__ = ["lstm", "gru", "rnn"]

_DEFAULTS = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"], "RNN": ["Tanh"]}
_GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


def _where(node) -> str:
    return "/".join(node.scope + (node.op_type,))


def _attr(node, name, default=None):
    value = node.attrs.get(name, default)
    return value.decode() if isinstance(value, bytes) else value


def _check(node) -> None:
    where = _where(node)
    unsupported = []
    if _attr(node, "layout", 0) != 0:
        unsupported.append("layout=1 (emit time-major inputs)")
    if len(node.inputs) > 4 and node.inputs[4] is not None:
        unsupported.append("sequence_lens (train on unpadded batches)")
    if "clip" in node.attrs:
        unsupported.append("clip")
    if node.op_type == "LSTM" and _attr(node, "input_forget", 0):
        unsupported.append("input_forget=1")
    if node.op_type == "LSTM" and len(node.inputs) > 7 and node.inputs[7] is not None:
        unsupported.append("peepholes (input P)")
    if unsupported:
        raise NoGradientError(f"{where}: no gradient for {node.op_type} with {', '.join(unsupported)}. "
                              "Train this model with compile(engine='ort-training') or change the layer.")


def _pick(x, d: int, n: int):
    """Direction d of a (num_directions, ...) tensor, without that axis."""
    if x is None:
        return None
    if n > 1:
        x = e("Slice", [x, i64([d]), i64([d + 1]), i64([0])], (1,) + x.shape[1:], x.dtype)
    return e("Squeeze", [x, i64([0])], x.shape[1:], x.dtype)


def _pick_y(y, d: int, n: int):
    """Direction d of Y (T, num_directions, B, u) as (T, B, u)."""
    if y is None:
        return None
    if n > 1:
        y = e("Slice", [y, i64([d]), i64([d + 1]), i64([1])], (y.shape[0], 1) + y.shape[2:], y.dtype)
    return e("Squeeze", [y, i64([1])], (y.shape[0],) + y.shape[2:], y.dtype)


def _stack(parts, like):
    """Per-direction gradients back to `like`'s (num_directions, ...) layout."""
    if like is None or any(p is None for p in parts):
        return None
    parts = [e("Unsqueeze", [p, i64([0])], (1,) + p.shape, p.dtype) for p in parts]
    return parts[0] if len(parts) == 1 else e("Concat", parts, like.shape, like.dtype, {"axis": 0})


def _gradient(node, grads, core):
    """Run `core` once per direction (reverse ones on time-reversed sequences) and assemble."""
    _check(node)
    op = node.op_type
    direction = _attr(node, "direction", "forward")
    n = 2 if direction == "bidirectional" else 1
    specs = activation_specs(node, _DEFAULTS[op], n, _where(node))
    inputs = list(node.inputs) + [None] * (8 - len(node.inputs))
    x, w, r, b, h0 = inputs[:4] + [inputs[5]]
    c0 = inputs[6] if op == "LSTM" else None
    outs = list(node.outputs) + [None] * 3
    gy, gh, gc = (list(grads) + [None] * 3)[:3]
    results = []
    for d in range(n):
        backwards = direction == "reverse" or d == 1
        y_d, dy_d = _pick_y(outs[0], d, n), _pick_y(gy, d, n)
        x_d = reverse_time(x) if backwards else x
        if backwards:
            y_d = reverse_time(y_d)
            dy_d = None if dy_d is None else reverse_time(dy_d)
        state = dict(x=x_d, w=_pick(w, d, n), r=_pick(r, d, n), b=_pick(b, d, n), h0=_pick(h0, d, n),
                     c0=_pick(c0, d, n), y=y_d, dy=dy_d, dyh=_pick(gh, d, n), dyc=_pick(gc, d, n), acts=specs[d],
                     hidden=int(node.attrs["hidden_size"]), node=node)
        result = core(**state)
        if backwards:
            result["x"] = reverse_time(result["x"])
        results.append(result)
    dx = results[0]["x"]
    for other in results[1:]:
        dx = ew("Add", dx, other["x"])
    per_input = {"w": w, "r": r, "b": b, "h0": h0, "c0": c0}
    stacked = {k: _stack([res.get(k) for res in results], like) for k, like in per_input.items()}
    names = ["x", "w", "r", "b", None, "h0", "c0", None][:len(node.inputs)]
    if op != "LSTM":
        names = names[:6]
    return [dx if k == "x" else stacked.get(k) if k else None for k in names]


def _weight_grads(dpre, x, w, hprev, hidden_rows=None):
    """dX, dW, dR, and the summed bias gradient from the pre-activation gradients (T, B, G*u)."""
    flat = rows(dpre)
    return (mm(dpre, w), gemm_t(flat, rows(x)),
            gemm_t(flat if hidden_rows is None else hidden_rows, rows(hprev)), sum_rows(flat))


def _transpose(m):
    return e("Transpose", [m], (m.shape[1], m.shape[0]), m.dtype, {"perm": [1, 0]})


def _lstm_core(x, w, r, b, h0, c0, y, dy, dyh, dyc, acts, hidden, node):
    f_act, g_act, h_act = acts
    hprev = prev_steps(y, h0)
    pre = ew("Add", mm(x, _transpose(w)), mm(hprev, _transpose(r)))
    if b is not None:
        wb, rb = split_last(b, [4 * hidden, 4 * hidden])
        pre = ew("Add", pre, ew("Add", wb, rb))
    pi, po, pf, pc = split_last(pre, [hidden] * 4)
    i, o, f, g = act(f_act, pi), act(f_act, po), act(f_act, pf), act(g_act, pc)

    def cell_step(states, xs, _):
        c = ew("Add", ew("Mul", xs[0], states[0]), xs[1])
        return [c], [c]

    c_init = c0 if c0 is not None else zeros_state(y)
    _, (cells,) = recurrence(cell_step, [c_init], [f, ew("Mul", i, g)], [], [(c_init.shape, y.dtype)],
                             reverse=False, name="cell_state")
    cprev = prev_steps(cells, c0)
    hc = act(h_act, cells)
    through_h = ew("Mul", o, dact(h_act, hc))  # dc_t += dh_t * o * h'(c_t)
    coeffs = concat_last([ew("Mul", g, dact(f_act, i)), ew("Mul", hc, dact(f_act, o)),
                          ew("Mul", cprev, dact(f_act, f)), ew("Mul", i, dact(g_act, g))])

    def grad_step(states, xs, weights):
        dh, dc = states
        xs = list(xs)
        if dy is not None:
            dh = ew("Add", dh, xs.pop(0))
        a, k, f_t = xs
        dc = ew("Add", dc, ew("Mul", dh, a))
        dpre = ew("Mul", concat_last([dc, dh, dc, dc]), k)
        return [mm(dpre, weights[0]), ew("Mul", dc, f_t)], [dpre]

    zero = zeros_state(y)
    seqs = ([dy] if dy is not None else []) + [through_h, coeffs, f]
    (dh0, dc0), (dpre,) = recurrence(grad_step, [dyh if dyh is not None else zero, dyc if dyc is not None else zero],
                                     seqs, [r], [(zero.shape[:-1] + (4 * hidden,), y.dtype)], reverse=True,
                                     name="backprop_through_time")
    dx, dw, dr, db = _weight_grads(dpre, x, w, hprev)
    return {"x": dx, "w": dw, "r": dr, "b": None if b is None else concat_last([db, db]), "h0": dh0, "c0": dc0}


def _gru_core(x, w, r, b, h0, c0, y, dy, dyh, dyc, acts, hidden, node):
    f_act, g_act = acts
    u = hidden
    after = bool(_attr(node, "linear_before_reset", 0))
    hprev = prev_steps(y, h0)
    xw = mm(x, _transpose(w))
    if b is not None:
        wb, rb = split_last(b, [3 * u, 3 * u])
        xw = ew("Add", xw, wb)
        rb_zr, rb_h = split_last(rb, [2 * u, u])
    r_zr, r_h = (e("Slice", [r, i64([s]), i64([t]), i64([0])], (t - s, u), r.dtype) for s, t in ((0, 2 * u),
                                                                                              (2 * u, 3 * u)))
    xz, xr, xh = split_last(xw, [u, u, u])
    hzr = mm(hprev, _transpose(r_zr))
    if b is not None:
        hzr = ew("Add", hzr, rb_zr)
    hz, hr = split_last(hzr, [u, u])
    z, rg = act(f_act, ew("Add", xz, hz)), act(f_act, ew("Add", xr, hr))
    gated = ew("Mul", rg, hprev)
    hh = mm(hprev if after else gated, _transpose(r_h))
    if b is not None:
        hh = ew("Add", hh, rb_h)
    n = act(g_act, ew("Add", xh, ew("Mul", rg, hh) if after else hh))
    kz = ew("Mul", ew("Sub", hprev, n), dact(f_act, z))
    kn = ew("Mul", one_minus(z), dact(g_act, n))
    zero = zeros_state(y)
    if after:
        kr = ew("Mul", ew("Mul", kn, hh), dact(f_act, rg))
        coeffs = concat_last([kz, kr, ew("Mul", kn, rg)])

        def grad_step(states, xs, weights):
            xs = list(xs)
            dh = states[0] if dy is None else ew("Add", states[0], xs.pop(0))
            k, z_t = xs
            dg = ew("Mul", concat_last([dh, dh, dh]), k)
            return [ew("Add", ew("Mul", dh, z_t), mm(dg, weights[0]))], [dh]

        seqs, weights = [coeffs, z], [r]
    else:
        kr = ew("Mul", hprev, dact(f_act, rg))

        def grad_step(states, xs, weights):
            xs = list(xs)
            dh = states[0] if dy is None else ew("Add", states[0], xs.pop(0))
            kz_t, kn_t, kr_t, z_t, r_t = xs
            q = mm(ew("Mul", dh, kn_t), weights[0])
            dzr = concat_last([ew("Mul", dh, kz_t), ew("Mul", q, kr_t)])
            new = ew("Add", ew("Add", ew("Mul", dh, z_t), ew("Mul", q, r_t)), mm(dzr, weights[1]))
            return [new], [dh]

        seqs, weights = [kz, kn, kr, z, rg], [r_h, r_zr]
    seqs = ([dy] if dy is not None else []) + seqs
    (dh0,), (dhs,) = recurrence(grad_step, [dyh if dyh is not None else zero], seqs, weights,
                                [(zero.shape, y.dtype)], reverse=True, name="backprop_through_time")
    dpz, dpn = ew("Mul", dhs, kz), ew("Mul", dhs, kn)
    if after:
        dpr = ew("Mul", dhs, kr)
        dxw = concat_last([dpz, dpr, dpn])
        drec = ew("Mul", concat_last([dhs, dhs, dhs]), coeffs)
        dx, dw, dr, dwb = _weight_grads(dxw, x, w, hprev, hidden_rows=rows(drec))
        drb = sum_rows(rows(drec))
    else:
        dpr = ew("Mul", mm(dpn, r_h), kr)
        dxw = concat_last([dpz, dpr, dpn])
        flat = rows(dxw)
        dx, dw, dwb = mm(dxw, w), gemm_t(flat, rows(x)), sum_rows(flat)
        dzr = rows(concat_last([dpz, dpr]))
        dr = e("Concat", [gemm_t(dzr, rows(hprev)), gemm_t(rows(dpn), rows(gated))], r.shape, r.dtype, {"axis": 0})
        drb = dwb
    return {"x": dx, "w": dw, "r": dr, "b": None if b is None else concat_last([dwb, drb]), "h0": dh0}


def _rnn_core(x, w, r, b, h0, c0, y, dy, dyh, dyc, acts, hidden, node):
    (f_act,) = acts
    hprev = prev_steps(y, h0)
    slope = dact(f_act, y)
    if slope.shape != y.shape:  # Affine: a constant slope
        slope = e("Expand", [slope, e("Shape", [y], (3,), "int64")], y.shape, y.dtype)

    def grad_step(states, xs, weights):
        xs = list(xs)
        dh = states[0] if dy is None else ew("Add", states[0], xs.pop(0))
        dpre = ew("Mul", dh, xs[0])
        return [mm(dpre, weights[0])], [dpre]

    zero = zeros_state(y)
    seqs = ([dy] if dy is not None else []) + [slope]
    (dh0,), (dpre,) = recurrence(grad_step, [dyh if dyh is not None else zero], seqs, [r],
                                 [(zero.shape, y.dtype)], reverse=True, name="backprop_through_time")
    dx, dw, dr, db = _weight_grads(dpre, x, w, hprev)
    return {"x": dx, "w": dw, "r": dr, "b": None if b is None else concat_last([db, db]), "h0": dh0}


@register_gradient("LSTM")
def lstm(node, grads):
    return _gradient(node, grads, _lstm_core)


@register_gradient("GRU")
def gru(node, grads):
    return _gradient(node, grads, _gru_core)


@register_gradient("RNN")
def rnn(node, grads):
    return _gradient(node, grads, _rnn_core)
