"""The guide's first model: a 784-64-64-10 MLP, trained on MNIST-like digits, saved and reloaded.

Data: scikit-learn's bundled 8x8 digits, upscaled to 28x28 (no download). Writes
my_first_model.png (with graphviz), my_model.onnx.

Run:  python samples/mnist_mlp.py [--epochs 2] [--samples 1797]
"""

import argparse
import importlib.util
import os
import shutil

import numpy as np

import onnxgraph as keras
from onnxgraph import layers


def mnist_like(samples):
    """scikit-learn's digits (8x8, 0..16) as 28x28 images in [0, 1], flattened like the guide's MNIST."""
    # Read the data file scikit-learn bundles (importing sklearn itself takes seconds).
    package = importlib.util.find_spec("sklearn").submodule_search_locations[0]
    data = np.loadtxt(os.path.join(package, "datasets", "data", "digits.csv.gz"), delimiter=",")
    images = np.kron(data[:, :-1].reshape(-1, 8, 8), np.ones((3, 3)))  # 24x24
    images = np.pad(images, ((0, 0), (2, 2), (2, 2))) / 16.0
    x = images.reshape(-1, 784).astype("float32")[:samples]
    return x, data[:, -1].astype("int64")[:samples]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--samples", type=int, default=1797)
    args = parser.parse_args(argv)

    inputs = keras.Input(shape=(784,))
    dense = layers.Dense(64, activation="relu")
    x = dense(inputs)
    x = layers.Dense(64, activation="relu")(x)
    outputs = layers.Dense(10)(x)
    model = keras.Model(inputs=inputs, outputs=outputs, name="mnist_model")
    model.summary()
    if shutil.which("dot"):
        keras.utils.plot_model(model, "my_first_model.png")
        keras.utils.plot_model(model, "my_first_model_with_shape_info.png", show_shapes=True)

    x_all, y_all = mnist_like(args.samples)
    split = int(0.8 * len(x_all))
    (x_train, y_train), (x_test, y_test) = (x_all[:split], y_all[:split]), (x_all[split:], y_all[split:])
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  optimizer=keras.optimizers.RMSprop(), metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=64, epochs=args.epochs, validation_split=0.2, verbose=2)
    test_scores = model.evaluate(x_test, y_test, verbose=2)
    print("Test loss:", test_scores[0])
    print("Test accuracy:", test_scores[1])

    model.save("my_model.onnx")
    expected = model.predict(x_test, verbose=0)
    del model
    model = keras.load_model("my_model.onnx")  # recreate the exact same model purely from the file
    np.testing.assert_allclose(model.predict(x_test, verbose=0), expected, rtol=1e-6)
    print("reloaded my_model.onnx: same predictions")


if __name__ == "__main__":
    main()
