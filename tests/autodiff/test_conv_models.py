"""The guide's conv models differentiated end to end: every gradient equals PyTorch autograd's.

The Keras functional-API guide's toy ResNet and autoencoder, replayed as training graphs, with
loss = sum(output * R); the same network written with torch.nn.functional on the same
(ONNX-layout) weights gives the reference gradients.
"""

import numpy as np
import torch
import torch.nn.functional as F

import onnxgraph as og
from onnxgraph import layers
from tests.autodiff.family_check import loss_weights, run_gradients, training_graph


def _rand(*shape):
    return np.random.default_rng(0).standard_normal(shape).astype(np.float32)


def _grads_and_reference(model, x):
    graph, _, feeds = training_graph(model, [x])
    _, grads = run_gradients(graph, feeds)
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in feeds.items()}
    return grads, tensors


def _weight(tensors, path):
    return tensors[next(k for k in tensors if k.endswith("_" + path))]


def _compare(grads, tensors, output):
    (output * torch.tensor(loss_weights(tuple(output.shape)))).sum().backward()
    assert set(grads) == set(tensors)
    for name, got in grads.items():
        want = tensors[name].grad.numpy()
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * max(np.abs(want).max(), 1e-3), err_msg=name)


def _toy_resnet():
    """The Keras functional-API guide's toy ResNet (without its Dropout: finite differences)."""
    inputs = og.Input(shape=(32, 32, 3), name="img")
    x = layers.Conv2D(32, 3, activation="relu")(inputs)
    x = layers.Conv2D(64, 3, activation="relu")(x)
    block_1 = layers.MaxPooling2D(3)(x)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(block_1)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
    block_2 = layers.add([x, block_1])
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(block_2)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
    block_3 = layers.add([x, block_2])
    x = layers.Conv2D(64, 3, activation="relu")(block_3)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(256, activation="relu")(x)
    return og.Model(inputs, layers.Dense(10)(x))


def test_toy_resnet_gradients_match_torch_autograd():
    grads, t = _grads_and_reference(_toy_resnet(), _rand(4, 32, 32, 3))

    def weight(path):
        return _weight(t, path)

    def conv(h, i, pad):
        name = "conv2d" if i == 0 else f"conv2d_{i}"
        return F.relu(F.conv2d(h, weight(name + "_kernel"), weight(name + "_bias"), padding=pad))

    h = conv(conv(t["img"].permute(0, 3, 1, 2), 0, 0), 1, 0)
    block_1 = F.max_pool2d(h, 3)
    block_2 = conv(conv(block_1, 2, 1), 3, 1) + block_1
    block_3 = conv(conv(block_2, 4, 1), 5, 1) + block_2
    h = conv(block_3, 6, 0).mean((2, 3))
    y = F.relu(h @ weight("dense_kernel") + weight("dense_bias")) @ weight("dense_1_kernel") + weight("dense_1_bias")
    _compare(grads, t, y)


def _autoencoder():
    """The guide's autoencoder: Conv2D/MaxPooling2D/GlobalMaxPooling2D, then Conv2DTranspose/UpSampling2D."""
    inputs = og.Input(shape=(28, 28, 1), name="img")
    x = layers.Conv2D(16, 3, activation="relu")(inputs)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.MaxPooling2D(3)(x)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.Conv2D(16, 3, activation="relu")(x)
    x = layers.GlobalMaxPooling2D()(x)
    x = layers.Reshape((4, 4, 1))(x)
    x = layers.Conv2DTranspose(16, 3, activation="relu")(x)
    x = layers.Conv2DTranspose(32, 3, activation="relu")(x)
    x = layers.UpSampling2D(3)(x)
    x = layers.Conv2DTranspose(16, 3, activation="relu")(x)
    return og.Model(inputs, layers.Conv2DTranspose(1, 3, activation="relu")(x))


def test_autoencoder_gradients_match_torch_autograd():
    grads, t = _grads_and_reference(_autoencoder(), np.abs(_rand(4, 28, 28, 1)))

    def conv(h, name, transpose=False):
        op = F.conv_transpose2d if transpose else F.conv2d
        return F.relu(op(h, _weight(t, name + "_kernel"), _weight(t, name + "_bias")))

    h = conv(conv(t["img"].permute(0, 3, 1, 2), "conv2d"), "conv2d_1")
    h = conv(conv(F.max_pool2d(h, 3), "conv2d_2"), "conv2d_3")
    h = h.amax((2, 3)).reshape(-1, 4, 4, 1).permute(0, 3, 1, 2)
    h = conv(conv(h, "conv2d_transpose", True), "conv2d_transpose_1", True)
    h = F.interpolate(h, scale_factor=3, mode="nearest")
    h = conv(conv(h, "conv2d_transpose_2", True), "conv2d_transpose_3", True)
    _compare(grads, t, h.permute(0, 2, 3, 1))
