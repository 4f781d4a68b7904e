"""Extend the API with a custom layer: CustomDense, with get_config for serialization.

Run:  python samples/custom_dense.py
"""

import numpy as np

import onnxgraph as keras
from onnxgraph import layers, ops


@keras.saving.register_serializable(package="samples")
class CustomDense(layers.Layer):
    def __init__(self, units=32):
        super().__init__()
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(
            shape=(input_shape[-1], self.units),
            initializer="random_normal",
            trainable=True,
        )
        self.b = self.add_weight(
            shape=(self.units,), initializer="random_normal", trainable=True
        )

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b

    def get_config(self):
        return {"units": self.units}


def main():
    inputs = keras.Input((4,))
    outputs = CustomDense(10)(inputs)

    model = keras.Model(inputs, outputs)
    config = model.get_config()

    new_model = keras.Model.from_config(config, custom_objects={"CustomDense": CustomDense})
    new_model.set_weights(model.get_weights())

    x = np.random.default_rng(0).standard_normal((3, 4)).astype("float32")
    w, b = model.get_weights()
    np.testing.assert_allclose(model.predict(x, verbose=0), x @ w + b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(new_model.predict(x, verbose=0), x @ w + b, rtol=1e-5, atol=1e-6)

    model.save("custom_dense.onnx")  # registered by name: loads without custom_objects
    restored = keras.load_model("custom_dense.onnx")
    np.testing.assert_allclose(restored.predict(x, verbose=0), x @ w + b, rtol=1e-5, atol=1e-6)
    print("CustomDense: from_config and load_model reproduce x @ w + b;", type(restored.layers[1]).__name__)


if __name__ == "__main__":
    main()
