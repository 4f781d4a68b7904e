"""The guide's toy ResNet, trained on CIFAR-10 read from the standard local python batches.

Reads `data_batch_1` .. `data_batch_5` and `test_batch` (the "CIFAR-10 python version":
pickled dicts with b"data", uint8 (N, 3072) in RGB planes, and b"labels") from a folder
you already have -- nothing is downloaded. The unpickler only admits the numpy types those
files contain, so a malicious file cannot run code. Like the guide it trains on the first
1,000 images by default (RMSprop, categorical cross-entropy from logits, "acc"), reports test
accuracy and writes the trained `toy_resnet.onnx`.

Run:  python training/toy_resnet_cifar10.py --data-dir ~/datasets/cifar-10-batches-py [--limit 1000]
"""

from __future__ import annotations

import argparse
import os

import numpy as np

import onnxgraph as keras
from onnxgraph import layers
from onnxgraph.datasets._pickle import DataOnlyUnpickler

TRAIN_FILES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_FILE = "test_batch"


def read_batch(path: str) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 python batch as (uint8 images (N, 32, 32, 3), int64 labels (N,))."""
    with open(path, "rb") as f:
        entry = DataOnlyUnpickler(f, encoding="bytes").load()
    if not isinstance(entry, dict) or b"data" not in entry or b"labels" not in entry:
        raise ValueError(f"{path} is not a CIFAR-10 python batch (expected a dict with b'data' and b'labels').")
    data = np.asarray(entry[b"data"], dtype=np.uint8)
    if data.ndim != 2 or data.shape[1] != 3072:
        raise ValueError(f"{path}: b'data' must have shape (N, 3072), got {data.shape}.")
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # stored as R, G, B planes
    labels = np.asarray(entry[b"labels"], dtype=np.int64)
    if labels.shape != (len(images),):
        raise ValueError(f"{path}: {len(labels)} labels for {len(images)} images.")
    return images, labels


def load_cifar10(data_dir: str):
    """((x_train, y_train), (x_test, y_test)) like keras.datasets.cifar10.load_data(), from local files."""
    data_dir = os.path.expanduser(data_dir)
    missing = [name for name in TRAIN_FILES + [TEST_FILE] if not os.path.isfile(os.path.join(data_dir, name))]
    if missing:
        raise FileNotFoundError(
            f"CIFAR-10 python batches not found in {data_dir!r} (missing {', '.join(missing)}). Download and "
            "extract 'CIFAR-10 python version' (cifar-10-python.tar.gz) from "
            "https://www.cs.toronto.edu/~kriz/cifar.html and pass its cifar-10-batches-py folder as --data-dir."
        )
    parts = [read_batch(os.path.join(data_dir, name)) for name in TRAIN_FILES]
    x_train = np.concatenate([images for images, _ in parts])
    y_train = np.concatenate([labels for _, labels in parts])
    x_test, y_test = read_batch(os.path.join(data_dir, TEST_FILE))
    return (x_train, y_train[:, None]), (x_test, y_test[:, None])


def build_model() -> keras.Model:
    """The guide's toy ResNet for 32x32x3 images (223,242 parameters)."""
    inputs = keras.Input(shape=(32, 32, 3), name="img")
    x = layers.Conv2D(32, 3, activation="relu")(inputs)
    x = layers.Conv2D(64, 3, activation="relu")(x)
    block_1_output = layers.MaxPooling2D(3)(x)

    x = layers.Conv2D(64, 3, activation="relu", padding="same")(block_1_output)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
    block_2_output = layers.add([x, block_1_output])

    x = layers.Conv2D(64, 3, activation="relu", padding="same")(block_2_output)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
    block_3_output = layers.add([x, block_2_output])

    x = layers.Conv2D(64, 3, activation="relu")(block_3_output)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(256, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(10)(x)
    return keras.Model(inputs, outputs, name="toy_resnet")


def one_hot(labels: np.ndarray, classes: int = 10) -> np.ndarray:
    return np.eye(classes, dtype="float32")[labels.reshape(-1)]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="folder holding data_batch_1..5 and test_batch")
    parser.add_argument("--limit", type=int, default=1000, help="train on the first N images (the guide: 1000)")
    parser.add_argument("--test-limit", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--verbose", type=int, default=1)
    parser.add_argument("--out", default="toy_resnet.onnx")
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(0)
    (x_train, y_train), (x_test, y_test) = load_cifar10(args.data_dir)
    x_train, y_train = x_train[:args.limit], y_train[:args.limit]
    x_test, y_test = x_test[:args.test_limit], y_test[:args.test_limit]
    x_train = x_train.astype("float32") / 255.0
    x_test = x_test.astype("float32") / 255.0
    y_train, y_test = one_hot(y_train), one_hot(y_test)

    model = build_model()
    model.summary()
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3),
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True), metrics=["acc"])
    history = model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs, validation_split=0.2,
                        verbose=args.verbose)
    test_loss, test_acc = model.evaluate(x_test, y_test, verbose=2)
    print(f"Test loss: {test_loss:.4f}  Test accuracy: {test_acc:.4f} (chance: 0.10)")
    model.save(args.out)
    print(f"saved {args.out}")
    return {"history": history.history, "test_loss": float(test_loss), "test_acc": float(test_acc)}


if __name__ == "__main__":
    main()
