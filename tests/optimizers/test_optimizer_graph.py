"""Optimizer steps as ONNX nodes (`Optimizer.emit_update`), run on a real onnxruntime session for 6
steps, against the numpy optimizers (same float32 formulas: 1e-6) and the independent float64
Keras reference (optimizer_reference.py)."""

import numpy as np
import onnx
import pytest
from optimizer_reference import run as reference_run
from test_optimizer_parity import CASES, DEFAULT_LR, SHAPES, _data, _ids, _og_optimizer, _reference_opts

from onnxgraph import optimizers
from onnxgraph.backend.graph import collect
from onnxgraph.backend.serialize import to_model_proto
from onnxgraph.layers._input_layer import placeholder
from onnxgraph.runtime import make_session

STEPS = 6


class _StepGraph:
    """A session running one optimizer step: params, grads, slots, lr, iteration -> new params, slots."""

    def __init__(self, opt, names=None):
        params = [placeholder(s, "float32", f"p{i}") for i, s in enumerate(SHAPES)]
        grads = [placeholder(s, "float32", f"g{i}") for i, s in enumerate(SHAPES)]
        self.slot_names = list(opt._slot_specs())
        slots = [{k: placeholder(s, "float32", f"{k}{i}") for k in self.slot_names} for i, s in enumerate(SHAPES)]
        lr = placeholder((), "float64", "learning_rate")
        iteration = placeholder((), "int64", "iteration")
        new_params, new_slots = opt.emit_update(params, grads, slots, lr, iteration, names=names)
        inputs = params + grads + [x for s in slots for x in s.values()] + [lr, iteration]
        outputs = new_params + [s[k] for s in new_slots for k in self.slot_names]
        out_names = [f"new_p{i}" for i in range(len(params))] + [f"new_{k}{i}" for i in range(len(params))
                                                                   for k in self.slot_names]
        graph = collect(inputs, outputs, [x.name for x in inputs], out_names)
        self.proto, weights = to_model_proto(graph, name="optimizer_step")
        assert not weights
        onnx.checker.check_model(self.proto, full_check=True)
        self.session = make_session(self.proto.SerializeToString(), "cpu")
        self.opt = opt

    def run(self, params, grads_per_step):
        specs = self.opt._slot_specs()
        params = [np.array(p) for p in params]
        slots = [{k: np.full(p.shape, specs[k], np.float32) for k in self.slot_names} for p in params]
        history = []
        for t, grads in enumerate(grads_per_step):
            feeds = {f"p{i}": np.asarray(p) for i, p in enumerate(params)}
            feeds.update({f"g{i}": np.asarray(g) for i, g in enumerate(grads)})
            feeds.update({f"{k}{i}": s[k] for i, s in enumerate(slots) for k in self.slot_names})
            feeds["learning_rate"] = np.asarray(self.opt.learning_rate, np.float64)
            feeds["iteration"] = np.asarray(t, np.int64)
            out = [np.asarray(o) for o in self.session.run(None, feeds)]
            params = out[:len(params)]
            rest = iter(out[len(params):])
            slots = [{k: next(rest) for k in self.slot_names} for _ in params]
            self.opt.iterations += 1  # schedules are evaluated at the count, as the engine does
            history.append([p.copy() for p in params])
        return history


def _run_numpy(kind, opts, params, grads):
    opt = _og_optimizer(kind, opts)
    params = [np.array(p) for p in params]
    history = []
    for step_grads in grads:
        opt.apply(params, step_grads)
        history.append([p.copy() for p in params])
    return history


@pytest.mark.parametrize("kind,opts", CASES, ids=_ids())
def test_graph_step_matches_numpy_optimizer_and_keras_formulas(kind, opts):
    params, grads = _data(seed=3)
    graph = _StepGraph(_og_optimizer(kind, opts))
    ours = graph.run(params, grads)
    numpy_steps = _run_numpy(kind, opts, params, grads)
    expected = reference_run(kind, _reference_opts(opts), params, grads, DEFAULT_LR[kind],
                             0.004 if kind == "adamw" else None)
    for step in range(STEPS):
        for got, same, want in zip(ours[step], numpy_steps[step], expected[step]):
            np.testing.assert_allclose(got, same, rtol=1e-6, atol=1e-6, err_msg=f"step {step + 1} vs numpy")
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6, err_msg=f"step {step + 1} vs reference")
    assert max(np.abs(a - b).max() for a, b in zip(ours[-1], params)) > 1e-3


def test_loss_scale_factor_and_weight_decay_exclusion():
    params, grads = _data(seed=4)
    names = ["dense/kernel", "dense/bias", "scale"]

    def make():
        opt = optimizers.AdamW(learning_rate=0.05, weight_decay=0.2, loss_scale_factor=4.0)
        opt.exclude_from_weight_decay(var_names=["bias"])
        return opt

    ours = _StepGraph(make(), names=names).run(params, grads)
    opt, work = make(), [np.array(p) for p in params]
    for step, step_grads in enumerate(grads):
        opt.apply(work, step_grads, names=names)
        for got, want in zip(ours[step], work):
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_an_optimizer_without_graph_update_is_named():
    class Plain(optimizers.Optimizer):
        def __init__(self):
            super().__init__(learning_rate=0.1)

        def _update(self, i, param, grad, lr, tmp, tmp2):
            param -= lr * grad

    with pytest.raises(NotImplementedError, match="Plain has no in-graph update.*ort-training"):
        _StepGraph(Plain())
