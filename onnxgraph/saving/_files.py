"""Reading and writing `.onnx` files: atomic saves that clean up after interrupted ones."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import tempfile

import onnx

__all__ = ["save_model_file", "read_model_file", "convert_opset", "EXTERNAL_DATA_THRESHOLD"]

# Protobuf cannot serialize a message over 2 GiB: above this, weights go to a data file.
EXTERNAL_DATA_THRESHOLD = 2**31 - 2**26


def _tensor_bytes(proto: onnx.ModelProto) -> int:
    return sum(len(t.raw_data) for t in proto.graph.initializer)


def save_model_file(proto: onnx.ModelProto, filepath, overwrite: bool = True) -> None:
    """Write `proto` atomically: a crash mid-save never destroys the previous file.

    Large models write their weights to `<name>.<token>.data` beside the file first; the
    new `.onnx` then replaces the old one in one rename. Saves into one folder hold a lock on
    it, so after the rename every temp file (`.<name>.tmp-*.onnx`) and data file of this target
    other than the new one is left over from an interrupted save (kill -9, power cut) and removed.
    """
    filepath = os.fspath(filepath)
    if not filepath.endswith(".onnx"):
        raise ValueError(f"Model files end in '.onnx'; got {filepath!r}. Use model.save('name.onnx').")
    if os.path.exists(filepath) and not overwrite:
        raise FileExistsError(f"{filepath} exists; pass overwrite=True to replace it.")
    folder = os.path.dirname(os.path.abspath(filepath))
    os.makedirs(folder, exist_ok=True)
    base = os.path.basename(filepath)
    with _folder_lock(folder):
        new_data = _write_replace(proto, filepath, folder, base)
        _remove_leftovers(folder, base, keep=new_data)


def _write_replace(proto, filepath: str, folder: str, base: str) -> str | None:
    fd, tmp = tempfile.mkstemp(prefix=f".{base}.tmp-", suffix=".onnx", dir=folder)
    os.close(fd)
    new_data = None
    try:
        if _tensor_bytes(proto) > EXTERNAL_DATA_THRESHOLD:
            new_data = f"{base}.{secrets.token_hex(4)}.data"
            proto = _copy(proto)
            onnx.save_model(proto, tmp, save_as_external_data=True, all_tensors_to_one_file=True,
                            location=new_data, size_threshold=1024)
            if os.path.exists(os.path.join(folder, new_data)):  # onnx writes none if every tensor is small
                _fsync(os.path.join(folder, new_data))
            else:
                new_data = None
        else:
            with open(tmp, "wb") as f:
                f.write(proto.SerializeToString())
        _fsync(tmp)
        os.chmod(tmp, _default_mode(filepath))  # mkstemp files are 0600; a saved model is not secret
        os.replace(tmp, filepath)
    except BaseException:
        for leftover in (tmp, os.path.join(folder, new_data) if new_data else None):
            if leftover and os.path.exists(leftover):
                os.remove(leftover)
        raise
    return new_data


@contextlib.contextmanager
def _folder_lock(folder: str):
    """An exclusive flock on the folder itself (no lock file to leave behind), where available."""
    try:
        import fcntl
    except ImportError:  # no flock: leftovers are still removed, concurrent savers are not serialized
        yield
        return
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _remove_leftovers(folder: str, base: str, keep: str | None) -> None:
    """Temp and data files of this target from earlier saves, named as this module names them.

    Only exact patterns qualify (`.<file>.tmp-<mkstemp chars>.onnx`, `<file>.<8 hex>.data`), and
    only regular files: a crafted old file's `location` entries can never make a save delete
    other files, and the file just written references no data file but `keep`.
    """
    patterns = re.compile(re.escape(f".{base}.tmp-") + r"[A-Za-z0-9_]{6,16}\.onnx|"
                          + re.escape(base) + r"\.[0-9a-f]{8}\.data")
    for entry in os.scandir(folder):
        if entry.name != keep and patterns.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
            try:
                os.remove(entry.path)
            except FileNotFoundError:
                pass


def _default_mode(filepath: str) -> int:
    """The existing file's mode when overwriting, else what open() would give under the umask."""
    if os.path.exists(filepath):
        return os.stat(filepath).st_mode & 0o777
    return 0o666 & ~_current_umask()


def _current_umask() -> int:
    # /proc reads it without changing it (os.umask round trips race with other threads).
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


def _copy(proto):
    clone = onnx.ModelProto()
    clone.CopyFrom(proto)
    return clone


def _fsync(path: str) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def read_model_file(filepath) -> onnx.ModelProto:
    """Load an `.onnx` file: checked, external data read from inside the model's folder only.

    See `_safe_io.read_onnx_file` (the one way model files are read).
    """
    from onnxgraph.saving._safe_io import read_onnx_file

    return read_onnx_file(filepath)


def convert_opset(proto, target_opset: int):
    """Convert to another default-domain opset with onnx's version converter."""
    from onnx import version_converter

    try:
        converted = version_converter.convert_version(proto, target_opset)
    except Exception as exc:  # noqa: BLE001 - re-raised with context
        ops = sorted({n.op_type for n in proto.graph.node})
        raise ValueError(f"Cannot convert the model to opset {target_opset} (ops: {ops}): {exc}") from None
    converted.ir_version = min(converted.ir_version, 10)
    return converted
