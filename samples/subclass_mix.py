"""Mix-and-match API styles: a subclassed MLP, and a functional model used inside a custom layer.

Run:  python samples/subclass_mix.py
"""

import numpy as np

import onnxgraph as keras
from onnxgraph import layers, ops

units = 32
timesteps = 10
input_dim = 5


class MLP(keras.Model):

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense_1 = layers.Dense(64, activation="relu")
        self.dense_2 = layers.Dense(10)

    def call(self, inputs):
        x = self.dense_1(inputs)
        return self.dense_2(x)


# Define a Functional model
inputs = keras.Input((None, units))
x = layers.GlobalAveragePooling1D()(inputs)
outputs = layers.Dense(1)(x)
model = keras.Model(inputs, outputs)


class CustomRNN(layers.Layer):
    def __init__(self):
        super().__init__()
        self.units = units
        self.projection_1 = layers.Dense(units=units, activation="tanh")
        self.projection_2 = layers.Dense(units=units, activation="tanh")
        # Our previously-defined Functional model
        self.classifier = model

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


def main():
    # Functional and subclassed versions of the same MLP.
    functional_inputs = keras.Input(shape=(32,))
    h = layers.Dense(64, activation="relu")(functional_inputs)
    mlp_functional = keras.Model(functional_inputs, layers.Dense(10)(h))

    mlp = MLP()
    # Necessary to create the model's state.
    # The model doesn't have a state until it's called at least once.
    _ = mlp(ops.zeros((1, 32)))
    mlp.set_weights(mlp_functional.get_weights())
    x = np.random.default_rng(0).standard_normal((3, 32)).astype("float32")
    np.testing.assert_allclose(np.asarray(mlp(x)), mlp_functional.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    print("subclassed MLP == functional MLP with the same weights")

    rnn_model = CustomRNN()
    out = rnn_model(ops.zeros((1, timesteps, input_dim)))
    print("CustomRNN on zeros:", np.asarray(out).shape)
    assert np.asarray(out).shape == (1, 1)


if __name__ == "__main__":
    main()
