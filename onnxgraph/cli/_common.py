"""Shared by the subcommands: reading any .onnx file as a Model, input arrays, sessions."""

from __future__ import annotations

import os

import numpy as np

__all__ = ["load_any", "read_model", "is_onnxgraph_file", "session", "read_inputs", "resolve_outputs"]


def _existing(path: str) -> str:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such model file: {path}")
    return path


def read_model(path: str):
    """What the commands run for `path` (see onnxgraph/saving/_safe_io.py): the bytes of an .ort
    file, or a checked ModelProto with its external data read from inside the model's folder.
    For an onnxgraph file that is the graph rebuilt from its config, as load_model and serving
    run it: the config is the single source of truth, a doctored stored graph is never run."""
    from onnxgraph.saving._load import model_from_proto
    from onnxgraph.saving._safe_io import read_runtime_file

    model = read_runtime_file(_existing(path))
    if not isinstance(model, bytes) and _has_config(model):
        return model_from_proto(model, source=path).to_onnx()
    return model


def _has_config(proto) -> bool:
    from onnxgraph.models._export import CONFIG_KEY

    return any(p.key == CONFIG_KEY for p in proto.metadata_props)


def is_onnxgraph_file(path: str) -> bool:
    """Whether the file carries an onnxgraph config (saved by model.save)."""
    from onnxgraph.saving._safe_io import read_onnx_file

    return _has_config(read_onnx_file(_existing(path)))


def load_any(path: str):
    """An onnxgraph file rebuilds its layers (load_model); any other ONNX file is wrapped (from_onnx)."""
    from onnxgraph.interop import from_onnx
    from onnxgraph.saving._load import model_from_proto
    from onnxgraph.saving._safe_io import read_onnx_file

    proto = read_onnx_file(_existing(path))
    if _has_config(proto):
        return model_from_proto(proto, source=path)
    return from_onnx(proto, name=os.path.splitext(os.path.basename(path))[0])


def session(model, threads: int | None = None, providers="cpu"):
    """An onnxruntime session on a checked model (`read_model`): from bytes, never from a path, so
    onnxruntime cannot follow anything in the file (float16/int8/ORT files run as they are)."""
    from onnxgraph.runtime import make_session
    from onnxgraph.runtime._runner import session_from_proto

    if isinstance(model, str):
        model = read_model(model)
    if isinstance(model, bytes):
        return make_session(model, providers, threads)
    return session_from_proto(model, providers, threads=threads)


_ORT_NUMPY = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
              "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(bool)": np.bool_,
              "tensor(uint8)": np.uint8, "tensor(int8)": np.int8}


def read_inputs(sess, items: list[str]) -> dict:
    """`--input` values (`x.npy`, or `name=x.npy`, or one `.npz` with arrays by input name) as feeds."""
    inputs = sess.get_inputs()
    names = [i.name for i in inputs]
    arrays = {}
    for k, item in enumerate(items):
        name, sep, path = item.partition("=")
        if not sep or os.path.exists(item):
            name, path = None, item
        if not os.path.isfile(path):
            raise FileNotFoundError(f"no such input file: {path}")
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.lib.npyio.NpzFile):
            arrays.update({key: loaded[key] for key in loaded.files})
            continue
        if name is None:
            if k >= len(names):
                raise ValueError(f"the model has {len(names)} input(s) {names}; got more --input files")
            name = names[k]
        arrays[name] = loaded
    missing = [n for n in names if n not in arrays]
    if missing:
        raise ValueError(f"missing input(s) {missing}; the model's inputs are {names} "
                         "(pass --input name=file.npy per input, or one .npz)")
    unknown = [n for n in arrays if n not in names]
    if unknown:
        raise ValueError(f"unknown input name(s) {unknown}; the model's inputs are {names}")
    feeds = {}
    for i in inputs:
        want = _ORT_NUMPY.get(i.type)
        array = arrays[i.name]
        if want is not None and array.dtype != want:
            if np.issubdtype(want, np.integer) and array.dtype.kind == "f":
                raise ValueError(f"input '{i.name}' expects {i.type}, got {array.dtype} values")
            array = array.astype(want)
        if len(array.shape) != len(i.shape) or any(isinstance(d, int) and d != s for d, s in zip(i.shape, array.shape)):
            raise ValueError(f"input '{i.name}' expects shape {i.shape}, got {array.shape}")
        feeds[i.name] = array
    return feeds


def resolve_outputs(model, names: list[str]) -> list:
    """Symbolic tensors for `names`: layer names, or (imported models) ONNX value names."""
    tensors = []
    for name in names:
        if hasattr(model, "get_tensor"):
            try:
                tensors.append(model.get_tensor(name))
                continue
            except ValueError:
                pass
        output = model.get_layer(name).output
        tensors.extend(output if isinstance(output, (list, tuple)) else [output])
    return tensors
