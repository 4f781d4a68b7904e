"""SGD with Keras 3's momentum and Nesterov formulas."""

from __future__ import annotations

import numpy as np

from onnxgraph.optimizers._base import Optimizer, check_real
from onnxgraph.optimizers._graph import op, scalar

__all__ = ["SGD"]


class SGD(Optimizer):
    """Gradient descent, optionally with momentum (Keras 3 formulas).

    Without momentum: `w -= lr * g`. With momentum: `m = momentum * m - lr * g`, then
    `w += m`, or with Nesterov `w += momentum * m - lr * g`.

    Args:
        learning_rate: float, schedule or callable (default 0.01).
        momentum: float in [0, 1] (default 0.0).
        nesterov: bool (default False).
        **kwargs: base options (weight_decay, clipnorm, clipvalue, global_clipnorm, name, ...).

    Example:
        >>> opt = SGD(learning_rate=0.1, momentum=0.9, nesterov=True)
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name, **kwargs)
        self.momentum = check_real("SGD", "momentum", momentum, 0.0, 1.0)
        self.nesterov = bool(nesterov)

    def _slot_specs(self):
        return {"momentum": 0.0} if self.momentum != 0 else {}

    def _update(self, i, param, grad, lr, tmp, tmp2):
        # Keras 3 (torch backend) order: m = m * momentum + grad * -lr; w += grad * -lr + m * momentum.
        np.multiply(grad, lr, out=tmp)
        if self.momentum == 0:
            param -= tmp
            return
        momentum = param.dtype.type(self.momentum)
        m = self._slots["momentum"][i]
        m *= momentum
        m -= tmp
        if self.nesterov:
            param -= tmp
            np.multiply(m, momentum, out=tmp)
            param += tmp
        else:
            param += m

    def _emit_update(self, i, param, grad, slots, step):
        tmp = op("Mul", grad, step.lr)
        if self.momentum == 0:
            return op("Sub", param, tmp), {}
        momentum = scalar(self.momentum, param.dtype)
        m = op("Sub", op("Mul", slots["momentum"], momentum), tmp)
        if self.nesterov:
            return op("Add", op("Sub", param, tmp), op("Mul", m, momentum)), {"momentum": m}
        return op("Add", param, m), {"momentum": m}

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
