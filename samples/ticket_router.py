"""Multiple inputs and outputs: rank support tickets by priority and route them to a department.

Inputs: title and body (word ids), tags (binary vector). Outputs: priority (one score) and
department (logits). Trained a little on dummy data, as in the guide.

Run:  python samples/ticket_router.py [--samples 1280] [--epochs 2]
"""

import argparse
import shutil

import numpy as np

import onnxgraph as keras
from onnxgraph import layers

num_tags = 12  # Number of unique issue tags
num_words = 10000  # Size of vocabulary obtained when preprocessing text data
num_departments = 4  # Number of departments for predictions


def build_model():
    title_input = keras.Input(shape=(None,), name="title")  # Variable-length sequence of ints
    body_input = keras.Input(shape=(None,), name="body")  # Variable-length sequence of ints
    tags_input = keras.Input(shape=(num_tags,), name="tags")  # Binary vectors of size `num_tags`

    # Embed each word in the title into a 64-dimensional vector
    title_features = layers.Embedding(num_words, 64)(title_input)
    # Embed each word in the text into a 64-dimensional vector
    body_features = layers.Embedding(num_words, 64)(body_input)

    # Reduce sequence of embedded words in the title into a single 128-dimensional vector
    title_features = layers.LSTM(128)(title_features)
    # Reduce sequence of embedded words in the body into a single 32-dimensional vector
    body_features = layers.LSTM(32)(body_features)

    # Merge all available features into a single large vector via concatenation
    x = layers.concatenate([title_features, body_features, tags_input])

    # Stick a logistic regression for priority prediction on top of the features
    priority_pred = layers.Dense(1, name="priority")(x)
    # Stick a department classifier on top of the features
    department_pred = layers.Dense(num_departments, name="department")(x)

    # Instantiate an end-to-end model predicting both priority and department
    return keras.Model(
        inputs=[title_input, body_input, tags_input],
        outputs={"priority": priority_pred, "department": department_pred},
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1280)
    parser.add_argument("--body-length", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args(argv)

    model = build_model()
    model.summary()
    if shutil.which("dot"):
        keras.utils.plot_model(model, "multi_input_and_output_model.png", show_shapes=True)

    model.compile(
        optimizer=keras.optimizers.RMSprop(1e-3),
        loss={
            "priority": keras.losses.BinaryCrossentropy(from_logits=True),
            "department": keras.losses.CategoricalCrossentropy(from_logits=True),
        },
        loss_weights={"priority": 1.0, "department": 0.2},
    )

    # Dummy input data
    rng = np.random.default_rng(0)
    title_data = rng.integers(num_words, size=(args.samples, 12))
    body_data = rng.integers(num_words, size=(args.samples, args.body_length))
    tags_data = rng.integers(2, size=(args.samples, num_tags)).astype("float32")

    # Dummy target data
    priority_targets = rng.random(size=(args.samples, 1)).astype("float32")
    dept_targets = rng.integers(2, size=(args.samples, num_departments)).astype("float32")

    history = model.fit(
        {"title": title_data, "body": body_data, "tags": tags_data},
        {"priority": priority_targets, "department": dept_targets},
        epochs=args.epochs,
        batch_size=32,
        verbose=2,
    )
    print("loss per epoch:", [round(v, 4) for v in history.history["loss"]])
    predictions = model.predict({"title": title_data[:3], "body": body_data[:3], "tags": tags_data[:3]}, verbose=0)
    print("priority:", predictions["priority"].ravel(), "department:", predictions["department"].argmax(-1))


if __name__ == "__main__":
    main()
