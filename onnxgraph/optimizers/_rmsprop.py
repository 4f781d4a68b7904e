"""RMSprop with Keras 3's formulas: epsilon inside the square root, optional momentum and centering."""

from __future__ import annotations

import numpy as np

from onnxgraph.optimizers._base import Optimizer, check_real
from onnxgraph.optimizers._graph import op, scalar

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop (Keras 3): `v = rho*v + (1-rho)*g*g`, `step = lr * g / sqrt(v + epsilon)`.

    Centered: `a = rho*a + (1-rho)*g` and the denominator is `sqrt(v - a*a + epsilon)`.
    With momentum: `m = momentum*m + step; w -= m`; else `w -= step`.

    Args:
        learning_rate: float, schedule or callable (default 0.001).
        rho: float (default 0.9).
        momentum: float (default 0.0).
        epsilon: float (default 1e-7).
        centered: bool (default False).
        **kwargs: base options (weight_decay, clipnorm, clipvalue, global_clipnorm, name, ...).

    Example:
        >>> opt = RMSprop(learning_rate=1e-3, momentum=0.9, centered=True)
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name, **kwargs)
        self.rho = check_real("RMSprop", "rho", rho, 0.0, 1.0, high_open=True)
        self.momentum = check_real("RMSprop", "momentum", momentum, 0.0, 1.0)
        self.epsilon = check_real("RMSprop", "epsilon", epsilon)
        self.centered = centered

    def _slot_specs(self):
        specs = {"velocity": 0.0}
        if self.momentum > 0:
            specs["momentum"] = 0.0
        if self.centered:
            specs["average_gradient"] = 0.0
        return specs

    def _update(self, i, param, grad, lr, tmp, tmp2):
        f = param.dtype.type
        one_minus_rho = f(1 - self.rho)  # in double, like Keras
        v = self._slots["velocity"][i]
        v *= f(self.rho)
        np.multiply(grad, grad, out=tmp)
        tmp *= one_minus_rho
        v += tmp
        denominator = np.add(v, f(self.epsilon), out=tmp2)
        if self.centered:
            a = self._slots["average_gradient"][i]
            a *= f(self.rho)
            np.multiply(grad, one_minus_rho, out=tmp)
            a += tmp
            np.multiply(a, a, out=tmp)
            denominator -= tmp
        np.sqrt(denominator, out=denominator)
        increment = np.multiply(grad, lr, out=tmp)
        np.divide(increment, denominator, out=increment)
        if self.momentum > 0:
            m = self._slots["momentum"][i]
            m *= f(self.momentum)
            m += increment
            param -= m
        else:
            param -= increment

    def _emit_update(self, i, param, grad, slots, step):
        f = param.dtype
        rho, one_minus_rho = scalar(self.rho, f), scalar(1 - self.rho, f)
        v = op("Add", op("Mul", slots["velocity"], rho), op("Mul", op("Mul", grad, grad), one_minus_rho))
        new_slots = {"velocity": v}
        denominator = op("Add", v, scalar(self.epsilon, f))
        if self.centered:
            a = op("Add", op("Mul", slots["average_gradient"], rho), op("Mul", grad, one_minus_rho))
            new_slots["average_gradient"] = a
            denominator = op("Sub", denominator, op("Mul", a, a))
        increment = op("Div", op("Mul", grad, step.lr), op("Sqrt", denominator))
        if self.momentum > 0:
            m = op("Add", op("Mul", slots["momentum"], scalar(self.momentum, f)), increment)
            new_slots["momentum"] = m
            return op("Sub", param, m), new_slots
        return op("Sub", param, increment), new_slots

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}
