"""External tensor data, read through descriptors confined to the model's folder.

An `.onnx` file may keep tensor bytes in side files named by `external_data` entries. A file
is data from anywhere, so every entry (initializers, sparse tensors, node attributes,
subgraphs, local functions, training info) is checked first: the location must be a relative
path without `..`. Each data file is then opened once, component by component from a
descriptor of the model's folder (`openat` with `O_NOFOLLOW`: a symbolic link anywhere on
the way is refused by the kernel, and nothing can be swapped in between a check and the
open because there is no separate check). Offsets and lengths are checked against the
opened file's size and the tensor's shape before reading, and the bytes go into the proto:
no runtime ever gets a path from the file.
"""

from __future__ import annotations

import errno
import os
import stat

import onnx

__all__ = ["iter_tensors", "inline_external_data", "refuse_external_data", "UnsafeExternalDataError"]

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW | _CLOEXEC
_FILE_FLAGS = os.O_RDONLY | _NOFOLLOW | _CLOEXEC | getattr(os, "O_NONBLOCK", 0)  # a FIFO must not block
_CHUNK = 1 << 30


class UnsafeExternalDataError(ValueError):
    """External data that points outside the model's folder (refused without reading it)."""


def iter_tensors(proto: onnx.ModelProto):
    """Every TensorProto in the model, including subgraphs, functions and training info (iteratively)."""
    graphs = [proto.graph]
    for info in proto.training_info:
        graphs += [info.initialization, info.algorithm]
    bodies = [f.node for f in proto.functions]
    while graphs or bodies:
        if graphs:
            graph = graphs.pop()
            yield from graph.initializer
            for sparse in graph.sparse_initializer:
                yield sparse.values
                yield sparse.indices
            bodies.append(graph.node)
            continue
        for node in bodies.pop():
            for attr in node.attribute:
                if attr.HasField("t"):
                    yield attr.t
                yield from attr.tensors
                sparse = ([attr.sparse_tensor] if attr.HasField("sparse_tensor") else []) + list(attr.sparse_tensors)
                for s in sparse:
                    yield s.values
                    yield s.indices
                if attr.HasField("g"):
                    graphs.append(attr.g)
                graphs.extend(attr.graphs)


def _external(proto):
    return [t for t in iter_tensors(proto) if t.data_location == onnx.TensorProto.EXTERNAL]


def refuse_external_data(proto: onnx.ModelProto, source: str) -> None:
    """A model held in memory has no folder: any external data reference is refused unread."""
    for tensor in _external(proto):
        location = next((e.value for e in tensor.external_data if e.key == "location"), "")
        raise UnsafeExternalDataError(
            f"{source}: tensor '{tensor.name}' keeps its data in an external file ({location!r}), but a model given "
            "as bytes or an in-memory proto has no folder to read it from safely. Nothing was read; load the "
            "model from its .onnx path (data files beside it), or embed the data (onnx.load with external data, "
            "then onnx.save without).")


def _parts(tensor, location: str, source: str) -> list[str]:
    parts = [p for p in location.replace("\\", "/").split("/") if p not in ("", ".")]
    if not location or location.startswith(("/", "\\")) or os.path.isabs(location) or ".." in parts \
            or (len(location) > 1 and location[1] == ":") or not parts or "\0" in location:
        raise UnsafeExternalDataError(
            f"{source}: tensor '{tensor.name}' points its external data at {location!r}, outside the model's "
            "folder (absolute paths and '..' are refused). Nothing was read; keep data files beside the model.")
    return parts


def _open_at(name: str, flags: int, dir_fd: int, tensor, location: str, source: str) -> int:
    try:
        return os.open(name, flags, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
            raise UnsafeExternalDataError(
                f"{source}: tensor '{tensor.name}' has external data {location!r}, and {name!r} on that path is a "
                "symbolic link (or not a folder); links could lead outside the model's folder, so they are "
                "refused. Nothing was read; put the data file itself beside the model.") from None
        if exc.errno == errno.ENOENT:
            raise FileNotFoundError(f"{source}: external data file {location!r} for tensor '{tensor.name}' "
                                    "is missing.") from None
        raise OSError(exc.errno, f"{source}: cannot open external data {location!r} for tensor "
                      f"'{tensor.name}': {exc.strerror}") from None


def _open_confined(dir_fd: int, parts: list[str], tensor, location: str, source: str) -> int:
    opened = []
    try:
        current = dir_fd
        for part in parts[:-1]:
            current = _open_at(part, _DIR_FLAGS, current, tensor, location, source)
            opened.append(current)
        fd = _open_at(parts[-1], _FILE_FLAGS, current, tensor, location, source)
    finally:
        for folder_fd in opened:
            os.close(folder_fd)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UnsafeExternalDataError(f"{source}: external data {location!r} for tensor '{tensor.name}' is not a "
                                      "regular file (devices, pipes and folders are refused). Nothing was read.")
    return fd


def _span(tensor, info: dict, size: int, location: str, source: str) -> tuple[int, int]:
    from onnxgraph.saving._structure import tensor_nbytes

    try:
        offset = int(info.get("offset") or 0)
        length = int(info["length"]) if info.get("length") else size - offset
    except ValueError:
        raise ValueError(f"{source}: tensor '{tensor.name}' has a non-integer external data offset/length.") from None
    if offset < 0 or length < 0 or offset + length > size:
        raise ValueError(f"{source}: external data for tensor '{tensor.name}' (offset {offset}, length "
                         f"{info.get('length')}) lies outside {location!r} ({size} bytes).")
    expected = tensor_nbytes(tensor)
    if expected is not None and length != expected:
        raise ValueError(f"{source}: external data for tensor '{tensor.name}' has {length} bytes; its shape "
                         f"{list(tensor.dims)} and type need {expected}. Nothing was read.")
    return offset, length


def _pread_all(fd: int, length: int, offset: int) -> bytes:
    if length <= _CHUNK:
        data = os.pread(fd, length, offset)
    else:
        data = b"".join(os.pread(fd, min(_CHUNK, length - done), offset + done) for done in range(0, length, _CHUNK))
    if len(data) != length:
        raise ValueError(f"external data ended early ({len(data)} of {length} bytes): the file changed while read")
    return data


def _check_memory(nbytes: int, source: str) -> None:
    """External data larger than this machine's memory (sparse files can declare any size) is refused."""
    try:
        physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return
    if nbytes > physical:
        raise ValueError(f"{source}: its external data files hold {nbytes:,} bytes of tensors, more than this "
                         f"machine's {physical:,} bytes of memory; nothing was read.")


def inline_external_data(proto: onnx.ModelProto, dir_fd: int, source: str) -> int:
    """Check every external reference, then read each data file once (confined) into the tensors.

    Returns the number of external bytes read.
    """
    external = _external(proto)
    if external and os.open not in os.supports_dir_fd:
        raise UnsafeExternalDataError(f"{source}: external data needs openat-style confined opening, which this "
                                      "platform lacks; embed the data in the .onnx file instead.")
    plans = []
    for tensor in external:
        info = {entry.key: entry.value for entry in tensor.external_data}
        location = info.get("location", "")
        plans.append((tensor, info, location, tuple(_parts(tensor, location, source))))
    descriptors, spans = {}, []
    try:
        for tensor, info, location, parts in plans:  # open and check everything before reading anything
            if parts not in descriptors:
                descriptors[parts] = _open_confined(dir_fd, list(parts), tensor, location, source)
            fd = descriptors[parts]
            spans.append((tensor, fd, *_span(tensor, info, os.fstat(fd).st_size, location, source)))
        _check_memory(sum(length for *_, length in spans), source)
        total = 0
        for tensor, fd, offset, length in spans:
            try:
                tensor.raw_data = _pread_all(fd, length, offset)
            except ValueError as exc:
                raise ValueError(f"{source}: tensor '{tensor.name}': {exc}.") from None
            total += length
            del tensor.external_data[:]
            tensor.ClearField("data_location")  # as if it had been stored inline
    finally:
        for fd in descriptors.values():
            os.close(fd)
    return total
