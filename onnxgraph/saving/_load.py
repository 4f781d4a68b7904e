"""load_model: rebuild layers from the config in the file, then restore their weights."""

from __future__ import annotations

import json

import numpy as np
from onnx import numpy_helper

from onnxgraph.backend import transforms
from onnxgraph.saving._files import read_model_file

__all__ = ["load_model", "model_from_proto"]


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Load a model saved by `model.save(...)`. Never executes code from the file.

    Example:
        >>> model.save("m.onnx")
        >>> restored = load_model("m.onnx")
    """
    return model_from_proto(read_model_file(filepath), custom_objects, source=str(filepath))


def model_from_proto(proto, custom_objects=None, source="model"):
    from onnxgraph.models._config import deserialize_layer
    from onnxgraph.models._export import CONFIG_KEY, WEIGHTS_KEY

    meta = {p.key: p.value for p in proto.metadata_props}
    if CONFIG_KEY not in meta:
        raise ValueError(
            f"{source} has no onnxgraph config (it was not saved by onnxgraph). Wrap ONNX files from "
            "other tools with og.Model.from_onnx(path) instead."
        )
    try:
        config = json.loads(meta[CONFIG_KEY])
        entries = json.loads(meta.get(WEIGHTS_KEY, "[]"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{source}: the onnxgraph metadata is not valid JSON ({exc}).") from None
    model = deserialize_layer(config, custom_objects)
    initializers = {t.name: t for t in proto.graph.initializer}
    weights = model.weights
    if len(entries) != len(weights):
        raise ValueError(f"{source} stores {len(entries)} weights, but the rebuilt model has {len(weights)}.")
    for variable, (name, spec) in zip(weights, entries):
        if name not in initializers:
            raise ValueError(f"{source}: weight '{variable.path}' should be initializer '{name}', which is missing.")
        value = transforms.invert(numpy_helper.to_array(initializers[name]), transforms.from_spec(spec), variable.shape)
        if value.shape != variable.shape:
            raise ValueError(f"{source}: weight '{variable.path}' has shape {value.shape} in the file, "
                             f"{variable.shape} in the rebuilt layer.")
        variable.assign(np.asarray(value, dtype=variable.value.dtype))
    return model
