"""`.keras` archives and `.weights.h5` files: written by onnxgraph for real Keras, read from Keras.

Each architecture is built twice with the same code (`lib` is onnxgraph or keras), so the
layouts and predictions can be compared one to one.
"""

import json
import zipfile

import numpy as np
import pytest

import onnxgraph as og
from tests.conftest import rand

keras = pytest.importorskip("keras")
h5py = pytest.importorskip("h5py")


def mlp(lib):
    inputs = lib.Input(shape=(6,), name="features")
    x = lib.layers.Dense(8, activation="relu")(inputs)
    x = lib.layers.BatchNormalization()(x)
    x = lib.layers.Dropout(0.1)(x)
    return lib.Model(inputs, lib.layers.Dense(3, activation="softmax", name="probs")(x))


def convnet(lib):
    return lib.Sequential([lib.Input(shape=(8, 8, 3)), lib.layers.Conv2D(4, 3, padding="same", activation="relu"),
                           lib.layers.MaxPooling2D(), lib.layers.SeparableConv2D(5, 3), lib.layers.Flatten(),
                           lib.layers.Dense(2)])


def recurrent(lib):
    inputs = lib.Input(shape=(5, 4))
    x = lib.layers.Bidirectional(lib.layers.LSTM(3, return_sequences=True))(inputs)
    x = lib.layers.MultiHeadAttention(num_heads=2, key_dim=3)(x, x)
    x = lib.layers.TimeDistributed(lib.layers.Dense(4))(x)
    x = lib.layers.LayerNormalization()(x)
    return lib.Model(inputs, lib.layers.GRU(2)(x))


def multi_io(lib):
    """Two inputs, a shared embedding, a nested model, merge layers and two outputs."""
    title, body = lib.Input(shape=(4,), name="title"), lib.Input(shape=(6,), name="body")
    embed = lib.layers.Embedding(20, 3)
    pooled = [lib.layers.GlobalAveragePooling1D()(embed(t)) for t in (title, body)]
    inner_in = lib.Input(shape=(6,))
    inner = lib.Model(inner_in, lib.layers.Dense(4, activation="tanh")(inner_in), name="inner")
    x = inner(lib.layers.Concatenate()(pooled))
    x = lib.layers.Add()([x, lib.layers.Dense(4)(x)])
    return lib.Model([title, body], {"priority": lib.layers.Dense(1, name="priority")(x),
                                     "department": lib.layers.Dense(3, name="department")(x)})


def image_zoo(lib):
    layers = lib.layers
    inputs = lib.Input(shape=(12, 12, 3))
    x = layers.Rescaling(1 / 255.0)(inputs)
    x = layers.DepthwiseConv2D(3, padding="same")(layers.Conv2D(4, 3, padding="same")(x))
    x = layers.Cropping2D(2)(layers.ZeroPadding2D(1)(layers.Conv2DTranspose(4, 3, strides=2)(x)))
    x = layers.UpSampling2D()(layers.AveragePooling2D(2)(x))
    x = layers.Activation("gelu")(layers.LeakyReLU(0.2)(x))
    a, b = layers.GlobalMaxPooling2D()(x), layers.GlobalAveragePooling2D()(x)
    y, z = layers.Multiply()([a, b]), layers.Subtract()([a, b])
    v = layers.PReLU()(layers.Average()([y, layers.Maximum()([y, z])]))
    return lib.Model(inputs, layers.Dense(2)(layers.LayerNormalization()(v)))


def sequence_zoo(lib):
    layers = lib.layers
    inputs = lib.Input(shape=(6, 4))
    x = layers.SimpleRNN(4, return_sequences=True)(layers.Conv1D(5, 2, padding="causal")(inputs))
    x = layers.Reshape((18,))(layers.Permute((2, 1))(layers.GRU(3, return_sequences=True)(x)))
    x = layers.Normalization()(layers.Flatten()(layers.RepeatVector(2)(x)))
    return lib.Model(inputs, layers.Dense(2, activation="sigmoid")(x))


def inputs_for(model_fn):
    if model_fn is multi_io:
        rng = np.random.default_rng(0)
        return [rng.integers(0, 20, (3, 4)), rng.integers(0, 20, (3, 6))]
    return {mlp: rand(3, 6), convnet: rand(2, 8, 8, 3), recurrent: rand(2, 5, 4), image_zoo: rand(2, 12, 12, 3) * 100,
            sequence_zoo: rand(2, 6, 4)}[model_fn]


def outputs(model, x):
    out = model.predict(x, verbose=0)
    if isinstance(out, dict):
        return [np.asarray(out[k]) for k in sorted(out)]
    return [np.asarray(o) for o in out] if isinstance(out, (list, tuple)) else [np.asarray(out)]


def randomize(model, seed=0):
    rng = np.random.default_rng(seed)
    model.set_weights([np.abs(v) + 0.5 if "variance" in w.path else v for w, v in
                       ((w, rng.standard_normal(tuple(w.shape)).astype("float32") * 0.5) for w in model.weights)])


def h5_layout(path):
    entries = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                entries[name] = (obj.shape, str(obj.dtype), obj[()])
            elif name.endswith("vars") and len(obj.keys()):
                entries[name] = dict(obj.attrs)
        f.visititems(visit)
    return entries


MODELS = [mlp, convnet, recurrent, multi_io, image_zoo, sequence_zoo]


@pytest.mark.parametrize("model_fn", MODELS)
def test_keras_loads_our_archive_with_equal_predictions(tmp_path, model_fn):
    ours = model_fn(og)
    randomize(ours)
    ours.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as archive:
        assert archive.namelist() == ["metadata.json", "config.json", "model.weights.h5"]
        assert json.loads(archive.read("metadata.json"))["keras_version"].startswith("3.")
    theirs = keras.saving.load_model(tmp_path / "m.keras")
    x = inputs_for(model_fn)
    for got, want in zip(outputs(theirs, x), outputs(ours, x)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert [layer.name for layer in theirs.layers] == [layer.name for layer in ours.layers]


@pytest.mark.parametrize("model_fn", MODELS)
def test_we_load_keras_archives_with_equal_predictions(tmp_path, model_fn):
    keras.backend.clear_session()
    theirs = model_fn(keras)
    randomize(theirs, seed=1)
    theirs.save(tmp_path / "k.keras")
    ours = og.load_model(tmp_path / "k.keras")
    x = inputs_for(model_fn)
    for got, want in zip(outputs(ours, x), outputs(theirs, x)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert [layer.name for layer in ours.layers] == [layer.name for layer in theirs.layers]


@pytest.mark.parametrize("model_fn", MODELS)
def test_save_weights_writes_keras_layout_exactly(tmp_path, model_fn):
    keras.backend.clear_session()
    theirs = model_fn(keras)
    randomize(theirs, seed=2)
    ours = model_fn(og)
    ours.set_weights([np.asarray(w) for w in theirs.get_weights()])
    theirs.save_weights(tmp_path / "k.weights.h5")
    ours.save_weights(tmp_path / "o.weights.h5")
    want, got = h5_layout(tmp_path / "k.weights.h5"), h5_layout(tmp_path / "o.weights.h5")
    assert sorted(got) == sorted(want)
    for key, value in want.items():
        if isinstance(value, dict):
            assert got[key] == value, key
        else:
            # Same shape and dtype; integer counters may differ in width (onnxgraph's Normalization
            # counts in int64, Keras 3.15 on torch in int32; either loads).
            assert got[key][0] == value[0], key
            assert got[key][1] == value[1] or got[key][1][:3] == value[1][:3] == "int", key
            np.testing.assert_array_equal(got[key][2], value[2])
    reloaded = model_fn(keras)
    reloaded.load_weights(tmp_path / "o.weights.h5")
    x = inputs_for(model_fn)
    for a, b in zip(outputs(reloaded, x), outputs(theirs, x)):
        np.testing.assert_array_equal(a, b)


def test_ops_outside_layers_round_trip_through_keras(tmp_path):
    def build(lib):
        inputs = lib.Input(shape=(4,))
        x = lib.layers.Dense(4)(inputs)
        return lib.Model(inputs, lib.ops.concatenate([x * 2.0, lib.ops.relu(x)], axis=-1))
    keras.backend.clear_session()
    theirs = build(keras)
    theirs.save(tmp_path / "k.keras")
    ours = og.load_model(tmp_path / "k.keras")
    x = rand(3, 4)
    np.testing.assert_allclose(outputs(ours, x)[0], outputs(theirs, x)[0], rtol=1e-6)
    ours.save(tmp_path / "o.keras")
    back = keras.saving.load_model(tmp_path / "o.keras")
    np.testing.assert_allclose(outputs(back, x)[0], outputs(theirs, x)[0], rtol=1e-6)


def write_archive(path, config, weights=b"", extra=None):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", "{}")
        archive.writestr("config.json", json.dumps(config) if not isinstance(config, bytes) else config)
        archive.writestr("model.weights.h5", weights)
        for name, data in (extra or {}).items():
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=zipfile.ZIP_DEFLATED)


def keras_config_with(tmp_path, layer_entry):
    keras.backend.clear_session()
    inputs = keras.Input(shape=(3,))
    keras.Model(inputs, keras.layers.Dense(2)(inputs)).save(tmp_path / "base.keras")
    with zipfile.ZipFile(tmp_path / "base.keras") as archive:
        config = json.loads(archive.read("config.json"))
        weights = archive.read("model.weights.h5")
    dense = config["config"]["layers"][1]
    dense.update(layer_entry)
    return config, weights


def test_code_and_unknown_modules_are_refused_by_class_name(tmp_path):
    import sys

    config, weights = keras_config_with(tmp_path, {"class_name": "Lambda", "module": "keras.layers",
                                                   "config": {"name": "dense", "function": "gASV..."}})
    write_archive(tmp_path / "lambda.keras", config, weights)
    with pytest.raises(ValueError, match="Lambda layers hold Python code"):
        og.load_model(tmp_path / "lambda.keras")
    config, weights = keras_config_with(tmp_path, {"class_name": "Payload", "module": "evil_module_for_test"})
    write_archive(tmp_path / "evil.keras", config, weights)
    with pytest.raises(ValueError, match="Unknown layer class 'Payload'.*custom_objects"):
        og.load_model(tmp_path / "evil.keras")
    assert "evil_module_for_test" not in sys.modules


def test_unsupported_keras_options_are_named(tmp_path):
    config, weights = keras_config_with(tmp_path, {})
    config["config"]["layers"][1]["config"]["quantization_config"] = {"mode": "int8"}
    write_archive(tmp_path / "q.keras", config, weights)
    with pytest.raises(ValueError, match="'dense' \\(Dense\\) sets quantization_config="):
        og.load_model(tmp_path / "q.keras")


def test_oversized_and_bomb_members_are_refused_before_reading(tmp_path, monkeypatch):
    from onnxgraph.saving import _keras_archive

    config, weights = keras_config_with(tmp_path, {})
    write_archive(tmp_path / "ok.keras", config, weights)
    monkeypatch.setattr(_keras_archive, "MAX_CONFIG_BYTES", 100)
    with pytest.raises(ValueError, match="config.json is .* over the 100-byte limit"):
        og.load_model(tmp_path / "ok.keras")
    monkeypatch.setattr(_keras_archive, "MAX_CONFIG_BYTES", 2**26)
    monkeypatch.setattr(_keras_archive, "_BOMB_FLOOR", 2**16)
    with zipfile.ZipFile(tmp_path / "bomb.keras", "w") as archive:
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("model.weights.h5", b"\0" * 2**22, compress_type=zipfile.ZIP_DEFLATED)
    with pytest.raises(ValueError, match="decompression bomb"):
        og.load_model(tmp_path / "bomb.keras")
    (tmp_path / "not.keras").write_bytes(b"plain bytes")
    with pytest.raises(ValueError, match="not a .keras archive"):
        og.load_model(tmp_path / "not.keras")


def test_custom_layers_by_registered_name_both_ways(tmp_path):
    @keras.saving.register_keras_serializable(package="archive_test")
    class Scale(keras.layers.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return x * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    @og.saving.register_serializable(package="archive_test")
    class OgScale(og.layers.Layer):  # noqa: F811 - the same registered name on our side
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return x * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    keras.backend.clear_session()
    inputs = keras.Input(shape=(3,))
    theirs = keras.Model(inputs, Scale(3.0)(keras.layers.Dense(2)(inputs)))
    theirs.save(tmp_path / "k.keras")
    ours = og.load_model(tmp_path / "k.keras", custom_objects={"archive_test>Scale": OgScale})
    x = rand(2, 3)
    np.testing.assert_allclose(outputs(ours, x)[0], outputs(theirs, x)[0], rtol=1e-6)
    ours.save(tmp_path / "o.keras")
    back = keras.saving.load_model(tmp_path / "o.keras", custom_objects={"archive_test>OgScale": Scale})
    np.testing.assert_allclose(outputs(back, x)[0], outputs(theirs, x)[0], rtol=1e-6)


def test_sequential_built_without_an_input_layer(tmp_path):
    keras.backend.clear_session()
    theirs = keras.Sequential([keras.layers.Dense(3, activation="relu"), keras.layers.Dense(2)])
    theirs.build((None, 4))
    theirs.save(tmp_path / "s.keras")
    ours = og.load_model(tmp_path / "s.keras")
    x = rand(2, 4)
    np.testing.assert_allclose(outputs(ours, x)[0], outputs(theirs, x)[0], rtol=1e-6, atol=1e-6)


def test_our_weights_file_loads_back_into_onnxgraph(tmp_path):
    ours = recurrent(og)
    randomize(ours, seed=4)
    ours.save_weights(tmp_path / "o.weights.h5")
    again = recurrent(og)
    again.load_weights(tmp_path / "o.weights.h5")
    x = inputs_for(recurrent)
    np.testing.assert_array_equal(outputs(again, x)[0], outputs(ours, x)[0])
    with pytest.raises(ValueError, match="end in '.weights.h5'"):
        ours.save_weights(tmp_path / "o.h5")


def test_subclassed_model_weights_in_keras_layout(tmp_path):
    def build(lib):
        class Net(lib.Model):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.encoder = lib.layers.Dense(5, activation="relu")
                self.blocks = [lib.layers.Dense(5), lib.layers.Dense(5)]
                self.head = lib.layers.Dense(2)

            def call(self, x):
                x = self.encoder(x)
                for block in self.blocks:
                    x = block(x)
                return self.head(x)
        return Net(name="net")
    keras.backend.clear_session()
    theirs, ours, x = build(keras), build(og), rand(3, 4)
    theirs(x), ours(x)
    randomize(theirs, seed=6)
    ours.set_weights([np.asarray(w) for w in theirs.get_weights()])
    theirs.save_weights(tmp_path / "k.weights.h5")
    ours.save_weights(tmp_path / "o.weights.h5")
    want, got = h5_layout(tmp_path / "k.weights.h5"), h5_layout(tmp_path / "o.weights.h5")
    assert sorted(k for k in got if "vars/" in k) == sorted(k for k in want if "vars/" in k)
    reloaded = build(keras)
    reloaded(x)
    reloaded.load_weights(tmp_path / "o.weights.h5")
    np.testing.assert_allclose(outputs(reloaded, x)[0], outputs(theirs, x)[0], rtol=1e-6)


def test_to_json_and_model_from_json_both_ways():
    ours = multi_io(og)
    ours.compile(optimizer="adam", loss="mse")
    text = ours.to_json()
    clone = og.models.model_from_json(text)
    assert clone.to_json() == text and clone.compiled
    assert [layer.name for layer in clone.layers] == [layer.name for layer in ours.layers]
    theirs = keras.models.model_from_json(text)
    assert [layer.name for layer in theirs.layers] == [layer.name for layer in ours.layers]
    keras.backend.clear_session()
    back = og.models.model_from_json(recurrent(keras).to_json())
    assert back.count_params() == recurrent(og).count_params()
