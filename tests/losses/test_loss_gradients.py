"""Gradients of every emitted loss, computed by each training engine (the onnx engine's autodiff
graph, and onnxruntime-training where installed), against float64 central differences of the
independent numpy formulas (moderate and extreme logits)."""

import numpy as np
import pytest
from loss_cases import np_bce, np_cce, np_huber, np_mae, np_mse, np_scce

import onnxgraph as og
from onnxgraph import losses
from tests.trainer.gradcheck import engines

B, D, C = 6, 4, 3


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


ACTIVATIONS = {None: lambda z: z, "sigmoid": _sigmoid, "softmax": _softmax}

# (id, loss, activation of the Dense layer, labels maker, numpy formula)
CASES = [
    ("mse", losses.MeanSquaredError(), None, "real", np_mse),
    ("mae", losses.MeanAbsoluteError(), None, "real", np_mae),
    ("huber", losses.Huber(delta=0.7), None, "real", lambda t, p: np_huber(t, p, 0.7)),
    ("bce", losses.BinaryCrossentropy(), "sigmoid", "binary", np_bce),
    ("bce_logits", losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1), None, "binary",
     lambda t, p: np_bce(t, p, True, 0.1)),
    ("cce", losses.CategoricalCrossentropy(label_smoothing=0.1), "softmax", "onehot",
     lambda t, p: np_cce(t, p, False, 0.1)),
    ("cce_logits", losses.CategoricalCrossentropy(from_logits=True), None, "onehot", lambda t, p: np_cce(t, p, True)),
    ("scce", losses.SparseCategoricalCrossentropy(), "softmax", "sparse", np_scce),
    ("scce_logits", losses.SparseCategoricalCrossentropy(from_logits=True), None, "sparse",
     lambda t, p: np_scce(t, p, True)),
]


def np_scce_ignore(t, p):
    """Keras's sparse CE with ignore_class=-1 as a per-sample value whose batch mean is Keras's loss."""
    valid = t != -1
    values = np_scce(np.where(valid, t, 0), p, True) * valid
    return values * len(t) / valid.sum()


CASES.append(("scce_ignore", losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1), None, "ignore",
              np_scce_ignore))


def _labels(kind, rng):
    if kind == "real":
        return rng.standard_normal((B, C)).astype(np.float32)
    if kind == "binary":
        return rng.integers(0, 2, (B, C)).astype(np.float32)
    ids = rng.integers(0, C, B)
    if kind == "ignore":
        ids[[1, 4]] = -1
    return ids if kind in ("sparse", "ignore") else np.eye(C, dtype=np.float32)[ids]


def _numeric_grads(formula, activation, x, y, sw, kernel, bias, eps=1e-6):
    act = ACTIVATIONS[activation]

    def loss(k, b):
        return np.sum(formula(y, act(x @ k + b)) * sw) / B  # sum_over_batch_size

    grads = []
    for param in (kernel, bias):
        grad = np.zeros_like(param)
        for i in np.ndindex(param.shape):
            orig = param[i]
            param[i] = orig + eps
            up = loss(kernel, bias)
            param[i] = orig - eps
            down = loss(kernel, bias)
            param[i] = orig
            grad[i] = (up - down) / (2 * eps)
        grads.append(grad)
    return grads


# Kernel scale 4000 puts logits around +-1e4, where naive cross-entropies overflow.
RUNS = [(*case, 1.0) for case in CASES] + [(*case, 4000.0) for case in CASES if case[0].endswith("_logits")]


@pytest.mark.parametrize("engine", engines(), ids=lambda e: e.kind)
@pytest.mark.parametrize("name,loss,activation,label_kind,formula,scale", RUNS,
                         ids=[f"{r[0]}-{'extreme' if r[-1] > 1 else 'moderate'}" for r in RUNS])
def test_training_gradient_matches_finite_differences(name, loss, activation, label_kind, formula, scale, engine):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((B, D)).astype(np.float32)
    y = _labels(label_kind, rng)
    sw = rng.uniform(0.2, 2.0, B).astype(np.float32)
    kernel = (scale * rng.standard_normal((D, C))).astype(np.float32)
    bias = rng.standard_normal(C).astype(np.float32)

    inputs = og.Input(shape=(D,))
    model = og.Model(inputs, og.layers.Dense(C, activation=activation)(inputs))
    model.set_weights([kernel, bias])
    spec = loss.label_spec(model.outputs[0].shape)
    engine = engine(model, [loss], [spec])
    try:
        feeds = [x, loss.coerce_labels(y, model.outputs[0].shape), sw]
        value = float(engine.outputs(feeds)[0])
        ort = {engine.params[n][0].path: g for n, g in engine.gradients(feeds).items()}
    finally:
        engine.close()

    x64, k64, b64 = x.astype(np.float64), kernel.astype(np.float64), bias.astype(np.float64)
    y64 = y if label_kind in ("sparse", "ignore") else y.astype(np.float64)
    want_value = np.sum(formula(y64, ACTIVATIONS[activation](x64 @ k64 + b64)) * sw) / B
    assert np.isfinite(value)
    assert value == pytest.approx(want_value, rel=1e-5, abs=1e-6)
    want_k, want_b = _numeric_grads(formula, activation, x64, y64, sw.astype(np.float64), k64, b64)
    for got, want in ((ort["dense/kernel"], want_k), (ort["dense/bias"], want_b)):
        assert np.all(np.isfinite(got))
        scale_ = max(np.abs(want).max(), 1e-3)
        np.testing.assert_allclose(got, want, atol=2e-4 * scale_, rtol=2e-3)
