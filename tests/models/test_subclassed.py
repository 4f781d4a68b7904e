"""Subclassed models: the guide's MLP, built on first call, eager and symbolic, summary, save/load."""

import numpy as np
import pytest

import onnxgraph as keras
from onnxgraph import layers, ops
from tests.conftest import check_onnx, rand


class MLP(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense_1 = layers.Dense(64, activation="relu")
        self.dense_2 = layers.Dense(10)

    def call(self, inputs):
        x = self.dense_1(inputs)
        return self.dense_2(x)


def mlp_reference(model, x):
    w1, b1, w2, b2 = model.get_weights()
    return np.maximum(x @ w1 + b1, 0) @ w2 + b2


def test_guide_mlp_is_built_by_its_first_call():
    mlp = MLP()
    assert not mlp.built and mlp.weights == []
    with pytest.raises(AttributeError, match="built when first called"):
        mlp.inputs
    out = mlp(ops.zeros((1, 32)))
    assert isinstance(out, np.ndarray) and out.shape == (1, 10)
    assert mlp.built and mlp.name == "mlp"
    assert [layer.name for layer in mlp.layers] == ["dense", "dense_1"]
    assert [w.shape for w in mlp.get_weights()] == [(32, 64), (64,), (64, 10), (10,)]
    x = rand(7, 32)
    np.testing.assert_allclose(mlp(x), mlp_reference(mlp, x), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(mlp.predict(x, verbose=0), mlp_reference(mlp, x), rtol=1e-5, atol=1e-5)


def test_summary_lists_sublayers_with_shapes_and_params():
    mlp = MLP()
    mlp(ops.zeros((1, 32)))
    lines = []
    mlp.summary(print_fn=lines.append)
    text = lines[0]
    assert 'Model: "mlp"' in text
    assert "dense (Dense)" in text and "(None, 64)" in text and "2,112" in text
    assert "dense_1 (Dense)" in text and "(None, 10)" in text and "650" in text
    assert "Total params: 2,762 (10.79 KB)" in text


def test_onnx_has_a_symbolic_batch():
    mlp = MLP()
    mlp(ops.zeros((1, 32)))
    proto = check_onnx(mlp)
    assert [i.name for i in proto.graph.input] == ["inputs"]
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    x = rand(33, 32)  # any batch size, though the first call had batch 1
    np.testing.assert_allclose(mlp.predict(x, batch_size=8, verbose=0), mlp_reference(mlp, x), rtol=1e-5, atol=1e-5)


def test_save_needs_registration_or_custom_objects(tmp_path):
    mlp = MLP()
    mlp(ops.zeros((1, 32)))
    mlp.save(tmp_path / "mlp.onnx")
    with pytest.raises(ValueError, match="Unknown layer class 'MLP'.*custom_objects=.*register_serializable"):
        keras.load_model(tmp_path / "mlp.onnx")
    restored = keras.load_model(tmp_path / "mlp.onnx", custom_objects={"MLP": MLP})
    assert isinstance(restored, MLP) and restored.name == "mlp"
    x = rand(4, 32)
    np.testing.assert_allclose(restored.predict(x, verbose=0), mlp_reference(mlp, x), rtol=1e-5, atol=1e-5)


def test_registered_subclass_loads_by_name(tmp_path):
    @keras.saving.register_serializable(package="tests_subclassed")
    class Tower(keras.Model):
        def __init__(self, hidden=16, **kwargs):
            super().__init__(**kwargs)
            self.hidden = hidden
            self.body = layers.Dense(hidden, activation="tanh")
            self.head = layers.Dense(1)

        def call(self, inputs):
            return self.head(self.body(inputs))

        def get_config(self):
            return {**super().get_config(), "hidden": self.hidden}

    tower = Tower(hidden=8, name="tower")
    x = rand(5, 3)
    tower(x)
    tower.save(tmp_path / "tower.onnx")
    restored = keras.load_model(tmp_path / "tower.onnx")
    assert isinstance(restored, Tower) and restored.hidden == 8 and restored.name == "tower"
    np.testing.assert_allclose(restored(x), tower(x), rtol=1e-6)
    clone = Tower.from_config(tower.get_config())
    assert clone.hidden == 8 and not clone.built


def test_subclassed_model_called_on_symbolic_tensors_nests():
    mlp = MLP()
    inputs = keras.Input(shape=(32,))
    outputs = layers.Activation("softmax")(mlp(inputs))
    model = keras.Model(inputs, outputs)
    assert [layer.name for layer in model.layers] == ["input_layer", "mlp", "activation"]
    check_onnx(model)
    x = rand(3, 32)
    logits = mlp_reference(mlp, x)
    want = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    np.testing.assert_allclose(model.predict(x, verbose=0), want, rtol=1e-5, atol=1e-6)
    # The nested model shares its weights: eager calls of the MLP see the same values.
    np.testing.assert_allclose(mlp(x), logits, rtol=1e-5, atol=1e-5)


class TwoTower(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.left = layers.Dense(4)
        self.right = layers.Dense(4)

    def build(self, input_shape):
        self.built_with = input_shape
        self.mix = self.add_weight(shape=(4,), initializer="ones", name="mix")

    def call(self, inputs, training=None):
        a, b = inputs
        y = self.left(a) + self.right(b) * self.mix
        return [y, ops.sum(y, axis=-1)]


def test_multiple_inputs_outputs_and_a_user_build():
    model = TwoTower()
    a, b = rand(2, 3, seed=1), rand(2, 5, seed=2)
    y, total = model([a, b])
    assert model.built_with == [(2, 3), (2, 5)]
    assert model.input_names == ["inputs_0", "inputs_1"] and model.output_names == ["output_0", "output_1"]
    left_w, left_b = model.left.get_weights()
    right_w, right_b = model.right.get_weights()
    want = a @ left_w + left_b + (b @ right_w + right_b) * model.mix.numpy()
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)
    got = model.predict([a, b], verbose=0)
    np.testing.assert_allclose(got[0], want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[1], want.sum(-1), rtol=1e-5, atol=1e-5)
    assert [w.name for w in model.weights] == ["mix", "kernel", "bias", "kernel", "bias"]


class StatefulLoop(keras.Model):
    """Needs a static batch inside call (ops.zeros), like the guide's CustomRNN."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.cell = layers.Dense(3, activation="tanh")

    def call(self, inputs):
        state = ops.zeros((inputs.shape[0], 3))
        for t in range(inputs.shape[1]):
            state = self.cell(ops.concatenate([inputs[:, t], state], axis=-1))
        return state


def test_static_batch_model_exports_with_its_first_batch():
    model = StatefulLoop()
    x = rand(2, 4, 5)
    eager = model(x)
    proto = check_onnx(model)
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 2
    np.testing.assert_allclose(model.predict(x, verbose=0), eager, rtol=1e-6)
    w, b = model.cell.get_weights()
    state = np.zeros((2, 3), "float32")
    for t in range(4):
        state = np.tanh(np.concatenate([x[:, t], state], -1) @ w + b)
    np.testing.assert_allclose(eager, state, rtol=1e-5, atol=1e-6)


def test_eager_calls_in_a_loop_reuse_the_compiled_graph(monkeypatch):
    from onnxgraph.layers import _eager

    compiled = []
    original = _eager._compile
    monkeypatch.setattr(_eager, "_compile", lambda *a: compiled.append(1) or original(*a))
    mlp = MLP()
    for i in range(20):
        mlp(rand(2, 32, seed=i))
    assert len(compiled) == 1


def test_subclassed_model_trains_with_fit():
    if not hasattr(keras.Model, "fit"):
        pytest.skip("training is not available in this build")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((256, 32)).astype("float32")
    y = (x[:, :10] > 0).astype("float32")
    mlp = MLP()
    mlp(x[:1])
    mlp.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss="mse")
    before = mlp.evaluate(x, y, verbose=0)
    mlp.fit(x, y, epochs=10, batch_size=32, verbose=0)
    assert mlp.evaluate(x, y, verbose=0) < before * 0.7
