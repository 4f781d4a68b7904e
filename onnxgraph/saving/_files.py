"""Reading and writing `.onnx` files: atomic saves, external data kept inside the model folder."""

from __future__ import annotations

import os
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
            _fsync(os.path.join(folder, new_data))
        else:
            with open(tmp, "wb") as f:
                f.write(proto.SerializeToString())
        _fsync(tmp)
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


def _copy(proto):
    clone = onnx.ModelProto()
    clone.CopyFrom(proto)
    return clone


def _fsync(path: str) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _external_locations(filepath: str) -> set[str]:
    try:
        proto = onnx.load(filepath, load_external_data=False)
    except Exception:  # noqa: BLE001 - an unreadable old file has no data files to clean up
        return set()
    return {entry.value for t in proto.graph.initializer for entry in t.external_data if entry.key == "location"}


def read_model_file(filepath) -> onnx.ModelProto:
    """Load an `.onnx` file; external data must live inside the model's folder."""
    filepath = os.fspath(filepath)
    if not os.path.isfile(filepath):
        raise FileNotFoundError(f"No model file at {filepath!r}.")
    try:
        proto = onnx.load(filepath, load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - protobuf raises several types
        raise ValueError(f"{filepath} is not a readable ONNX model: {exc}") from None
    folder = os.path.realpath(os.path.dirname(os.path.abspath(filepath)))
    for tensor in _all_tensors(proto):
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        location = next((e.value for e in tensor.external_data if e.key == "location"), "")
        target = os.path.realpath(os.path.join(folder, location))
        if os.path.isabs(location) or os.path.commonpath([folder, target]) != folder:
            raise ValueError(
                f"{filepath}: tensor '{tensor.name}' points its external data at {location!r}, outside "
                "the model's folder. Refusing to read it; keep data files beside the model."
            )
        if not os.path.isfile(target):
            raise FileNotFoundError(f"{filepath}: external data file {location!r} for '{tensor.name}' is missing.")
    onnx.load_external_data_for_model(proto, folder)
    return proto


def _all_tensors(proto):
    yield from proto.graph.initializer
    for node in proto.graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.TENSOR:
                yield attr.t


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
