"""One gradient-check helper: onnxruntime-training gradients vs central finite differences.

`gradient_check(model, x)` builds the real training engine for `model` with a mean-squared
error against fixed random targets, reads the gradients onnxruntime-training computes for every
trainable weight, and compares a sample of coordinates with central differences of the same
training graph's loss (float32; dropout reseeded so every evaluation draws the same mask).
A `Scale` layer in front of the layer under test makes its input gradient part of the check.
"""

from __future__ import annotations

import numpy as np

import onnxgraph as og
from onnxgraph import losses, optimizers
from onnxgraph.trainer import _ort
from onnxgraph.trainer._engine import Engine


class Scale(og.layers.Layer):
    """x * w on the last axis, w random around 1: its gradient is the next layer's input gradient."""

    def build(self, input_shape):
        self.w = self.add_weight((input_shape[-1],), og.initializers.RandomUniform(0.5, 1.5), name="w")

    def call(self, inputs):
        return inputs * self.w


def _targets(preds, seed):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(p.shape).astype(np.float32) for p in preds]


def _loss(engine, feeds):
    _ort.set_seed(7)
    engine.module.train()
    outputs = engine.module(*feeds)
    return float(outputs[0])


def gradient_check(model, x, *, coords=6, eps=3e-3, rtol=3e-2, seed=0, check_forward=True, forward_atol=1e-4,
                   skip=(), expected=None):
    """Assert ORT gradients match finite differences for all trainable weights of `model` on `x`.

    The training graph's outputs must equal `expected` (default: the inference model's predict).
    Returns the dict of ORT gradients (by weight path) for extra checks.
    """
    x = x if isinstance(x, list) else [x]
    preds = expected if expected is not None else model.predict(x if len(x) > 1 else x[0], verbose=0)
    preds = preds if isinstance(preds, list) else [preds]
    targets = _targets(preds, seed)
    mse = [losses.MeanSquaredError() for _ in preds]
    specs = [loss.label_spec(out.shape) for loss, out in zip(mse, model.outputs)]
    engine = Engine(model, mse, [None] * len(preds), specs, optimizers.SGD(learning_rate=0.0))
    batch = x[0].shape[0]
    feeds = list(x)
    for t in targets:
        feeds += [t, np.ones((batch,), np.float32)]
    if check_forward:
        # The rewritten training graph computes the same function as the inference graph.
        _ort.set_seed(7)
        engine.module.train()
        outputs = engine.module(*feeds)
        first = engine._n_losses
        for got, want in zip(outputs[first:first + len(preds)], preds):
            np.testing.assert_allclose(got, want, atol=forward_atol, rtol=1e-4)
    engine.module.lazy_reset_grad()  # gradients accumulate across Module calls
    _loss(engine, feeds)
    grads = {engine.params[name][0].path: engine.state.parameters[name].grad.copy() for name in engine.trainable}
    rng = np.random.default_rng(seed + 1)
    report = []
    for name in engine.trainable:
        path = engine.params[name][0].path
        if path in skip:
            continue
        view = engine._views[name]
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
        report.append((path, error))
        assert error < rtol, (
            f"gradient of {path} (ONNX layout) disagrees with finite differences: relative error {error:.3g}\n"
            f"onnxruntime-training: {analytic}\nfinite differences: {numeric}"
        )
    engine.close()
    return grads
