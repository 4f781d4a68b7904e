"""Ensembling: three models called on one input, their predictions averaged in one model.

Run:  python samples/ensemble.py
"""

import numpy as np

import onnxgraph as keras
from onnxgraph import layers


def get_model():
    inputs = keras.Input(shape=(128,))
    outputs = layers.Dense(1)(inputs)
    return keras.Model(inputs, outputs)


def main():
    model1 = get_model()
    model2 = get_model()
    model3 = get_model()

    inputs = keras.Input(shape=(128,))
    y1 = model1(inputs)
    y2 = model2(inputs)
    y3 = model3(inputs)
    outputs = layers.average([y1, y2, y3])
    ensemble_model = keras.Model(inputs=inputs, outputs=outputs)
    ensemble_model.summary()

    x = np.random.default_rng(0).standard_normal((4, 128)).astype("float32")
    mean = np.mean([m.predict(x, verbose=0) for m in (model1, model2, model3)], axis=0)
    np.testing.assert_allclose(ensemble_model.predict(x, verbose=0), mean, rtol=1e-5, atol=1e-6)
    print("ensemble prediction == mean of the three models:", ensemble_model.predict(x, verbose=0).ravel())


if __name__ == "__main__":
    main()
