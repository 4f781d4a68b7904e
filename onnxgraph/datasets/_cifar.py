"""CIFAR python batches from Keras's cache: the extracted folder, or the downloaded tarball read in place.

Keras 3.15 keeps `datasets/<name>-target/<folder>/` (and the archive as `<name>-target_archive`);
older Keras kept `datasets/<folder>/` and `datasets/<folder>.tar.gz`. Each batch is a pickled
dict read with the data-only unpickler; tar members are read without extracting anything.
"""

from __future__ import annotations

import os
import tarfile

import numpy as np

from onnxgraph.datasets._cache import datasets_dirs, missing_message
from onnxgraph.datasets._pickle import load_pickle

__all__ = ["CifarSource"]


class CifarSource:
    """The batches of one CIFAR dataset, from whichever cached form exists."""

    def __init__(self, dataset: str, folder: str, tarball: str, origin: str):
        self.dataset, self.folder, self.origin = dataset, folder, origin
        roots = datasets_dirs()
        dirs = [p for root in roots
                for p in (os.path.join(root, f"{folder}-target", folder), os.path.join(root, folder))]
        archives = [p for root in roots for p in (os.path.join(root, f"{folder}-target_archive"),
                                                   os.path.join(root, tarball), os.path.join(root, f"{folder}.tar.gz"))]
        self.dir = next((d for d in dirs if os.path.isdir(d)), None)
        self.archive = None if self.dir else next((a for a in archives if os.path.isfile(a)), None)
        if self.dir is None and self.archive is None:
            raise FileNotFoundError(missing_message(dataset, archives[1], origin)
                                    + f" The extracted folder {dirs[1]} is read too.")

    def batch(self, name: str, label_key: str):
        """(uint8 data (N, 3, 32, 32), labels list) of one batch file, like keras's cifar.load_batch."""
        if self.dir is not None:
            path = os.path.join(self.dir, name)
            if not os.path.isfile(path):
                raise FileNotFoundError(f"{self.dataset}: {path} is missing from the extracted folder {self.dir}; "
                                        f"extract {self.origin} again.")
            with open(path, "rb") as f:
                entry = load_pickle(f, path)
            source = path
        else:
            source = f"{self.archive}:{self.folder}/{name}"
            entry = self._from_archive(name, source)
        return _decode(entry, label_key, source)

    def _from_archive(self, name: str, source: str):
        try:
            with tarfile.open(self.archive, "r:*") as tar:
                member = next((m for m in tar.getmembers()
                               if m.isfile() and m.name.lstrip("./") == f"{self.folder}/{name}"), None)
                if member is None:
                    raise FileNotFoundError(f"{self.dataset}: {self.archive} has no member {self.folder}/{name}; "
                                            f"it is not the archive Keras downloads from {self.origin}.")
                return load_pickle(tar.extractfile(member), source)
        except tarfile.TarError as exc:
            raise ValueError(f"{self.dataset}: {self.archive} is not a readable tar archive ({exc}).") from None


def _decode(entry, label_key: str, source: str):
    if not isinstance(entry, dict):
        raise ValueError(f"{source}: a CIFAR batch is a dict, got {type(entry).__name__}.")
    entry = {k.decode("utf8") if isinstance(k, bytes) else k: v for k, v in entry.items()}
    if "data" not in entry or label_key not in entry:
        raise ValueError(f"{source}: a CIFAR batch needs 'data' and '{label_key}', it has {sorted(entry)}.")
    data = np.asarray(entry["data"], dtype=np.uint8)
    if data.ndim != 2 or data.shape[1] != 3072:
        raise ValueError(f"{source}: 'data' must have shape (N, 3072), got {data.shape}.")
    labels = entry[label_key]
    if len(labels) != len(data):
        raise ValueError(f"{source}: {len(labels)} labels for {len(data)} images.")
    return data.reshape(data.shape[0], 3, 32, 32), labels
