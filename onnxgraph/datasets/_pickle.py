"""Data-only unpickling for the dataset files that are pickles (CIFAR batches, ragged `.npz`).

The unpickler admits numpy array reconstruction and nothing else: a crafted file cannot name
a callable to run. Numeric `.npy` members are read with pickle disabled altogether.
"""

from __future__ import annotations

import io
import pickle
import zipfile

import numpy as np

__all__ = ["DataOnlyUnpickler", "load_pickle", "load_npz"]

_ALLOWED = frozenset({
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"), ("_codecs", "encode"),
})

# Far above any Keras dataset member (imdb.npz's largest is ~100 MB): a bigger one is refused
# before it is read into memory.
MAX_MEMBER_BYTES = 2**31


class DataOnlyUnpickler(pickle.Unpickler):
    """Unpickles plain containers and numpy arrays only."""

    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"Dataset files hold only data; refusing to load {module}.{name} "
                                     "(the file is corrupted or was crafted to run code).")


def load_pickle(fileobj, source: str):
    """One pickled object (bytes keys kept as bytes, like Keras's `encoding="bytes"`)."""
    try:
        return DataOnlyUnpickler(fileobj, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as exc:
        raise ValueError(f"{source}: not a readable data pickle ({exc}).") from None


def _read_member(fileobj, source: str):
    try:
        return np.lib.format.read_array(fileobj, allow_pickle=False)
    except ValueError:
        fileobj.seek(0)
        version = np.lib.format.read_magic(fileobj)
        if version[0] == 1:
            np.lib.format.read_array_header_1_0(fileobj)
        elif version[0] in (2, 3):
            np.lib.format.read_array_header_2_0(fileobj)
        else:
            raise ValueError(f"{source}: unsupported .npy version {version}.") from None
        return load_pickle(fileobj, source)


def load_npz(path: str) -> dict:
    """Every `.npy` member of an `.npz` archive; object arrays through the data-only unpickler."""
    arrays = {}
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise ValueError(f"{path} is not an .npz archive (a zip of .npy files); delete it and put the "
                         "original file there.") from None
    with archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                continue
            if info.file_size > MAX_MEMBER_BYTES:
                raise ValueError(f"{path}: member {info.filename} declares {info.file_size} bytes, over the "
                                 f"{MAX_MEMBER_BYTES}-byte limit for dataset arrays.")
            with archive.open(info) as raw:
                buffer = io.BytesIO(raw.read(MAX_MEMBER_BYTES + 1))
            arrays[info.filename[:-len(".npy")]] = _read_member(buffer, f"{path}:{info.filename}")
    return arrays
