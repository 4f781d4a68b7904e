"""ResNet50 (He et al., 2015) with `keras.applications` layer names."""

from __future__ import annotations

from onnxgraph import layers
from onnxgraph.applications import _imagenet_utils as utils

__all__ = ["ResNet50"]


def _block(x, filters, stride=1, conv_shortcut=True, name=None):
    """Bottleneck residual block (v1): 1x1 -> 3x3 -> 1x1 convs, BN after each, identity or conv shortcut."""
    if conv_shortcut:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(x)
        shortcut = layers.BatchNormalization(axis=3, epsilon=1.001e-5, name=f"{name}_0_bn")(shortcut)
    else:
        shortcut = x
    x = layers.Conv2D(filters, 1, strides=stride, name=f"{name}_1_conv")(x)
    x = layers.BatchNormalization(axis=3, epsilon=1.001e-5, name=f"{name}_1_bn")(x)
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = layers.Conv2D(filters, 3, padding="same", name=f"{name}_2_conv")(x)
    x = layers.BatchNormalization(axis=3, epsilon=1.001e-5, name=f"{name}_2_bn")(x)
    x = layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    x = layers.BatchNormalization(axis=3, epsilon=1.001e-5, name=f"{name}_3_bn")(x)
    x = layers.Add(name=f"{name}_add")([shortcut, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def _stack(x, filters, blocks, stride1=2, name=None):
    x = _block(x, filters, stride=stride1, name=f"{name}_block1")
    for i in range(2, blocks + 1):
        x = _block(x, filters, conv_shortcut=False, name=f"{name}_block{i}")
    return x


def ResNet50(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
             classes=1000, classifier_activation="softmax", name="resnet50"):
    """ResNet50 as in `keras.applications.ResNet50` (25,636,712 parameters with the top).

    Args:
        include_top: include the average pool + dense classifier (then the input is 224x224x3).
        weights: None (random), a path to a Keras weights file, or "imagenet" (read from
            Keras's download cache; onnxgraph does not download).
        input_tensor: optional symbolic tensor to use as the image input.
        input_shape: (rows, cols, 3) without the top, each side >= 32.
        pooling: without the top: None, "avg" or "max".
        classes: size of the classifier; classifier_activation: its activation.
        name: the model name.

    Returns:
        A functional Model (channels_last).

    Example:
        >>> model = ResNet50(weights=None, include_top=False, input_shape=(32, 32, 3), pooling="avg")
        >>> model.output.shape
        (None, 2048)
    """
    from onnxgraph.models import Model

    utils.validate_weights(weights, include_top, classes)
    input_shape = utils.obtain_input_shape(input_shape, default_size=224, min_size=32,
                                           require_flatten=include_top, weights=weights)
    image, inputs = utils.image_input(input_tensor, input_shape)
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(image)
    x = layers.Conv2D(64, 7, strides=2, use_bias=True, name="conv1_conv")(x)
    x = layers.BatchNormalization(axis=3, epsilon=1.001e-5, name="conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    x = _stack(x, 64, 3, stride1=1, name="conv2")
    x = _stack(x, 128, 4, name="conv3")
    x = _stack(x, 256, 6, name="conv4")
    x = _stack(x, 512, 3, name="conv5")
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        utils.validate_activation(classifier_activation, weights)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D(name="max_pool")(x)
    model = Model(inputs, x, name=name)
    file_name = f"resnet50_weights_tf_dim_ordering_tf_kernels{'' if include_top else '_notop'}.h5"
    utils.load_model_weights(model, weights, file_name, "tensorflow/keras-applications/resnet/")
    return model
