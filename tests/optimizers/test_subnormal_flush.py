"""Slots that decay under a zero gradient must not stay subnormal (x86 computes on them ~50x slower).

A dead ReLU unit's gradient is zero, so Adam's momentum (and SGD/RMSprop momentum) for its
weights decays by a constant factor each step into subnormal floats, where rounding makes it
a fixed point (0.9 * 4e-45 == 4e-45 in float32). The optimizers zero such values every
FLUSH_EVERY steps; the parameters must come out bit-identical to a run that never flushes.
"""

import numpy as np
import pytest

from onnxgraph import optimizers
from onnxgraph.optimizers._base import FLUSH_EVERY

TINY = np.finfo(np.float32).tiny
STEPS = 63 * FLUSH_EVERY  # ~1000 steps: 0.9**n takes ~800 steps to fall from 0.1 below TINY

CASES = {
    "adam": lambda: optimizers.Adam(learning_rate=1e-3),
    "adamw": lambda: optimizers.AdamW(learning_rate=1e-3),
    "sgd-momentum": lambda: optimizers.SGD(learning_rate=0.01, momentum=0.9),
    "rmsprop-momentum": lambda: optimizers.RMSprop(learning_rate=1e-3, rho=0.9, momentum=0.9),
}


def _never_flushes(optimizer):
    optimizer._flush_subnormal_slots = lambda: None
    return optimizer


def _train(optimizer, steps=STEPS):
    """Element 0 gets gradient 1 once and 0 afterwards (a unit that died); the others stay alive."""
    rng = np.random.default_rng(0)
    params = [rng.standard_normal((3, 8)).astype(np.float32) + 2, rng.standard_normal(8).astype(np.float32) + 2]
    for step in range(steps):
        grads = [rng.standard_normal(p.shape).astype(np.float32) for p in params]
        if step:
            grads[0][0, 0] = 0.0
            grads[1][0] = 0.0
        optimizer.apply(params, grads)
    return params


def _subnormals(optimizer) -> int:
    return sum(int(((a != 0) & (np.abs(a) < TINY)).sum()) for arrays in optimizer._slots.values() for a in arrays)


@pytest.mark.parametrize("name", list(CASES))
def test_decayed_slots_are_flushed_and_weights_unchanged(name):
    flushed, unflushed = CASES[name](), _never_flushes(CASES[name]())
    got, want = _train(flushed), _train(unflushed)
    # The scenario is real: without the flush the dead unit's slots are stuck subnormal.
    assert _subnormals(unflushed) > 0
    assert _subnormals(flushed) == 0
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    # The dead unit's momentum is exactly zero now, the live ones untouched.
    momentum = flushed._slots["momentum"]
    assert momentum[0][0, 0] == 0.0 and momentum[1][0] == 0.0
    assert np.all(np.abs(momentum[0].ravel()[1:]) > TINY)


def test_flush_runs_only_every_flush_every_steps():
    optimizer = optimizers.SGD(learning_rate=0.1, momentum=0.9)
    params = [np.ones(4, np.float32)]
    optimizer.apply(params, [np.ones(4, np.float32)])
    optimizer._slots["momentum"][0][:] = [4e-45, 1e-3, -4e-45, 0.0]
    while optimizer.iterations % FLUSH_EVERY != FLUSH_EVERY - 1:
        optimizer.apply(params, [np.zeros(4, np.float32)])
    assert optimizer._slots["momentum"][0][0] != 0  # not flushed yet: no per-step cost
    optimizer.apply(params, [np.zeros(4, np.float32)])
    assert optimizer.iterations % FLUSH_EVERY == 0
    m = optimizer._slots["momentum"][0]
    assert m[0] == 0.0 and m[2] == 0.0 and m[1] != 0.0


def test_float64_slots_use_their_own_threshold():
    optimizer = optimizers.SGD(learning_rate=0.1, momentum=0.9)
    params = [np.ones(2, np.float64)]
    optimizer.apply(params, [np.ones(2, np.float64)])
    # 1e-39 is subnormal in float32 but a normal float64: it must be kept.
    optimizer._slots["momentum"][0][:] = [1e-39, 1e-310]
    optimizer._flush_subnormal_slots()
    assert optimizer._slots["momentum"][0][0] == pytest.approx(1e-39)
    assert optimizer._slots["momentum"][0][1] == 0.0


def test_adam_momentum_flush_starts_where_m_times_alpha_would_turn_subnormal():
    # m in [tiny, tiny / alpha] is a normal float, but alpha * m (alpha ~ 1e-3) is subnormal.
    optimizer = optimizers.Adam(learning_rate=1e-3)
    params = [np.ones(5, np.float32)]
    optimizer.apply(params, [np.ones(5, np.float32)])
    threshold = 1e-7 * 2.0**-80
    optimizer._slots["momentum"][0][:] = [1e-36, -1e-33, 0.5 * threshold, 2 * threshold, 1e-3]
    optimizer._slots["velocity"][0][:] = [1e-36, 1e-33, 1e-45, 0.0, 1e-3]
    optimizer._flush_subnormal_slots()
    np.testing.assert_array_equal(optimizer._slots["momentum"][0],
                                  np.float32([0, 0, 0, 2 * threshold, 1e-3]))
    # The velocity keeps every normal value (sqrt(v) may be all that keeps the denominator off zero).
    np.testing.assert_array_equal(optimizer._slots["velocity"][0], np.float32([1e-36, 1e-33, 0, 0, 1e-3]))


def test_adam_without_epsilon_flushes_only_subnormals():
    optimizer = optimizers.Adam(learning_rate=1e-3, epsilon=0.0)
    assert optimizer._flush_threshold("momentum", np.float32) == TINY
    assert optimizers.Adam()._flush_threshold("momentum", np.float64) == pytest.approx(1e-7 * 2.0**-80)
    assert optimizers.Adam()._flush_threshold("momentum", np.float16) == np.finfo(np.float16).tiny
