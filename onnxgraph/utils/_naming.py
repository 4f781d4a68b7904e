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


def clear_session(free_memory: bool = True) -> None:
    """Start a fresh session, like `keras.backend.clear_session()`.

    Auto-name counters restart (the next Dense is `dense` again), and every model's cached
    onnxruntime session is released (each is rebuilt on the model's next call, so models stay
    usable). `free_memory` is accepted for Keras compatibility: sessions are always released.

    Example:
        >>> clear_session()
        >>> layers.Dense(2).name
        'dense'
    """
    _uids.clear()
    import sys

    runner = sys.modules.get("onnxgraph.runtime._runner")  # no sessions exist before it is imported
    if runner is not None:
        runner.release_sessions()
