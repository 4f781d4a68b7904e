"""Reading external tensor data safely: only regular files inside the model's folder.

An `.onnx` file may keep tensor bytes in side files named by `external_data` entries. A file
is data from anywhere, so every such entry (initializers, sparse tensors, node attributes,
subgraphs, local functions, training info) is checked before anything is read: the location
must be a relative path without `..`, and after resolving symlinks it must name a regular file
inside the model's folder. The bytes are then read here (offset and length checked against the
file), never by a loader that could follow the path elsewhere.
"""

from __future__ import annotations

import os

import numpy as np
import onnx

__all__ = ["iter_tensors", "load_external_data", "UnsafeExternalDataError"]


class UnsafeExternalDataError(ValueError):
    """External data that points outside the model's folder (refused without reading it)."""


def iter_tensors(proto: onnx.ModelProto):
    """Every TensorProto in the model, including subgraphs, functions and training info."""
    yield from _graph_tensors(proto.graph)
    for function in proto.functions:
        for node in function.node:
            yield from _node_tensors(node)
    for info in proto.training_info:
        yield from _graph_tensors(info.initialization)
        yield from _graph_tensors(info.algorithm)


def _graph_tensors(graph: onnx.GraphProto):
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
        yield sparse.indices
    for node in graph.node:
        yield from _node_tensors(node)


def _node_tensors(node: onnx.NodeProto):
    for attr in node.attribute:
        if attr.HasField("t"):
            yield attr.t
        yield from attr.tensors
        sparse = ([attr.sparse_tensor] if attr.HasField("sparse_tensor") else []) + list(attr.sparse_tensors)
        for s in sparse:
            yield s.values
            yield s.indices
        if attr.HasField("g"):
            yield from _graph_tensors(attr.g)
        for graph in attr.graphs:
            yield from _graph_tensors(graph)


def load_external_data(proto: onnx.ModelProto, folder: str, source: str) -> None:
    """Check every external reference first, then read the bytes into the tensors in place."""
    folder = os.path.realpath(folder)
    external = [t for t in iter_tensors(proto) if t.data_location == onnx.TensorProto.EXTERNAL]
    plans = [(tensor, *_plan(tensor, folder, source)) for tensor in external]
    for tensor, path, offset, length in plans:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read(length) if length is not None else f.read()
        expected = _expected_bytes(tensor)
        if expected is not None and len(data) != expected:
            raise ValueError(f"{source}: external data for tensor '{tensor.name}' has {len(data)} bytes; its "
                             f"shape and type need {expected}.")
        tensor.raw_data = data
        del tensor.external_data[:]
        tensor.data_location = onnx.TensorProto.DEFAULT


def _plan(tensor, folder: str, source: str):
    info = {entry.key: entry.value for entry in tensor.external_data}
    location = info.get("location", "")
    parts = location.replace("\\", "/").split("/")
    if not location or os.path.isabs(location) or location.startswith(("/", "\\")) or ".." in parts \
            or (len(location) > 1 and location[1] == ":"):
        raise UnsafeExternalDataError(
            f"{source}: tensor '{tensor.name}' points its external data at {location!r}, outside the model's "
            "folder (absolute paths and '..' are refused). Nothing was read; keep data files beside the model."
        )
    path = os.path.realpath(os.path.join(folder, location))
    if os.path.commonpath([folder, path]) != folder:
        raise UnsafeExternalDataError(
            f"{source}: tensor '{tensor.name}' has external data {location!r}, which resolves (through a "
            "symbolic link) outside the model's folder. Nothing was read; keep data files beside the model."
        )
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{source}: external data file {location!r} for tensor '{tensor.name}' is missing.")
    try:
        offset = int(info.get("offset") or 0)
        length = int(info["length"]) if info.get("length") else None
    except ValueError:
        raise ValueError(f"{source}: tensor '{tensor.name}' has a non-integer external data offset/length.") from None
    size = os.path.getsize(path)
    if offset < 0 or (length is not None and length < 0) or offset + (length or 0) > size:
        raise ValueError(f"{source}: external data for tensor '{tensor.name}' (offset {offset}, length {length}) "
                         f"lies outside {location!r} ({size} bytes).")
    return path, offset, length


def _expected_bytes(tensor) -> int | None:
    try:
        itemsize = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type)).itemsize
    except (KeyError, TypeError, ValueError):
        return None
    if tensor.data_type in (onnx.TensorProto.STRING, onnx.TensorProto.UNDEFINED) or tensor.data_type >= 17:
        return None  # strings have no fixed size; 8-bit float and 4-bit types pack differently
    return int(np.prod(tensor.dims, dtype=np.int64)) * itemsize
