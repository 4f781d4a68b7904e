"""Normalization gradient rules against finite differences: ONNX ops and the layers."""

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph import layers
from onnxgraph.backend.emit import emit
from onnxgraph.trainer._rules import rewrite_for_training
from tests.autodiff.family_check import check_model, check_op, check_op_directional

RNG = np.random.default_rng(3)


@pytest.fixture(autouse=True)
def _fresh_data():
    """The same data for a test however the suite is selected or ordered."""
    global RNG
    RNG = np.random.default_rng(3)


def rand(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _bn_arrays(shape):
    c = shape[1]
    return {"x": rand(*shape), "scale": rand(c), "bias": rand(c), "mean": rand(c),
            "var": (RNG.random(c) + 0.5).astype(np.float32)}


@pytest.mark.parametrize("shape", [(4, 3), (4, 3, 5), (4, 3, 5, 2), (2, 3, 2, 3, 2)])
@pytest.mark.parametrize("dynamic", [False, True])
def test_batch_normalization_inference_form(shape, dynamic):
    arrays = _bn_arrays(shape)
    shapes = {"x": (None, shape[1]) + (None,) * (len(shape) - 2)} if dynamic else None
    check_op(lambda *a: emit("BatchNormalization", list(a), {"epsilon": 1e-3}), arrays, shapes)


@pytest.mark.parametrize("outputs", ["y", "y and running statistics"])
@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5, 2)])
@pytest.mark.parametrize("dynamic", [False, True])
def test_batch_normalization_training_mode(shape, outputs, dynamic):
    arrays = _bn_arrays(shape)
    shapes = {"x": (None, shape[1]) + (None,) * (len(shape) - 2)} if dynamic else None
    attrs = {"epsilon": 1e-3, "momentum": 0.8, "training_mode": 1}
    # Directional differences with fresh feeds: onnxruntime writes the running statistics into
    # the mean/var buffers it is fed.
    if outputs == "y":
        # The running statistics do not reach the loss: only x, scale and bias get gradients.
        build = lambda *a: emit("BatchNormalization", list(a), attrs, outputs=3)[0]  # noqa: E731
        grads = check_op_directional(build, arrays, shapes, expect_all=False)
        assert set(grads) == {"x", "scale", "bias"}
    else:
        check_op_directional(lambda *a: emit("BatchNormalization", list(a), attrs, outputs=3), arrays, shapes)


@pytest.mark.parametrize("axis", [-1, 1, 2])
@pytest.mark.parametrize("declared", ["y", "y, mean, inv_std_dev"])
@pytest.mark.parametrize("bias", [True, False])
def test_layer_normalization(axis, declared, bias):
    x = rand(2, 3, 4, 5)
    trailing = x.shape[axis % 4:]
    arrays = {"x": x, "scale": rand(*trailing)}
    if bias:
        arrays["bias"] = rand(*trailing)
    attrs = {"axis": axis, "epsilon": 1e-3}
    if declared == "y":
        build = lambda *a: emit("LayerNormalization", list(a), attrs)  # noqa: E731
    else:
        build = lambda *a: emit("LayerNormalization", list(a), attrs, outputs=3)  # noqa: E731
    check_op(build, arrays, {"x": (None, 3, 4, 5)})


@pytest.mark.parametrize("spatial", [(5,), (4, 3), (2, 3, 2)])
@pytest.mark.parametrize("dynamic", [False, True])
def test_group_and_instance_normalization(spatial, dynamic):
    arrays = {"x": rand(2, 6, *spatial), "scale": rand(6), "bias": rand(6)}
    shape = (None, 6) + ((None,) * len(spatial) if dynamic else spatial)
    typed = {"shapes": [shape], "dtypes_": ["float32"]}
    # onnxruntime expands GroupNormalization-21 with stash_type=1: float32 inside even for float64
    # inputs, too coarse for float64 differences.
    check_op(lambda *a: emit("GroupNormalization", list(a), {"num_groups": 3, "epsilon": 1e-3}, **typed), arrays,
             {"x": shape}, precision="float32")
    check_op(lambda *a: emit("InstanceNormalization", list(a), {"epsilon": 1e-3}, **typed), arrays, {"x": shape})


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("axis", [1, -1])
def test_lp_normalization(p, axis):
    check_op(lambda t: emit("LpNormalization", [t], {"axis": axis, "p": p}), {"x": rand(3, 4, 2)}, {"x": (None, 4, 2)})


def _model(shape, layer, before=True):
    inputs = og.Input(shape=shape)
    x = layers.Dense(shape[-1])(inputs) if before else inputs
    return og.Model(inputs, layer(x))


@pytest.mark.parametrize("rewrite", [None, rewrite_for_training])
@pytest.mark.parametrize("shape", [(5,), (4, 4, 3)])
def test_batch_normalization_layer_training(shape, rewrite):
    model = _model(shape, layers.BatchNormalization(momentum=0.8))
    check_model(model, rand(6, *shape), training=True, rewrite=rewrite)


def test_batch_normalization_layer_frozen_inference_graph():
    """The inference graph's ONNX BatchNormalization (moving statistics) differentiated directly."""
    model = _model((4, 4, 3), layers.BatchNormalization())
    bn = model.layers[-1]
    bn.moving_mean.assign(rand(3))
    bn.moving_variance.assign((RNG.random(3) + 0.5).astype(np.float32))
    grads = check_model(model, rand(3, 4, 4, 3), training=False)
    assert any("moving_mean" in name for name in grads)


def test_batch_normalization_layer_not_trainable_in_training_graph():
    model = _model((4, 3), layers.BatchNormalization())
    model.layers[-1].trainable = False
    check_model(model, rand(3, 4, 3), training=True, rewrite=rewrite_for_training)


@pytest.mark.parametrize("kwargs", [{}, {"axis": 1}, {"axis": [1, 2]}, {"center": False}, {"rms_scaling": True}])
def test_layer_normalization_layer(kwargs):
    model = _model((3, 4), layers.LayerNormalization(epsilon=1e-3, **kwargs))
    check_model(model, rand(2, 3, 4), eps=1e-3)  # normalizing 3 values is strongly curved


@pytest.mark.parametrize("shape, groups", [((4, 4, 6), 3), ((5, 4), 2), ((5, 4), -1)])
def test_group_normalization_layer(shape, groups):
    model = _model(shape, layers.GroupNormalization(groups=groups, epsilon=1e-3))
    check_model(model, rand(2, *shape))
