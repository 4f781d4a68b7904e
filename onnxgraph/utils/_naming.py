"""Keras auto-names: `dense`, `dense_1`, ... (one counter per prefix, reset by clear_session)."""

from __future__ import annotations

import collections
import re

__all__ = ["to_snake_case", "auto_name", "clear_session"]

_uids: collections.Counter = collections.Counter()


def to_snake_case(name: str) -> str:
    """Keras's snake case: Conv2DTranspose -> conv2d_transpose, UpSampling2D -> up_sampling2d."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def auto_name(prefix: str) -> str:
    prefix = to_snake_case(prefix)
    count = _uids[prefix]
    _uids[prefix] += 1
    return prefix if count == 0 else f"{prefix}_{count}"


def clear_session() -> None:
    """Reset auto-name counters (like `keras.backend.clear_session()`)."""
    _uids.clear()
