"""Constructor argument checks shared by layers: Keras wants positive ints and rates in [0, 1).

`True` is an int in Python and `2.0` converts silently; both are refused, so `Dense(units=True)`
fails at construction with the argument named instead of building a one-unit layer.
"""

from __future__ import annotations

import math
import numbers

__all__ = ["positive_int", "dropout_rate"]


def positive_int(owner: str, name: str, value) -> int:
    """`value` as an int > 0, or a ValueError naming `owner` and the argument."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{owner}: `{name}` must be a positive int, got {value!r}"
                         f"{' (a bool)' if isinstance(value, bool) else ''}.")
    return int(value)


def dropout_rate(owner: str, name: str, value) -> float:
    """A fraction in [0, 1): rate 1 would drop everything and scale by 1/(1 - rate) = inf."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value) or not 0 <= value < 1:
        raise ValueError(f"{owner}: `{name}` must be a float in [0, 1) (the fraction of units dropped), "
                         f"got {value!r}.")
    return float(value)
