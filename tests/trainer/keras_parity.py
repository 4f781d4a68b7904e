"""Train the same model in onnxgraph and in Keras 3 (torch backend) and return both runs.

`build(K)` builds the model with either module (`onnxgraph` or `keras`: the same API); Keras
gets onnxgraph's initial weights. One batch per epoch, so `history["loss"]` holds the loss of
every optimizer step (Keras's logged loss is an epoch mean).
"""

from __future__ import annotations

import numpy as np

import onnxgraph as og


def keras():
    import keras as k

    return k


def fit_both(build, x, y, optimizer: str, lr: float, loss="mse", steps: int = 4, sample_weight=None, **compile_kw):
    """(og losses, keras losses, og weights, keras weights) after `steps` full-batch steps."""
    k = keras()
    runs = []
    og_model = build(og)
    k_model = build(k)
    k_model.set_weights(og_model.get_weights())
    for module, model in ((og, og_model), (k, k_model)):
        opt = {"sgd": module.optimizers.SGD, "adam": module.optimizers.Adam}[optimizer](learning_rate=lr)
        model.compile(optimizer=opt, loss=loss, **compile_kw)
        history = model.fit(x, y, batch_size=len(x), epochs=steps, shuffle=False, verbose=0,
                            sample_weight=sample_weight)
        runs.append((np.array(history.history["loss"]), [np.asarray(w) for w in model.get_weights()]))
    return runs[0][0], runs[1][0], runs[0][1], runs[1][1]


def assert_same_training(build, x, y, optimizer, lr, rtol=1e-5, atol=1e-6, **kw):
    og_losses, k_losses, og_weights, k_weights = fit_both(build, x, y, optimizer, lr, **kw)
    np.testing.assert_allclose(og_losses, k_losses, rtol=rtol, atol=atol)
    assert len(og_weights) == len(k_weights)
    for got, want in zip(og_weights, k_weights):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
    return og_losses, k_losses
