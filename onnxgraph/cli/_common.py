"""Shared by the subcommands: reading any .onnx file as a Model, input arrays, sessions."""

from __future__ import annotations

import os

import numpy as np

__all__ = ["load_any", "is_onnxgraph_file", "session", "read_inputs", "resolve_outputs"]


def _existing(path: str) -> str:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such model file: {path}")
    return path


def is_onnxgraph_file(path: str) -> bool:
    """Whether the file carries an onnxgraph config (saved by model.save)."""
    import onnx

    from onnxgraph.models._export import CONFIG_KEY

    proto = onnx.load(_existing(path), load_external_data=False)
    return any(p.key == CONFIG_KEY for p in proto.metadata_props)


def load_any(path: str):
    """An onnxgraph file rebuilds its layers (load_model); any other ONNX file is wrapped (from_onnx)."""
    from onnxgraph.interop import from_onnx
    from onnxgraph.saving import load_model

    return load_model(path) if is_onnxgraph_file(path) else from_onnx(path)


def session(path: str, threads: int | None = None, providers="cpu"):
    """An onnxruntime session on the file itself (works for exported float16/int8/ORT files too)."""
    from onnxgraph.runtime import import_onnxruntime, resolve_providers

    ort = import_onnxruntime()
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(_existing(path), sess_options=options, providers=resolve_providers(providers))


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
