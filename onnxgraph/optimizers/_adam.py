"""Adam (with AMSGrad) and AdamW with Keras 3's formulas: epsilon outside the square root."""

from __future__ import annotations

import numpy as np

from onnxgraph.optimizers._base import Optimizer, check_real
from onnxgraph.optimizers._graph import op, scalar

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam with Keras 3's update, computed in the parameter's dtype.

    With t = iterations + 1: `m += (1 - beta_1) * (g - m)`, `v += (1 - beta_2) * (g*g - v)`,
    `alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)`, `w -= alpha * m / (sqrt(v) + epsilon)`;
    with `amsgrad`, `v_hat = max(v_hat, v)` replaces v in the last step.

    Args:
        learning_rate: float, schedule or callable (default 0.001).
        beta_1: float (default 0.9).
        beta_2: float (default 0.999).
        epsilon: float (default 1e-7).
        amsgrad: bool (default False).
        **kwargs: base options (weight_decay, clipnorm, clipvalue, global_clipnorm, name, ...).

    Example:
        >>> opt = Adam(learning_rate=1e-3, amsgrad=True)
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name, **kwargs)
        self.beta_1 = check_real(type(self).__name__, "beta_1", beta_1, 0.0, 1.0, high_open=True)
        self.beta_2 = check_real(type(self).__name__, "beta_2", beta_2, 0.0, 1.0, high_open=True)
        self.epsilon = check_real(type(self).__name__, "epsilon", epsilon)
        self.amsgrad = amsgrad
        self._constants_key = None

    def _slot_specs(self):
        specs = {"momentum": 0.0, "velocity": 0.0}
        if self.amsgrad:
            specs["velocity_hat"] = 0.0
        return specs

    def _flush_threshold(self, slot, dtype):
        """The momentum flush starts at epsilon * 2**-80 (~1e-31 for float32), not at the smallest
        normal float: a momentum m moves its weight by at most alpha * m / epsilon, here below
        alpha * 1e-24, nothing a float32 weight can register, while m in [tiny, tiny / alpha]
        (alpha ~ 1e-3) would make `m * alpha` subnormal on every step it decays through there: a
        dead ReLU unit's momentum spends ~65 steps in that band, measured ~10% of an MNIST-MLP step."""
        tiny = float(np.finfo(dtype).tiny)
        if slot != "momentum" or not self.epsilon > 0:
            return tiny
        return max(tiny, float(self.epsilon) * 2.0**-80)

    def _step_constants(self, f, lr):
        """The step's scalars in the parameter dtype `f`, computed once per step, not per parameter."""
        t = f(self._iterations + 1)
        beta_1, beta_2 = f(self.beta_1), f(self.beta_2)
        alpha = lr * np.sqrt(f(1) - np.power(beta_2, t)) / (f(1) - np.power(beta_1, t))
        # 1 - beta in double precision, then the dtype, as Keras passes it (1 - 0.999 in float32 is
        # off by 1e-5 relative); the bias-correction powers stay float32 like Keras's.
        return beta_1, beta_2, f(1 - self.beta_1), f(1 - self.beta_2), f(self.epsilon), alpha

    def _update(self, i, param, grad, lr, tmp, tmp2):
        key = (self._iterations, lr, param.dtype, self.beta_1, self.beta_2, self.epsilon)
        if self._constants_key != key:
            self._constants = self._step_constants(param.dtype.type, lr)
            self._constants_key = key
        beta_1, beta_2, one_minus_beta_1, one_minus_beta_2, epsilon, alpha = self._constants
        m, v = self._slots["momentum"][i], self._slots["velocity"][i]
        m *= beta_1
        np.multiply(grad, one_minus_beta_1, out=tmp)
        m += tmp
        v *= beta_2
        np.multiply(grad, grad, out=tmp)
        tmp *= one_minus_beta_2
        v += tmp
        if self.amsgrad:
            v_hat = self._slots["velocity_hat"][i]
            np.maximum(v_hat, v, out=v_hat)
            v = v_hat
        np.sqrt(v, out=tmp)
        tmp += epsilon
        np.multiply(m, alpha, out=tmp2)
        np.divide(tmp2, tmp, out=tmp2)  # (m * alpha) / (sqrt(v) + epsilon), Keras's order
        param -= tmp2

    def _emit_update(self, i, param, grad, slots, step):
        f = param.dtype
        beta_1, beta_2 = scalar(self.beta_1, f), scalar(self.beta_2, f)

        def alpha():
            one = scalar(1.0, f)
            correction = op("Sqrt", op("Sub", one, op("Pow", beta_2, step.step)))
            return op("Div", op("Mul", step.lr, correction), op("Sub", one, op("Pow", beta_1, step.step)))

        alpha = step.cached(("adam_alpha", self.beta_1, self.beta_2), alpha)
        m = op("Add", op("Mul", slots["momentum"], beta_1), op("Mul", grad, scalar(1 - self.beta_1, f)))
        v = op("Add", op("Mul", slots["velocity"], beta_2),
               op("Mul", op("Mul", grad, grad), scalar(1 - self.beta_2, f)))
        new_slots = {"momentum": m, "velocity": v}
        if self.amsgrad:
            v = op("Max", slots["velocity_hat"], v)
            new_slots["velocity_hat"] = v
        denominator = op("Add", op("Sqrt", v), scalar(self.epsilon, f))
        return op("Sub", param, op("Div", op("Mul", m, alpha), denominator)), new_slots

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with Keras's decoupled weight decay: `w -= lr * weight_decay * w` before each Adam step.

    This is Keras 3's AdamW (decay scaled by the current learning rate and applied first),
    not the Hugging Face/onnxruntime AdamW, which decays after the Adam step.

    Args:
        learning_rate: float, schedule or callable (default 0.001).
        weight_decay: float (default 0.004).
        beta_1, beta_2, epsilon, amsgrad: as in `Adam`.
        **kwargs: base options (clipnorm, clipvalue, global_clipnorm, name, ...).

    Example:
        >>> opt = AdamW(learning_rate=1e-3, weight_decay=0.01)
    """

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, clipnorm=None, clipvalue=None, global_clipnorm=None, name=None, **kwargs):
        if weight_decay is None:
            raise ValueError("AdamW: argument `weight_decay` must be a float. Received: weight_decay=None")
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         amsgrad=amsgrad, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name, **kwargs)
