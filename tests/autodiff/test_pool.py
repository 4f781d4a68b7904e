"""Pooling gradient rules (MaxPool, AveragePool, global pools) against finite differences."""

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph import layers
from onnxgraph.backend.emit import emit
from onnxgraph.trainer._rules import rewrite_for_training
from tests.autodiff.family_check import Scale, check_model, check_op

RNG = np.random.default_rng(1)


@pytest.fixture(autouse=True)
def _fresh_data():
    """The same data for a test however the suite is selected or ordered."""
    global RNG
    RNG = np.random.default_rng(1)


def rand(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def distinct(*shape):
    """Inputs without ties, spaced apart: a max pool's winner does not change within a finite step."""
    values = RNG.permutation(np.prod(shape)).astype(np.float32) * 0.1
    return values.reshape(shape)


# (spatial, kernel, strides, dilations, pads, ceil_mode)
MAX_CASES = {
    "1d": ((9,), (3,), (2,), None, (0, 0), 0),
    "2d overlapping pads dilation ceil": ((7, 8), (3, 2), (2, 1), (1, 2), (1, 0, 1, 1), 1),
    "2d disjoint": ((6, 6), (2, 2), (2, 2), None, (0, 0, 0, 0), 0),
    "3d": ((5, 6, 5), (2, 2, 2), (2, 2, 1), None, (0, 1, 0, 0, 0, 1), 1),
}


@pytest.mark.parametrize("indices_output", [False, True])
@pytest.mark.parametrize("dynamic", [False, True])
@pytest.mark.parametrize("case", list(MAX_CASES))
def test_max_pool(case, dynamic, indices_output):
    spatial, k, s, d, p, ceil = MAX_CASES[case]
    attrs = {"kernel_shape": list(k), "strides": list(s), "pads": list(p), "ceil_mode": ceil}
    if d:
        attrs["dilations"] = list(d)
    if indices_output:
        build = lambda x: emit("MaxPool", [x], attrs, outputs=2)[0]  # noqa: E731
    else:
        build = lambda x: emit("MaxPool", [x], attrs)  # noqa: E731
    shapes = {"x": (None, 3) + ((None,) * len(spatial) if dynamic else spatial)}
    check_op(build, {"x": distinct(2, 3, *spatial)}, shapes)


def test_max_pool_auto_pad_same():
    attrs = {"kernel_shape": [3, 3], "strides": [2, 2], "auto_pad": "SAME_UPPER"}
    check_op(lambda x: emit("MaxPool", [x], attrs), {"x": distinct(2, 2, 7, 6)})


# (spatial, kernel, strides, pads, ceil_mode, count_include_pad)
AVERAGE_CASES = {
    "1d valid": ((9,), (3,), (2,), (0, 0), 0, 0),
    "2d pads exclude": ((7, 8), (3, 2), (2, 1), (1, 0, 1, 1), 0, 0),
    "2d pads include": ((7, 8), (3, 3), (2, 2), (1, 1, 1, 1), 0, 1),
    "2d ceil exclude": ((7, 8), (3, 2), (2, 1), (1, 0, 1, 1), 1, 0),
    "2d ceil include": ((7, 8), (3, 3), (2, 2), (1, 0, 1, 0), 1, 1),
    "3d pads": ((5, 6, 5), (2, 3, 2), (1, 2, 2), (1, 1, 0, 0, 1, 1), 0, 0),
}


@pytest.mark.parametrize("dynamic_batch", [False, True])
@pytest.mark.parametrize("case", list(AVERAGE_CASES))
def test_average_pool(case, dynamic_batch):
    spatial, k, s, p, ceil, include = AVERAGE_CASES[case]
    attrs = {"kernel_shape": list(k), "strides": list(s), "pads": list(p), "ceil_mode": ceil,
             "count_include_pad": include}
    shapes = {"x": (None, 3, *spatial)} if dynamic_batch else None
    check_op(lambda x: emit("AveragePool", [x], attrs), {"x": rand(2, 3, *spatial)}, shapes)


@pytest.mark.parametrize("pads", [(0, 0, 0, 0), (1, 0, 1, 1)])
def test_average_pool_runtime_spatial(pads):
    attrs = {"kernel_shape": [3, 2], "strides": [2, 2], "pads": list(pads)}
    check_op(lambda x: emit("AveragePool", [x], attrs), {"x": rand(2, 3, 7, 6)}, {"x": (None, 3, None, None)})


def test_average_pool_ceil_mode_needs_known_spatial_sizes():
    attrs = {"kernel_shape": [3], "strides": [2], "ceil_mode": 1}
    with pytest.raises(NotImplementedError, match="known spatial sizes"):
        check_op(lambda x: emit("AveragePool", [x], attrs), {"x": rand(2, 3, 8)}, {"x": (None, 3, None)})


@pytest.mark.parametrize("dynamic", [False, True])
@pytest.mark.parametrize("op", ["GlobalAveragePool", "GlobalMaxPool"])
@pytest.mark.parametrize("spatial", [(5,), (4, 5), (3, 2, 4)])
def test_global_pools(op, spatial, dynamic):
    shapes = {"x": (None, 3) + (None,) * len(spatial)} if dynamic else None
    x = distinct(2, 3, *spatial) if op == "GlobalMaxPool" else rand(2, 3, *spatial)
    check_op(lambda t: emit(op, [t]), {"x": x}, shapes)


LAYER_CASES = {
    "MaxPooling1D": ((6, 2), lambda: layers.MaxPooling1D(2)),
    "MaxPooling2D": ((6, 6, 2), lambda: layers.MaxPooling2D(2)),
    "MaxPooling2D same stride 2": ((7, 7, 2), lambda: layers.MaxPooling2D(3, strides=2, padding="same")),
    "MaxPooling3D": ((4, 4, 4, 1), lambda: layers.MaxPooling3D(2)),
    "AveragePooling1D same": ((5, 2), lambda: layers.AveragePooling1D(2, padding="same")),
    "AveragePooling2D": ((6, 6, 2), lambda: layers.AveragePooling2D(2)),
    "AveragePooling2D same stride 2": ((5, 5, 2), lambda: layers.AveragePooling2D(3, strides=2, padding="same")),
    "AveragePooling3D same": ((3, 3, 3, 1), lambda: layers.AveragePooling3D(2, padding="same")),
    "GlobalMaxPooling1D": ((5, 3), lambda: layers.GlobalMaxPooling1D()),
    "GlobalMaxPooling2D": ((4, 4, 3), lambda: layers.GlobalMaxPooling2D()),
    "GlobalAveragePooling2D": ((4, 4, 3), lambda: layers.GlobalAveragePooling2D()),
    "GlobalAveragePooling3D keepdims": ((3, 3, 3, 2), lambda: layers.GlobalAveragePooling3D(keepdims=True)),
}


@pytest.mark.parametrize("rewrite", [None, rewrite_for_training], ids=["native", "trainer-rewrite"])
@pytest.mark.parametrize("case", list(LAYER_CASES))
def test_pooling_layers_after_weights(case, rewrite):
    """A positive per-channel scale in front: its weights' gradient passes through the pool, and it keeps
    each channel's order, so a finite step never changes a max pool's winners."""
    shape, make = LAYER_CASES[case]
    inputs = og.Input(shape=shape)
    model = og.Model(inputs, make()(Scale()(inputs)))
    grads = check_model(model, distinct(2, *shape), eps=1e-3, rewrite=rewrite)
    assert len(grads) == 2  # input, scale
