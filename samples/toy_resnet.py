"""A toy ResNet for CIFAR10-sized images: residual connections, training, and edge exports.

Data: random images and labels (no download), enough to run the guide's training step.
Writes mini_resnet.png (with graphviz), toy_resnet.onnx, toy_resnet_fp16.onnx, toy_resnet_int8.onnx.

Run:  python samples/toy_resnet.py [--samples 1000]
"""

import argparse
import shutil

import numpy as np

import onnxgraph as keras
from onnxgraph import layers


def build_model():
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args(argv)

    model = build_model()
    model.summary()
    if shutil.which("dot"):
        keras.utils.plot_model(model, "mini_resnet.png", show_shapes=True)

    rng = np.random.default_rng(0)
    x_train = rng.random((args.samples, 32, 32, 3)).astype("float32")
    y_train = np.eye(10, dtype="float32")[rng.integers(10, size=args.samples)]
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3),
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True), metrics=["acc"])
    model.fit(x_train, y_train, batch_size=64, epochs=args.epochs, validation_split=0.2, verbose=2)

    model.save("toy_resnet.onnx")
    print(model.export("toy_resnet_fp16.onnx", fp16=True, verbose=False))
    print(model.export("toy_resnet_int8.onnx", quantize="static", calibration_data=x_train[:128], verbose=False))


if __name__ == "__main__":
    main()
