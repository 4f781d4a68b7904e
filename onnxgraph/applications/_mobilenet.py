"""MobileNet (v1; Howard et al., 2017) with `keras.applications.MobileNet` layer names."""

from __future__ import annotations

import warnings

from onnxgraph import layers
from onnxgraph.applications import _imagenet_utils as utils

__all__ = ["MobileNet"]

# (pointwise filters, stride) of the 13 depthwise separable blocks.
_BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 1), (512, 1),
           (512, 1), (1024, 2), (1024, 1)]
_SIZES = (128, 160, 192, 224)


def _depthwise_conv_block(x, filters, alpha, depth_multiplier, stride, block_id):
    if stride != 1:
        x = layers.ZeroPadding2D(((0, 1), (0, 1)), name=f"conv_pad_{block_id}")(x)
    x = layers.DepthwiseConv2D((3, 3), padding="same" if stride == 1 else "valid", depth_multiplier=depth_multiplier,
                               strides=stride, use_bias=False, name=f"conv_dw_{block_id}")(x)
    x = layers.BatchNormalization(axis=-1, name=f"conv_dw_{block_id}_bn")(x)
    x = layers.ReLU(6.0, name=f"conv_dw_{block_id}_relu")(x)
    x = layers.Conv2D(int(filters * alpha), (1, 1), padding="same", use_bias=False, strides=(1, 1),
                      name=f"conv_pw_{block_id}")(x)
    x = layers.BatchNormalization(axis=-1, name=f"conv_pw_{block_id}_bn")(x)
    return layers.ReLU(6.0, name=f"conv_pw_{block_id}_relu")(x)


def MobileNet(input_shape=None, alpha=1.0, depth_multiplier=1, dropout=1e-3, include_top=True, weights="imagenet",
              input_tensor=None, pooling=None, classes=1000, classifier_activation="softmax", name=None):
    """MobileNet as in `keras.applications.MobileNet` (4,253,864 parameters at alpha=1.0).

    Args:
        input_shape: (rows, cols, 3); each side >= 32. Square 128/160/192/224 inputs set the
            default size used in the model name and for ImageNet weights.
        alpha: width multiplier of the pointwise convolutions; depth_multiplier: of the depthwise ones.
        dropout: dropout rate before the classifier.
        include_top: include the pooling + 1x1 convolution classifier.
        weights: None (random), a path to a Keras weights file, or "imagenet" (read from
            Keras's download cache; onnxgraph does not download).
        input_tensor: optional symbolic tensor to use as the image input.
        pooling: without the top: None, "avg" or "max".
        classes: size of the classifier; classifier_activation: its activation.
        name: the model name (default "mobilenet_{alpha:.2f}_{rows}").

    Returns:
        A functional Model (channels_last).

    Example:
        >>> model = MobileNet(input_shape=(32, 32, 3), include_top=False, weights=None)
        >>> model.output.shape
        (None, 1, 1, 1024)
    """
    from onnxgraph.models import Model

    utils.validate_weights(weights, include_top, classes)
    input_shape = utils.mobile_input_shape(input_shape, input_tensor, _SIZES, include_top, weights)
    rows = input_shape[0]
    if weights == "imagenet":
        if depth_multiplier != 1:
            raise ValueError("If imagenet weights are being loaded, depth multiplier must be 1. "
                             f"Received depth_multiplier={depth_multiplier}")
        if alpha not in (0.25, 0.50, 0.75, 1.0):
            raise ValueError("If imagenet weights are being loaded, alpha can be one of `0.25`, `0.50`, `0.75` "
                             f"or `1.0` only. Received alpha={alpha}")
        if rows != input_shape[1] or rows not in _SIZES:
            rows = 224
            warnings.warn("`input_shape` is undefined or non-square, or `rows` is not in [128, 160, 192, 224]. "
                          "Weights for input shape (224, 224) will be loaded as the default.", stacklevel=2)
    image, inputs = utils.image_input(input_tensor, input_shape)
    x = layers.Conv2D(int(32 * alpha), (3, 3), padding="same", use_bias=False, strides=(2, 2), name="conv1")(image)
    x = layers.BatchNormalization(axis=-1, name="conv1_bn")(x)
    x = layers.ReLU(6.0, name="conv1_relu")(x)
    for block_id, (filters, stride) in enumerate(_BLOCKS, start=1):
        x = _depthwise_conv_block(x, filters, alpha, depth_multiplier, stride, block_id)
    if include_top:
        x = layers.GlobalAveragePooling2D(keepdims=True)(x)
        x = layers.Dropout(dropout, name="dropout")(x)
        x = layers.Conv2D(classes, (1, 1), padding="same", name="conv_preds")(x)
        x = layers.Reshape((classes,), name="reshape_2")(x)
        utils.validate_activation(classifier_activation, weights)
        x = layers.Activation(activation=classifier_activation, name="predictions")(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D()(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D()(x)
    model = Model(inputs, x, name=name or f"mobilenet_{alpha:0.2f}_{rows}")
    alpha_text = {1.0: "1_0", 0.75: "7_5", 0.50: "5_0"}.get(alpha, "2_5")
    file_name = f"mobilenet_{alpha_text}_{rows}_tf{'' if include_top else '_no_top'}.h5"
    utils.load_model_weights(model, weights, file_name, "tensorflow/keras-applications/mobilenet/")
    return model
