"""Reading and writing `.onnx` files: atomic saves, external data kept inside the model folder."""

from __future__ import annotations

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
    new `.onnx` then replaces the old one in one rename, and the old data file is removed.
    """
    filepath = os.fspath(filepath)
    if not filepath.endswith(".onnx"):
        raise ValueError(f"Model files end in '.onnx'; got {filepath!r}. Use model.save('name.onnx').")
    if os.path.exists(filepath) and not overwrite:
        raise FileExistsError(f"{filepath} exists; pass overwrite=True to replace it.")
    folder = os.path.dirname(os.path.abspath(filepath))
    os.makedirs(folder, exist_ok=True)
    old_data = _external_locations(filepath) if os.path.exists(filepath) else set()
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".onnx", dir=folder)
    os.close(fd)
    new_data = None
    try:
        if _tensor_bytes(proto) > EXTERNAL_DATA_THRESHOLD:
            new_data = f"{os.path.basename(filepath)}.{secrets.token_hex(4)}.data"
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
    for location in old_data - ({new_data} if new_data else set()):
        path = os.path.join(folder, location)
        if os.path.isfile(path):
            os.remove(path)


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


def _external_locations(filepath: str) -> set[str]:
    """Data files an earlier save of this path wrote, to clean up after overwriting it.

    Only names this module creates (`<file>.onnx.<8 hex>.data`, no folders) qualify: an old
    file is data too, and its `location` entries must never make a save delete other files.
    """
    from onnxgraph.saving._external import iter_tensors

    try:
        proto = onnx.load(filepath, load_external_data=False)
    except Exception:  # noqa: BLE001 - an unreadable old file has no data files to clean up
        return set()
    owned = re.compile(re.escape(os.path.basename(filepath)) + r"\.[0-9a-f]{8}\.data")
    locations = {entry.value for t in iter_tensors(proto) for entry in t.external_data if entry.key == "location"}
    return {location for location in locations if owned.fullmatch(location)}


def read_model_file(filepath) -> onnx.ModelProto:
    """Load an `.onnx` file; external data must be regular files inside the model's folder.

    Every external reference is checked before any byte is read (see `_external.py`).
    """
    from onnxgraph.saving._external import load_external_data

    filepath = os.fspath(filepath)
    if not os.path.isfile(filepath):
        raise FileNotFoundError(f"No model file at {filepath!r}.")
    try:
        proto = onnx.load(filepath, load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - protobuf raises several types
        raise ValueError(f"{filepath} is not a readable ONNX model: {exc}") from None
    load_external_data(proto, os.path.dirname(os.path.abspath(filepath)), filepath)
    return proto


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
