"""A custom RNN written from scratch (a Python loop over time steps) inside a functional model.

The batch size is static (`batch_shape`) because CustomRNN builds its zero state from it.

Run:  python samples/custom_rnn.py
"""

import numpy as np

import onnxgraph as keras
from onnxgraph import layers, ops

units = 32
timesteps = 10
input_dim = 5
batch_size = 16


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


def main():
    # Note that you specify a static batch size for the inputs with the `batch_shape`
    # arg, because the inner computation of `CustomRNN` requires a static batch size
    # (when you create the `state` zeros tensor).
    inputs = keras.Input(batch_shape=(batch_size, timesteps, input_dim))
    x = layers.Conv1D(32, 3)(inputs)
    outputs = CustomRNN()(x)

    model = keras.Model(inputs, outputs)
    model.summary()

    rnn_model = CustomRNN()
    _ = rnn_model(ops.zeros((1, 10, 5)))

    data = np.random.default_rng(0).standard_normal((batch_size, timesteps, input_dim)).astype("float32")
    result = model.predict(data, verbose=0)
    print("model output:", result.shape)  # Conv1D (valid, kernel 3) leaves 8 steps
    assert result.shape == (batch_size, timesteps - 2, 1)
    # The unrolled loop, in numpy: the Python for-loop became 8 steps of ONNX nodes.
    rnn = model.layers[2]
    (k1, b1), (k2, b2), (kc, bc) = [layer.get_weights() for layer in
                                    (rnn.projection_1, rnn.projection_2, rnn.classifier)]
    seq = keras.Model(inputs, x).predict(data, verbose=0)  # the Conv1D features feeding CustomRNN
    state, steps = np.zeros((batch_size, units), "float32"), []
    for t in range(seq.shape[1]):
        state = np.tanh(seq[:, t] @ k1 + b1) + np.tanh(state @ k2 + b2)
        steps.append(state)
    np.testing.assert_allclose(result, np.stack(steps, 1) @ kc + bc, rtol=1e-4, atol=1e-4)
    print("matches a numpy unrolling of the same loop")


if __name__ == "__main__":
    main()
