"""Constructor argument checks shared by layers: Keras wants positive ints and rates in [0, 1).

`True` is an int in Python and `2.0` converts silently; both are refused, so `Dense(units=True)`
fails at construction with the argument named instead of building a one-unit layer.
"""

from __future__ import annotations

import math
import numbers

__all__ = ["positive_int", "positive_int_message", "dropout_rate", "int_tuple"]


def positive_int_message(owner: str, name: str, value) -> str:
    """Our wording, then Keras's (Keras's own tests match on it)."""
    return (f"{owner}: `{name}` must be a positive integer, got {value!r}{' (a bool)' if isinstance(value, bool) else ''}. "
            f"(Keras: Invalid value for argument `{name}`. Expected a strictly positive value. Received {name}={value}; "
            f"`{name}` should be a positive integer.)")


def positive_int(owner: str, name: str, value) -> int:
    """`value` as an int > 0, or a ValueError naming `owner` and the argument."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(positive_int_message(owner, name, value))
    return int(value)


def dropout_rate(owner: str, name: str, value) -> float:
    """A fraction in [0, 1): rate 1 would drop everything and scale by 1/(1 - rate) = inf."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value) or not 0 <= value < 1:
        raise ValueError(f"{owner}: `{name}` must be a float in [0, 1) (the fraction of units dropped), "
                         f"got {value!r}. (Keras: Invalid value received for argument `{name}`. Expected a float "
                         f"value between 0 and 1. Received: {name}={value})")
    return float(value)


def int_tuple(owner: str, name: str, value, allow_minus_one: bool = False) -> tuple:
    """A list/tuple of positive ints (and one -1 where `allow_minus_one`), refusing strings and bools."""
    ok = isinstance(value, (list, tuple)) and all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) and (v > 0 or (allow_minus_one and v == -1))
        for v in value)
    if not ok:
        extra = " (one of them may be -1)" if allow_minus_one else ""
        raise ValueError(f"{owner}: `{name}` must be a tuple of positive ints{extra}, got {value!r}.")
    return tuple(int(v) for v in value)
