"""Shared layers: one Embedding encodes two text inputs (same weights, two calls).

Run:  python samples/shared_embedding.py
"""

import numpy as np

import onnxgraph as keras
from onnxgraph import layers


def main():
    # Embedding for 1000 unique words mapped to 128-dimensional vectors
    shared_embedding = layers.Embedding(1000, 128)

    # Variable-length sequence of integers
    text_input_a = keras.Input(shape=(None,), dtype="int32")

    # Variable-length sequence of integers
    text_input_b = keras.Input(shape=(None,), dtype="int32")

    # Reuse the same layer to encode both inputs
    encoded_input_a = shared_embedding(text_input_a)
    encoded_input_b = shared_embedding(text_input_b)

    model = keras.Model([text_input_a, text_input_b], [encoded_input_a, encoded_input_b])
    model.summary()
    a = np.array([[1, 2, 3]], dtype="int32")
    b = np.array([[3, 2, 1, 0]], dtype="int32")
    out_a, out_b = model.predict([a, b], verbose=0)
    table = shared_embedding.get_weights()[0]
    np.testing.assert_array_equal(out_a[0], table[[1, 2, 3]])
    np.testing.assert_array_equal(out_b[0], table[[3, 2, 1, 0]])
    print("both inputs read one table:", out_a.shape, out_b.shape, "params:", model.count_params())


if __name__ == "__main__":
    main()
