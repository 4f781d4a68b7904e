"""Training state: checkpoint/resume equals an uninterrupted run; Ctrl-C keeps the last completed step."""

import os
import signal
import threading

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph import callbacks, layers, optimizers


def _model(seed=11):
    og.utils.clear_session()
    og.utils.set_random_seed(seed)
    inputs = og.Input(shape=(6,))
    x = layers.Dense(16, activation="relu")(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.Dropout(0.25)(x)
    model = og.Model(inputs, layers.Dense(3)(x))
    model.compile(optimizer=optimizers.Adam(learning_rate=optimizers.schedules.ExponentialDecay(1e-2, 10, 0.9)),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((60, 6)).astype(np.float32)
    return x, (x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1)


def test_five_plus_five_epochs_equal_ten(tmp_path):
    x, y = _data()
    straight = _model()
    straight.fit(x, y, batch_size=16, epochs=10, verbose=0)

    first = _model()
    first.fit(x, y, batch_size=16, epochs=5, verbose=0)
    first.save_checkpoint(tmp_path / "run.ckpt")
    resumed = _model(seed=99)  # other initial weights and seed: the checkpoint must restore everything
    assert resumed.load_checkpoint(tmp_path / "run.ckpt") == 5
    history = resumed.fit(x, y, batch_size=16, epochs=10, verbose=0)
    assert history.epoch == [5, 6, 7, 8, 9]
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert resumed.optimizer.iterations == straight.optimizer.iterations == 40
    assert resumed.optimizer.learning_rate == straight.optimizer.learning_rate


def test_checkpoint_restores_a_changed_learning_rate(tmp_path):
    x, y = _data()
    model = _model()
    model.compile(optimizer=optimizers.SGD(0.1, momentum=0.9), loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.LearningRateScheduler(lambda epoch: 0.025)])
    model.save_checkpoint(tmp_path / "sgd.ckpt")
    other = _model(seed=5)
    other.compile(optimizer=optimizers.SGD(0.1, momentum=0.9), loss="sparse_categorical_crossentropy")
    other.load_checkpoint(tmp_path / "sgd.ckpt")
    assert other.optimizer.learning_rate == pytest.approx(0.025)
    np.testing.assert_array_equal(other.optimizer.get_state()["momentum/0"], model.optimizer.get_state()["momentum/0"])
    with pytest.raises(ValueError, match="Adam"):
        _model().load_checkpoint(tmp_path / "sgd.ckpt")
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".tmp")]


class _InterruptAt(callbacks.Callback):
    def __init__(self, step):
        super().__init__()
        self.step = step

    def on_train_batch_end(self, batch, logs=None):
        if self.model.optimizer.iterations == self.step:
            raise KeyboardInterrupt


def _steps_by_hand(n, x, y):
    """The same training, one train_on_batch at a time, for `n` steps."""
    model = _model()
    for step in range(n):
        epoch, batch = divmod(step, 4)
        order = model._data(model._prepare(x, y, "training"), x, y, shuffle=True,
                            batch_size=16)._order(epoch)
        index = order[batch * 16:(batch + 1) * 16]
        if batch == 0:
            from onnxgraph.trainer import _loop, _ort

            _ort.set_seed(_loop._epoch_seed(model._train_seed, epoch))
        model.train_on_batch(x[index], y[index])
    return model


def test_keyboard_interrupt_keeps_the_last_completed_step():
    x, y = _data()
    model = _model()
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, batch_size=16, epochs=5, verbose=0, callbacks=[_InterruptAt(6)])
    reference = _steps_by_hand(6, x, y)
    for a, b in zip(reference.get_weights(), model.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_sigint_during_a_step_is_raised_after_the_step():
    x, y = _data()
    model = _model()
    timer = threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGINT))
    start = callbacks.LambdaCallback(on_train_begin=lambda logs: timer.start())  # after the engine is built
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, batch_size=16, epochs=100000, verbose=0, callbacks=[start])
    timer.cancel()
    steps = model.optimizer.iterations
    assert steps > 0
    # The model holds exactly the weights after `steps` completed steps: none half-applied.
    reference = _steps_by_hand(steps, x, y)
    for a, b in zip(reference.get_weights(), model.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
