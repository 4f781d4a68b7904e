"""Loss test cases: onnxgraph factory, Keras factory, data, and an independent float64 numpy formula."""

import numpy as np

from onnxgraph import losses

EPS = 1e-7
EPS_HI = float(np.float32(1 - EPS))  # Keras clips float32 tensors: 1 - 1e-7 rounds to 0.99999988


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _log_softmax(x):
    s = x - x.max(-1, keepdims=True)
    return s - np.log(np.exp(s).sum(-1, keepdims=True))


# -- independent float64 formulas (Keras 3 semantics, written from its docs and sources) ------------------
def np_mse(t, p):
    return np.mean((t - p) ** 2, axis=-1)


def np_mae(t, p):
    return np.mean(np.abs(t - p), axis=-1)


def np_huber(t, p, delta=1.0):
    e = np.abs(p - t)
    return np.mean(np.where(e <= delta, 0.5 * e ** 2, delta * e - 0.5 * delta ** 2), axis=-1)


def np_bce(t, p, from_logits=False, label_smoothing=0.0):
    t = t * (1 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        # log(sigmoid(x)) = -logaddexp(0, -x); log(1 - sigmoid(x)) = -logaddexp(0, x)
        return np.mean(t * np.logaddexp(0, -p) + (1 - t) * np.logaddexp(0, p), axis=-1)
    p = np.clip(p, EPS, EPS_HI)
    return np.mean(-(t * np.log(p) + (1 - t) * np.log(1 - p)), axis=-1)


def np_cce(t, p, from_logits=False, label_smoothing=0.0):
    t = t * (1 - label_smoothing) + label_smoothing / t.shape[-1]
    logp = _log_softmax(p) if from_logits else np.log(np.clip(p / p.sum(-1, keepdims=True), EPS, EPS_HI))
    return -np.sum(t * logp, axis=-1)


def np_scce(t, p, from_logits=False):
    t = np.asarray(t).reshape(p.shape[:-1]).astype(int)
    return np_cce(np.eye(p.shape[-1])[t], p, from_logits)


# -- data --------------------------------------------------------------------------------------------------
def regression(shape=(8, 5), seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape).astype(np.float32), (1.5 * rng.standard_normal(shape)).astype(np.float32)


def binary(logits, shape=(8, 3), seed=0):
    rng = np.random.default_rng(seed)
    x = (3 * rng.standard_normal(shape)).astype(np.float32)
    return rng.integers(0, 2, shape).astype(np.float32), x if logits else _sigmoid(x).astype(np.float32)


def categorical(logits, sparse=False, shape=(8, 5), seed=0, trailing_one=False):
    rng = np.random.default_rng(seed)
    x = (3 * rng.standard_normal(shape)).astype(np.float32)
    labels = rng.integers(0, shape[-1], shape[:-1])
    y = labels[..., None] if trailing_one else labels
    y = y if sparse else np.eye(shape[-1], dtype=np.float32)[labels]
    return y, x if logits else _softmax(x).astype(np.float32)


# (id, onnxgraph loss, keras factory, data, numpy formula)
CASES = [
    ("mse", lambda: losses.MeanSquaredError(), lambda k: k.losses.MeanSquaredError(), regression, np_mse),
    ("mse_rank3", lambda: losses.get("mse"), lambda k: k.losses.MeanSquaredError(),
     lambda: regression((6, 4, 3), 1), np_mse),
    ("mae", lambda: losses.MeanAbsoluteError(), lambda k: k.losses.MeanAbsoluteError(), regression, np_mae),
    ("mae_rank_fix", lambda: losses.get("mae"), lambda k: k.losses.MeanAbsoluteError(),
     lambda: (regression((8,), 2)[0], regression((8, 1), 3)[1]), lambda t, p: np_mae(t[:, None], p)),
    ("huber", lambda: losses.Huber(), lambda k: k.losses.Huber(), regression, np_huber),
    ("huber_delta", lambda: losses.Huber(delta=0.4), lambda k: k.losses.Huber(delta=0.4), regression,
     lambda t, p: np_huber(t, p, 0.4)),
    ("bce", lambda: losses.BinaryCrossentropy(), lambda k: k.losses.BinaryCrossentropy(),
     lambda: binary(False), np_bce),
    ("bce_logits", lambda: losses.BinaryCrossentropy(from_logits=True),
     lambda k: k.losses.BinaryCrossentropy(from_logits=True), lambda: binary(True), lambda t, p: np_bce(t, p, True)),
    ("bce_smooth", lambda: losses.BinaryCrossentropy(label_smoothing=0.1),
     lambda k: k.losses.BinaryCrossentropy(label_smoothing=0.1), lambda: binary(False),
     lambda t, p: np_bce(t, p, False, 0.1)),
    ("bce_logits_smooth", lambda: losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.2),
     lambda k: k.losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.2), lambda: binary(True),
     lambda t, p: np_bce(t, p, True, 0.2)),
    ("cce", lambda: losses.CategoricalCrossentropy(), lambda k: k.losses.CategoricalCrossentropy(),
     lambda: categorical(False), np_cce),
    ("cce_logits", lambda: losses.CategoricalCrossentropy(from_logits=True),
     lambda k: k.losses.CategoricalCrossentropy(from_logits=True), lambda: categorical(True),
     lambda t, p: np_cce(t, p, True)),
    ("cce_logits_smooth", lambda: losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2),
     lambda k: k.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2), lambda: categorical(True),
     lambda t, p: np_cce(t, p, True, 0.2)),
    ("cce_smooth", lambda: losses.CategoricalCrossentropy(label_smoothing=0.1),
     lambda k: k.losses.CategoricalCrossentropy(label_smoothing=0.1), lambda: categorical(False),
     lambda t, p: np_cce(t, p, False, 0.1)),
    ("scce", lambda: losses.SparseCategoricalCrossentropy(), lambda k: k.losses.SparseCategoricalCrossentropy(),
     lambda: categorical(False, sparse=True), np_scce),
    ("scce_by_name", lambda: losses.get("sparse_categorical_crossentropy"),
     lambda k: k.losses.SparseCategoricalCrossentropy(), lambda: categorical(False, sparse=True, seed=3), np_scce),
    ("scce_logits_col", lambda: losses.SparseCategoricalCrossentropy(from_logits=True),
     lambda k: k.losses.SparseCategoricalCrossentropy(from_logits=True),
     lambda: categorical(True, sparse=True, trailing_one=True), lambda t, p: np_scce(t, p, True)),
    ("scce_seq", lambda: losses.SparseCategoricalCrossentropy(from_logits=True),
     lambda k: k.losses.SparseCategoricalCrossentropy(from_logits=True),
     lambda: categorical(True, sparse=True, shape=(4, 6, 5)), lambda t, p: np_scce(t, p, True)),
]
