"""The one way into onnxgraph for model files and model bytes.

Every entry point (load_model, Model.from_onnx, the command line, serving, export) reads
models through these functions, so each rule holds everywhere:

- the file is opened once through a descriptor of its folder; empty, truncated, oversized
  and non-ONNX files are refused with an error naming the file and what was expected;
- the structure is checked before any runtime or checker sees it (`_structure.py`: no
  recursive functions, bounded nesting and node counts, tensors that match their shapes);
- external data is read through descriptors confined to the model's folder (`_external.py`)
  into the proto, so onnxruntime only ever gets bytes, never a path from the file;
- bytes and in-memory protos have no folder: any external data reference is refused.
"""

from __future__ import annotations

import os
import stat

import onnx

from onnxgraph.saving._external import inline_external_data, refuse_external_data
from onnxgraph.saving._structure import check_structure

__all__ = ["read_onnx_file", "read_runtime_file", "onnx_from_bytes", "check_onnx_proto", "ModelFileError"]

_MAX_PROTO = 2**31 - 1  # protobuf cannot parse a message larger than this
_ORT_MAGIC = b"ORTM"


class ModelFileError(ValueError):
    """A file or byte string that is not a readable ONNX model (empty, truncated, garbage)."""


def _read_file(path: str, what: str) -> tuple[bytes, int]:
    """(contents, descriptor of its folder): the file opened once, its folder kept open for data files."""
    folder = os.path.dirname(os.path.abspath(path)) or "."
    try:
        dir_fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise FileNotFoundError(f"No model file at {path!r} (its folder does not exist).") from None
    try:
        try:
            fd = os.open(os.path.basename(path), os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
                         | getattr(os, "O_NONBLOCK", 0), dir_fd=dir_fd)
        except FileNotFoundError:
            raise FileNotFoundError(f"No model file at {path!r}.") from None
        except IsADirectoryError:
            raise ModelFileError(f"{path} is a folder, not {what}.") from None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise ModelFileError(f"{path} is not a regular file (a folder, device or pipe); expected {what}.")
            if info.st_size == 0:
                raise ModelFileError(f"{path} is empty (0 bytes); expected {what}. An interrupted copy or "
                                     "download leaves such files: write the model again.")
            if info.st_size > _MAX_PROTO:
                raise ModelFileError(f"{path} is {info.st_size:,} bytes; an .onnx file is at most 2 GiB (protobuf's "
                                     "limit): larger models keep their weights in external data files beside it.")
            with os.fdopen(fd, "rb", closefd=False) as f:
                data = f.read()
        finally:
            os.close(fd)
    except BaseException:
        os.close(dir_fd)
        raise
    return data, dir_fd


def _parse(data: bytes, source: str) -> onnx.ModelProto:
    expected = "a serialized onnx.ModelProto, as model.save or any ONNX exporter writes"
    if not data:
        raise ModelFileError(f"{source} is empty (0 bytes); expected an ONNX model ({expected}).")
    if data[4:8] == _ORT_MAGIC:
        raise ModelFileError(f"{source} is in onnxruntime's ORT format, not ONNX; only `onnxgraph predict/bench/"
                             "check/serve` run .ort files (by path, with the .ort extension).")
    proto = onnx.ModelProto()
    try:
        proto.ParseFromString(data)
    except Exception as exc:  # noqa: BLE001 - protobuf's DecodeError and friends
        hint = " (or nested deeper than protobuf's limit of 100 levels)" if "recursion" in str(exc).lower() else ""
        raise ModelFileError(f"{source} is not a readable ONNX model ({expected}): protobuf cannot parse its {len(data):,} bytes"
                             f"{hint}; the file is truncated, damaged or of another format ({exc}).") from None
    if proto.ir_version <= 0 or not proto.HasField("graph"):
        missing = "IR version" if proto.ir_version <= 0 else "graph"
        raise ModelFileError(f"{source} is not a readable ONNX model ({expected}): its {len(data):,} bytes parse, but hold no {missing}; "
                             "the file is of another format or damaged.")
    return proto


def read_onnx_file(path) -> onnx.ModelProto:
    """A checked ModelProto from an `.onnx` file, external data read (confined) into it.

    Args:
        path: the `.onnx` file; external data must be regular files in its folder.

    Returns:
        The model, self-contained (no external references left).
    """
    path = os.fspath(path)
    data, dir_fd = _read_file(path, "an ONNX model file (.onnx)")
    try:
        proto = _parse(data, path)
        del data
        check_structure(proto, path)
        inline_external_data(proto, dir_fd, path)
    finally:
        os.close(dir_fd)
    return proto


def read_runtime_file(path):
    """What onnxruntime may load for `path`: the checked ModelProto of an .onnx file, or the
    bytes of an .ort file (onnxruntime's own format, recognised by its ORTM identifier)."""
    path = os.fspath(path)
    if not path.endswith(".ort"):
        return read_onnx_file(path)
    data, dir_fd = _read_file(path, "an onnxruntime ORT-format file (.ort)")
    os.close(dir_fd)
    if data[4:8] != _ORT_MAGIC:
        raise ModelFileError(f"{path} is not in onnxruntime's ORT format (no ORTM identifier); is it an .onnx "
                             "file with the wrong extension?")
    return data


def onnx_from_bytes(data, source: str = "the ONNX bytes") -> onnx.ModelProto:
    """A checked ModelProto from serialized bytes; external data references are refused."""
    proto = _parse(bytes(data), source)
    check_onnx_proto(proto, source)
    return proto


def check_onnx_proto(proto: onnx.ModelProto, source: str = "the ONNX model") -> None:
    """The checks for a model held in memory: structure, and no external data (it has no folder)."""
    if not isinstance(proto, onnx.ModelProto):
        raise TypeError(f"{source}: expected an onnx.ModelProto, got {type(proto).__name__}.")
    if proto.ir_version <= 0 or not proto.HasField("graph"):
        raise ModelFileError(f"{source}: the ModelProto holds no {'IR version' if proto.ir_version <= 0 else 'graph'}; "
                             "it is empty or was parsed from something that is not an ONNX model.")
    check_structure(proto, source)
    refuse_external_data(proto, source)
