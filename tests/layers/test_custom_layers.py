"""The guide's custom layers (CustomDense, get_config/from_config, CustomRNN) with onnxgraph imports."""

import numpy as np
import pytest

import onnxgraph as keras
from onnxgraph import layers, ops
from tests.conftest import check_onnx, rand


class CustomDense(layers.Layer):
    """The guide's first version: no get_config."""

    def __init__(self, units=32):
        super().__init__()
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal", trainable=True)
        self.b = self.add_weight(shape=(self.units,), initializer="random_normal", trainable=True)

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b


class SerializableDense(CustomDense):
    """The guide's second version: get_config returns the constructor arguments."""

    def get_config(self):
        return {"units": self.units}


def test_custom_dense_predicts_like_numpy():
    inputs = keras.Input((4,))
    outputs = CustomDense(10)(inputs)
    model = keras.Model(inputs, outputs)
    layer = model.layers[1]
    assert layer.name == "custom_dense" and layer.count_params() == 50
    w, b = layer.get_weights()
    assert w.shape == (4, 10) and b.shape == (10,) and np.std(w) > 0.01  # random_normal, not zeros
    x = rand(6, 4)
    np.testing.assert_allclose(model.predict(x, verbose=0), x @ w + b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model(x), x @ w + b, rtol=1e-5, atol=1e-6)
    proto = check_onnx(model)
    assert {init.name for init in proto.graph.initializer} >= {"custom_dense/variable_0", "custom_dense/variable_1"}
    assert [v.name for v in model.trainable_weights] == ["variable_0", "variable_1"]
    lines = []
    model.summary(print_fn=lines.append)
    assert "custom_dense (CustomDense)" in lines[0] and "Total params: 50 (200.00 B)" in lines[0]


def test_get_config_from_config_round_trip():
    inputs = keras.Input((4,))
    outputs = SerializableDense(10)(inputs)
    model = keras.Model(inputs, outputs)
    config = model.get_config()
    new_model = keras.Model.from_config(config, custom_objects={"SerializableDense": SerializableDense})
    assert isinstance(new_model.layers[1], SerializableDense) and new_model.layers[1].units == 10
    new_model.set_weights(model.get_weights())
    x = rand(3, 4)
    np.testing.assert_allclose(new_model.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    with pytest.raises(ValueError, match="Unknown layer class 'SerializableDense'.*custom_objects"):
        keras.Model.from_config(config)


def test_default_from_config_is_cls_of_config():
    layer = SerializableDense.from_config({"units": 7})
    assert isinstance(layer, SerializableDense) and layer.units == 7


def test_save_and_load_custom_layer(tmp_path):
    inputs = keras.Input((4,))
    model = keras.Model(inputs, SerializableDense(3)(inputs))
    model.save(tmp_path / "custom.onnx")
    restored = keras.load_model(tmp_path / "custom.onnx", custom_objects={"SerializableDense": SerializableDense})
    x = rand(2, 4)
    np.testing.assert_allclose(restored.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_layer_without_get_config_fails_to_load_with_a_clear_error(tmp_path):
    inputs = keras.Input((4,))
    keras.Model(inputs, CustomDense(3)(inputs)).save(tmp_path / "m.onnx")
    with pytest.raises(TypeError, match="get_config\\(\\) must return the arguments of __init__"):
        keras.load_model(tmp_path / "m.onnx", custom_objects={"CustomDense": CustomDense})


class CallArgs(layers.Layer):
    """call(inputs, training=None, mask=None): the guide's full call signature."""

    def build(self, input_shape):
        self.scale = self.add_weight(shape=(), initializer="ones", name="scale")
        self.count = self.add_weight(shape=(), initializer="zeros", trainable=False, name="count")

    def call(self, inputs, training=None, mask=None):
        y = inputs * self.scale
        if training:
            y = y * 0.5
        if mask is not None:
            y = y * ops.cast(mask, "float32")
        return y


def test_call_receives_training_and_mask():
    layer = CallArgs()
    x = keras.Input((3,))
    inference = keras.Model(x, layer(x))
    training = keras.Model(x, layer(x, training=True))
    masked = keras.Model(x, layer(x, mask=ops.greater(x, 0.0)))
    data = rand(2, 3)
    np.testing.assert_allclose(inference.predict(data, verbose=0), data, rtol=1e-6)
    np.testing.assert_allclose(training.predict(data, verbose=0), data * 0.5, rtol=1e-6)
    np.testing.assert_allclose(masked.predict(data, verbose=0), data * (data > 0), rtol=1e-6)
    assert [w.name for w in layer.trainable_weights] == ["scale"]
    assert [w.name for w in layer.non_trainable_weights] == ["count"]


def test_custom_layer_weights_train_with_fit():
    if not hasattr(keras.Model, "fit"):
        pytest.skip("training is not available in this build")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 4)).astype("float32")
    true_w = rng.standard_normal((4, 2)).astype("float32")
    y = x @ true_w + 0.5
    inputs = keras.Input((4,))
    model = keras.Model(inputs, SerializableDense(2)(inputs))
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=30, batch_size=32, verbose=0)
    after = model.evaluate(x, y, verbose=0)
    assert after < before * 0.2, (before, after)
    w, b = model.layers[1].get_weights()
    assert np.abs(w - true_w).mean() < np.abs(true_w).mean() * 0.5


# -- the guide's CustomRNN: a Python loop over time steps, unrolled at build time ------------
units, timesteps, input_dim, batch_size = 32, 10, 5, 16


class CustomRNN(layers.Layer):
    def __init__(self):
        super().__init__()
        self.units = units
        self.projection_1 = layers.Dense(units=units, activation="tanh")
        self.projection_2 = layers.Dense(units=units, activation="tanh")
        self.classifier = layers.Dense(1)

    def call(self, inputs):
        outputs = []
        state = ops.zeros(shape=(inputs.shape[0], self.units))
        for t in range(inputs.shape[1]):
            x = inputs[:, t, :]
            h = self.projection_1(x)
            y = h + self.projection_2(state)
            state = y
            outputs.append(y)
        features = ops.stack(outputs, axis=1)
        return self.classifier(features)


def _dense(layer, x, act=lambda v: v):
    w, b = layer.get_weights()
    return act(x @ w + b)


def custom_rnn_reference(layer, x):
    state = np.zeros((x.shape[0], units), "float32")
    outputs = []
    for t in range(x.shape[1]):
        y = _dense(layer.projection_1, x[:, t, :], np.tanh) + _dense(layer.projection_2, state, np.tanh)
        state = y
        outputs.append(y)
    return _dense(layer.classifier, np.stack(outputs, axis=1))


def conv1d_reference(layer, x):
    kernel, bias = layer.get_weights()
    width = kernel.shape[0]
    steps = x.shape[1] - width + 1
    return np.stack([np.einsum("bki,kio->bo", x[:, t:t + width], kernel) for t in range(steps)], axis=1) + bias


def test_custom_rnn_in_a_functional_model_with_static_batch():
    if not hasattr(layers, "Conv1D"):
        pytest.skip("Conv1D is not available in this build")
    inputs = keras.Input(batch_shape=(batch_size, timesteps, input_dim))
    x = layers.Conv1D(32, 3)(inputs)
    outputs = CustomRNN()(x)
    model = keras.Model(inputs, outputs)
    conv, rnn = model.layers[1], model.layers[2]
    assert outputs.shape == (16, 8, 1)
    # Sublayers are tracked: their weights belong to the custom layer.
    assert len(rnn.weights) == 6 and rnn.count_params() == 2 * (32 * 32 + 32) + 33
    check_onnx(model)
    data = rand(batch_size, timesteps, input_dim)
    want = custom_rnn_reference(rnn, conv1d_reference(conv, data))
    np.testing.assert_allclose(model.predict(data, verbose=0), want, rtol=1e-4, atol=1e-5)


def test_custom_rnn_called_eagerly_on_zeros():
    rnn_model = CustomRNN()
    result = rnn_model(ops.zeros((1, 10, 5)))
    assert isinstance(result, np.ndarray) and result.shape == (1, 10, 1)
    np.testing.assert_allclose(result, custom_rnn_reference(rnn_model, np.zeros((1, 10, 5), "float32")),
                               rtol=1e-5, atol=1e-6)
    data = rand(1, 10, 5)
    np.testing.assert_allclose(rnn_model(data), custom_rnn_reference(rnn_model, data), rtol=1e-4, atol=1e-5)


def test_custom_rnn_unrolls_into_one_graph():
    inputs = keras.Input(batch_shape=(2, 4, 3))
    model = keras.Model(inputs, CustomRNN()(inputs))
    nodes = [n.op_type for n in model.to_onnx().graph.node]
    # 4 steps x 2 projections (MatMul, Add, Tanh) + the classifier: the loop is unrolled.
    assert nodes.count("MatMul") == 4 * 2 + 1 and nodes.count("Tanh") == 8
    data = rand(2, 4, 3)
    np.testing.assert_allclose(model.predict(data, verbose=0), custom_rnn_reference(model.layers[1], data),
                               rtol=1e-4, atol=1e-5)
