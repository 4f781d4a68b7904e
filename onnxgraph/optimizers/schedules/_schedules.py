"""Learning-rate schedules with Keras 3's formulas, names and configs (computed in float32 like Keras)."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["LearningRateSchedule", "ExponentialDecay", "PiecewiseConstantDecay", "PolynomialDecay",
           "InverseTimeDecay", "CosineDecay"]

_f32 = np.float32


class LearningRateSchedule:
    """Base class: a callable `schedule(step) -> learning rate` with a JSON-able config.

    Subclasses implement `__call__(step)` and `get_config()`; `from_config` calls `cls(**config)`.

    Example:
        >>> class Halving(LearningRateSchedule):
        ...     def __init__(self, lr): self.lr = lr
        ...     def __call__(self, step): return self.lr / 2 ** step
        ...     def get_config(self): return {"lr": self.lr}
    """

    def __call__(self, step):
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override `__call__(self, step)`.")

    def get_config(self) -> dict:
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override `get_config()` to be serializable."
        )

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)


def _positive_steps(value, arg: str, cls: str):
    if value <= 0:
        raise ValueError(f"{cls}: argument `{arg}` must be > 0. Received: {arg}={value}")


class ExponentialDecay(LearningRateSchedule):
    """initial_learning_rate * decay_rate ** (step / decay_steps); integer division when `staircase`.

    Args:
        initial_learning_rate: float, the rate at step 0.
        decay_steps: int > 0.
        decay_rate: float, the factor applied every `decay_steps`.
        staircase: bool, decay at discrete intervals.
        name: str.

    Example:
        >>> round(ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)(10), 6)
        0.05
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="ExponentialDecay"):
        _positive_steps(decay_steps, "decay_steps", "ExponentialDecay")
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step):
        p = _f32(step) / _f32(self.decay_steps)
        if self.staircase:
            p = np.floor(p)
        return float(_f32(self.initial_learning_rate) * np.power(_f32(self.decay_rate), p))

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class PiecewiseConstantDecay(LearningRateSchedule):
    """values[0] while step <= boundaries[0], values[i] while boundaries[i-1] < step <= boundaries[i], ...

    Args:
        boundaries: strictly increasing step numbers.
        values: one more value than boundaries.
        name: str.

    Example:
        >>> PiecewiseConstantDecay([2, 4], [1.0, 0.5, 0.1])(3)
        0.5
    """

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "PiecewiseConstantDecay: the length of boundaries should be 1 less than the length of values. "
                f"Received: boundaries={boundaries} of length {len(boundaries)}, and values={values} "
                f"of length {len(values)}."
            )
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step):
        for boundary, value in zip(self.boundaries, self.values):
            if step <= boundary:
                return float(_f32(value))
        return float(_f32(self.values[-1]))

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """(initial - end) * (1 - min(step, decay_steps) / decay_steps) ** power + end (Keras 3 formula).

    Args:
        initial_learning_rate: float.
        decay_steps: int > 0.
        end_learning_rate: float, the floor (default 0.0001).
        power: float (default 1.0, linear).
        cycle: bool, restart with a multiple of decay_steps past the end.
        name: str.

    Example:
        >>> round(PolynomialDecay(0.1, 10, end_learning_rate=0.0)(5), 6)
        0.05
    """

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0, cycle=False,
                 name="PolynomialDecay"):
        _positive_steps(decay_steps, "decay_steps", "PolynomialDecay")
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = cycle
        self.name = name

    def __call__(self, step):
        step, decay_steps = _f32(step), _f32(self.decay_steps)
        if self.cycle:
            decay_steps = decay_steps * (_f32(1.0) if step == 0 else np.ceil(step / decay_steps))
        else:
            step = min(step, decay_steps)
        p = step / decay_steps
        start, end = _f32(self.initial_learning_rate), _f32(self.end_learning_rate)
        return float((start - end) * np.power(_f32(1) - p, _f32(self.power)) + end)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "end_learning_rate": self.end_learning_rate, "power": self.power, "cycle": self.cycle,
                "name": self.name}


class InverseTimeDecay(LearningRateSchedule):
    """initial_learning_rate / (1 + decay_rate * step / decay_steps); floor of the ratio when `staircase`.

    Args:
        initial_learning_rate: float.
        decay_steps: int > 0.
        decay_rate: float.
        staircase: bool.
        name: str.

    Example:
        >>> round(InverseTimeDecay(0.1, decay_steps=1, decay_rate=1.0)(1), 6)
        0.05
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="InverseTimeDecay"):
        _positive_steps(decay_steps, "decay_steps", "InverseTimeDecay")
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step):
        p = _f32(step) / _f32(self.decay_steps)
        if self.staircase:
            p = np.floor(p)
        return float(_f32(self.initial_learning_rate) / (_f32(1) + _f32(self.decay_rate) * p))

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Optional linear warmup to `warmup_target`, then cosine decay to `alpha` times the start rate.

    Args:
        initial_learning_rate: float, the rate at step 0.
        decay_steps: int > 0, length of the cosine phase.
        alpha: float, the final rate as a fraction of the decay's start rate.
        name: str.
        warmup_target: float or None; None skips warmup.
        warmup_steps: int, length of the warmup.

    Example:
        >>> CosineDecay(0.0, 10, warmup_target=0.1, warmup_steps=5)(5)
        0.10000000149011612
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay", warmup_target=None,
                 warmup_steps=0):
        _positive_steps(decay_steps, "decay_steps", "CosineDecay")
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_steps = warmup_steps
        self.warmup_target = warmup_target

    def _decay(self, step, decay_from):
        fraction = step / _f32(self.decay_steps)
        cosine = _f32(0.5) * (_f32(1.0) + np.cos(_f32(math.pi) * fraction))
        return decay_from * ((_f32(1) - _f32(self.alpha)) * cosine + _f32(self.alpha))

    def __call__(self, step):
        start, step, decay_steps = _f32(self.initial_learning_rate), _f32(step), _f32(self.decay_steps)
        if self.warmup_target is None:
            return float(self._decay(min(step, decay_steps), start))
        target, warmup_steps = _f32(self.warmup_target), _f32(self.warmup_steps)
        step = min(step, decay_steps + warmup_steps)
        if step < warmup_steps:
            return float((target - start) * (step / warmup_steps) + start)
        return float(self._decay(step - warmup_steps, target))

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "alpha": self.alpha, "name": self.name, "warmup_target": self.warmup_target,
                "warmup_steps": self.warmup_steps}
