"""extract_features: run a model (or its cut at some layers) over a dataset with Ray Data.

The model travels to the workers as ONNX bytes; each worker of an actor pool holds one
onnxruntime session and maps batches of rows to feature columns. Sources are numpy arrays,
.npy/.npz files, parquet files/folders or any `ray.data.Dataset`; results are a Dataset or
parquet files.
"""

from __future__ import annotations

import math
import os

import numpy as np

from onnxgraph.serving._servable import ModelSpec, ServedModel, resolve_models

__all__ = ["extract_features", "read_features"]


def _import_ray():
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise ImportError(f"extract_features runs on Ray Data ({exc.name} is missing). Install it with "
                          "`pip install \"onnxgraph[ray]\"`.") from None
    return ray


def _graph_names(spec: ModelSpec) -> tuple[list, list]:
    import onnx

    graph = onnx.load_from_string(spec.onnx_bytes).graph
    weights = {t.name for t in graph.initializer}
    return [i.name for i in graph.input if i.name not in weights], [o.name for o in graph.output]


def _column(array: np.ndarray):
    import pyarrow as pa

    if array.ndim == 1:
        return pa.array(array)
    from ray.data.extensions import ArrowTensorArray

    return ArrowTensorArray.from_numpy(np.ascontiguousarray(array))


def _from_arrays(ray, arrays: dict, batch_size: int, num_workers: int):
    """Arrays (one row per first-dimension entry) as a Dataset split into several blocks, so
    every worker of the pool gets some."""
    import pyarrow as pa

    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"extract_features: the arrays have different numbers of rows {lengths}.")
    n = next(iter(lengths.values()))
    blocks = max(1, min(math.ceil(n / max(batch_size, 1)), 2 * num_workers))
    bounds = np.linspace(0, n, blocks + 1).astype(int)
    tables = [pa.table({name: _column(np.asarray(a[lo:hi])) for name, a in arrays.items()})
              for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo]
    return ray.data.from_arrow(tables)


def _dataset(ray, source, inputs: list, batch_size: int, num_workers: int):
    if isinstance(source, ray.data.Dataset):
        return source
    if isinstance(source, (str, os.PathLike)) and os.fspath(source).endswith((".npy", ".npz")):
        loaded = np.load(os.fspath(source), mmap_mode="r", allow_pickle=False)
        source = {name: loaded[name] for name in loaded.files} if hasattr(loaded, "files") else loaded
    if isinstance(source, np.ndarray):
        if len(inputs) != 1:
            raise ValueError(f"The model has inputs {inputs}; pass a dict {{input name: array}}, not one array.")
        return _from_arrays(ray, {inputs[0]: source}, batch_size, num_workers)
    if isinstance(source, dict):
        return _from_arrays(ray, {str(k): v for k, v in source.items()}, batch_size, num_workers)
    if isinstance(source, (str, os.PathLike, list, tuple)):
        paths = [os.fspath(p) for p in source] if isinstance(source, (list, tuple)) else os.fspath(source)
        return ray.data.read_parquet(paths)
    raise TypeError(f"extract_features reads a numpy array, a dict of arrays, a .npy/.npz/parquet path "
                    f"(or a list of parquet paths) or a ray.data.Dataset; got {type(source).__name__}.")


def _input_columns(inputs: list, columns: list, input_columns) -> dict:
    """Which dataset column feeds each model input."""
    if isinstance(input_columns, str):
        if len(inputs) != 1:
            raise ValueError(f"input_columns={input_columns!r} names one column, but the model has inputs "
                             f"{inputs}; pass a dict {{input name: column}}.")
        input_columns = {inputs[0]: input_columns}
    mapping = dict(input_columns or {})
    for name in inputs:
        if name in mapping:
            continue
        if name in columns:
            mapping[name] = name
        elif len(inputs) == 1 and ("data" in columns or len(columns) == 1):
            mapping[name] = "data" if "data" in columns else columns[0]  # ray.data.from_numpy's column
    missing = [n for n in inputs if n not in mapping]
    absent = {n: c for n, c in mapping.items() if c not in columns}
    if missing or absent:
        raise ValueError(f"extract_features: cannot find the column for model input(s) "
                         f"{missing or list(absent)}; the dataset has columns {columns}. Name the columns after "
                         f"the inputs {inputs} or pass input_columns={{input name: column}}.")
    return mapping


class FeatureWorker:
    """One actor of the pool: an onnxruntime session mapping batches of rows to feature columns."""

    def __init__(self, spec: ModelSpec, columns: dict, keep: list, providers="cpu", threads=None):
        self.served = ServedModel(spec, providers=providers, threads=threads)
        self.columns, self.keep = columns, keep

    def __call__(self, batch: dict) -> dict:
        x = {name: _stack(batch[column]) for name, column in self.columns.items()}
        outputs = self.served.run(self.served.feeds(x))
        result = {k: batch[k] for k in self.keep}
        result.update(zip(self.served.output_names, outputs))
        return result


def _stack(column: np.ndarray) -> np.ndarray:
    # Plain parquet list columns arrive as an object array of per-row arrays.
    return np.stack(list(column)) if column.dtype == object else column


def extract_features(source, model, *, layers=None, output=None, batch_size: int = 256, num_workers: int = 2,
                     input_columns=None, keep_columns: bool = True, preserve_order: bool = True,
                     providers="cpu", session_threads: int | None = 1, num_cpus: float | None = None):
    """Compute features for a dataset on Ray Data: `map_batches` over a pool of onnxruntime actors.

    Args:
        source: a numpy array (one input), a dict {input name: array}, a `.npy`/`.npz` path, a
            parquet file or folder (or a list of them), or a `ray.data.Dataset`.
        model: an og.Model, a `.onnx` path or ONNX bytes.
        layers: layer names to cut the model at (the features); None: the model's outputs.
        output: folder to write parquet files to; None returns the (lazy) Dataset.
        batch_size: rows per onnxruntime run.
        num_workers: actors in the pool, each with its own session.
        input_columns: column per model input (a dict, or one name for a single input); by
            default the column named after the input, else `data`, else the only column.
        keep_columns: carry the dataset's other columns (ids, labels) next to the features.
        preserve_order: keep the source's row order (Ray may reorder blocks otherwise, a little
            faster). A Dataset passed as `source` keeps its own DataContext setting instead.
        providers, session_threads: onnxruntime providers and intra-op threads per actor.
        num_cpus: Ray CPUs reserved per actor; by default 1, less when the pool would otherwise take
            every CPU and leave none for Ray Data's read and write tasks (which then never run).

    Returns:
        `output` (after writing) or a `ray.data.Dataset` with one column per model output.

    Example:
        >>> og.data.extract_features("images.parquet", model, layers=["dense_1"], output="features/")
    """
    ray = _import_ray()
    if not ray.is_initialized():
        ray.init()
    if num_cpus is None:
        total = ray.cluster_resources().get("CPU", 1.0)
        num_cpus = 1.0 if total - num_workers >= 1 else max(0.1, (total - 1) / num_workers)
    specs = resolve_models(model, layers)
    if len(specs) != 1:
        raise ValueError(f"extract_features runs one model; got {len(specs)}.")
    spec = specs[0]
    inputs, outputs = _graph_names(spec)
    dataset = _dataset(ray, source, inputs, batch_size, num_workers)
    columns = dataset.columns()
    mapping = _input_columns(inputs, columns, input_columns)
    keep = [c for c in columns if c not in mapping.values()] if keep_columns else []
    clash = [c for c in keep if c in outputs]
    if clash:
        raise ValueError(f"Dataset columns {clash} have the names of model outputs; rename them, or pass "
                         "keep_columns=False.")
    features = dataset.map_batches(
        FeatureWorker, fn_constructor_kwargs={"spec": spec, "columns": mapping, "keep": keep,
                                              "providers": providers, "threads": session_threads},
        batch_size=batch_size, batch_format="numpy", num_cpus=num_cpus,
        compute=ray.data.ActorPoolStrategy(size=num_workers))
    if not isinstance(source, ray.data.Dataset):  # a context we created: no caller's setting changes
        features.context.execution_options.preserve_order = preserve_order
    if output is None:
        return features
    features.write_parquet(os.fspath(output))
    return os.fspath(output)


def read_features(path) -> dict:
    """Read parquet features back as numpy arrays {column: array}; Ray tensor columns keep their shape.

    Works with or without Ray imported (without it, pyarrow sees the tensor columns' storage:
    flat lists, reshaped here from the shape recorded in the column metadata).

    Example:
        >>> features = og.data.read_features("features/")["dense_1"]   # shape (rows, 64)
    """
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(os.fspath(path))
    result = {}
    for field in table.schema:
        column = table.column(field.name).combine_chunks()
        if isinstance(column.type, pa.ExtensionType):  # Ray's tensor type, registered by importing ray.data
            result[field.name] = np.asarray(column.to_numpy())
            continue
        values = column.to_numpy(zero_copy_only=False)
        if values.dtype == object:
            values = np.stack(values) if len(values) else values
        meta = field.metadata or {}
        if meta.get(b"ARROW:extension:name", b"").startswith(b"ray.data.arrow_tensor"):
            values = values.reshape((len(values), *json.loads(meta[b"ARROW:extension:metadata"])))
        result[field.name] = values
    return result
