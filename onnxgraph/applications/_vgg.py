"""VGG16 and VGG19 (Keras layer names, shapes and parameter counts)."""

from __future__ import annotations

from onnxgraph import layers
from onnxgraph.applications import _imagenet_utils as utils

__all__ = ["VGG16", "VGG19"]

_URL = "tensorflow/keras-applications/{name}/"


def _vgg(depths, include_top, weights, input_tensor, input_shape, pooling, classes, classifier_activation,
         name, file_stem):
    from onnxgraph.models import Model

    utils.validate_weights(weights, include_top, classes)
    input_shape = utils.obtain_input_shape(input_shape, default_size=224, min_size=32,
                                           require_flatten=include_top, weights=weights)
    image, inputs = utils.image_input(input_tensor, input_shape)
    x = image
    for block, (filters, convs) in enumerate(zip((64, 128, 256, 512, 512), depths), start=1):
        for i in range(1, convs + 1):
            x = layers.Conv2D(filters, (3, 3), activation="relu", padding="same", name=f"block{block}_conv{i}")(x)
        x = layers.MaxPooling2D((2, 2), strides=(2, 2), name=f"block{block}_pool")(x)
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(4096, activation="relu", name="fc1")(x)
        x = layers.Dense(4096, activation="relu", name="fc2")(x)
        utils.validate_activation(classifier_activation, weights)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D()(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D()(x)
    model = Model(inputs, x, name=name)
    file_name = f"{file_stem}_weights_tf_dim_ordering_tf_kernels{'' if include_top else '_notop'}.h5"
    utils.load_model_weights(model, weights, file_name, _URL.format(name=name))
    return model


def VGG16(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
          classifier_activation="softmax", name="vgg16"):
    """VGG16 (Simonyan & Zisserman, 2015) as in `keras.applications.VGG16`.

    Args:
        include_top: include the three fully connected layers (then the input is 224x224x3).
        weights: None (random), a path to a Keras weights file, or "imagenet" (read from
            Keras's download cache; onnxgraph does not download).
        input_tensor: optional symbolic tensor to use as the image input.
        input_shape: (rows, cols, 3) without the top, each side >= 32.
        pooling: without the top: None (4D features), "avg" or "max" (2D features).
        classes: size of the classifier; classifier_activation: its activation.
        name: the model name.

    Returns:
        A functional Model (channels_last).

    Example:
        >>> model = VGG16(weights=None, include_top=False, input_shape=(64, 64, 3))
        >>> model.output.shape
        (None, 2, 2, 512)
    """
    return _vgg((2, 2, 3, 3, 3), include_top, weights, input_tensor, input_shape, pooling, classes,
                classifier_activation, name, "vgg16")


def VGG19(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
          classifier_activation="softmax", name="vgg19"):
    """VGG19 as in `keras.applications.VGG19` (arguments as `VGG16`).

    Example:
        >>> vgg19 = VGG19(weights=None, include_top=False, input_shape=(32, 32, 3))
        >>> features = Model(vgg19.input, [layer.output for layer in vgg19.layers])
    """
    return _vgg((2, 2, 4, 4, 4), include_top, weights, input_tensor, input_shape, pooling, classes,
                classifier_activation, name, "vgg19")
