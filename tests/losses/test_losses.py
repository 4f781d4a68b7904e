"""Losses vs independent numpy formulas, vs keras.losses, and the emitted ONNX run in onnxruntime."""

import numpy as np
import onnx
import pytest
from loss_cases import CASES, np_bce, np_cce, np_scce

from onnxgraph import losses
from onnxgraph.backend.graph import collect
from onnxgraph.backend.serialize import to_model_proto
from onnxgraph.layers._input_layer import placeholder
from onnxgraph.runtime import make_session

IDS = [c[0] for c in CASES]


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


def _weights(n, seed=5):
    return np.random.default_rng(seed).uniform(0.0, 2.0, n).astype(np.float32)


@pytest.mark.parametrize("name,make,make_keras,data,formula", CASES, ids=IDS)
def test_numpy_matches_formula(name, make, make_keras, data, formula):
    y, p = data()
    got = make().call(y, p)
    want = formula(y.astype(np.float64), p.astype(np.float64))
    assert got.dtype == np.float32 and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,make,make_keras,data,formula", CASES, ids=IDS)
def test_matches_keras(keras, name, make, make_keras, data, formula):
    y, p = data()
    ours, theirs = make(), make_keras(keras)
    sw = _weights(len(p))
    if p.ndim > 2:
        sw = sw[:, None]  # Keras multiplies (batch, steps) values by (batch,) weights only in this form
    np.testing.assert_allclose(ours(y, p), keras.ops.convert_to_numpy(theirs(y, p)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours(y, p, sample_weight=sw),
                               keras.ops.convert_to_numpy(theirs(y, p, sample_weight=sw)), rtol=1e-5, atol=1e-6)
    theirs_unreduced = make_keras(keras)
    theirs_unreduced.reduction = None  # (Keras's Huber.get_config drops delta, so no from_config here)
    np.testing.assert_allclose(ours.call(y, p), keras.ops.convert_to_numpy(theirs_unreduced(y, p)),
                               rtol=1e-5, atol=1e-6)
    for reduction in ("sum", "mean_with_sample_weight"):
        ours_r = type(ours).from_config({**ours.get_config(), "reduction": reduction})
        theirs_r = make_keras(keras)
        theirs_r.reduction = reduction
        np.testing.assert_allclose(ours_r(y, p, sample_weight=sw),
                                   keras.ops.convert_to_numpy(theirs_r(y, p, sample_weight=sw)), rtol=1e-5)
    theirs_config = {k: v for k, v in theirs.get_config().items() if k != "dtype"}
    assert ours.get_config().items() >= theirs_config.items()


def _loss_model(loss, y, p):
    """ONNX graph: (labels, predictions, sample weights) -> (per-sample losses, reduced loss)."""
    label_shape, label_dtype = loss.label_spec((None,) + p.shape[1:])
    y_true = placeholder(label_shape, label_dtype, "y_true")
    y_pred = placeholder((None,) + p.shape[1:], "float32", "y_pred")
    sample_weight = placeholder((None,), "float32", "sample_weight")
    per_sample = loss.emit(y_true, y_pred)
    reduced = loss.emit_reduced(y_true, y_pred, sample_weight)
    assert per_sample.shape == (None,) and reduced.shape == ()
    graph = collect([y_true, y_pred, sample_weight], [per_sample, reduced],
                    ["y_true", "y_pred", "sample_weight"], ["per_sample", "loss"])
    proto, _ = to_model_proto(graph, name="loss")
    onnx.checker.check_model(proto, full_check=True)
    labels = loss.coerce_labels(y, (None,) + p.shape[1:])
    assert labels.dtype == np.dtype(label_dtype)
    return make_session(proto.SerializeToString(), providers="cpu"), labels


@pytest.mark.parametrize("name,make,make_keras,data,formula", CASES, ids=IDS)
def test_emitted_onnx_matches_numpy(name, make, make_keras, data, formula):
    y, p = data()
    loss = make()
    session, labels = _loss_model(loss, y, p)
    sw = _weights(len(p))
    per_sample, reduced = session.run(None, {"y_true": labels, "y_pred": p, "sample_weight": sw})
    values = loss.call(y, p)
    np.testing.assert_allclose(per_sample, values.reshape(len(p), -1).mean(axis=1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(reduced, loss(y, p, sample_weight=sw), rtol=1e-5, atol=1e-6)
    # Keras's own sample-weighted value for any output rank.
    want = np.sum(formula(y.astype(np.float64), p.astype(np.float64)).reshape(len(p), -1) * sw[:, None])
    np.testing.assert_allclose(reduced, want / values.size, rtol=1e-5)


EXTREME = np.array([[1e4, -1e4, 0.0, 30.0, -80.0], [-1e4, 1e4, 5e3, -5e3, 100.0]], np.float32)


@pytest.mark.parametrize("loss,y", [
    (losses.BinaryCrossentropy(from_logits=True), np.array([[0, 1, 1, 0, 1], [1, 0, 0, 1, 0]], np.float32)),
    (losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1), np.array([[1, 1, 0, 0, 1], [0, 1, 1, 0, 0]],
                                                                                 np.float32)),
    (losses.CategoricalCrossentropy(from_logits=True), np.eye(5, dtype=np.float32)[[1, 0]]),
    (losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2), np.eye(5, dtype=np.float32)[[0, 3]]),
    (losses.SparseCategoricalCrossentropy(from_logits=True), np.array([1, 3])),
    (losses.BinaryCrossentropy(), np.array([[0, 1, 1, 0, 1], [1, 0, 0, 1, 0]], np.float32)),
], ids=["bce", "bce_smooth", "cce", "cce_smooth", "scce", "bce_probs"])
def test_extreme_logits_are_finite_and_exact(loss, y):
    p = EXTREME if loss.get_config().get("from_logits") else np.clip(EXTREME, 0, 1)
    x = p.astype(np.float64)
    if isinstance(loss, losses.BinaryCrossentropy):
        want = np_bce(y.astype(np.float64), x, loss.from_logits, loss.label_smoothing)
    elif isinstance(loss, losses.CategoricalCrossentropy):
        want = np_cce(y.astype(np.float64), x, True, loss.label_smoothing)
    else:
        want = np_scce(y, x, True)
    got = loss.call(y, p)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, want, rtol=1e-6)
    session, labels = _loss_model(loss, y, p)
    per_sample, reduced = session.run(None, {"y_true": labels, "y_pred": p, "sample_weight": np.ones(2, np.float32)})
    assert np.all(np.isfinite(per_sample)) and np.isfinite(reduced)
    np.testing.assert_allclose(per_sample, want, rtol=1e-6)


def _ignore_data(shape, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, shape[-1], shape[:-1])
    y[rng.uniform(size=y.shape) < 0.3] = -1  # padding entries
    return y, (2 * rng.standard_normal(shape)).astype(np.float32)


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "mean_with_sample_weight", None])
@pytest.mark.parametrize("shape", [(9, 5), (4, 6, 5)], ids=["rank2", "sequence"])
def test_ignore_class_matches_keras_and_onnx(keras, shape, reduction):
    y, p = _ignore_data(shape)
    sw = _weights(int(np.prod(shape[:-1]))).reshape(shape[:-1])  # Keras needs full-shape weights on sequences
    ours = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1, reduction=reduction)
    theirs = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1, reduction=reduction)
    for weights in (None, sw):
        want = keras.ops.convert_to_numpy(theirs(y, p, sample_weight=weights))
        np.testing.assert_allclose(ours(y, p, sample_weight=weights), want, rtol=1e-5, atol=1e-6)
    valid = y != -1
    manual = -np.sum(np.take_along_axis(np_log_softmax(p), np.where(valid, y, 0)[..., None], -1)[..., 0] * valid)
    if reduction == "sum_over_batch_size":
        assert float(ours(y, p)) == pytest.approx(manual / valid.sum(), rel=1e-5)  # mean over counted entries
        session, labels = _loss_model(ours, y, p)
        per_sample_weights = _weights(len(p))
        _, reduced = session.run(None, {"y_true": labels, "y_pred": p, "sample_weight": per_sample_weights})
        np.testing.assert_allclose(reduced, ours(y, p, sample_weight=per_sample_weights), rtol=1e-5)


def np_log_softmax(x):
    s = x - x.max(-1, keepdims=True)
    return s - np.log(np.exp(s).sum(-1, keepdims=True))
