"""History (what fit() returns) and ProgbarLogger (the Keras-style progress bar)."""

from __future__ import annotations

from onnxgraph.callbacks._callback import Callback
from onnxgraph.utils._progbar import Progbar

__all__ = ["History", "ProgbarLogger"]


class History(Callback):
    """Records each epoch's logs: `history.history["loss"]`, `["val_accuracy"]`, ...

    Example:
        >>> history = model.fit(x, y, epochs=2, verbose=0)
        >>> sorted(history.history)
        ['loss']
    """

    def __init__(self):
        super().__init__()
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self


def _display(logs: dict) -> dict:
    """Sorted (like Keras's bar: accuracy, loss, val_accuracy, val_loss) floats only."""
    return {k: float(v) for k, v in sorted((logs or {}).items()) if _is_number(v)}


def _is_number(v) -> bool:
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False


class ProgbarLogger(Callback):
    """Prints `Epoch 1/2` and a Keras 3 style bar: steps, time per step, running metrics.

    verbose=1 redraws one line per epoch; verbose=2 prints one line when each epoch ends.
    """

    def __init__(self):
        super().__init__()
        self.verbose, self.epochs, self.target = 1, 1, None
        self._bar = None
        self._seen = 0
        self._in_fit = False

    def set_params(self, params):
        verbose = params.get("verbose", 1)
        self.verbose = 1 if verbose == "auto" else int(verbose)
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    def on_train_begin(self, logs=None):
        self._in_fit = True

    def on_train_end(self, logs=None):
        self._in_fit = False

    def on_epoch_begin(self, epoch, logs=None):
        self._reset()
        if self.verbose and self.epochs > 1:
            print(f"Epoch {epoch + 1}/{self.epochs}")

    def _reset(self):
        self._bar = Progbar(self.target, verbose=self.verbose)
        self._seen = 0

    def on_train_batch_end(self, batch, logs=None):
        self._update(batch, logs)

    def on_test_begin(self, logs=None):
        if not self._in_fit:
            self._reset()

    def on_test_batch_end(self, batch, logs=None):
        if not self._in_fit:
            self._update(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._finalize(logs)

    def on_test_end(self, logs=None):
        if not self._in_fit:
            self._finalize(logs)

    def _update(self, batch, logs):
        if self._bar is None:
            self._reset()
        self._seen = batch + 1
        self._bar.update(self._seen, _display(logs), finalize=False)  # as Keras: the epoch end finalizes

    def _finalize(self, logs):
        if self._bar is None:
            self._reset()
        if self.target is None:
            self._bar.target = self._seen
        self._bar.update(max(self._seen, 1), _display(logs), finalize=True)
