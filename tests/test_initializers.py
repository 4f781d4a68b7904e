"""Initializers: Keras names, distributions and fans, reproducible with set_random_seed."""

import math

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph import initializers


def test_seed_makes_weights_reproducible():
    og.utils.set_random_seed(7)
    a = og.layers.Dense(5)
    a(og.Input(shape=(4,)))
    og.utils.set_random_seed(7)
    b = og.layers.Dense(5)
    b(og.Input(shape=(4,)))
    np.testing.assert_array_equal(a.get_weights()[0], b.get_weights()[0])
    og.utils.set_random_seed(8)
    c = og.layers.Dense(5)
    c(og.Input(shape=(4,)))
    assert not np.array_equal(a.get_weights()[0], c.get_weights()[0])


@pytest.mark.parametrize("name,shape,limit", [
    ("glorot_uniform", (300, 200), math.sqrt(6 / 500)),
    ("he_uniform", (300, 200), math.sqrt(6 / 300)),
    ("lecun_uniform", (300, 200), math.sqrt(3 / 300)),
    ("glorot_uniform", (3, 3, 16, 32), math.sqrt(6 / (9 * 16 + 9 * 32))),  # conv fans
])
def test_uniform_variance_scaling_limits(name, shape, limit):
    w = initializers.get(name)(shape)
    assert w.dtype == np.float32 and w.shape == shape
    assert np.abs(w).max() <= limit + 1e-7
    assert np.abs(w).max() > 0.95 * limit
    np.testing.assert_allclose(w.std(), limit / math.sqrt(3), rtol=0.05)


@pytest.mark.parametrize("name,std", [
    ("glorot_normal", math.sqrt(2 / 500)), ("he_normal", math.sqrt(2 / 300)), ("lecun_normal", math.sqrt(1 / 300)),
])
def test_truncated_normal_variance_scaling(name, std):
    w = initializers.get(name)((300, 200))
    # Keras corrects the truncated normal's stddev so the variance is exactly scale / n.
    np.testing.assert_allclose(w.std(), std, rtol=0.05)
    assert np.abs(w).max() <= 2 * std / 0.87962566103423978 + 1e-6


def test_random_and_constant_initializers():
    assert np.abs(initializers.get("random_uniform")((1000,))).max() <= 0.05
    np.testing.assert_allclose(initializers.get("random_normal")((20000,)).std(), 0.05, rtol=0.05)
    t = initializers.get("truncated_normal")((20000,))
    assert np.abs(t).max() <= 0.1 + 1e-7
    assert (initializers.get("zeros")((3,)) == 0).all() and (initializers.get("ones")((3,)) == 1).all()
    assert (initializers.Constant(2.5)((2, 2)) == 2.5).all()


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (2, 3, 8)])
def test_orthogonal(shape):
    w = initializers.Orthogonal(gain=2.0)(shape).reshape(-1, shape[-1])
    gram = w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T
    np.testing.assert_allclose(gram, 4.0 * np.eye(gram.shape[0]), atol=1e-5)


def test_seeded_initializer_and_config():
    a = initializers.GlorotUniform(seed=3)((4, 4))
    b = initializers.GlorotUniform(seed=3)((4, 4))
    np.testing.assert_array_equal(a, b)
    init = initializers.get({"class_name": "HeNormal", "config": {"seed": 5}})
    assert initializers.serialize(init) == {"class_name": "HeNormal", "config": {"seed": 5, "input_axes": None, "output_axes": None}}
    with pytest.raises(ValueError, match="Unknown initializer 'glorot'"):
        initializers.get("glorot")


def test_explicit_fan_axes_like_keras_3_15():
    # fan_in over axes (0,) = 400, fan_out over (1, 2) = 8 * 25: glorot limit sqrt(6 / 600)
    w = initializers.GlorotUniform(input_axes=[0], output_axes=[1, 2])((400, 8, 25))
    assert np.abs(w).max() <= math.sqrt(6 / 600) + 1e-7
    np.testing.assert_allclose(w.std(), math.sqrt(6 / 600) / math.sqrt(3), rtol=0.05)
    assert initializers.serialize(initializers.HeNormal(seed=2))["config"] == {"seed": 2, "input_axes": None, "output_axes": None}
