"""Where Keras caches dataset files, and the error that says which file to put where.

onnxgraph reads the files `keras.datasets` downloads (same names, same folder:
`$KERAS_HOME/datasets`, else `~/.keras/datasets`) and never downloads anything itself.
"""

from __future__ import annotations

import os

__all__ = ["keras_home", "datasets_dir", "datasets_dirs", "find", "missing_message", "KERAS_ORIGIN"]

KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"


def keras_home() -> str:
    """`$KERAS_HOME`, else `~/.keras` (`/tmp/.keras` when the home folder is not writable), as Keras."""
    if "KERAS_HOME" in os.environ:
        return os.environ["KERAS_HOME"]
    base = os.path.expanduser("~")
    if not os.access(base, os.W_OK):
        base = "/tmp"
    return os.path.join(base, ".keras")


def datasets_dirs(subdir: str = "datasets") -> list[str]:
    """Folders Keras's `get_file` may have stored `cache_subdir` files in: the Keras home's, then
    `/tmp/.keras`'s when the home is not writable (Keras's fallback)."""
    base = os.path.expanduser(keras_home())
    folders = [os.path.join(base, subdir)]
    if not os.access(base, os.W_OK):
        folders.append(os.path.join("/tmp", ".keras", subdir))
    return folders


def datasets_dir(subdir: str = "datasets") -> str:
    """Where a missing file should go: the Keras home's datasets folder."""
    return datasets_dirs(subdir)[0]


def find(dataset: str, candidates: list[str], origin: str, kind: str = "file") -> str:
    """The first existing path among `candidates` (relative to the datasets folders, or absolute).

    Raises FileNotFoundError naming the file Keras would have downloaded, where to put it and
    its URL.
    """
    paths = [c if os.path.isabs(c) else os.path.join(folder, c) for folder in datasets_dirs() for c in candidates]
    for path in paths:
        if (os.path.isdir(path) if kind == "dir" else os.path.isfile(path)):
            return path
    raise FileNotFoundError(missing_message(dataset, paths[0], origin))


def missing_message(dataset: str, path: str, origin: str) -> str:
    return (f"{dataset}: {path} not found. onnxgraph reads Keras's dataset cache and never downloads: "
            f"download {origin} and put it at {path} (or load it once with keras.datasets, which caches it "
            "there). Set KERAS_HOME to use another folder than ~/.keras.")
