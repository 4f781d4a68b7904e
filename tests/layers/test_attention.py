"""MultiHeadAttention: numpy reference, Keras 3 parity (weights copied), ONNX form, training."""

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph import layers
from onnxgraph.backend.scope import emit_options
from onnxgraph.layers._node import recording
from tests.conftest import check_onnx, rand


def np_mha(query, value, key, weights, mask=None, causal=False):
    """Keras's einsum formulation, in float64."""
    qk, qb, kk, kb, vk, vb, ok, ob = [w.astype(np.float64) for w in weights]
    q = np.einsum("btd,dhk->bthk", query, qk) + qb
    k = np.einsum("bsd,dhk->bshk", key, kk) + kb
    v = np.einsum("bsd,dhk->bshk", value, vk) + vb
    scores = np.einsum("bshk,bthk->bhts", k, q / np.sqrt(qk.shape[-1]))
    if causal:
        tril = np.tril(np.ones(scores.shape[-2:], bool))
        mask = tril[None] if mask is None else mask & tril
    if mask is not None:
        scores = np.where(mask[:, None], scores, -1e9)
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    out = np.einsum("bhts,bshv->bthv", probs, v)
    return np.einsum("bthv,hvd->btd", out, ok) + ob, probs


def _randomize(layer, seed=4):
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.uniform(-0.5, 0.5, w.shape).astype(np.float32) for w in layer.get_weights()])
    return layer.get_weights()


def test_self_attention_matches_numpy_and_has_keras_weights():
    x = og.Input(shape=(5, 8))
    mha = layers.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=4)
    out, scores = mha(x, x, return_attention_scores=True)
    model = og.Model(x, [out, scores])
    assert [w.path for w in mha.weights] == [f"multi_head_attention/{s}/{w}" for s in
                                             ("query", "key", "value", "attention_output") for w in ("kernel", "bias")]
    assert [w.shape for w in mha.weights] == [(8, 2, 3), (2, 3), (8, 2, 3), (2, 3), (8, 2, 4), (2, 4), (2, 4, 8), (8,)]
    assert mha.count_params() == (8 * 6 + 6) * 2 + (8 * 8 + 8) + (8 * 8 + 8)
    proto = check_onnx(model)
    ops = [n.op_type for n in proto.graph.node]
    assert "Einsum" not in ops and ops.count("MatMul") == 6  # 4 projections + 2 attention products
    weights = _randomize(mha)
    data = rand(3, 5, 8)
    got_out, got_scores = model.predict(data, verbose=0)
    want_out, want_scores = np_mha(data, data, data, weights)
    np.testing.assert_allclose(got_out, want_out, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_scores, want_scores, rtol=1e-5, atol=1e-6)


def test_masks_and_variable_length():
    query, value = og.Input(shape=(None, 6)), og.Input(shape=(None, 4))
    mask = og.Input(shape=(None, None), dtype="bool")
    mha = layers.MultiHeadAttention(num_heads=3, key_dim=2)
    model = og.Model([query, value, mask], mha(query, value, attention_mask=mask, use_causal_mask=True))
    check_onnx(model)
    weights = _randomize(mha)
    rng = np.random.default_rng(0)
    for tq, tk in [(4, 4), (3, 5)]:
        q, v = rand(2, tq, 6, seed=tq), rand(2, tk, 4, seed=tk)
        m = rng.random((2, tq, tk)) < 0.7
        m[..., 0] = True  # every query attends somewhere
        np.testing.assert_allclose(model.predict([q, v, m], verbose=0), np_mha(q, v, v, weights, m, causal=True)[0],
                                   rtol=1e-5, atol=1e-6)


def test_config_save_load_dropout_and_errors(tmp_path):
    x = og.Input(shape=(4, 6))
    mha = layers.MultiHeadAttention(2, 3, dropout=0.3, output_shape=5, use_bias=False)
    model = og.Model(x, mha(x, x))
    assert model.outputs[0].shape == (None, 4, 5) and [w.name for w in mha.weights] == ["kernel"] * 4
    config = mha.get_config()
    assert config["output_shape"] == (5,) and config["value_dim"] == 3 and config["dropout"] == 0.3
    assert layers.MultiHeadAttention.from_config(config).get_config() == config
    assert "Dropout" not in [n.op_type for n in check_onnx(model).graph.node]
    with recording(False), emit_options(training_graph=True):
        trained = model._run_graph(model.inputs, training=True)
    assert trained.producer is not None and "Dropout" in _ops_behind(trained)
    data = rand(2, 4, 6)
    model.save(tmp_path / "mha.onnx")
    np.testing.assert_array_equal(og.load_model(tmp_path / "mha.onnx").predict(data, verbose=0),
                                  model.predict(data, verbose=0))
    with pytest.raises(ValueError, match="'multi_head_attention_1': value and key must match"):
        layers.MultiHeadAttention(2, 3)(og.Input(shape=(4, 6)), og.Input(shape=(5, 6)), key=og.Input(shape=(6, 6)))


def _ops_behind(tensor):
    seen, stack, ops = set(), [tensor], set()
    while stack:
        t = stack.pop()
        if t is None or t.producer is None or id(t.producer) in seen:
            continue
        seen.add(id(t.producer))
        ops.add(t.producer.op_type)
        stack.extend(t.producer.inputs)
    return ops


# ---------------------------------------------------------------- Keras 3 (torch backend), weights copied


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


def _pair(keras, make, shapes, call):
    keras.backend.clear_session()
    models = []
    for lib in (og, keras):
        inputs = [lib.Input(shape=s, dtype=("bool" if i == len(shapes) - 1 and call.mask else "float32"))
                  for i, s in enumerate(shapes)]
        layer = make(lib.layers)
        models.append((lib.Model(inputs, call(layer, inputs)), layer))
    (ours, our_layer), (theirs, their_layer) = models
    _randomize(their_layer)
    our_layer.set_weights(their_layer.get_weights())
    check_onnx(ours)
    return ours, theirs


class Call:
    def __init__(self, fn, mask=False):
        self.fn, self.mask = fn, mask

    def __call__(self, layer, inputs):
        return self.fn(layer, inputs)


KERAS_CASES = {
    "self": (lambda lib: lib.MultiHeadAttention(4, 2), [(5, 8)], Call(lambda m, i: m(i[0], i[0]))),
    "cross_key_value_dims": (lambda lib: lib.MultiHeadAttention(2, 3, value_dim=5, output_shape=7, use_bias=False),
                             [(4, 6), (6, 5), (6, 3)], Call(lambda m, i: m(i[0], i[1], key=i[2]))),
    "scores_and_mask": (lambda lib: lib.MultiHeadAttention(2, 4), [(3, 6), (5, 6), (3, 5)],
                        Call(lambda m, i: list(m(i[0], i[1], attention_mask=i[2], return_attention_scores=True)),
                             mask=True)),
    "causal": (lambda lib: lib.MultiHeadAttention(3, 2), [(6, 4)], Call(lambda m, i: m(i[0], i[0],
                                                                                        use_causal_mask=True))),
    "two_attention_axes": (lambda lib: lib.MultiHeadAttention(2, 3, attention_axes=(1, 2)), [(3, 4, 5)],
                           Call(lambda m, i: list(m(i[0], i[0], return_attention_scores=True)))),
    "attention_axis_2": (lambda lib: lib.MultiHeadAttention(2, 3, attention_axes=2), [(3, 4, 5)],
                         Call(lambda m, i: m(i[0], i[0]))),
    "gate_and_window": (lambda lib: lib.MultiHeadAttention(2, 3, use_gate=True, sliding_window=2), [(5, 4)],
                        Call(lambda m, i: m(i[0], i[0]))),
}


@pytest.mark.parametrize("case", sorted(KERAS_CASES))
def test_matches_keras(keras, case):
    make, shapes, call = KERAS_CASES[case]
    ours, theirs = _pair(keras, make, shapes, call)
    rng = np.random.default_rng(2)
    feeds = [rand(2, *s, seed=i) for i, s in enumerate(shapes)]
    if call.mask:
        feeds[-1] = rng.random((2, *shapes[-1])) < 0.6
        feeds[-1][..., 0] = True
    got, want = ours.predict(feeds, verbose=0), theirs.predict(feeds, verbose=0)
    got = got if isinstance(got, list) else [got]
    want = list(want) if isinstance(want, (list, tuple)) else [want]
    for g, w in zip(got, want):
        assert g.shape == tuple(w.shape)
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=2e-6)
    assert ours.outputs[0].shape == tuple(theirs.outputs[0].shape)


def test_explicit_build_and_output_shape_match_keras(keras):
    keras.backend.clear_session()
    ours, theirs = layers.MultiHeadAttention(2, 3, use_gate=True), keras.layers.MultiHeadAttention(2, 3, use_gate=True)
    for layer in (ours, theirs):
        layer.build((None, 4, 6), (None, 5, 8))
    assert [(w.path, w.shape) for w in ours.weights] == [(w.path, tuple(w.shape)) for w in theirs.weights]
    assert ours.count_params() == theirs.count_params()
    assert ours.compute_output_shape((None, 4, 6), (None, 5, 8)) == theirs.compute_output_shape((None, 4, 6),
                                                                                                (None, 5, 8))
    ours.set_weights(theirs.get_weights())
    q, v = rand(2, 4, 6), rand(2, 5, 8, seed=1)
    np.testing.assert_allclose(ours(q, v), theirs(q, v).detach().numpy(), rtol=1e-5, atol=2e-6)


def test_trains_like_keras(keras):
    pytest.importorskip("torch")
    from tests.layers._training_reference import assert_same_gradients, keras_gradients, ort_gradients

    ours, theirs = _pair(keras, lambda lib: lib.MultiHeadAttention(2, 3), [(5, 4)],
                         Call(lambda m, i: m(i[0], i[0], use_causal_mask=True)))
    data, target = rand(3, 5, 4), rand(3, 5, 4, seed=1)
    assert_same_gradients(ort_gradients(ours, data, target), keras_gradients(theirs, data, target))
