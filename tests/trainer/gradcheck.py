"""One gradient-check helper: each engine's gradients vs central finite differences.

`gradient_check(model, x)` builds the training graphs for `model` with a mean-squared error
against fixed random targets, reads the gradients every available engine computes for every
trainable weight (the "onnx" engine's train-step graph, and onnxruntime-training's when it is
installed), and compares a sample of coordinates with central differences of the same
training graph's loss (float32; dropout reseeded so every evaluation draws the same mask).
A `Scale` layer in front of the layer under test makes its input gradient part of the check.
"""

from __future__ import annotations

import numpy as np

import onnxgraph as og
from onnxgraph import losses, optimizers
from onnxgraph.runtime import make_session
from onnxgraph.trainer import _ort
from onnxgraph.trainer._engines import training_runtime_available


class Scale(og.layers.Layer):
    """x * w on the last axis, w random around 1: its gradient is the next layer's input gradient."""

    def build(self, input_shape):
        self.w = self.add_weight((input_shape[-1],), og.initializers.RandomUniform(0.5, 1.5), name="w")

    def call(self, inputs):
        return inputs * self.w


class _OrtTraining:
    """onnxruntime-training's Module: gradients in its parameter buffers, weights as numpy views."""

    name = "onnxruntime-training"
    kind = "ort-training"

    def __init__(self, model, mse, specs):
        from onnxgraph.trainer._engine import Engine

        self.engine = Engine(model, mse, [None] * len(mse), specs, optimizers.SGD(learning_rate=0.0))
        self.trainable, self.params, self.n_losses = self.engine.trainable, self.engine.params, self.engine._n_losses
        self.views = self.engine._views

    def outputs(self, feeds):
        _ort.set_seed(7)
        self.engine.module.train()
        return self.engine.module(*feeds)

    def gradients(self, feeds):
        self.engine.module.lazy_reset_grad()  # gradients accumulate across Module calls
        self.outputs(feeds)
        return {name: self.engine.state.parameters[name].grad.copy() for name in self.trainable}

    def close(self):
        self.engine.close()


class _Onnx:
    """The "onnx" engine's train-step graph run on a plain session, weights fed as numpy arrays."""

    name = "onnx engine (onnxgraph.autodiff)"
    kind = "onnx"

    def __init__(self, model, mse, specs):
        from onnxgraph.backend import transforms
        from onnxgraph.trainer._step_graph import build_step_graphs, initial_slots

        self.graphs = g = build_step_graphs(model, mse, [None] * len(mse), specs, optimizers.SGD(learning_rate=0.0))
        self.trainable, self.params, self.n_losses = g.trainable, g.params, g.n_losses
        self.views = {name: np.array(transforms.apply(var.value, t)) for name, (var, t) in g.params.items()}
        self.fixed = {g.lr_name: np.asarray(0.0), g.iteration_name: np.asarray(0, np.int64)}
        for name in g.trainable:
            for slot, value in initial_slots(optimizers.SGD(0.0), self.views[name].shape, np.float32).items():
                self.fixed[g.slot_inputs[(slot, name)]] = value
        self.session = make_session(g.train_proto.SerializeToString(), "cpu")
        self.output_names = [o.name for o in self.session.get_outputs()]

    def _run(self, feeds):
        _ort.set_seed(7)
        inputs = dict(zip(self.graphs.feed_names, feeds), **self.views, **self.fixed)
        return dict(zip(self.output_names, self.session.run(None, inputs)))

    def outputs(self, feeds):
        results = self._run(feeds)
        return [results[n] for n in self.graphs.loss_names + self.graphs.pred_names]

    def gradients(self, feeds):
        results = self._run(feeds)
        return {name: results[grad] for name, grad in zip(self.trainable, self.graphs.grad_names)}

    def close(self):
        self.session = None


def engines():
    """The gradient sources to check: the onnx engine, and onnxruntime-training when installed."""
    return [_Onnx] + ([_OrtTraining] if training_runtime_available() else [])


def _targets(preds, seed):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(p.shape).astype(np.float32) for p in preds]


def _loss(engine, feeds):
    return float(engine.outputs(feeds)[0])


def gradient_check(model, x, *, coords=6, eps=3e-3, rtol=3e-2, seed=0, check_forward=True, forward_atol=1e-4,
                   skip=(), expected=None):
    """Assert every engine's gradients match finite differences for all trainable weights of `model` on `x`.

    The training graph's outputs must equal `expected` (default: the inference model's predict).
    Returns the dict of gradients (by weight path) of the last engine checked, for extra checks.
    """
    x = x if isinstance(x, list) else [x]
    preds = expected if expected is not None else model.predict(x if len(x) > 1 else x[0], verbose=0)
    preds = preds if isinstance(preds, list) else [preds]
    targets = _targets(preds, seed)
    mse = [losses.MeanSquaredError() for _ in preds]
    specs = [loss.label_spec(out.shape) for loss, out in zip(mse, model.outputs)]
    batch = x[0].shape[0]
    feeds = list(x)
    for t in targets:
        feeds += [t, np.ones((batch,), np.float32)]
    result = None
    for make in engines():
        engine = make(model, mse, specs)
        try:
            result = _check_engine(engine, feeds, preds, coords, eps, rtol, seed, check_forward, forward_atol, skip)
        finally:
            engine.close()
    return result


def _check_engine(engine, feeds, preds, coords, eps, rtol, seed, check_forward, forward_atol, skip):
    if check_forward:
        # The rewritten training graph computes the same function as the inference graph.
        outputs = engine.outputs(feeds)
        first = engine.n_losses
        for got, want in zip(outputs[first:first + len(preds)], preds):
            np.testing.assert_allclose(got, want, atol=forward_atol, rtol=1e-4, err_msg=engine.name)
    raw = engine.gradients(feeds)
    grads = {engine.params[name][0].path: raw[name] for name in engine.trainable}
    rng = np.random.default_rng(seed + 1)
    for name in engine.trainable:
        path = engine.params[name][0].path
        if path in skip:
            continue
        view = engine.views[name]
        grad = grads[path]
        flat_view = view.reshape(-1)
        picks = rng.choice(flat_view.size, size=min(coords, flat_view.size), replace=False)
        numeric = []
        for i in picks:
            original = flat_view[i].copy()
            flat_view[i] = original + eps
            up = _loss(engine, feeds)
            flat_view[i] = original - eps
            down = _loss(engine, feeds)
            flat_view[i] = original
            numeric.append((up - down) / (2 * eps))
        numeric = np.asarray(numeric)
        analytic = grad.reshape(-1)[picks].astype(np.float64)
        scale = max(np.abs(numeric).max(), np.abs(analytic).max(), 1e-3)
        error = np.abs(analytic - numeric).max() / scale
        assert error < rtol, (
            f"gradient of {path} (ONNX layout) disagrees with finite differences: relative error {error:.3g}\n"
            f"{engine.name}: {analytic}\nfinite differences: {numeric}"
        )
    return grads


def engine_kinds() -> list[str]:
    """compile(engine=...) names of the engines `engines()` checks."""
    return [make.kind for make in engines()]
