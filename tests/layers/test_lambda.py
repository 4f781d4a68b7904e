"""layers.Lambda: the function emits ONNX nodes at graph-build time; loading never runs code from a file."""

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph import layers, ops


def _rand(*shape):
    return np.random.default_rng(0).random(shape, dtype=np.float32)


def test_lambda_slices_like_numpy_and_runs_from_the_onnx_graph():
    x = og.Input(shape=(10, 4))
    model = og.Model(x, layers.Lambda(lambda t: t[:, -3:, :] * 2.0)(x))
    data = _rand(2, 10, 4)
    assert model.outputs[0].shape == (None, 3, 4)
    np.testing.assert_allclose(model.predict(data, verbose=0), data[:, -3:, :] * 2.0, rtol=1e-6)


def test_lambda_arguments_are_passed():
    x = og.Input(shape=(3,))
    model = og.Model(x, layers.Lambda(lambda t, scale: ops.multiply(t, scale), arguments={"scale": 3.0})(x))
    data = _rand(2, 3)
    np.testing.assert_allclose(model(data), data * 3.0, rtol=1e-6)


def test_saved_lambda_is_refused_without_an_in_process_function(tmp_path):
    model = og.Sequential([og.Input(shape=(10, 4)), layers.Lambda(lambda t: t[:, -3:, :], name="last3")])
    data = _rand(1, 10, 4)
    for suffix in (".keras", ".onnx"):
        path = tmp_path / f"m{suffix}"
        model.save(path)
        for safe_mode in (True, False):  # safe_mode=False does not make onnxgraph run the file's bytecode
            with pytest.raises(ValueError, match=r"Lambda.*\('last3'\).*custom_objects=\{'last3'"):
                og.saving.load_model(path, safe_mode=safe_mode)
        revived = og.saving.load_model(path, custom_objects={"last3": lambda t: t[:, -3:, :]})
        np.testing.assert_allclose(revived(data), data[:, -3:, :])


def shift_by_one(t):
    return t + 1.0


def test_named_function_is_found_by_name_only(tmp_path):
    x = og.Input(shape=(2,))
    model = og.Model(x, layers.Lambda(shift_by_one)(x))
    entry = model.get_layer(index=1).get_config()["function"]
    assert entry["class_name"] == "function" and entry["config"] == "shift_by_one"
    model.save(tmp_path / "m.onnx")
    with pytest.raises(ValueError, match=r"calls function 'shift_by_one'.*custom_objects=\{'shift_by_one'"):
        og.saving.load_model(tmp_path / "m.onnx")
    revived = og.saving.load_model(tmp_path / "m.onnx", custom_objects={"shift_by_one": shift_by_one})
    np.testing.assert_allclose(revived(np.ones((1, 2), "float32")), [[2.0, 2.0]])


def test_keras_reads_the_saved_lambda(tmp_path):
    keras = pytest.importorskip("keras")
    model = og.Sequential([og.Input(shape=(10, 4)), layers.Lambda(lambda t: t[:, -3:, :])])
    data = _rand(1, 10, 4)
    model.save(tmp_path / "m.keras")
    revived = keras.saving.load_model(tmp_path / "m.keras", safe_mode=False)
    np.testing.assert_allclose(np.asarray(revived(data)), model(data), rtol=1e-6)
