"""Training checkpoint helpers: atomic .npz writes and optimizer slots reordered between weight orders."""

from __future__ import annotations

import os
import tempfile

import numpy as np

__all__ = ["reorder_slots", "atomic_savez"]


def reorder_slots(state: dict, saved: list, current: list) -> dict:
    position = {path: i for i, path in enumerate(saved)}
    result = {}
    for key, value in state.items():
        if "/" in key and key.rsplit("/", 1)[1].isdigit():
            slot, index = key.rsplit("/", 1)
            new_index = next(i for i, path in enumerate(current) if position[path] == int(index))
            result[f"{slot}/{new_index}"] = value
        else:
            result[key] = value
    return result


def atomic_savez(filepath: str, arrays: dict) -> None:
    folder = os.path.dirname(os.path.abspath(filepath))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filepath)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
