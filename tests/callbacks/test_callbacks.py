"""Callbacks: Keras hook order and each built-in callback's rule (monitored values scripted)."""

import os
import re

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph import callbacks, layers, optimizers


def _model(optimizer=None):
    inputs = og.Input(shape=(3,))
    model = og.Model(inputs, layers.Dense(2)(inputs))
    model.compile(optimizer=optimizer or optimizers.SGD(0.05), loss="mse")
    return model


def _data(n=32):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 3)).astype(np.float32)
    return x, (x[:, :2] * 2 - 1).astype(np.float32)


class Script(callbacks.Callback):
    """Overwrites logs[key] with scripted values at each epoch end (runs before the callback under test)."""

    def __init__(self, key, values):
        super().__init__()
        self.key, self.values = key, values
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]
        self.weights.append(self.model.get_weights())


class Recorder(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def __getattribute__(self, name):
        if name.startswith("on_") and name not in ("on_batch_begin", "on_batch_end"):
            calls = object.__getattribute__(self, "calls")
            return lambda *args, **kwargs: calls.append(name)
        return object.__getattribute__(self, name)


def test_hooks_are_called_in_keras_order():
    recorder = Recorder()
    model = _model()
    x, y = _data(8)
    model.fit(x, y, batch_size=4, epochs=1, validation_data=(x, y), validation_batch_size=8, verbose=0,
              callbacks=[recorder])
    assert recorder.calls == [
        "on_train_begin", "on_epoch_begin",
        "on_train_batch_begin", "on_train_batch_end", "on_train_batch_begin", "on_train_batch_end",
        "on_test_begin", "on_test_batch_begin", "on_test_batch_end", "on_test_end",
        "on_epoch_end", "on_train_end"]
    recorder.calls.clear()
    model.evaluate(x, y, batch_size=8, verbose=0, callbacks=[recorder])
    assert recorder.calls == ["on_test_begin", "on_test_batch_begin", "on_test_batch_end", "on_test_end"]
    assert recorder.params == {"verbose": 0, "epochs": 1, "steps": 1}


def test_early_stopping_patience_and_restore_best_weights():
    model = _model()
    script = Script("val_loss", [1.0, 0.5, 0.6, 0.7, 0.4, 0.3])
    stopper = callbacks.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    history = model.fit(*_data(), epochs=6, verbose=0, callbacks=[script, stopper])
    assert history.epoch == [0, 1, 2, 3]  # best at epoch 1, then two epochs without improvement
    assert stopper.stopped_epoch == 3 and stopper.best == 0.5
    for a, b in zip(model.get_weights(), script.weights[1]):
        np.testing.assert_array_equal(a, b)


def test_early_stopping_mode_from_the_metric_direction():
    model = _model()
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    stopper = callbacks.EarlyStopping(monitor="mae", min_delta=0.1, patience=1)
    script = Script("mae", [1.0, 0.95, 0.5])
    history = model.fit(*_data(), epochs=3, verbose=0, callbacks=[script, stopper])
    assert history.epoch == [0, 1]  # 0.95 is not better than 1.0 by min_delta
    with pytest.raises(ValueError, match="mode='max'"):
        model.fit(*_data(), epochs=1, verbose=0, callbacks=[callbacks.EarlyStopping(monitor="custom")])


def test_model_checkpoint_saves_best_only_atomically(tmp_path):
    model = _model()
    path = str(tmp_path / "best-{epoch:02d}.onnx")
    script = Script("val_loss", [0.9, 1.0, 0.8, 0.85])
    model.fit(*_data(), epochs=4, verbose=0, callbacks=[script, callbacks.ModelCheckpoint(path, save_best_only=True)])
    assert sorted(os.listdir(tmp_path)) == ["best-01.onnx", "best-03.onnx"]
    saved = og.load_model(tmp_path / "best-03.onnx")
    for a, b in zip(saved.get_weights(), script.weights[2]):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=".onnx"):
        callbacks.ModelCheckpoint(tmp_path / "x.keras")


def test_model_checkpoint_every_n_batches(tmp_path):
    model = _model()
    per_batch = []
    record = callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: per_batch.append(model.get_weights()))
    checkpoint = callbacks.ModelCheckpoint(str(tmp_path / "step.onnx"), save_freq=3)
    model.fit(*_data(16), batch_size=4, epochs=1, verbose=0, callbacks=[record, checkpoint])
    assert os.listdir(tmp_path) == ["step.onnx"]
    for a, b in zip(og.load_model(tmp_path / "step.onnx").get_weights(), per_batch[2]):
        np.testing.assert_array_equal(a, b)  # saved after the third batch, not the fourth
    assert not np.array_equal(per_batch[2][0], per_batch[3][0])


def test_reduce_lr_on_plateau():
    model = _model(optimizers.SGD(0.1))
    script = Script("val_loss", [1.0, 1.0, 1.0, 1.0, 0.2, 0.2])
    reducer = callbacks.ReduceLROnPlateau(factor=0.5, patience=2, min_lr=0.03)
    history = model.fit(*_data(), epochs=6, verbose=0, callbacks=[script, reducer])
    # Logged at each epoch end before the reduction takes effect, like Keras.
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.05])
    assert model.optimizer.learning_rate == pytest.approx(0.05)


def test_learning_rate_scheduler_changes_the_applied_step():
    model = _model(optimizers.SGD(0.1))
    x, y = _data(8)
    before = model.get_weights()[0]
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0,
                        callbacks=[callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.0)])
    np.testing.assert_array_equal(model.get_weights()[0], before)  # lr 0: no change
    assert history.history["learning_rate"] == [0.0]


def test_csv_logger_writes_and_appends(tmp_path):
    path = tmp_path / "log.csv"
    model = _model()
    x, y = _data()
    model.fit(x, y, epochs=2, validation_data=(x, y), verbose=0, callbacks=[callbacks.CSVLogger(path)])
    model.fit(x, y, epochs=1, validation_data=(x, y), verbose=0, callbacks=[callbacks.CSVLogger(path, append=True)])
    lines = path.read_text().splitlines()
    assert lines[0] == "epoch,loss,val_loss" and len(lines) == 4
    assert [line.split(",")[0] for line in lines[1:]] == ["0", "1", "0"]
    assert float(lines[2].split(",")[1]) > 0


def test_terminate_on_nan():
    model = _model()
    x, y = _data(16)
    y[5] = np.nan
    history = model.fit(x, y, batch_size=4, epochs=3, verbose=0, callbacks=[callbacks.TerminateOnNaN()])
    assert len(history.history["loss"]) == 1 and np.isnan(history.history["loss"][0])
    with pytest.raises(RuntimeError, match="NaN"):
        model.fit(x, y, batch_size=4, epochs=3, verbose=0, callbacks=[callbacks.TerminateOnNaN(raise_error=True)])


def test_lambda_callback_and_stop_training():
    seen = []
    model = _model()

    def on_batch_end(batch, logs):
        seen.append((batch, round(logs["loss"], 6)))
        if batch == 1:
            model.stop_training = True

    history = model.fit(*_data(16), batch_size=4, epochs=3, verbose=0,
                        callbacks=[callbacks.LambdaCallback(on_train_batch_end=on_batch_end)])
    assert [b for b, _ in seen] == [0, 1] and len(history.epoch) == 1


def test_progress_bar_output(capsys):
    model = _model()
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    x, y = _data()
    model.fit(x, y, batch_size=8, epochs=2, validation_split=0.25, verbose=1)
    out = re.sub(r"\x1b\[[0-9;]*m", "", capsys.readouterr().out)  # Keras's bar is bold/green/grey
    assert "Epoch 1/2" in out and "Epoch 2/2" in out
    assert "3/3 ━━━━━━━━━━━━━━━━━━━━" in out and "- mae: " in out and "- val_loss: " in out
    model.fit(x, y, batch_size=8, epochs=2, verbose=2)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("4/4")]
    assert len(lines) == 2 and "/step - loss: " in lines[0] and lines[0].index("mae") > lines[0].index("loss")
    model.evaluate(x, y, verbose=2)
    assert capsys.readouterr().out.startswith("1/1 - ")


def test_batch_callbacks_see_the_current_layer_weights():
    model = _model()
    dense = model.layers[1]
    seen = []
    model.fit(*_data(16), batch_size=4, epochs=1, verbose=0,
              callbacks=[callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(dense.get_weights()))])
    assert len(seen) == 4
    assert all(not np.array_equal(a[0], b[0]) for a, b in zip(seen, seen[1:]))
    np.testing.assert_array_equal(seen[-1][0], dense.get_weights()[0])
