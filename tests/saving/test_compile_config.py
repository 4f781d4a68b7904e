"""Saved models come back compiled (optimizer, loss, metrics) and, with the optimizer state,
train on exactly as before: in `.keras` archives both ways with Keras, and in `.onnx` files."""

import warnings

import numpy as np
import pytest

import onnxgraph as og
from tests.conftest import rand

keras = pytest.importorskip("keras")
pytest.importorskip("h5py")

X, Y = rand(16, 5, seed=1), rand(16, 2, seed=2)


def build(lib):
    inputs = lib.Input(shape=(5,))
    x = lib.layers.Dense(6, activation="tanh")(inputs)
    x = lib.layers.BatchNormalization()(x)
    return lib.Model(inputs, lib.layers.Dense(2)(x))


def optimizer(lib, kind):
    return {"adam": lambda: lib.optimizers.Adam(0.01, amsgrad=True),
            "rmsprop": lambda: lib.optimizers.RMSprop(0.01, momentum=0.5, centered=True),
            "sgd": lambda: lib.optimizers.SGD(0.05, momentum=0.9)}[kind]()


def fit(model, epochs=2):
    model.fit(X, Y, batch_size=8, epochs=epochs, shuffle=False, verbose=0)


def same_weights(a, b, rtol=2e-4):
    for x, y in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=2e-5)


@pytest.mark.parametrize("kind", ["adam", "rmsprop", "sgd"])
def test_keras_resumes_training_from_our_archive(tmp_path, kind):
    ours = build(og)
    ours.compile(optimizer=optimizer(og, kind), loss="mse", metrics=["mae"])
    fit(ours)
    ours.save(tmp_path / "m.keras")
    theirs = keras.saving.load_model(tmp_path / "m.keras")
    assert int(theirs.optimizer.iterations) == ours.optimizer.iterations == 4
    np.testing.assert_allclose(theirs.evaluate(X, Y, verbose=0), ours.evaluate(X, Y, verbose=0), rtol=1e-5)
    fit(ours, 1)
    fit(theirs, 1)  # the slots Keras loaded continue the same trajectory
    same_weights(ours, theirs)


@pytest.mark.parametrize("kind", ["adam", "rmsprop", "sgd"])
def test_we_resume_training_from_keras_archive(tmp_path, kind):
    keras.backend.clear_session()
    theirs = build(keras)
    theirs.compile(optimizer=optimizer(keras, kind), loss="mse", metrics=["mae"])
    fit(theirs)
    theirs.save(tmp_path / "k.keras")
    ours = og.load_model(tmp_path / "k.keras")
    assert ours.compiled and type(ours.optimizer).__name__ == type(theirs.optimizer).__name__
    assert ours.optimizer.iterations == 4
    np.testing.assert_allclose(ours.evaluate(X, Y, verbose=0), theirs.evaluate(X, Y, verbose=0), rtol=1e-5)
    fit(theirs, 1)
    fit(ours, 1)
    same_weights(ours, theirs)


def test_compile_false_and_uncompiled_models(tmp_path):
    keras.backend.clear_session()
    theirs = build(keras)
    theirs.compile(optimizer="adam", loss="mse")
    theirs.save(tmp_path / "k.keras")  # compiled, never trained: Keras saves no slots yet
    assert not og.load_model(tmp_path / "k.keras", compile=False).compiled
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = og.load_model(tmp_path / "k.keras")
    assert loaded.compiled and loaded.optimizer.iterations == 0
    fit(loaded, 1)
    plain = build(og)
    plain.save(tmp_path / "plain.keras")
    assert not keras.saving.load_model(tmp_path / "plain.keras").compiled
    assert not og.load_model(tmp_path / "plain.keras").compiled


def test_onnx_keeps_compile_config_and_optimizer_state_on_request(tmp_path):
    model = build(og)
    model.compile(optimizer=og.optimizers.Adam(0.01), loss=og.losses.Huber(delta=0.5),
                  metrics=["mae", og.metrics.RootMeanSquaredError()])
    fit(model)
    model.save(tmp_path / "lean.onnx")
    model.save(tmp_path / "full.onnx", include_optimizer=True)
    lean, full = og.load_model(tmp_path / "lean.onnx"), og.load_model(tmp_path / "full.onnx")
    want = model.evaluate(X, Y, verbose=0, return_dict=True)
    for loaded in (lean, full):
        assert loaded.compiled and loaded.optimizer.learning_rate == pytest.approx(0.01)
        got = loaded.evaluate(X, Y, verbose=0, return_dict=True)
        assert sorted(got) == sorted(want)
        for key in want:
            assert got[key] == pytest.approx(want[key], rel=1e-5)
    assert lean.optimizer.iterations == 0 and full.optimizer.iterations == 4
    fit(model, 1)
    fit(full, 1)
    same_weights(model, full, rtol=1e-6)
    import onnx

    proto = onnx.load(tmp_path / "full.onnx")
    used = {i for node in proto.graph.node for i in node.input}
    stored = [t.name for t in proto.graph.initializer if t.name.startswith("onnxgraph.optimizer/")]
    assert stored and not used & set(stored)  # state is data beside the graph, never read by a node
    assert not [t for t in onnx.load(tmp_path / "lean.onnx").graph.initializer if t.name.startswith("onnxgraph.")]


def test_unresolvable_loss_loads_uncompiled_with_a_warning(tmp_path):
    def my_loss(y_true, y_pred):
        return og.ops.mean(og.ops.square(y_true - y_pred), axis=-1)

    model = build(og)
    model.compile(optimizer="sgd", loss=my_loss)
    model.save(tmp_path / "m.onnx")
    with pytest.warns(UserWarning, match="loaded uncompiled"):
        assert not og.load_model(tmp_path / "m.onnx").compiled
    restored = og.load_model(tmp_path / "m.onnx", custom_objects={"my_loss": my_loss})
    assert restored.compiled
    restored.evaluate(X, Y, verbose=0)
    with pytest.raises(ValueError, match="lambda"):
        model.compile(optimizer="sgd", loss=lambda a, b: a - b)
        model.save(tmp_path / "l.onnx")
