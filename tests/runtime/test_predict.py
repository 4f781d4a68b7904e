"""predict/__call__ on onnxruntime: structures, batching, session caching, errors that teach."""

import subprocess
import sys

import numpy as np
import pytest

import onnxgraph as keras
from onnxgraph import layers
from tests.conftest import rand


def three_input_model():
    title = keras.Input(shape=(None,), name="title", dtype="int64")
    body = keras.Input(shape=(5,), name="body")
    tags = keras.Input(shape=(3,), name="tags")
    x = layers.concatenate([body, tags])
    n = layers.Dense(1, name="len")(layers.Activation("linear")(body))
    return keras.Model([title, body, tags], {"score": layers.Dense(2, name="score")(x), "n": n})


def test_batching_concatenates_like_one_run():
    inputs = keras.Input(shape=(4,))
    model = keras.Model(inputs, layers.Dense(3, activation="relu")(inputs))
    x = rand(103, 4)
    whole = model.predict(x, batch_size=1000, verbose=0)
    np.testing.assert_array_equal(model.predict(x, batch_size=10, verbose=0), whole)
    assert model.predict(x[:1], verbose=0).shape == (1, 3)


def test_progress_bar_prints_like_keras(capsys):
    inputs = keras.Input(shape=(4,))
    model = keras.Model(inputs, layers.Dense(3)(inputs))
    model.predict(rand(70, 4), batch_size=32)
    out = capsys.readouterr().out
    assert "3/3" in out and "━" in out and "/step" in out
    model.predict(rand(70, 4), verbose=0)
    assert capsys.readouterr().out == ""


def test_float64_and_lists_are_converted():
    inputs = keras.Input(shape=(2,))
    layer = layers.Dense(1)
    model = keras.Model(inputs, layer(inputs))
    y = model.predict([[1.0, 2.0], [3.0, 4.0]], verbose=0)
    w, b = layer.get_weights()
    np.testing.assert_allclose(y, np.array([[1, 2], [3, 4]], "float32") @ w + b, rtol=1e-6)


def test_session_cached_and_rebuilt_after_set_weights():
    inputs = keras.Input(shape=(2,))
    layer = layers.Dense(1)
    model = keras.Model(inputs, layer(inputs))
    x = rand(3, 2)
    model.predict(x, verbose=0)
    runner = model._runner()
    first = runner.session
    model.predict(x, verbose=0)
    layers.Dense(4)(keras.Input(shape=(2,)))  # weights created elsewhere do not invalidate
    model.predict(x, verbose=0)
    assert runner.session is first
    layer.set_weights([np.ones((2, 1), "float32"), np.zeros(1, "float32")])
    np.testing.assert_allclose(model.predict(x, verbose=0), x.sum(1, keepdims=True), rtol=1e-6)
    assert runner.session is not first


def test_wrong_shape_names_input_expected_and_received():
    model = three_input_model()
    good = {"title": np.zeros((2, 7), "int64"), "body": rand(2, 5), "tags": rand(2, 3)}
    assert set(model.predict(good, verbose=0)) == {"score", "n"}
    with pytest.raises(ValueError, match=r"Input 'body' expects shape \(None, 5\), received an array of shape \(2, 4\)"):
        model.predict({**good, "body": rand(2, 4)}, verbose=0)
    with pytest.raises(ValueError, match=r"Input 'tags' expects shape \(None, 3\), received an array of shape \(3,\)"):
        model.predict({**good, "tags": np.zeros(3, "float32")}, verbose=0)


def test_wrong_dtype_names_input():
    model = three_input_model()
    bad = {"title": rand(2, 7), "body": rand(2, 5), "tags": rand(2, 3)}
    with pytest.raises(ValueError, match=r"Input 'title' expects dtype int64, received dtype float32"):
        model.predict(bad, verbose=0)
    with pytest.raises(ValueError, match=r"Input 'body' expects dtype float32, received dtype <U1"):
        model.predict({**bad, "title": np.zeros((2, 7), "int64"), "body": np.full((2, 5), "a")}, verbose=0)


def test_missing_or_extra_inputs():
    model = three_input_model()
    with pytest.raises(ValueError, match=r"Missing input 'body': the model expects inputs \['title', 'body', 'tags'\]"):
        model.predict({"title": np.zeros((1, 2), "int64"), "tags": rand(1, 3)}, verbose=0)
    with pytest.raises(ValueError, match=r"expects 3 inputs \['title', 'body', 'tags'\], received a list of 2"):
        model.predict([np.zeros((1, 2), "int64"), rand(1, 5)], verbose=0)
    # Keras ignores keys that are not inputs; onnxgraph says so (a typo would otherwise go unseen).
    with pytest.warns(UserWarning, match=r"key\(s\) \['extra'\] are not inputs of model 'functional' and are ignored"):
        model.predict({"title": np.zeros((1, 2), "int64"), "body": rand(1, 5), "tags": rand(1, 3), "extra": 1}, verbose=0)
    with pytest.raises(ValueError, match="same batch size"):
        model.predict({"title": np.zeros((1, 2), "int64"), "body": rand(2, 5), "tags": rand(1, 3)}, verbose=0)


def test_eager_call_returns_numpy_structure():
    model = three_input_model()
    out = model([np.zeros((2, 4), "int64"), rand(2, 5), rand(2, 3)])
    assert isinstance(out, dict) and out["score"].shape == (2, 2)
    dense = layers.Dense(3)
    y = dense(np.ones((2, 4), "float32"))
    assert isinstance(y, np.ndarray) and y.shape == (2, 3)
    np.testing.assert_allclose(y, np.ones((2, 4)) @ dense.get_weights()[0] + dense.get_weights()[1], rtol=1e-6)


def test_providers_argument():
    inputs = keras.Input(shape=(2,))
    model = keras.Model(inputs, layers.Dense(1)(inputs))
    model.predict(rand(1, 2), providers="cpu", verbose=0)
    assert model._runner("cpu").session.get_providers() == ["CPUExecutionProvider"]
    with pytest.raises(ValueError, match="providers must be"):
        model.predict(rand(1, 2), providers="tpu", verbose=0)


def test_missing_runtime_names_the_extra():
    code = (
        "import sys; sys.modules['onnxruntime'] = None\n"
        "import numpy as np, onnxgraph as og\n"
        "i = og.Input(shape=(2,)); m = og.Model(i, og.layers.Dense(1)(i))\n"
        "try:\n    m.predict(np.zeros((1, 2), 'float32'), verbose=0)\n"
        "except ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert 'pip install "onnxgraph[cpu]"' in out and "onnxgraph[train]" in out


def test_models_over_the_protobuf_limit_run_from_memory(monkeypatch):
    from onnxgraph.runtime import _runner

    inputs = keras.Input(shape=(600,))
    layer = layers.Dense(500)
    model = keras.Model(inputs, layer(inputs))
    x = rand(3, 600)
    want = x @ layer.get_weights()[0] + layer.get_weights()[1]
    monkeypatch.setattr(_runner, "IN_MEMORY_THRESHOLD", 1000)  # 1.2 MB kernel counts as "large"
    np.testing.assert_allclose(model.predict(x, verbose=0), want, rtol=1e-5, atol=1e-5)
    assert list(model._runner().session._onnxgraph_buffers) == ["dense/kernel"]
