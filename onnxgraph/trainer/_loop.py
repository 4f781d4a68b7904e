"""The fit and evaluate loops: batches -> engine steps -> metrics -> callbacks.

Ctrl-C during a step is held until the step (gradients and optimizer update) has finished,
then raised; the `finally` writes the engine's weights back into the layers, so an
interrupted fit leaves the model holding the last completed step's weights.
"""

from __future__ import annotations

import contextlib
import signal
import threading

import numpy as np

from onnxgraph.callbacks import CallbackList
from onnxgraph.trainer import _ort
from onnxgraph.trainer._compile import batch_size_of

__all__ = ["fit_loop", "evaluate_loop", "feeds_for", "CompletedStep"]


class CompletedStep:
    """SIGINT (Ctrl-C) arriving inside `with guard.step():` is raised when the step ends.

    The handler is installed once (`with guard:`) around a whole fit; outside a step it raises
    at once, as Python's default handler does.
    """

    def __init__(self):
        self._pending = False
        self._in_step = False
        self._previous = None

    def _handler(self, signum, frame):
        if self._in_step:
            self._pending = True
        else:
            raise KeyboardInterrupt

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, exc_type, exc, tb):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
        return False

    @contextlib.contextmanager
    def step(self):
        self._pending, self._in_step = False, True
        try:
            yield
        finally:
            self._in_step = False
        if self._pending:
            self._pending = False
            raise KeyboardInterrupt


def feeds_for(losses, inputs, targets, weights) -> list[np.ndarray]:
    """Graph feeds: model inputs, then (labels, sample weights) for each output with a loss."""
    feeds = list(inputs)
    for loss, target, weight in zip(losses, targets, weights):
        if loss is not None:
            feeds += [target, weight]
    return feeds


def _epoch_seed(seed: int, epoch: int) -> int:
    return int(np.random.default_rng([seed, epoch, 7]).integers(1, 2**31 - 1))


def fit_loop(model, engine, config, metrics, data, val_data, *, epochs, initial_epoch, callbacks, verbose,
             validation_freq, seed):
    """Run epochs [initial_epoch, epochs); returns the History."""
    callbacks = CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=model, verbose=verbose,
                             epochs=epochs, steps=getattr(data, "steps_per_epoch", None) or data.num_batches)
    model.stop_training = False
    callbacks.on_train_begin(None)
    with CompletedStep() as guard:
        epoch_logs = _epochs(model, engine, config, metrics, data, val_data, callbacks, guard, epochs,
                             initial_epoch, validation_freq, seed)
    callbacks.on_train_end(epoch_logs)
    return callbacks.history


def _reads_weights_per_batch(callbacks) -> bool:
    """Whether a user callback has a batch-end hook (it may read layer weights: sync them first)."""
    from onnxgraph.callbacks import Callback, History, ModelCheckpoint, ProgbarLogger, TerminateOnNaN

    quiet = (History, ProgbarLogger, TerminateOnNaN, ModelCheckpoint)  # these never read layer weights
    for cb in callbacks.callbacks:
        if isinstance(cb, quiet):
            continue
        if "on_train_batch_end" in vars(cb) or "on_batch_end" in vars(cb):
            return True
        if type(cb).on_train_batch_end is not Callback.on_train_batch_end or \
                type(cb).on_batch_end is not Callback.on_batch_end:
            return True
    return False


def _epochs(model, engine, config, metrics, data, val_data, callbacks, guard, epochs, initial_epoch,
            validation_freq, seed):
    epoch_logs: dict = {}
    sync_each_batch = _reads_weights_per_batch(callbacks)
    try:
        for epoch in range(initial_epoch, epochs):
            metrics.reset()
            callbacks.on_epoch_begin(epoch, None)
            # Shuffling and dropout masks depend on (seed, number of epochs trained before) only: each
            # fit() call draws new ones, and a resumed run draws the ones it would have drawn.
            key = model._epochs_seen
            _ort.set_seed(_epoch_seed(seed, key))
            logs, steps = {}, 0
            for step, (inputs, targets, weights) in enumerate(data.epoch(key)):
                callbacks.on_train_batch_begin(step, None)
                with guard.step():
                    loss_values, preds = engine.train_step(feeds_for(config.losses, inputs, targets, weights))
                metrics.update(loss_values, preds, targets, weights, batch_size_of(inputs))
                logs = metrics.results()
                steps += 1
                if sync_each_batch:
                    engine.sync_to_model()
                callbacks.on_train_batch_end(step, logs)
                if model.stop_training:
                    break
            if steps == 0 and getattr(data, "exhausted", False):
                break
            epoch_logs = dict(metrics.results())
            if val_data is not None and _should_validate(epoch, validation_freq):
                val_logs = evaluate_loop(model, engine, config, metrics, val_data, callbacks=callbacks, in_fit=True)
                epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
            model._completed_epochs = epoch + 1
            model._epochs_seen = key + 1
            engine.sync_to_model()  # callbacks reading layer weights see this epoch's values
            callbacks.on_epoch_end(epoch, epoch_logs)
            if model.stop_training:
                break
    finally:
        engine.sync_to_model()
    return epoch_logs


def _should_validate(epoch: int, freq) -> bool:
    if isinstance(freq, int):
        return (epoch + 1) % freq == 0
    return epoch + 1 in freq


def evaluate_loop(model, engine, config, metrics, data, *, callbacks, in_fit=False) -> dict:
    """One pass over `data` in inference mode; returns the logs (loss and metrics)."""
    metrics.reset()
    callbacks.on_test_begin(None)
    logs = {}
    for step, (inputs, targets, weights) in enumerate(data.epoch(0)):
        callbacks.on_test_batch_begin(step, None)
        loss_values, preds = engine.eval_step(feeds_for(config.losses, inputs, targets, weights))
        metrics.update(loss_values, preds, targets, weights, batch_size_of(inputs))
        logs = metrics.results()
        callbacks.on_test_batch_end(step, logs)
    logs = metrics.results()
    callbacks.on_test_end(logs)
    return logs
