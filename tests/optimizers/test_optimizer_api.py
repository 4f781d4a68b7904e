"""Optimizer API: get by name, Keras defaults and configs, state round trip, learning-rate forms, errors."""

import numpy as np
import pytest

from onnxgraph import optimizers
from onnxgraph.optimizers import schedules


def _params(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal(3).astype(np.float32)]


def _grads(step):
    rng = np.random.default_rng(100 + step)
    return [rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal(3).astype(np.float32)]


@pytest.mark.parametrize("name,cls,lr", [("sgd", "SGD", 0.01), ("SGD", "SGD", 0.01), ("adam", "Adam", 0.001),
                                         ("AdamW", "AdamW", 0.001), ("rmsprop", "RMSprop", 0.001),
                                         ("adagrad", "Adagrad", 0.001)])
def test_get_by_keras_name_has_keras_defaults(name, cls, lr):
    opt = optimizers.get(name)
    assert type(opt).__name__ == cls
    assert opt.learning_rate == pytest.approx(lr)
    assert opt.iterations == 0


def test_configs_equal_keras_configs():
    keras = pytest.importorskip("keras")
    for name in ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad"):
        ours = getattr(optimizers, name)(name="opt").get_config()
        theirs = getattr(keras.optimizers, name)(name="opt").get_config()
        assert set(ours) == set(theirs), name
        for key, value in theirs.items():
            assert ours[key] == pytest.approx(value) if isinstance(value, float) else ours[key] == value, (name, key)


@pytest.mark.parametrize("make", [
    lambda: optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=True),
    lambda: optimizers.Adam(amsgrad=True, clipnorm=1.0),
    lambda: optimizers.AdamW(learning_rate=schedules.CosineDecay(0.1, 10, warmup_target=0.2, warmup_steps=2)),
    lambda: optimizers.RMSprop(momentum=0.5, centered=True, global_clipnorm=2.0),
    lambda: optimizers.Adagrad(learning_rate=schedules.PiecewiseConstantDecay([2], [0.1, 0.01]), clipvalue=0.1),
])
def test_config_round_trip_and_resume_is_bit_identical(make):
    opt = make()
    restored = optimizers.deserialize(optimizers.serialize(opt))
    assert type(restored) is type(opt) and restored.get_config() == opt.get_config()

    straight, params = make(), _params()
    for step in range(6):
        straight.apply(params, _grads(step))

    first, resumed = make(), _params()
    for step in range(3):
        first.apply(resumed, _grads(step))
    state = {k: np.array(v) for k, v in first.get_state().items()}  # as if saved with np.savez
    second = optimizers.deserialize(optimizers.serialize(first))
    second.set_state(state)
    assert second.iterations == 3
    for step in range(3, 6):
        second.apply(resumed, _grads(step))
    for a, b in zip(params, resumed):
        np.testing.assert_array_equal(a, b)


def test_apply_updates_in_place_and_skips_none_gradients():
    params = _params()
    views = [p for p in params]
    before = [p.copy() for p in params]
    opt = optimizers.SGD(learning_rate=0.5)
    opt.apply(params, [np.ones((4, 3), np.float32), None])
    assert views[0] is params[0]
    np.testing.assert_allclose(params[0], before[0] - 0.5)
    np.testing.assert_array_equal(params[1], before[1])
    assert opt.iterations == 1
    assert opt.apply_gradients(zip([np.ones((4, 3), np.float32), np.ones(3, np.float32)], params)) == 2


def test_learning_rate_forms():
    opt = optimizers.SGD(learning_rate=lambda step: 0.1 / (step + 1))
    params = [np.zeros(2, np.float32)]
    for _ in range(3):
        opt.apply(params, [np.ones(2, np.float32)])
    np.testing.assert_allclose(params[0], -(0.1 + 0.05 + 0.1 / 3), rtol=1e-6)
    assert optimizers.Adam(learning_rate=lambda: 0.02).learning_rate == pytest.approx(0.02)

    opt = optimizers.Adam(learning_rate=0.01)
    opt.learning_rate = 0.5  # what ReduceLROnPlateau does
    assert opt.learning_rate == 0.5 and opt.get_state()["learning_rate"] == 0.5
    scheduled = optimizers.Adam(learning_rate=schedules.ExponentialDecay(0.1, 1, 0.5))
    with pytest.raises(TypeError, match="schedule"):
        scheduled.learning_rate = 0.1

    def halving(step):
        return 0.1 / 2 ** step

    config = optimizers.serialize(optimizers.SGD(learning_rate=halving))  # checkpoints record it by name
    assert config["config"]["learning_rate"]["config"] == "halving"
    with pytest.raises(ValueError, match="custom_objects=.*halving"):
        optimizers.deserialize(config)
    assert optimizers.deserialize(config, custom_objects={"halving": halving}).learning_rate == 0.1


def test_adamw_decay_is_keras_style_not_hf_style():
    # One step from w=1, g=0 isolates the decay: Keras multiplies by (1 - lr * wd) before Adam's update.
    w = [np.ones(3, np.float32)]
    optimizers.AdamW(learning_rate=0.1, weight_decay=0.5).apply(w, [np.zeros(3, np.float32)])
    np.testing.assert_allclose(w[0], 1 - 0.1 * 0.5, rtol=1e-7)


def test_errors_teach():
    with pytest.raises(ValueError, match="Only one of `clipnorm`, `clipvalue` and `global_clipnorm`"):
        optimizers.SGD(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(ValueError, match="momentum"):
        optimizers.SGD(momentum=1.5)
    with pytest.raises(ValueError, match="weight_decay"):
        optimizers.AdamW(weight_decay=None)
    with pytest.raises(ValueError, match="not recognized"):
        optimizers.Adam(betas=0.9)
    with pytest.raises(ValueError, match="Known optimizers"):
        optimizers.get("adamax2")
    opt = optimizers.Adam()
    opt.apply(_params(), _grads(0))
    with pytest.raises(ValueError, match="parameter 1 must be a writable numpy array of shape"):
        opt.apply([np.zeros((4, 3), np.float32), np.zeros(4, np.float32)], _grads(0))
    with pytest.raises(ValueError, match="2 parameters but 1 gradients"):
        opt.apply(_params(), _grads(0)[:1])


def test_exclude_from_weight_decay_matches_keras():
    keras = pytest.importorskip("keras")
    params = _params()
    ours = optimizers.AdamW(learning_rate=0.05, weight_decay=0.2)
    ours.exclude_from_weight_decay(var_names=["bias"])
    theirs = keras.optimizers.AdamW(learning_rate=0.05, weight_decay=0.2)
    theirs.exclude_from_weight_decay(var_names=["bias"])
    variables = [keras.Variable(params[0], name="kernel"), keras.Variable(params[1], name="bias")]
    ours_params = [p.copy() for p in params]
    for step in range(5):
        ours.apply(ours_params, _grads(step), names=["dense/kernel", "dense/bias"])
        theirs.apply_gradients(zip([keras.ops.convert_to_tensor(g) for g in _grads(step)], variables))
    for got, v in zip(ours_params, variables):
        np.testing.assert_allclose(got, keras.ops.convert_to_numpy(v), rtol=1e-6, atol=1e-6)
    # Without the exclusion the bias decays too, so the check above is not vacuous.
    plain, plain_params = optimizers.AdamW(learning_rate=0.05, weight_decay=0.2), [p.copy() for p in params]
    for step in range(5):
        plain.apply(plain_params, _grads(step))
    assert np.abs(plain_params[1] - ours_params[1]).max() > 1e-3
    with pytest.raises(ValueError, match="needs parameter names"):
        excluded = optimizers.AdamW()
        excluded.exclude_from_weight_decay(var_names=["bias"])
        excluded.apply(_params(), _grads(0))
    with pytest.raises(ValueError, match="before the optimizer is built"):
        plain.exclude_from_weight_decay(var_names=["bias"])
