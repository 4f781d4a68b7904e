"""The global random generator behind initializers and seeded layers."""

from __future__ import annotations

import random

import numpy as np

_state = {"generator": np.random.default_rng()}


def set_random_seed(seed: int) -> None:
    """Seed onnxgraph's generator (initializers, dropout), Python's `random` and numpy's legacy one."""
    _state["generator"] = np.random.default_rng(seed)
    random.seed(seed)
    np.random.seed(seed % (2**32))


def generator() -> np.random.Generator:
    return _state["generator"]
