"""Shared pieces of the applications: input shapes, weights, preprocessing (Keras rules)."""

from __future__ import annotations

import os
import warnings

import numpy as np

from onnxgraph import activations
from onnxgraph.backend.ir import SymbolicTensor

__all__ = ["mobile_input_shape", "obtain_input_shape", "validate_weights", "validate_activation", "image_input",
           "load_model_weights", "preprocess_input", "correct_pad"]

_KERAS_DOWNLOADS = "https://storage.googleapis.com/"


def validate_weights(weights, include_top: bool, classes: int) -> None:
    """Keras's checks on `weights` and `classes`, before any layer is built."""
    if not (weights in {"imagenet", None} or (isinstance(weights, (str, os.PathLike)) and os.path.exists(weights))):
        raise ValueError(
            "The `weights` argument should be either `None` (random initialization), 'imagenet' "
            f"(pre-training on ImageNet), or the path to the weights file to be loaded. Received: weights={weights}"
        )
    if weights == "imagenet" and include_top and classes != 1000:
        raise ValueError("If using `weights='imagenet'` with `include_top=True`, `classes` should be 1000. "
                         f"Received classes={classes}")


def validate_activation(classifier_activation, weights) -> None:
    """Pretrained heads only allow a softmax or no activation (as in Keras)."""
    if weights is None:
        return
    if activations.get(classifier_activation) not in (activations.get("softmax"), activations.get(None)):
        raise ValueError("Only `None` and `softmax` activations are allowed for the `classifier_activation` "
                         "argument when using pretrained weights, with `include_top=True`; Received: "
                         f"classifier_activation={classifier_activation}")


def obtain_input_shape(input_shape, default_size: int, min_size: int, require_flatten: bool, weights=None):
    """The model's input shape (channels_last), validated like `keras.applications`."""
    if weights != "imagenet" and input_shape and len(input_shape) == 3:
        if input_shape[-1] not in {1, 3}:
            warnings.warn(f"This model usually expects 1 or 3 input channels. However, it was passed an "
                          f"input_shape with {input_shape[-1]} input channels.", stacklevel=3)
        default_shape = (default_size, default_size, input_shape[-1])
    else:
        default_shape = (default_size, default_size, 3)
    if weights == "imagenet" and require_flatten:
        if input_shape is not None and tuple(input_shape) != default_shape:
            raise ValueError(f"When setting `include_top=True` and loading `imagenet` weights, `input_shape` "
                             f"should be {default_shape}. Received: input_shape={input_shape}")
        return default_shape
    if input_shape:
        input_shape = tuple(input_shape)
        if len(input_shape) != 3:
            raise ValueError(f"`input_shape` must be a tuple of three integers (rows, cols, channels); "
                             f"received input_shape={input_shape}.")
        if input_shape[-1] != 3 and weights == "imagenet":
            raise ValueError(f"The input must have 3 channels; Received `input_shape={input_shape}`")
        if any(d is not None and d < min_size for d in input_shape[:2]):
            raise ValueError(f"Input size must be at least {min_size}x{min_size}; Received: input_shape={input_shape}")
    else:
        input_shape = default_shape if require_flatten else (None, None, 3)
    if require_flatten and None in input_shape:
        raise ValueError(f"If `include_top` is True, you should specify a static `input_shape`. "
                         f"Received: input_shape={input_shape}")
    return input_shape


def image_input(input_tensor, input_shape):
    """(image tensor, model inputs): a new Input, or the given tensor and the Inputs it comes from."""
    from onnxgraph.layers import Input

    if input_tensor is None:
        image = Input(shape=input_shape)
        return image, image
    if not isinstance(input_tensor, SymbolicTensor) or input_tensor._keras_history is None:
        raise ValueError(f"`input_tensor` must be a symbolic tensor from Input() or a layer; got {input_tensor!r}.")
    return input_tensor, _source_inputs(input_tensor)


def _source_inputs(tensor):
    found, stack, seen = [], [tensor], set()
    while stack:
        x = stack.pop()
        if x.id in seen:
            continue
        seen.add(x.id)
        layer, node_index, _ = x._keras_history
        node = layer._inbound_nodes[node_index]
        if not node.input_tensors:
            found.append(x)
        stack.extend(node.input_tensors)
    return found[0] if len(found) == 1 else found


def load_model_weights(model, weights, file_name: str, url_path: str) -> None:
    """weights=None: keep the initializers; a path: load it; "imagenet": Keras's cached download.

    onnxgraph does not download: "imagenet" reads the file Keras keeps in its cache
    (`$KERAS_HOME/models`, default `~/.keras/models`) after `keras.applications` fetched it once.
    """
    if weights is None:
        return
    if weights == "imagenet":
        cache = os.path.join(os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras")), "models")
        path = os.path.join(cache, file_name)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"weights='imagenet' needs Keras's ImageNet weight file {file_name}, which is not in {cache}. "
                f"onnxgraph does not download: fetch it once (e.g. run keras.applications with weights="
                f"'imagenet', or download {_KERAS_DOWNLOADS}{url_path}{file_name}), then pass "
                f"weights='<path to {file_name}>' or put it in {cache}. Use weights=None for random weights."
            )
        weights = path
    model.load_weights(weights)


def correct_pad(inputs, kernel_size):
    """Zero padding for a stride-2 'valid' convolution that behaves like Keras's 'same'."""
    size = inputs.shape[1:3]
    if isinstance(kernel_size, int):
        kernel_size = (kernel_size, kernel_size)
    adjust = (1, 1) if size[0] is None else (1 - size[0] % 2, 1 - size[1] % 2)
    correct = (kernel_size[0] // 2, kernel_size[1] // 2)
    return ((correct[0] - adjust[0], correct[0]), (correct[1] - adjust[1], correct[1]))


def preprocess_input(x, mode: str):
    """Keras ImageNet preprocessing of a channels_last RGB batch (numpy), by mode.

    "caffe" (VGG, ResNet50): RGB -> BGR, then subtract the ImageNet mean per channel.
    "tf" (MobileNetV2): scale to [-1, 1]. "torch": scale to [0, 1], then standardize.
    """
    x = np.array(x, dtype=np.float32 if not np.issubdtype(np.asarray(x).dtype, np.floating) else None, copy=True)
    if mode == "tf":
        return x / 127.5 - 1.0
    if mode == "torch":
        return (x / 255.0 - np.array([0.485, 0.456, 0.406], x.dtype)) / np.array([0.229, 0.224, 0.225], x.dtype)
    if mode == "caffe":
        return x[..., ::-1] - np.array([103.939, 116.779, 123.68], x.dtype)
    raise ValueError(f"preprocess_input: unknown mode {mode!r}; use 'caffe', 'tf' or 'torch'.")


def mobile_input_shape(input_shape, input_tensor, sizes, include_top: bool, weights):
    """The MobileNets' input shape: a square input of one of `sizes` is the default size (for the
    model name and ImageNet weights), any other 224; each side >= 32 (Keras's rule)."""
    if input_shape is None and input_tensor is not None:
        rows, cols = input_tensor.shape[1:3]
    elif input_shape is not None:
        rows, cols = input_shape[0], input_shape[1]
    else:
        rows = cols = None
    default_size = rows if rows == cols and rows in sizes else 224
    return obtain_input_shape(input_shape, default_size=default_size, min_size=32,
                              require_flatten=include_top, weights=weights)
