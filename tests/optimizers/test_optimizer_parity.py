"""Optimizer-step parity: 6 steps of every optimizer and option against (a) an independent
float64 numpy implementation of Keras 3's formulas and (b) Keras 3 itself (torch backend)."""

import numpy as np
import pytest
from optimizer_reference import run as reference_run
from optimizer_reference import schedule_value

from onnxgraph import optimizers
from onnxgraph.optimizers import schedules

STEPS = 6
SHAPES = [(3, 4), (5,), ()]
DEFAULT_LR = {"sgd": 0.01, "adam": 0.001, "adamw": 0.001, "rmsprop": 0.001, "adagrad": 0.001}
KERAS_NAME = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop", "adagrad": "Adagrad"}
SCHEDULES = {"exponential": "ExponentialDecay", "piecewise": "PiecewiseConstantDecay", "cosine": "CosineDecay",
             "inverse_time": "InverseTimeDecay", "polynomial": "PolynomialDecay"}

# (kind, options); "schedule" = (schedule kind, config) replaces learning_rate.
CASES = [
    ("sgd", {}),
    ("sgd", {"learning_rate": 0.1, "momentum": 0.9}),
    ("sgd", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}),
    ("sgd", {"learning_rate": 0.1, "weight_decay": 0.05}),
    ("adam", {}),
    ("adam", {"learning_rate": 0.05, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-3}),
    ("adam", {"learning_rate": 0.05, "amsgrad": True}),
    ("adamw", {}),
    ("adamw", {"learning_rate": 0.05, "weight_decay": 0.1, "amsgrad": True}),
    ("rmsprop", {}),
    ("rmsprop", {"learning_rate": 0.01, "rho": 0.8, "momentum": 0.9}),
    ("rmsprop", {"learning_rate": 0.01, "centered": True}),
    ("rmsprop", {"learning_rate": 0.01, "centered": True, "momentum": 0.5, "epsilon": 1e-4}),
    ("adagrad", {}),
    ("adagrad", {"learning_rate": 0.1, "initial_accumulator_value": 0.5, "epsilon": 1e-3}),
    ("sgd", {"learning_rate": 0.1, "momentum": 0.9, "clipnorm": 1.0}),
    ("adam", {"learning_rate": 0.05, "clipvalue": 0.5}),
    ("rmsprop", {"learning_rate": 0.01, "global_clipnorm": 2.0}),
    ("adagrad", {"learning_rate": 0.1, "clipnorm": 0.3}),
    ("adamw", {"learning_rate": 0.05, "global_clipnorm": 1.0}),
    ("sgd", {"schedule": ("exponential", {"initial_learning_rate": 0.1, "decay_steps": 2, "decay_rate": 0.5})}),
    ("adam", {"schedule": ("exponential", {"initial_learning_rate": 0.1, "decay_steps": 2, "decay_rate": 0.5,
                                           "staircase": True})}),
    ("sgd", {"momentum": 0.9, "schedule": ("piecewise", {"boundaries": [1, 3], "values": [0.1, 0.05, 0.01]})}),
    ("adamw", {"schedule": ("cosine", {"initial_learning_rate": 0.1, "decay_steps": 4, "alpha": 0.1})}),
    ("rmsprop", {"schedule": ("cosine", {"initial_learning_rate": 0.0, "decay_steps": 3, "alpha": 0.2,
                                         "warmup_target": 0.02, "warmup_steps": 2})}),
    ("adagrad", {"schedule": ("inverse_time", {"initial_learning_rate": 0.1, "decay_steps": 1, "decay_rate": 0.5})}),
    ("sgd", {"schedule": ("polynomial", {"initial_learning_rate": 0.1, "decay_steps": 4, "power": 2.0})}),
]


def _ids():
    return [f"{kind}-" + "-".join(f"{k}={v if k != 'schedule' else v[0]}" for k, v in opts.items())
            for kind, opts in CASES]


def _data(seed=0):
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    grads = [[(3 * rng.standard_normal(s)).astype(np.float32) for s in SHAPES] for _ in range(STEPS)]
    return params, grads


def _og_optimizer(kind, opts):
    opts = dict(opts)
    if "schedule" in opts:
        sched_kind, cfg = opts.pop("schedule")
        opts["learning_rate"] = getattr(schedules, SCHEDULES[sched_kind])(**cfg)
    return type(optimizers.get(kind))(**opts)


def _reference_opts(opts):
    opts = dict(opts)
    if "schedule" in opts:
        sched_kind, cfg = opts.pop("schedule")
        opts["learning_rate"] = lambda step: schedule_value(sched_kind, cfg, step)
    return opts


def _run_og(kind, opts, params, grads):
    opt = _og_optimizer(kind, opts)
    params = [np.array(p) for p in params]
    history = []
    for step_grads in grads:
        opt.apply(params, step_grads)
        history.append([p.copy() for p in params])
    assert opt.iterations == len(grads)
    return history


@pytest.mark.parametrize("kind,opts", CASES, ids=_ids())
def test_matches_numpy_keras_formulas(kind, opts):
    params, grads = _data()
    ours = _run_og(kind, opts, params, grads)
    expected = reference_run(kind, _reference_opts(opts), params, grads, DEFAULT_LR[kind],
                             0.004 if kind == "adamw" else None)
    for step, (got, want) in enumerate(zip(ours, expected)):
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6, err_msg=f"step {step + 1}")
    # The parameters really moved (a no-op optimizer must not pass).
    assert max(np.abs(a - b).max() for a, b in zip(ours[-1], params)) > 1e-3


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


@pytest.mark.parametrize("kind,opts", CASES, ids=_ids())
def test_matches_keras3(keras, kind, opts):
    params, grads = _data(seed=1)
    ours = _run_og(kind, opts, params, grads)
    kopts = dict(opts)
    if "schedule" in kopts:
        sched_kind, cfg = kopts.pop("schedule")
        kopts["learning_rate"] = getattr(keras.optimizers.schedules, SCHEDULES[sched_kind])(**cfg)
    kopt = getattr(keras.optimizers, KERAS_NAME[kind])(**kopts)
    variables = [keras.Variable(p) for p in params]
    for step, step_grads in enumerate(grads):
        kopt.apply_gradients(zip([keras.ops.convert_to_tensor(g) for g in step_grads], variables))
        for v, got in zip(variables, ours[step]):
            np.testing.assert_allclose(got, keras.ops.convert_to_numpy(v), rtol=1e-6, atol=1e-6,
                                       err_msg=f"step {step + 1}")


@pytest.mark.parametrize("sched_kind,cfg", [
    ("exponential", {"initial_learning_rate": 0.1, "decay_steps": 3, "decay_rate": 0.7}),
    ("exponential", {"initial_learning_rate": 0.1, "decay_steps": 3, "decay_rate": 0.7, "staircase": True}),
    ("piecewise", {"boundaries": [2, 5], "values": [1.0, 0.5, 0.1]}),
    ("cosine", {"initial_learning_rate": 0.1, "decay_steps": 8}),
    ("cosine", {"initial_learning_rate": 0.01, "decay_steps": 8, "alpha": 0.3, "warmup_target": 0.1,
                "warmup_steps": 4}),
    ("inverse_time", {"initial_learning_rate": 0.1, "decay_steps": 2, "decay_rate": 0.5, "staircase": True}),
    ("polynomial", {"initial_learning_rate": 0.1, "decay_steps": 5, "end_learning_rate": 0.01, "power": 0.5}),
    ("polynomial", {"initial_learning_rate": 0.1, "decay_steps": 5, "cycle": True}),
])
def test_schedules_match_keras(keras, sched_kind, cfg):
    ours = getattr(schedules, SCHEDULES[sched_kind])(**cfg)
    theirs = getattr(keras.optimizers.schedules, SCHEDULES[sched_kind])(**cfg)
    for step in range(16):
        want = float(keras.ops.convert_to_numpy(theirs(step)))
        assert ours(step) == pytest.approx(want, rel=1e-6, abs=1e-9), f"step {step}"
        if not cfg.get("cycle"):
            # Keras computes schedules in float32; the float64 formula differs by float32 rounding
            # (cosine near its end loses digits to 1 + cos(x) ~ 0).
            assert ours(step) == pytest.approx(schedule_value(sched_kind, cfg, step), rel=1e-5, abs=1e-9)
    assert ours.get_config() == theirs.get_config()
