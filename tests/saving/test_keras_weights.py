"""model.load_weights on files written by Keras 3 itself: .weights.h5, .keras, legacy .h5."""

import zipfile

import numpy as np
import pytest

import onnxgraph as og
from tests.conftest import rand

keras = pytest.importorskip("keras")
pytest.importorskip("h5py")


def randomize(model, seed=0):
    rng = np.random.default_rng(seed)
    model.set_weights([np.abs(v) + 0.5 if "variance" in w.path else v for w, v in
                       ((w, rng.standard_normal(tuple(w.shape)).astype("float32") * 0.5) for w in model.weights)])


def keras_out(model, x):
    out = model(x)
    return [keras.ops.convert_to_numpy(o) for o in out] if isinstance(out, (list, tuple)) else keras.ops.convert_to_numpy(out)


def mlp(lib):
    """Functional model with a nested functional model, BN and an adapted Normalization."""
    inputs = lib.Input(shape=(6,))
    x = lib.layers.Normalization(name="norm")(inputs)
    x = lib.layers.Dense(8, activation="relu")(x)
    x = lib.layers.BatchNormalization()(x)
    inner_in = lib.Input(shape=(8,))
    inner = lib.Model(inner_in, lib.layers.Dense(4)(lib.layers.Dense(5, activation="tanh")(inner_in)), name="inner")
    x = inner(x)
    return lib.Model(inputs, [lib.layers.Dense(3, name="head")(x), lib.layers.Dense(1)(x)])


@pytest.fixture
def saved_mlp(tmp_path):
    keras.backend.clear_session()
    theirs = mlp(keras)
    theirs.get_layer("norm").adapt(rand(50, 6) * 3)
    randomize(theirs)
    paths = {"weights": tmp_path / "m.weights.h5", "keras": tmp_path / "m.keras", "legacy": tmp_path / "m.h5"}
    theirs.save_weights(paths["weights"])
    theirs.save(paths["keras"])
    theirs.save(paths["legacy"])
    return theirs, paths


@pytest.mark.parametrize("kind", ["weights", "keras", "legacy"])
def test_functional_with_nested_model_by_name(saved_mlp, kind):
    theirs, paths = saved_mlp
    ours = mlp(og)
    ours.load_weights(paths[kind])
    x = rand(4, 6)
    for got, want in zip(ours.predict(x, verbose=0), keras_out(theirs, x)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_array_equal(a, np.asarray(b))


def test_other_auto_names_fall_back_to_keras_structure(saved_mlp):
    theirs, paths = saved_mlp
    og.layers.Dense(1), og.layers.Dense(1), og.layers.BatchNormalization()  # shift the auto-name counters
    ours = mlp(og)
    assert ours.layers[3].name == "batch_normalization_1"
    ours.load_weights(paths["weights"])
    x = rand(3, 6)
    for got, want in zip(ours.predict(x, verbose=0), keras_out(theirs, x)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_sequential_models(tmp_path):
    def build(lib):
        return lib.Sequential([lib.Input(shape=(5, 5, 2)), lib.layers.Conv2D(3, 3, padding="same"),
                               lib.layers.BatchNormalization(), lib.layers.ReLU(), lib.layers.Flatten(),
                               lib.layers.Dense(2)])
    keras.backend.clear_session()
    theirs = build(keras)
    randomize(theirs, seed=1)
    theirs.save_weights(tmp_path / "s.weights.h5")
    ours = build(og)
    ours.load_weights(tmp_path / "s.weights.h5")
    x = rand(2, 5, 5, 2)
    np.testing.assert_allclose(ours.predict(x, verbose=0), keras_out(theirs, x), rtol=1e-5, atol=1e-5)


def test_recurrent_attention_and_wrapper_layers(tmp_path):
    def build(lib):
        inputs = lib.Input(shape=(5, 4))
        x = lib.layers.Bidirectional(lib.layers.LSTM(3, return_sequences=True))(inputs)
        x = lib.layers.MultiHeadAttention(num_heads=2, key_dim=3)(x, x)
        x = lib.layers.TimeDistributed(lib.layers.Dense(4))(x)
        return lib.Model(inputs, lib.layers.GRU(2)(x))
    keras.backend.clear_session()
    theirs = build(keras)
    randomize(theirs, seed=2)
    theirs.save_weights(tmp_path / "r.weights.h5")
    ours = build(og)
    ours.load_weights(tmp_path / "r.weights.h5")
    x = rand(2, 5, 4)
    np.testing.assert_allclose(ours.predict(x, verbose=0), keras_out(theirs, x), rtol=1e-5, atol=1e-5)


def test_custom_layer_sublayers_follow_attribute_names(tmp_path):
    def build(lib, base):
        class Block(base):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.second = lib.layers.Dense(3)  # assigned first: first in `weights`
                self.first = lib.layers.Dense(3)

            def call(self, x):
                return self.first(x) * self.second(x)

        inputs = lib.Input(shape=(3,))
        return lib.Model(inputs, Block(name="block")(inputs))
    keras.backend.clear_session()
    theirs = build(keras, keras.layers.Layer)
    randomize(theirs, seed=3)
    theirs.save_weights(tmp_path / "c.weights.h5")
    ours = build(og, og.layers.Layer)
    ours.load_weights(tmp_path / "c.weights.h5")
    x = rand(2, 3)
    np.testing.assert_allclose(ours.predict(x, verbose=0), keras_out(theirs, x), rtol=1e-5, atol=1e-6)


def test_mismatch_errors_name_the_layer_and_leave_the_model_unchanged(saved_mlp):
    _, paths = saved_mlp
    inputs = og.Input(shape=(6,))
    x = og.layers.Normalization(name="norm")(inputs)
    x = og.layers.Dense(7, activation="relu", name="dense")(x)  # 7 units where the file has 8
    x = og.layers.Dense(2, name="extra")(x)
    ours = og.Model(inputs, x)
    before = ours.get_weights()
    with pytest.raises(ValueError) as info:
        ours.load_weights(paths["weights"])
    message = str(info.value)
    assert "layer 'dense' weight 'kernel': the model expects shape (6, 7), the file has (6, 8)" in message
    assert "layer 'extra' (Dense, weights [kernel (7, 2), bias (2,)]) has no entry in the file" in message
    assert "the file has weights for layers the model does not have" in message and "'inner'" in message
    assert "skip_mismatch=True" in message
    for a, b in zip(ours.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    with pytest.warns(UserWarning, match="skipped"):
        ours.load_weights(paths["weights"], skip_mismatch=True)
    assert not np.array_equal(ours.get_layer("norm").get_weights()[0], before[0])  # the matching layer loaded


def test_legacy_mismatch_and_bad_files(saved_mlp, tmp_path):
    _, paths = saved_mlp
    inputs = og.Input(shape=(6,))
    ours = og.Model(inputs, og.layers.Dense(3, name="head")(og.layers.Dense(8, name="dense")(inputs)))
    with pytest.raises(ValueError, match=r"(?s)layer 'head' weight 'kernel': the model expects shape \(8, 3\), the "
                                         r"file has \(4, 3\).*does not have: \['norm', 'batch_normalization', 'inner'"):
        ours.load_weights(paths["legacy"])
    with pytest.raises(FileNotFoundError, match="no file"):
        ours.load_weights(tmp_path / "nope.weights.h5")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match="neither an HDF5 weights file nor a .keras archive"):
        ours.load_weights(tmp_path / "junk.h5")
    with zipfile.ZipFile(tmp_path / "empty.keras", "w") as archive:
        archive.writestr("config.json", "{}")
    with pytest.raises(ValueError, match="without model.weights.h5"):
        ours.load_weights(tmp_path / "empty.keras")


def test_subclassed_models(tmp_path):
    def build(lib):
        class Net(lib.Model):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.encoder = lib.layers.Dense(5, activation="relu")
                self.norm = lib.layers.BatchNormalization()
                self.head = lib.layers.Dense(2)

            def call(self, x):
                return self.head(self.norm(self.encoder(x)))
        return Net(name="net")
    keras.backend.clear_session()
    theirs = build(keras)
    x = rand(3, 4)
    theirs(x)
    randomize(theirs, seed=5)
    theirs.save_weights(tmp_path / "sub.weights.h5")
    ours = build(og)
    ours(x)
    ours.load_weights(tmp_path / "sub.weights.h5")
    np.testing.assert_allclose(ours.predict(x, verbose=0), keras_out(theirs, x), rtol=1e-5, atol=1e-6)
