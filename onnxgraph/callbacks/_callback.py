"""The Callback base class with Keras's hooks, and the list fit() calls them through."""

from __future__ import annotations

__all__ = ["Callback", "CallbackList"]


class Callback:
    """Base class for objects that fit()/evaluate() call at fixed points (Keras hooks).

    Subclass it and override any `on_*` method. `self.model` is the model being trained,
    `self.params` holds `verbose`, `epochs` and `steps`. Setting `self.model.stop_training = True`
    ends fit() after the current epoch (or batch).

    Example:
        >>> class PrintLoss(Callback):
        ...     def on_epoch_end(self, epoch, logs=None):
        ...         print(epoch, logs["loss"])
    """

    def __init__(self):
        self.params = None
        self._model = None

    def set_params(self, params: dict) -> None:
        self.params = params

    def set_model(self, model) -> None:
        self._model = model

    @property
    def model(self):
        return self._model

    def on_batch_begin(self, batch, logs=None):
        """Called by on_train_batch_begin (Keras's legacy alias)."""

    def on_batch_end(self, batch, logs=None):
        """Called by on_train_batch_end (Keras's legacy alias)."""

    def on_epoch_begin(self, epoch, logs=None):
        """At the start of an epoch (0-based `epoch`)."""

    def on_epoch_end(self, epoch, logs=None):
        """At the end of an epoch; `logs` has the epoch's metrics, `val_*` included."""

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        """Before each evaluate()/validation batch."""

    def on_test_batch_end(self, batch, logs=None):
        """After each evaluate()/validation batch."""

    def on_predict_batch_begin(self, batch, logs=None):
        """Before each predict() batch."""

    def on_predict_batch_end(self, batch, logs=None):
        """After each predict() batch."""

    def on_train_begin(self, logs=None):
        """At the start of fit()."""

    def on_train_end(self, logs=None):
        """At the end of fit() (also after an early stop)."""

    def on_test_begin(self, logs=None):
        """At the start of evaluate() or of a validation pass."""

    def on_test_end(self, logs=None):
        """At the end of evaluate() or of a validation pass."""

    def on_predict_begin(self, logs=None):
        """At the start of predict()."""

    def on_predict_end(self, logs=None):
        """At the end of predict()."""


_HOOKS = ("on_epoch_begin", "on_epoch_end", "on_train_batch_begin", "on_train_batch_end", "on_test_batch_begin",
          "on_test_batch_end", "on_predict_batch_begin", "on_predict_batch_end", "on_train_begin", "on_train_end",
          "on_test_begin", "on_test_end", "on_predict_begin", "on_predict_end")


class CallbackList(Callback):
    """Calls each hook on every callback, in order (History and the progress bar added as Keras does).

    Args:
        callbacks: list of Callback objects (or None).
        add_history: append a History (unless one is given).
        add_progbar: append a ProgbarLogger when `verbose` is not 0.
        model: the model, given to every callback with set_model.
        **params: verbose, epochs, steps -- given to every callback with set_params.
    """

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None, **params):
        from onnxgraph.callbacks._history import History, ProgbarLogger

        super().__init__()
        self.callbacks = list(callbacks or [])
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be Callback instances (onnxgraph.callbacks.*), got "
                                f"{type(cb).__name__}. Wrap a function with LambdaCallback.")
        self.history = next((cb for cb in self.callbacks if isinstance(cb, History)), None)
        if add_history and self.history is None:
            self.history = History()
            self.callbacks.append(self.history)
        if add_progbar and params.get("verbose", 0) and not any(isinstance(cb, ProgbarLogger) for cb in self.callbacks):
            self.callbacks.append(ProgbarLogger())
        if model is not None:
            self.set_model(model)
        self.set_params(params)

    def append(self, callback: Callback) -> None:
        self.callbacks.append(callback)

    def set_params(self, params: dict) -> None:
        self.params = params
        for cb in self.callbacks:
            cb.set_params(params)

    def set_model(self, model) -> None:
        self._model = model
        for cb in self.callbacks:
            cb.set_model(model)


def _dispatch(name):
    def hook(self, *args, **kwargs):
        for cb in self.callbacks:
            getattr(cb, name)(*args, **kwargs)
    hook.__name__ = name
    return hook


for _name in _HOOKS:
    setattr(CallbackList, _name, _dispatch(_name))
