"""The guide's mix-and-match section: functional/Sequential models inside subclassed layers and
models, and subclassed layers inside functional models, checked against numpy."""

import numpy as np
import pytest

import onnxgraph as keras
from onnxgraph import layers, ops
from tests.conftest import check_onnx, rand

units, timesteps, input_dim, batch_size = 32, 10, 5, 16


def _dense(layer, x, act=lambda v: v):
    w, b = layer.get_weights()
    return act(x @ w + b)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def make_classifier(activation=None):
    """The guide's functional model: GlobalAveragePooling1D then Dense(1)."""
    inputs = keras.Input((None, units))
    if hasattr(layers, "GlobalAveragePooling1D"):
        x = layers.GlobalAveragePooling1D()(inputs)
    else:  # the same computation without the pooling layer
        x = ops.mean(inputs, axis=1)
    outputs = layers.Dense(1, activation=activation)(x)
    return keras.Model(inputs, outputs)


class CustomRNN(layers.Layer):
    def __init__(self, classifier):
        super().__init__()
        self.units = units
        self.projection_1 = layers.Dense(units=units, activation="tanh")
        self.projection_2 = layers.Dense(units=units, activation="tanh")
        # Our previously-defined Functional model
        self.classifier = classifier

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
        print(features.shape)
        return self.classifier(features)


def rnn_reference(layer, x, activation=lambda v: v):
    state = np.zeros((x.shape[0], units), "float32")
    outputs = []
    for t in range(x.shape[1]):
        y = _dense(layer.projection_1, x[:, t, :], np.tanh) + _dense(layer.projection_2, state, np.tanh)
        state = y
        outputs.append(y)
    pooled = np.stack(outputs, axis=1).mean(axis=1)
    return _dense(layer.classifier.layers[-1], pooled, activation)


@pytest.mark.parametrize("activation,act_ref", [(None, lambda v: v), ("sigmoid", _sigmoid)],
                         ids=["keras3_guide", "tf2_guide_sigmoid"])
def test_functional_model_inside_a_subclassed_layer(activation, act_ref, capsys):
    rnn_model = CustomRNN(make_classifier(activation))
    result = rnn_model(ops.zeros((1, timesteps, input_dim)))
    assert "(1, 10, 32)" in capsys.readouterr().out  # the guide's print(features.shape)
    assert result.shape == (1, 1)
    np.testing.assert_allclose(result, rnn_reference(rnn_model, np.zeros((1, timesteps, input_dim), "float32"),
                                                     act_ref), rtol=1e-5, atol=1e-6)
    data = rand(3, timesteps, input_dim)
    np.testing.assert_allclose(rnn_model(data), rnn_reference(rnn_model, data, act_ref), rtol=1e-4, atol=1e-5)
    # The functional model's weights belong to the custom layer too.
    assert len(rnn_model.weights) == 6


def test_subclassed_layer_inside_a_functional_model_with_static_batch():
    inputs = keras.Input(batch_shape=(batch_size, timesteps, input_dim))
    x = layers.Dense(units)(inputs) if not hasattr(layers, "Conv1D") else layers.Conv1D(32, 3)(inputs)
    rnn = CustomRNN(make_classifier())
    outputs = rnn(x)
    model = keras.Model(inputs, outputs)
    check_onnx(model)
    data = rand(batch_size, timesteps, input_dim)
    front = model.layers[1]
    if isinstance(front, layers.Dense):
        features = _dense(front, data)
    else:
        kernel, bias = front.get_weights()
        features = np.stack([np.einsum("bki,kio->bo", data[:, t:t + 3], kernel) for t in range(8)], 1) + bias
    np.testing.assert_allclose(model.predict(data, verbose=0), rnn_reference(rnn, features), rtol=1e-4, atol=1e-5)


class Head(keras.Model):
    """A subclassed model holding a Sequential and a functional model."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.encoder = keras.Sequential([layers.Dense(8, activation="relu"), layers.Dense(4)])
        inputs = keras.Input((4,))
        self.decoder = keras.Model(inputs, layers.Dense(2)(inputs), name="decoder")

    def call(self, inputs):
        return self.decoder(self.encoder(inputs)) * 2.0


def test_sequential_and_functional_inside_a_subclassed_model(tmp_path):
    head = Head()
    x = rand(5, 6)
    got = head(x)
    enc1, enc2 = head.encoder.layers
    want = _dense(head.decoder.layers[-1], _dense(enc2, _dense(enc1, x, lambda v: np.maximum(v, 0)))) * 2
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(head.predict(x, verbose=0), want, rtol=1e-5, atol=1e-6)
    assert len(head.weights) == 6 and head.count_params() == 6 * 8 + 8 + 8 * 4 + 4 + 4 * 2 + 2
    head.save(tmp_path / "head.onnx")
    restored = keras.load_model(tmp_path / "head.onnx", custom_objects={"Head": Head})
    np.testing.assert_allclose(restored.predict(x, verbose=0), want, rtol=1e-5, atol=1e-6)


@keras.saving.register_serializable(package="tests_mix")
class Gate(layers.Layer):
    """A subclassed layer used in functional and Sequential models."""

    def __init__(self, width, **kwargs):
        super().__init__(**kwargs)
        self.width = width
        self.proj = layers.Dense(width)

    def call(self, inputs):
        return self.proj(inputs) * ops.sigmoid(inputs[:, : self.width])

    def get_config(self):
        return {**super().get_config(), "width": self.width}


def gate_reference(gate, x):
    return _dense(gate.proj, x) * _sigmoid(x[:, : gate.width])


def test_subclassed_layer_in_functional_and_sequential_models_saves(tmp_path):
    inputs = keras.Input((6,))
    gate = Gate(3)
    model = keras.Model(inputs, layers.Dense(1)(gate(inputs)))
    x = rand(4, 6)
    want = _dense(model.layers[-1], gate_reference(gate, x))
    np.testing.assert_allclose(model.predict(x, verbose=0), want, rtol=1e-5, atol=1e-6)
    model.save(tmp_path / "functional.onnx")
    restored = keras.load_model(tmp_path / "functional.onnx")  # found by its registered name
    assert type(restored.layers[1]) is Gate and restored.layers[1].width == 3
    np.testing.assert_allclose(restored.predict(x, verbose=0), want, rtol=1e-5, atol=1e-6)

    seq = keras.Sequential([keras.Input((6,)), Gate(2), layers.Dense(1)])
    seq.save(tmp_path / "sequential.onnx")
    restored_seq = keras.load_model(tmp_path / "sequential.onnx")
    np.testing.assert_allclose(restored_seq.predict(x, verbose=0), seq.predict(x, verbose=0), rtol=1e-6)
    assert restored_seq.layers[0].get_config()["width"] == 2


def test_functional_model_wrapping_a_subclassed_model_and_ops():
    head = Head()
    inputs = keras.Input((6,))
    outputs = ops.concatenate([head(inputs), inputs[:, :2]], axis=-1)
    model = keras.Model(inputs, outputs)
    x = rand(3, 6)
    np.testing.assert_allclose(model.predict(x, verbose=0), np.concatenate([head(x), x[:, :2]], -1), rtol=1e-5)
    config = model.get_config()
    clone = keras.Model.from_config(config, custom_objects={"Head": Head})
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
