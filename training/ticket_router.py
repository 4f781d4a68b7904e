"""The guide's multi-input, multi-output ticket router, trained on the guide's synthetic data.

Inputs: an issue title and body (variable-length word ids) and 12 binary tags. Outputs: a
priority logit and 4 department logits, trained with per-output losses and loss weights given
as dicts keyed by output name, exactly as in the guide (the targets are random, as there: the
point is the wiring). Writes the trained `ticket_router.onnx`.

Run:  python training/ticket_router.py [--epochs 2] [--samples 1280] [--out ticket_router.onnx]
"""

from __future__ import annotations

import argparse

import numpy as np

import onnxgraph as keras
from onnxgraph import layers

NUM_TAGS = 12  # Number of unique issue tags
NUM_WORDS = 10000  # Size of vocabulary obtained when preprocessing text data
NUM_DEPARTMENTS = 4  # Number of departments for predictions


def build_model() -> keras.Model:
    title_input = keras.Input(shape=(None,), name="title", dtype="int64")  # variable-length sequence of ints
    body_input = keras.Input(shape=(None,), name="body", dtype="int64")
    tags_input = keras.Input(shape=(NUM_TAGS,), name="tags")  # binary vectors of size NUM_TAGS

    title_features = layers.Embedding(NUM_WORDS, 64)(title_input)  # each word -> 64 numbers
    body_features = layers.Embedding(NUM_WORDS, 64)(body_input)
    title_features = layers.LSTM(128)(title_features)  # the title -> one 128-dimensional vector
    body_features = layers.LSTM(32)(body_features)  # the body -> one 32-dimensional vector
    x = layers.concatenate([title_features, body_features, tags_input])

    priority_pred = layers.Dense(1, name="priority")(x)  # logistic regression for priority
    department_pred = layers.Dense(NUM_DEPARTMENTS, name="department")(x)  # department classifier
    return keras.Model(inputs=[title_input, body_input, tags_input],
                       outputs={"priority": priority_pred, "department": department_pred})


def synthetic_data(samples: int, seed: int = 0):
    """The guide's dummy data: random titles (12 words), bodies (100 words), tags and targets."""
    rng = np.random.default_rng(seed)
    inputs = {"title": rng.integers(NUM_WORDS, size=(samples, 12)),
              "body": rng.integers(NUM_WORDS, size=(samples, 100)),
              "tags": rng.integers(2, size=(samples, NUM_TAGS)).astype("float32")}
    targets = {"priority": rng.random(size=(samples, 1)).astype("float32"),
               "department": rng.integers(2, size=(samples, NUM_DEPARTMENTS)).astype("float32")}
    return inputs, targets


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--samples", type=int, default=1280)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--verbose", type=int, default=1)
    parser.add_argument("--out", default="ticket_router.onnx")
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(0)
    model = build_model()
    model.summary()
    model.compile(
        optimizer=keras.optimizers.RMSprop(1e-3),
        loss={"priority": keras.losses.BinaryCrossentropy(from_logits=True),
              "department": keras.losses.CategoricalCrossentropy(from_logits=True)},
        loss_weights={"priority": 1.0, "department": 0.2},
    )
    x, y = synthetic_data(args.samples)
    history = model.fit(x, y, epochs=args.epochs, batch_size=args.batch_size, verbose=args.verbose)
    print("history keys:", sorted(history.history))
    preds = model.predict({k: v[:2] for k, v in x.items()}, verbose=0)
    print("priority logits:", np.array2string(preds["priority"].ravel(), precision=3))
    print("department logits:\n", np.array2string(preds["department"], precision=3))
    model.save(args.out)
    print(f"saved {args.out}")
    return history.history


if __name__ == "__main__":
    main()
