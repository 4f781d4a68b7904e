"""Metrics vs keras.metrics on random batches (with and without sample weights), plus lookup rules."""

import numpy as np
import pytest

from onnxgraph import losses, metrics

N, C = 16, 7


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)).astype(np.float32)


def batch(kind, seed):
    rng = np.random.default_rng(seed)
    if kind == "regression":
        return rng.standard_normal((N, 3)).astype(np.float32), rng.standard_normal((N, 3)).astype(np.float32)
    if kind == "binary":
        y = rng.integers(0, 2, (N, 1)).astype(np.float32)
        # Scores correlated with the labels so AUC is neither 0.5 nor 1.
        return y, np.clip(0.35 * y + 0.65 * rng.uniform(0, 1, (N, 1)), 0, 1).astype(np.float32)
    if kind == "logits":
        y = rng.integers(0, 2, (N, 1)).astype(np.float32)
        return y, (2 * y - 1 + 2 * rng.standard_normal((N, 1))).astype(np.float32)
    if kind == "multilabel":
        y = rng.integers(0, 2, (N, 3)).astype(np.float32)
        return y, np.clip(0.3 * y + 0.7 * rng.uniform(0, 1, (N, 3)), 0, 1).astype(np.float32)
    ids = rng.integers(0, C, N)
    scores = _softmax(1.5 * rng.standard_normal((N, C)) + 1.2 * np.eye(C)[ids])
    if kind == "sparse":
        return ids, scores
    if kind == "sparse_ignore":
        return np.where(rng.uniform(size=N) < 0.3, -1, ids), scores
    if kind == "sparse_col":
        return ids[:, None], scores
    if kind == "onehot":
        return np.eye(C, dtype=np.float32)[ids], scores
    if kind == "exact":
        return ids.astype(np.float32), np.where(rng.uniform(size=N) < 0.6, ids, (ids + 1) % C).astype(np.float32)
    raise ValueError(kind)


# (id, ours, keras factory, data kind)
CASES = [
    ("accuracy", lambda: metrics.Accuracy(), lambda k: k.metrics.Accuracy(), "exact"),
    ("binary_accuracy", lambda: metrics.BinaryAccuracy(), lambda k: k.metrics.BinaryAccuracy(), "binary"),
    ("binary_accuracy_t", lambda: metrics.BinaryAccuracy(threshold=0.3),
     lambda k: k.metrics.BinaryAccuracy(threshold=0.3), "binary"),
    ("categorical_accuracy", lambda: metrics.CategoricalAccuracy(), lambda k: k.metrics.CategoricalAccuracy(),
     "onehot"),
    ("sparse_categorical_accuracy", lambda: metrics.SparseCategoricalAccuracy(),
     lambda k: k.metrics.SparseCategoricalAccuracy(), "sparse"),
    ("sparse_categorical_accuracy_col", lambda: metrics.SparseCategoricalAccuracy(),
     lambda k: k.metrics.SparseCategoricalAccuracy(), "sparse_col"),
    ("top_k", lambda: metrics.TopKCategoricalAccuracy(), lambda k: k.metrics.TopKCategoricalAccuracy(), "onehot"),
    ("top_2", lambda: metrics.TopKCategoricalAccuracy(k=2), lambda k: k.metrics.TopKCategoricalAccuracy(k=2),
     "onehot"),
    ("sparse_top_3", lambda: metrics.SparseTopKCategoricalAccuracy(k=3),
     lambda k: k.metrics.SparseTopKCategoricalAccuracy(k=3), "sparse"),
    ("sparse_top_3_col", lambda: metrics.SparseTopKCategoricalAccuracy(k=3),
     lambda k: k.metrics.SparseTopKCategoricalAccuracy(k=3), "sparse_col"),
    ("mae", lambda: metrics.MeanAbsoluteError(), lambda k: k.metrics.MeanAbsoluteError(), "regression"),
    ("mse", lambda: metrics.MeanSquaredError(), lambda k: k.metrics.MeanSquaredError(), "regression"),
    ("rmse", lambda: metrics.RootMeanSquaredError(), lambda k: k.metrics.RootMeanSquaredError(), "regression"),
    ("bce", lambda: metrics.BinaryCrossentropy(), lambda k: k.metrics.BinaryCrossentropy(), "binary"),
    ("bce_logits", lambda: metrics.BinaryCrossentropy(from_logits=True),
     lambda k: k.metrics.BinaryCrossentropy(from_logits=True), "logits"),
    ("cce", lambda: metrics.CategoricalCrossentropy(label_smoothing=0.1),
     lambda k: k.metrics.CategoricalCrossentropy(label_smoothing=0.1), "onehot"),
    ("scce", lambda: metrics.SparseCategoricalCrossentropy(), lambda k: k.metrics.SparseCategoricalCrossentropy(),
     "sparse"),
    ("scce_ignore", lambda: metrics.SparseCategoricalCrossentropy(ignore_class=-1),
     lambda k: k.metrics.SparseCategoricalCrossentropy(ignore_class=-1), "sparse_ignore"),
    ("auc", lambda: metrics.AUC(), lambda k: k.metrics.AUC(), "binary"),
    ("auc_pr", lambda: metrics.AUC(curve="PR"), lambda k: k.metrics.AUC(curve="PR"), "binary"),
    ("auc_minoring", lambda: metrics.AUC(num_thresholds=50, summation_method="minoring"),
     lambda k: k.metrics.AUC(num_thresholds=50, summation_method="minoring"), "binary"),
    ("auc_pr_majoring", lambda: metrics.AUC(curve="PR", summation_method="majoring"),
     lambda k: k.metrics.AUC(curve="PR", summation_method="majoring"), "binary"),
    ("auc_logits", lambda: metrics.AUC(from_logits=True), lambda k: k.metrics.AUC(from_logits=True), "logits"),
    ("auc_thresholds", lambda: metrics.AUC(thresholds=[0.1, 0.35, 0.5, 0.62, 0.9]),
     lambda k: k.metrics.AUC(thresholds=[0.1, 0.35, 0.5, 0.62, 0.9]), "binary"),
    ("auc_multilabel", lambda: metrics.AUC(multi_label=True, label_weights=[1.0, 2.0, 0.5]),
     lambda k: k.metrics.AUC(multi_label=True, label_weights=[1.0, 2.0, 0.5]), "multilabel"),
    ("auc_flat", lambda: metrics.AUC(num_thresholds=20), lambda k: k.metrics.AUC(num_thresholds=20), "multilabel"),
]


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "sample_weight"])
@pytest.mark.parametrize("name,make,make_keras,kind", CASES, ids=[c[0] for c in CASES])
def test_matches_keras_over_batches(keras, name, make, make_keras, kind, weighted):
    ours, theirs = make(), make_keras(keras)
    rng = np.random.default_rng(42)
    for epoch in range(2):  # the second epoch checks reset_state
        ours.reset_state()
        theirs.reset_state()
        for seed in range(3):
            y, p = batch(kind, seed + 10 * epoch)
            sw = rng.uniform(0, 2, N).astype(np.float32) if weighted else None
            ours.update_state(y, p, sample_weight=sw)
            theirs.update_state(y, p, sample_weight=sw)
            want = float(keras.ops.convert_to_numpy(theirs.result()))
            assert ours.result() == pytest.approx(want, rel=1e-5, abs=1e-6), f"epoch {epoch} batch {seed}"
    assert 0 < ours.result() < 100  # a real value, not a constant
    theirs_config = {k: v for k, v in theirs.get_config().items() if k != "dtype"}
    if name.startswith("auc"):
        # AUC is auto-named ("auc", "auc_1", ...); Keras's counter is not reset between tests.
        theirs_config["name"] = theirs.name.rsplit("_", 1)[0] if theirs.name != "auc" else "auc"
        theirs_config["curve"] = theirs.curve.value
        theirs_config["summation_method"] = theirs.summation_method.value
        theirs_config["label_weights"] = (None if theirs.label_weights is None
                                          else keras.ops.convert_to_numpy(theirs.label_weights).tolist())
    ours_config = ours.get_config()
    for key, value in theirs_config.items():
        if isinstance(value, (float, list)):
            assert ours_config[key] == pytest.approx(value), key
        else:
            assert ours_config[key] == value, key
    assert ours.name == theirs_config["name"]


def test_mean_and_sum_match_keras(keras):
    ours, theirs = metrics.Mean(), keras.metrics.Mean()
    values = np.arange(12, dtype=np.float32).reshape(4, 3)
    sw = np.array([1.0, 0.0, 2.0, 0.5], np.float32)
    for m in (ours, theirs):
        m.update_state(values)
        m.update_state(values, sample_weight=sw)
    assert ours.result() == pytest.approx(float(keras.ops.convert_to_numpy(theirs.result())), rel=1e-6)
    s = metrics.Sum()
    s.update_state([1, 2, 3], sample_weight=[1, 0, 2])
    assert s.result() == 7.0


def test_auc_is_exact_area_on_separable_steps():
    m = metrics.AUC(num_thresholds=1001)
    m.update_state([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    assert m.result() == pytest.approx(0.75, abs=1e-3)
    m.reset_state()
    assert m.result() == 0.0


@pytest.mark.parametrize("identifier,y_shape,p_shape,loss,cls", [
    ("accuracy", (8,), (None, 5), None, metrics.SparseCategoricalAccuracy),
    ("acc", (8, 1), (None, 5), None, metrics.SparseCategoricalAccuracy),
    ("accuracy", (8, 5), (None, 5), None, metrics.CategoricalAccuracy),
    ("accuracy", (8,), (None, 1), None, metrics.BinaryAccuracy),
    ("accuracy", None, (None, 5), losses.get("sparse_categorical_crossentropy"), metrics.SparseCategoricalAccuracy),
    ("accuracy", None, (None, 5), "categorical_crossentropy", metrics.CategoricalAccuracy),
    ("accuracy", None, None, losses.BinaryCrossentropy(), metrics.BinaryAccuracy),
])
def test_accuracy_is_resolved_like_keras_compile(identifier, y_shape, p_shape, loss, cls):
    metric = metrics.get(identifier, y_true_shape=y_shape, y_pred_shape=p_shape, loss=loss)
    assert type(metric) is cls and metric.name == identifier and metric.direction == "up"


@pytest.mark.parametrize("identifier,cls,name", [
    ("mae", metrics.MeanAbsoluteError, "mae"), ("MAE", metrics.MeanAbsoluteError, "MAE"),
    ("mse", metrics.MeanSquaredError, "mse"), ("mean_squared_error", metrics.MeanSquaredError, "mean_squared_error"),
    ("AUC", metrics.AUC, "AUC"), ("auc", metrics.AUC, "auc"),
    ("binary_accuracy", metrics.BinaryAccuracy, "binary_accuracy"),
    ("top_k_categorical_accuracy", metrics.TopKCategoricalAccuracy, "top_k_categorical_accuracy"),
    ("SparseTopKCategoricalAccuracy", metrics.SparseTopKCategoricalAccuracy, "SparseTopKCategoricalAccuracy"),
    ("binary_crossentropy", metrics.BinaryCrossentropy, "binary_crossentropy"),
])
def test_get_names_metrics_like_keras_compile(identifier, cls, name):
    metric = metrics.get(identifier)
    assert type(metric) is cls and metric.name == name


def test_get_objects_functions_and_errors():
    auc = metrics.AUC(name="my_auc")
    assert metrics.get(auc) is auc and metrics.get(metrics.AUC).name == "auc"
    m = metrics.get(lambda y, p: np.abs(y - p))
    m.update_state(np.zeros(4), np.ones(4))
    assert m.result() == 1.0
    assert metrics.MeanAbsoluteError().direction == "down"
    with pytest.raises(ValueError, match="Known metrics"):
        metrics.get("acuracy")
    with pytest.raises(ValueError, match="cannot choose"):
        metrics.get("accuracy")
    again = metrics.deserialize(metrics.serialize(metrics.AUC(num_thresholds=50, curve="PR")))
    assert again.num_thresholds == 50 and again.curve == "PR"
