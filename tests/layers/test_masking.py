"""Keras masks: made by Embedding(mask_zero) and Masking, carried as `_keras_mask`, consumed by
RNNs (incl. go_backwards, return_state, Bidirectional), attention, pooling, losses and metrics.
Everything equals Keras 3 (torch) on padded batches with copied weights."""

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph import layers
from tests.conftest import check_onnx
from tests.trainer.keras_parity import assert_same_training

keras = pytest.importorskip("keras")

RNG = np.random.default_rng(0)
IDS = RNG.integers(1, 10, size=(6, 7)).astype("int32")
IDS[0, 4:] = 0        # right padding
IDS[1, :3] = 0        # left padding
IDS[2, 2:4] = 0       # a hole in the middle
IDS[3, :] = 0         # nothing left
Y_SEQ = RNG.standard_normal((6, 7, 2)).astype("float32")
Y_VEC = RNG.standard_normal((6, 2)).astype("float32")


def _predict_both(build, x):
    ours, theirs = build(og), build(keras)
    theirs.set_weights(ours.get_weights())
    check_onnx(ours)
    a, b = ours.predict(x, verbose=0), theirs.predict(x, verbose=0)
    return (list(a) if isinstance(a, (list, tuple)) else [a]), (list(b) if isinstance(b, (list, tuple)) else [b])


def rnn_model(rnn, steps=None, bidirectional=False, merge_mode="concat", **kwargs):
    def build(K):
        inputs = K.Input(shape=(steps,), dtype="int32")
        x = K.layers.Embedding(10, 4, mask_zero=True)(inputs)
        layer = getattr(K.layers, rnn)(3, **kwargs)
        out = (K.layers.Bidirectional(layer, merge_mode=merge_mode) if bidirectional else layer)(x)
        return K.Model(inputs, out)
    return build


RNN_CASES = [{}, {"return_sequences": True}, {"go_backwards": True}, {"go_backwards": True, "return_sequences": True},
             {"return_state": True}, {"return_sequences": True, "return_state": True, "go_backwards": True},
             {"zero_output_for_mask": True, "return_sequences": True}]


@pytest.mark.parametrize("kwargs", RNN_CASES, ids=lambda kw: "-".join(kw) or "last")
@pytest.mark.parametrize("rnn", ["SimpleRNN", "GRU", "LSTM"])
def test_masked_rnn_predictions_equal_keras(rnn, kwargs):
    for steps in (None, 7):  # dynamic and static length
        ours, theirs = _predict_both(rnn_model(rnn, steps, **kwargs), IDS)
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kwargs", [{}, {"return_sequences": True}, {"return_state": True}],
                         ids=["last", "sequences", "state"])
@pytest.mark.parametrize("merge_mode", ["concat", "sum", None])
def test_masked_bidirectional_equals_keras(kwargs, merge_mode):
    ours, theirs = _predict_both(rnn_model("LSTM", None, bidirectional=True, merge_mode=merge_mode, **kwargs), IDS)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_mask_is_carried_and_dropped_like_keras():
    inputs = og.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(10, 4, mask_zero=True)(inputs)
    assert x._keras_mask.shape == (None, None) and x._keras_mask.dtype == "bool"
    y = layers.Dense(3)(x)                                   # supports masking: passes it on
    assert y._keras_mask is x._keras_mask
    seq = layers.LSTM(2, return_sequences=True)(y)
    assert seq._keras_mask is not None
    assert getattr(layers.LSTM(2)(y), "_keras_mask", None) is None
    assert getattr(layers.GlobalAveragePooling1D()(y), "_keras_mask", None) is None
    with pytest.warns(UserWarning, match="does not support masking"):
        layers.Flatten()(layers.Embedding(10, 4, mask_zero=True)(og.Input(shape=(5,), dtype="int32")))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # ops on tensors drop the mask silently, as Keras's ops do
        assert getattr(x * 2.0, "_keras_mask", None) is None


def test_masking_layer_and_pooling_equal_keras():
    x = Y_SEQ.copy()
    x[IDS == 0] = 0.0

    def build(K):
        inputs = K.Input(shape=(7, 2))
        h = K.layers.Masking(0.0)(inputs)
        h = K.layers.GRU(3, return_sequences=True)(h)
        return K.Model(inputs, [K.layers.GlobalAveragePooling1D()(h), K.layers.Dense(2)(h)])

    ours, theirs = _predict_both(build, x[:3])  # row 3 (all masked) would be 0/0 in both
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert layers.Masking(0.5).get_config()["mask_value"] == keras.layers.Masking(0.5).get_config()["mask_value"]


def test_attention_with_query_and_value_masks_equals_keras():
    def build(K):
        q_ids, v_ids = K.Input(shape=(7,), dtype="int32"), K.Input(shape=(5,), dtype="int32")
        embed = K.layers.Embedding(10, 4, mask_zero=True)
        out = K.layers.MultiHeadAttention(2, 3)(embed(q_ids), embed(v_ids))
        return K.Model([q_ids, v_ids], [out, K.layers.LSTM(2)(out)])  # the output keeps the query mask

    values = RNG.integers(0, 10, size=(6, 5)).astype("int32")
    values[:, 0] = 1  # at least one key per row
    ours, theirs = _predict_both(build, [IDS, values])
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_merge_masks_equal_keras():
    def build(K):
        a, b = K.Input(shape=(7,), dtype="int32"), K.Input(shape=(7,), dtype="int32")
        ea, eb = K.layers.Embedding(10, 3, mask_zero=True)(a), K.layers.Embedding(10, 3, mask_zero=True)(b)
        added = K.layers.Add()([ea, eb])
        joined = K.layers.Concatenate()([ea, eb])
        return K.Model([a, b], [K.layers.GRU(2)(added), K.layers.GRU(2)(joined)])

    other = np.roll(IDS, 1, axis=1)
    ours, theirs = _predict_both(build, [IDS, other])
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def seq_to_seq(rnn):
    def build(K):
        inputs = K.Input(shape=(7,), dtype="int32")
        h = K.layers.Embedding(10, 4, mask_zero=True)(inputs)
        h = K.layers.Bidirectional(getattr(K.layers, rnn)(3, return_sequences=True))(h)
        return K.Model(inputs, K.layers.Dense(2)(h))
    return build


def seq_to_vec(K):
    inputs = K.Input(shape=(None,), dtype="int32")
    h = K.layers.Embedding(10, 4, mask_zero=True)(inputs)
    h = K.layers.LSTM(3, return_sequences=True, go_backwards=True)(h)
    return K.Model(inputs, K.layers.Dense(2)(K.layers.GRU(3)(h)))


@pytest.mark.parametrize("optimizer,lr", [("sgd", 0.1), ("adam", 0.05)])
@pytest.mark.parametrize("rnn", ["SimpleRNN", "GRU", "LSTM"])
def test_masked_sequence_training_equals_keras(rnn, optimizer, lr):
    # The masked timesteps are left out of the loss (Keras: the mask is a sample weight).
    assert_same_training(seq_to_seq(rnn), IDS, Y_SEQ, optimizer, lr, rtol=1e-5, atol=3e-6)


@pytest.mark.parametrize("optimizer,lr", [("sgd", 0.1), ("adam", 0.05)])
def test_masked_stacked_rnn_training_equals_keras(optimizer, lr):
    assert_same_training(seq_to_vec, IDS, Y_VEC, optimizer, lr)


def test_masked_evaluate_loss_and_metrics_equal_keras():
    ours, theirs = seq_to_seq("GRU")(og), seq_to_seq("GRU")(keras)
    theirs.set_weights(ours.get_weights())
    # (Keras 3 itself fails on per-sample weights together with a timestep mask, so none here.)
    results = []
    for model in (ours, theirs):
        model.compile(optimizer="sgd", loss="mse", metrics=["mae", "mse"])
        fit = model.fit(IDS, Y_SEQ, batch_size=3, epochs=1, shuffle=False, verbose=0).history
        results.append([fit["loss"][0], fit["mae"][0], fit["mse"][0],
                        *model.evaluate(IDS, Y_SEQ, batch_size=3, verbose=0)])
    np.testing.assert_allclose(results[0], results[1], rtol=1e-5)


@pytest.mark.parametrize("merge", ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"])
def test_elementwise_merge_masks_equal_keras(merge):
    def build(K):
        a, b = K.Input(shape=(7,), dtype="int32"), K.Input(shape=(7,), dtype="int32")
        ea, eb = K.layers.Embedding(10, 3, mask_zero=True)(a), K.layers.Embedding(10, 3, mask_zero=True)(b)
        merged = getattr(K.layers, merge)()([ea, eb])
        return K.Model([a, b], [merged, K.layers.GRU(2)(merged)])

    ours, theirs = _predict_both(build, [IDS, np.roll(IDS, 1, axis=1)])
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_masked_model_saves_loads_and_keeps_its_masks(tmp_path):
    model = seq_to_vec(og)
    path = str(tmp_path / "masked.onnx")
    model.save(path)
    loaded = og.load_model(path)
    np.testing.assert_allclose(loaded.predict(IDS, verbose=0), model.predict(IDS, verbose=0), rtol=1e-6)
    theirs = seq_to_vec(keras)
    theirs.set_weights(loaded.get_weights())
    np.testing.assert_allclose(loaded.predict(IDS, verbose=0), theirs.predict(IDS, verbose=0), rtol=1e-5, atol=1e-6)
    assert loaded.layers[1].get_config()["mask_zero"] is True


def test_loss_on_a_masked_output_ignores_masked_steps():
    model = seq_to_seq("GRU")(og)
    model.compile(optimizer="sgd", loss="mae")
    pred = model.predict(IDS, verbose=0)
    keep = IDS != 0
    want = np.abs(pred - Y_SEQ).mean(axis=-1)[keep].sum() / keep.sum()
    np.testing.assert_allclose(model.evaluate(IDS, Y_SEQ, batch_size=6, verbose=0), want, rtol=1e-5)
    changed = Y_SEQ.copy()
    changed[~keep] = 100.0  # targets under the mask do not matter
    np.testing.assert_allclose(model.evaluate(IDS, changed, batch_size=6, verbose=0), want, rtol=1e-5)


def test_masked_training_with_batch_statistics_equals_keras():
    # BatchNormalization's moving statistics are graph outputs next to the mask outputs.
    def build(K):
        inputs = K.Input(shape=(7,), dtype="int32")
        h = K.layers.Embedding(10, 4, mask_zero=True)(inputs)
        h = K.layers.BatchNormalization()(K.layers.GRU(3, return_sequences=True)(h))
        return K.Model(inputs, K.layers.Dense(2)(h))

    assert_same_training(build, IDS, Y_SEQ, "sgd", 0.1, metrics=["mae"])


def test_explicit_masks_and_custom_layers_like_keras():
    def build(K):
        class Halve(K.layers.Layer):  # receives the mask automatically; defines its own output mask
            def call(self, x, mask=None):
                return x * 0.5 if mask is None else x * K.ops.expand_dims(K.ops.cast(mask, x.dtype), -1) * 0.5

            def compute_mask(self, x, mask=None):
                return mask

        x, keep = K.Input(shape=(7, 2)), K.Input(shape=(7,), dtype="bool")
        h = K.layers.SimpleRNN(3, return_sequences=True)(x, mask=keep)
        h = Halve()(h)
        return K.Model([x, keep], [h, K.layers.GRU(2)(h)])

    ours, theirs = _predict_both(build, [Y_SEQ, IDS != 0])
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_nested_model_carries_its_masks_like_keras():
    def build(K):
        ids = K.Input(shape=(7,), dtype="int32")
        encoder = K.Model(ids, K.layers.Embedding(10, 4, mask_zero=True)(ids), name="encoder")
        outer = K.Input(shape=(7,), dtype="int32")
        return K.Model(outer, K.layers.LSTM(3)(encoder(outer)))

    ours, theirs = _predict_both(build, IDS)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-5, atol=1e-6)


def test_eager_calls_carry_masks_like_keras():
    embedding, lstm = layers.Embedding(10, 4, mask_zero=True), layers.LSTM(3, return_sequences=True)
    x = embedding(IDS)
    np.testing.assert_array_equal(x._keras_mask, IDS != 0)
    y = lstm(x)  # the array's mask is used, as Keras's eager tensors' masks are
    np.testing.assert_array_equal(y._keras_mask, IDS != 0)
    k_embedding, k_lstm = keras.layers.Embedding(10, 4, mask_zero=True), keras.layers.LSTM(3, return_sequences=True)
    k_lstm(k_embedding(IDS))  # builds the Keras layers
    k_embedding.set_weights(embedding.get_weights())
    k_lstm.set_weights(lstm.get_weights())
    k_y = k_lstm(k_embedding(IDS))
    np.testing.assert_allclose(np.asarray(y), keras.ops.convert_to_numpy(k_y), rtol=1e-5, atol=1e-6)
    unmasked = lstm(np.asarray(x))  # a plain array has no mask
    assert not np.allclose(np.asarray(unmasked), np.asarray(y))


def test_batchnorm_broadcasts_a_size_one_mask_axis_like_keras():
    from onnxgraph.backend.scope import emit_options
    from onnxgraph.layers._input_layer import placeholder
    from onnxgraph.layers._node import recording
    from onnxgraph.runtime import GraphRunner

    x = RNG.standard_normal((2, 3, 4, 5)).astype("float32")
    mask = np.array([[[1], [0], [1]], [[1], [1], [0]]], dtype=bool)  # (2, 3, 1): broadcast over axis 2
    layer = layers.BatchNormalization()
    xs, ms = placeholder(x.shape, "float32", "x"), placeholder(mask.shape, "bool", "m")
    with recording(False), emit_options(training_graph=True, state_updates=[]):
        y = layer(xs, training=True, mask=ms)
    got = GraphRunner([xs, ms], [y], ["x", "m"], ["y"], layer.weights, name="bn").run_feeds({"x": x, "m": mask})[0]
    want = keras.layers.BatchNormalization()(x, training=True, mask=mask)
    np.testing.assert_allclose(got, keras.ops.convert_to_numpy(want), rtol=1e-4, atol=1e-5)
