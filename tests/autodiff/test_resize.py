"""Resize gradient rule against finite differences: the modes UpSampling emits, and others."""

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph import layers
from onnxgraph.backend.emit import constant, emit
from onnxgraph.trainer._rules import rewrite_for_training
from tests.autodiff.family_check import check_model, check_op

RNG = np.random.default_rng(2)


@pytest.fixture(autouse=True)
def _fresh_data():
    """The same data for a test however the suite is selected or ordered."""
    global RNG
    RNG = np.random.default_rng(2)

NEAREST = {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}
LINEAR = {"mode": "linear", "coordinate_transformation_mode": "half_pixel"}
CUBIC = {"mode": "cubic", "coordinate_transformation_mode": "half_pixel", "cubic_coeff_a": -0.75}

CASES = {
    # (spatial, scales or None, sizes or None, attrs, symbolic spatial dims)
    "nearest 1d x3": ((5,), [1, 1, 3], None, NEAREST, True),
    "nearest 2d x(2,3)": ((4, 5), [1, 1, 2, 3], None, NEAREST, True),
    "nearest 3d x2": ((3, 4, 2), [1, 1, 2, 2, 2], None, NEAREST, True),
    "nearest one axis": ((4, 5), [1, 1, 1, 2], None, NEAREST, True),
    "linear 2d": ((4, 5), [1, 1, 2, 2], None, LINEAR, False),
    "linear align_corners": ((4, 5), [1, 1, 2, 3], None, {**LINEAR, "coordinate_transformation_mode": "align_corners"},
                             False),
    "cubic 2d": ((4, 5), [1, 1, 2, 3], None, CUBIC, False),
    "nearest fractional half_pixel": ((4, 5), [1, 1, 1.5, 2], None, {"mode": "nearest"}, False),
    "linear downsample": ((6, 8), [1, 1, 0.5, 0.75], None, LINEAR, False),
    "linear sizes with axes": ((4, 5), None, [7, 3], {**LINEAR, "axes": [2, 3]}, False),
}


@pytest.mark.parametrize("case", list(CASES))
def test_resize(case):
    spatial, scales, sizes, attrs, symbolic = CASES[case]
    x = RNG.standard_normal((2, 3, *spatial)).astype(np.float32)
    if sizes is None:
        build = lambda t: emit("Resize", [t, None, constant(np.asarray(scales, np.float32))], attrs)  # noqa: E731
    else:
        build = lambda t: emit("Resize", [t, None, None, constant(np.asarray(sizes, np.int64))], attrs)  # noqa: E731
    shape = (None, 3) + ((None,) * len(spatial) if symbolic else spatial)
    check_op(build, {"x": x}, {"x": shape})


def test_resize_with_runtime_size_along_a_linear_axis_raises():
    scales = constant(np.asarray([1, 1, 2, 2], np.float32))
    with pytest.raises(NotImplementedError, match="axis 2"):
        check_op(lambda t: emit("Resize", [t, None, scales], LINEAR, shapes=[(None, 3, None, None)],
                                dtypes_=["float32"]),
                 {"x": np.zeros((1, 3, 4, 4), np.float32)}, {"x": (None, 3, None, None)})


LAYER_CASES = {
    "UpSampling1D": ((3, 2), lambda: layers.UpSampling1D(3)),
    "UpSampling2D nearest": ((3, 3, 2), lambda: layers.UpSampling2D(2)),
    "UpSampling2D nearest (2, 3)": ((3, 3, 2), lambda: layers.UpSampling2D((2, 3))),
    "UpSampling2D bilinear": ((3, 3, 2), lambda: layers.UpSampling2D(2, interpolation="bilinear")),
    "UpSampling2D bicubic": ((3, 4, 2), lambda: layers.UpSampling2D(2, interpolation="bicubic")),
    "UpSampling2D channels_first": ((2, 3, 3), lambda: layers.UpSampling2D(2, data_format="channels_first")),
    "UpSampling3D": ((2, 2, 2, 1), lambda: layers.UpSampling3D(2)),
}


@pytest.mark.parametrize("rewrite", [None, rewrite_for_training], ids=["native", "trainer-rewrite"])
@pytest.mark.parametrize("case", list(LAYER_CASES))
def test_upsampling_layers(case, rewrite):
    shape, make = LAYER_CASES[case]
    inputs = og.Input(shape=shape)
    model = og.Model(inputs, make()(layers.Dense(shape[-1])(inputs)))  # weights in front of the resize
    grads = check_model(model, RNG.standard_normal((2, *shape)).astype(np.float32), rewrite=rewrite)
    assert len(grads) == 3


def test_resize_keep_aspect_ratio_policy_is_refused():
    sizes = constant(np.asarray([6, 6], np.int64))
    attrs = {**LINEAR, "axes": [2, 3], "keep_aspect_ratio_policy": "not_larger"}
    with pytest.raises(NotImplementedError, match="keep_aspect_ratio_policy"):
        check_op(lambda t: emit("Resize", [t, None, None, sizes], attrs, shapes=[(None, 3, 6, 3)], dtypes_=["float32"]),
                 {"x": np.zeros((1, 3, 4, 2), np.float32)})
