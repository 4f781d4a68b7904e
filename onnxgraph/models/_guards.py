"""Guards of the training API: one training call per model at a time, and argument checks.

Two threads training one model would interleave optimizer steps on the same buffers (the issue
saw NaN weights in 2 of 10 trials). `exclusive` refuses a second thread with a clear error; the
same thread may nest calls (a callback calling `evaluate` inside `fit`).
"""

from __future__ import annotations

import contextlib
import functools
import math
import numbers
import threading

__all__ = ["exclusive", "guarded", "check_count", "check_fraction", "check_verbose", "check_fit_args",
           "check_class_weight", "check_not_empty", "check_validation_data"]

_owners_lock = threading.Lock()


@contextlib.contextmanager
def exclusive(model, what: str):
    me = threading.get_ident()
    with _owners_lock:
        owner = model.__dict__.get("_training_owner")
        if owner is not None and owner[0] != me:
            raise RuntimeError(
                f"Model '{model.name}' is already running {owner[1]} in another thread; {what} cannot run on it "
                "at the same time (both would update the same weights). Wait for the first call to return, or "
                "train a copy: og.Model.from_config(model.get_config()), then set_weights(model.get_weights()).")
        nested = owner is not None
        if not nested:
            model.__dict__["_training_owner"] = (me, what)
    try:
        yield
    finally:
        if not nested:
            with _owners_lock:
                model.__dict__["_training_owner"] = None


def check_count(name: str, value, *, minimum: int = 1, allow_none: bool = True, where: str = "fit") -> None:
    """`value` is an int >= minimum (or None): refuses bools, floats, strings, NaN, negatives."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        kind = "a positive int" if minimum == 1 else f"an int >= {minimum}"
        extra = " or None" if allow_none else ""
        raise ValueError(f"{where}: `{name}` must be {kind}{extra}, got {value!r}.")


def check_fraction(name: str, value, where: str = "fit") -> None:
    """A float in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (0 <= value < 1) or math.isnan(value):
        raise ValueError(f"{where}: `{name}` must be a float in [0, 1) (the fraction of the data held out), "
                         f"got {value!r}.")


def check_verbose(value, where: str = "fit") -> None:
    if isinstance(value, str) and value == "auto":
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value not in (0, 1, 2):
        raise ValueError(f"{where}: `verbose` must be 'auto', 0, 1 or 2, got {value!r}.")


def guarded(what: str):
    """Decorator: the method runs under `exclusive(self, what)`."""
    def wrap(method):
        @functools.wraps(method)
        def run(self, *args, **kwargs):
            with exclusive(self, what):
                return method(self, *args, **kwargs)
        return run
    return wrap


def check_fit_args(batch_size, epochs, verbose, validation_split, initial_epoch, steps_per_epoch,
                   validation_steps, validation_batch_size, validation_freq) -> None:
    check_count("batch_size", batch_size)
    check_count("epochs", epochs, minimum=0, allow_none=False)
    check_count("initial_epoch", initial_epoch, minimum=0)
    check_count("steps_per_epoch", steps_per_epoch)
    check_count("validation_steps", validation_steps)
    check_count("validation_batch_size", validation_batch_size)
    check_count("validation_freq", validation_freq, allow_none=False)
    check_fraction("validation_split", validation_split)
    check_verbose(verbose)


def check_class_weight(class_weight) -> None:
    """None, or a dict {class index: finite weight >= 0} (Keras's class_weight)."""
    if class_weight is None:
        return
    if not isinstance(class_weight, dict):
        raise ValueError(f"fit: `class_weight` must be a dict {{class index: weight}}, got a "
                         f"{type(class_weight).__name__}.")
    for key, weight in class_weight.items():
        if isinstance(key, bool) or not isinstance(key, numbers.Integral) or key < 0:
            raise ValueError(f"fit: `class_weight` keys must be class indices (ints >= 0), got {key!r}.")
        if isinstance(weight, bool) or not isinstance(weight, numbers.Real) or not math.isfinite(weight) or weight < 0:
            raise ValueError(f"fit: `class_weight[{key}]` must be a finite weight >= 0, got {weight!r}.")


def check_not_empty(data, where: str) -> None:
    if getattr(data, "size", None) == 0:
        raise ValueError(f"{where}: `x` has 0 samples; pass at least one sample.")


def check_validation_data(validation_data) -> None:
    if isinstance(validation_data, (tuple, list)) and len(validation_data) not in (2, 3):
        raise ValueError(f"fit: `validation_data` must be (x_val, y_val) or (x_val, y_val, sample_weight), or an "
                         f"iterable of batches; got a {type(validation_data).__name__} of {len(validation_data)} items.")
