"""summary() prints like Keras 3: rows, parameter counts, totals with bytes."""

import onnxgraph as keras
from onnxgraph import layers


def summary_text(model, **kwargs):
    lines = []
    model.summary(print_fn=lines.append, **kwargs)
    return lines[0]


def test_mnist_summary_matches_guide_table():
    inputs = keras.Input(shape=(784,))
    x = layers.Dense(64, activation="relu")(inputs)
    x = layers.Dense(64, activation="relu")(x)
    model = keras.Model(inputs=inputs, outputs=layers.Dense(10)(x), name="mnist_model")
    text = summary_text(model)
    rows = [[c.strip() for c in line.strip("│").split("│")] for line in text.splitlines() if line.startswith("│")]
    assert rows == [
        ["input_layer (InputLayer)", "(None, 784)", "0"],
        ["dense (Dense)", "(None, 64)", "50,240"],
        ["dense_1 (Dense)", "(None, 64)", "4,160"],
        ["dense_2 (Dense)", "(None, 10)", "650"],
    ]
    assert text.splitlines()[0] == 'Model: "mnist_model"'
    assert "┃ Layer (type)" in text and "Connected to" not in text
    assert text.splitlines()[-3:] == [
        " Total params: 55,050 (215.04 KB)",
        " Trainable params: 55,050 (215.04 KB)",
        " Non-trainable params: 0 (0.00 B)",
    ]


def test_frozen_layer_counts_as_non_trainable_and_show_trainable():
    inputs = keras.Input(shape=(10,))
    frozen = layers.Dense(4)
    model = keras.Model(inputs, layers.Dense(2)(frozen(inputs)))
    frozen.trainable = False
    text = summary_text(model, show_trainable=True)
    assert " Trainable params: 10 (40.00 B)" in text and " Non-trainable params: 44 (176.00 B)" in text
    assert "│ N " in text.replace("  ", " ") or "N │" in text


def test_expand_nested_lists_inner_layers():
    inner_in = keras.Input(shape=(3,))
    inner = keras.Model(inner_in, layers.Dense(2, name="inner_dense")(inner_in), name="inner")
    x = keras.Input(shape=(3,))
    outer = keras.Model(x, inner(x), name="outer")
    assert "inner_dense" not in summary_text(outer)
    assert "inner_dense (Dense)" in summary_text(outer, expand_nested=True)
