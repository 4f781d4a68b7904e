"""Independent float64 numpy implementation of Keras 3's optimizer steps, for parity tests.

Written from the Keras 3 sources (keras/src/optimizers/*.py and base_optimizer.py), kept
separate from onnxgraph's code: one function per optimizer, explicit state dicts.
"""

import math

import numpy as np


def lr_at(lr, step):
    """Keras evaluates a schedule at the step count before the update."""
    if callable(lr):
        return float(lr(step))
    return float(lr)


def schedule_value(kind, cfg, step):
    """Keras schedule formulas in float64."""
    if kind == "exponential":
        p = step / cfg["decay_steps"]
        if cfg.get("staircase"):
            p = math.floor(p)
        return cfg["initial_learning_rate"] * cfg["decay_rate"] ** p
    if kind == "piecewise":
        for b, v in zip(cfg["boundaries"], cfg["values"]):
            if step <= b:
                return v
        return cfg["values"][-1]
    if kind == "inverse_time":
        p = step / cfg["decay_steps"]
        if cfg.get("staircase"):
            p = math.floor(p)
        return cfg["initial_learning_rate"] / (1 + cfg["decay_rate"] * p)
    if kind == "polynomial":
        s = min(step, cfg["decay_steps"])
        end = cfg.get("end_learning_rate", 0.0001)
        return (cfg["initial_learning_rate"] - end) * (1 - s / cfg["decay_steps"]) ** cfg.get("power", 1.0) + end
    if kind == "cosine":
        start, decay_steps, alpha = cfg["initial_learning_rate"], cfg["decay_steps"], cfg.get("alpha", 0.0)
        target, warmup = cfg.get("warmup_target"), cfg.get("warmup_steps", 0)

        def decay(s, base):
            return base * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * s / decay_steps)) + alpha)

        if target is None:
            return decay(min(step, decay_steps), start)
        s = min(step, decay_steps + warmup)
        if s < warmup:
            return start + (target - start) * s / warmup
        return decay(s - warmup, target)
    raise ValueError(kind)


def clip(grads, opts):
    if opts.get("clipnorm"):
        c = opts["clipnorm"]
        return [g * c / max(np.linalg.norm(g), c) for g in grads]
    if opts.get("global_clipnorm"):
        c = opts["global_clipnorm"]
        norm = math.sqrt(sum(float(np.sum(g * g)) for g in grads))
        return [g * (c / max(norm, c)) for g in grads]
    if opts.get("clipvalue"):
        c = opts["clipvalue"]
        return [np.clip(g, -c, c) for g in grads]
    return grads


def sgd(p, g, s, lr, t, momentum=0.0, nesterov=False):
    if momentum == 0:
        return p - lr * g
    m = s.get("m", np.zeros_like(p))
    m = momentum * m - lr * g
    s["m"] = m
    return p + momentum * m - lr * g if nesterov else p + m


def adam(p, g, s, lr, t, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False):
    m = beta_1 * s.get("m", np.zeros_like(p)) + (1 - beta_1) * g
    v = beta_2 * s.get("v", np.zeros_like(p)) + (1 - beta_2) * g * g
    s["m"], s["v"] = m, v
    if amsgrad:
        v = np.maximum(s.get("vhat", np.zeros_like(p)), v)
        s["vhat"] = v
    # Keras casts beta to the variable dtype before the power: ops.power(ops.cast(beta, float32), t).
    # 1 - float32(0.999)**t differs from 1 - 0.999**t by 1e-5 relative, which shows at lr >= 0.05.
    b1, b2 = float(np.float32(beta_1)), float(np.float32(beta_2))
    alpha = lr * math.sqrt(1 - b2 ** (t + 1)) / (1 - b1 ** (t + 1))
    return p - alpha * m / (np.sqrt(v) + epsilon)  # Keras: epsilon added to sqrt(v), not to sqrt(v_hat)


def rmsprop(p, g, s, lr, t, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False):
    v = rho * s.get("v", np.zeros_like(p)) + (1 - rho) * g * g
    s["v"] = v
    denom = v + epsilon
    if centered:
        a = rho * s.get("a", np.zeros_like(p)) + (1 - rho) * g
        s["a"] = a
        denom = denom - a * a
    inc = lr * g / np.sqrt(denom)
    if momentum > 0:
        mom = momentum * s.get("mom", np.zeros_like(p)) + inc
        s["mom"] = mom
        return p - mom
    return p - inc


def adagrad(p, g, s, lr, t, initial_accumulator_value=0.1, epsilon=1e-7):
    acc = s.get("acc", np.full_like(p, initial_accumulator_value)) + g * g
    s["acc"] = acc
    return p - lr * g / np.sqrt(acc + epsilon)


UPDATES = {"sgd": sgd, "adam": adam, "adamw": adam, "rmsprop": rmsprop, "adagrad": adagrad}
BASE_KEYS = ("clipnorm", "clipvalue", "global_clipnorm", "weight_decay", "learning_rate")


def run(kind, opts, params, grads_per_step, default_lr, default_wd=None):
    """Apply len(grads_per_step) Keras steps; returns the float64 params after each step."""
    params = [p.astype(np.float64) for p in params]
    states = [{} for _ in params]
    lr_spec = opts.get("learning_rate", default_lr)
    wd = opts.get("weight_decay", default_wd)
    hyper = {k: v for k, v in opts.items() if k not in BASE_KEYS}
    history = []
    for t, grads in enumerate(grads_per_step):
        grads = clip([g.astype(np.float64) for g in grads], opts)
        lr = lr_at(lr_spec, t)
        if wd is not None:
            params = [p - p * wd * lr for p in params]
        params = [UPDATES[kind](p, g, s, lr, t, **hyper) for p, g, s in zip(params, grads, states)]
        history.append([p.copy() for p in params])
    return history
