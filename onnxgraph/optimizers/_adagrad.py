"""Adagrad with Keras 3's formula and its 0.1 initial accumulator."""

from __future__ import annotations

import numpy as np

from onnxgraph.optimizers._base import Optimizer, check_real
from onnxgraph.optimizers._graph import op, scalar

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad (Keras 3): `acc += g*g`, `w -= lr * g / sqrt(acc + epsilon)`.

    Args:
        learning_rate: float, schedule or callable (default 0.001).
        initial_accumulator_value: float (default 0.1).
        epsilon: float (default 1e-7).
        **kwargs: base options (weight_decay, clipnorm, clipvalue, global_clipnorm, name, ...).

    Example:
        >>> opt = Adagrad(learning_rate=0.01)
    """

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name, **kwargs)
        self.initial_accumulator_value = check_real("Adagrad", "initial_accumulator_value", initial_accumulator_value)
        self.epsilon = check_real("Adagrad", "epsilon", epsilon)

    def _slot_specs(self):
        return {"accumulator": float(self.initial_accumulator_value)}

    def _update(self, i, param, grad, lr, tmp, tmp2):
        acc = self._slots["accumulator"][i]
        acc += np.multiply(grad, grad, out=tmp)
        np.add(acc, param.dtype.type(self.epsilon), out=tmp2)
        np.sqrt(tmp2, out=tmp2)
        np.multiply(grad, lr, out=tmp)
        np.divide(tmp, tmp2, out=tmp)
        param -= tmp

    def _emit_update(self, i, param, grad, slots, step):
        acc = op("Add", slots["accumulator"], op("Mul", grad, grad))
        denominator = op("Sqrt", op("Add", acc, scalar(self.epsilon, param.dtype)))
        return op("Sub", param, op("Div", op("Mul", grad, step.lr), denominator)), {"accumulator": acc}

    def get_config(self):
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}
