"""fit() applies each optimizer exactly as Keras: several steps against a float64 numpy reference.

The model is linear with a mean-squared error, so its gradient is known in closed form; the
reference update rules are the optimizer tests' independent implementation of Keras 3.
"""

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph import layers, optimizers
from tests.optimizers import optimizer_reference as ref

CASES = [
    ("sgd", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}),
    ("adam", {"learning_rate": 0.05}),
    ("adamw", {"learning_rate": 0.05, "weight_decay": 0.1}),
    ("rmsprop", {"learning_rate": 0.01, "momentum": 0.5, "centered": True}),
    ("adagrad", {"learning_rate": 0.1}),
    ("sgd", {"learning_rate": 0.1, "clipnorm": 0.5}),
    ("adam", {"learning_rate": 0.05, "global_clipnorm": 0.3}),
    ("rmsprop", {"learning_rate": 0.01, "clipvalue": 0.05}),
]
CLASSES = {"sgd": optimizers.SGD, "adam": optimizers.Adam, "adamw": optimizers.AdamW,
           "rmsprop": optimizers.RMSprop, "adagrad": optimizers.Adagrad}
DEFAULT_WD = {"adamw": 0.004}


@pytest.mark.parametrize("kind,opts", CASES, ids=[f"{k}-{'-'.join(o)}" for k, o in CASES])
def test_fit_steps_match_keras_formulas(kind, opts):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((24, 3)).astype(np.float32)
    y = rng.standard_normal((24, 2)).astype(np.float32)
    inputs = og.Input(shape=(3,))
    model = og.Model(inputs, layers.Dense(2)(inputs))
    params = [p.astype(np.float64) for p in model.get_weights()]
    model.compile(optimizer=CLASSES[kind](**opts), loss="mse")
    model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)  # 6 steps

    hyper = {k: v for k, v in opts.items() if k not in ref.BASE_KEYS}
    wd = opts.get("weight_decay", DEFAULT_WD.get(kind))
    states = [{}, {}]
    for t in range(6):
        xb, yb = x[(t % 3) * 8:(t % 3 + 1) * 8].astype(np.float64), y[(t % 3) * 8:(t % 3 + 1) * 8]
        d_pred = 2 * (xb @ params[0] + params[1] - yb) / yb.size  # d mean((xW + b - y)^2)
        grads = ref.clip([xb.T @ d_pred, d_pred.sum(axis=0)], opts)
        lr = opts["learning_rate"]
        if wd is not None:
            params = [p - p * wd * lr for p in params]
        params = [ref.UPDATES[kind](p, g, s, lr, t, **hyper) for p, g, s in zip(params, grads, states)]
    for got, want in zip(model.get_weights(), params):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
