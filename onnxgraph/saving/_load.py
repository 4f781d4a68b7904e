"""load_model: rebuild layers from the config in the file, then restore their weights.

A file is data. The config is JSON read from `metadata_props`; classes are resolved by name
through `custom_objects`, `custom_object_scope`, the registry and onnxgraph's own layers
(never imported from a module the file names); weights are numpy arrays decoded from
initializers (no pickle); external data must live inside the model's folder. The file is
checked before anything is built (`_safe_io`), the config may only allocate the weight bytes
the file holds (`_limits`). The config is the single source of truth for an onnxgraph file:
every onnxgraph entry point (the command line and serving too) runs the graph rebuilt from it,
never the stored graph, so a file whose graph was doctored cannot give two answers.
"""

from __future__ import annotations

import json

import numpy as np
from onnx import numpy_helper

from onnxgraph.backend import dtypes, transforms
from onnxgraph.saving._files import read_model_file
from onnxgraph.saving._limits import FileLimitError, check_json_depth, weight_budget
from onnxgraph.saving._registry import custom_object_scope
from onnxgraph.saving._structure import tensor_nbytes

__all__ = ["load_model", "model_from_proto"]


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):  # noqa: A002 - Keras name
    """Load a model saved by `model.save(...)`. Never executes code from the file.

    Args:
        filepath: path of the `.onnx` file, or of a Keras 3 `.keras` archive (written by Keras
            or onnxgraph; same rules: data only, classes by registered name).
        custom_objects: {name: class} for custom layers/models that are not registered with
            `@register_serializable`.
        compile: restore the saved compile config (optimizer, loss, metrics; optimizer state when
            saved), so `evaluate`/`fit` work at once. False loads the model uncompiled.
        safe_mode: accepted for Keras compatibility; loading is always safe.

    Returns:
        The rebuilt model with its weights.

    Example:
        >>> model.save("m.onnx")
        >>> restored = load_model("m.onnx", custom_objects={"CustomDense": CustomDense})
    """
    import os

    if os.fspath(filepath).endswith(".keras"):
        from onnxgraph.saving._keras_archive import load_keras

        return load_keras(filepath, custom_objects, compile=compile)
    proto = read_model_file(filepath)
    model = model_from_proto(proto, custom_objects, source=str(filepath))
    if compile:
        from onnxgraph.saving._compile_config import restore_training_state

        restore_training_state(model, proto, custom_objects, str(filepath))
    return model


def model_from_proto(proto, custom_objects=None, source="model"):
    """Rebuild a model from a checked ModelProto written by onnxgraph (see `_safe_io`)."""
    from onnxgraph.models._config import deserialize_layer
    from onnxgraph.models._export import CONFIG_KEY, WEIGHTS_KEY

    meta = {p.key: p.value for p in proto.metadata_props}
    if CONFIG_KEY not in meta:
        raise ValueError(
            f"{source} has no onnxgraph config (it was not saved by onnxgraph). Wrap ONNX files from "
            "other tools with og.Model.from_onnx(path) instead."
        )
    check_json_depth(meta[CONFIG_KEY], source)
    check_json_depth(meta.get(WEIGHTS_KEY, "[]"), source, "the onnxgraph weight table")
    try:
        config = json.loads(meta[CONFIG_KEY])
        entries = json.loads(meta.get(WEIGHTS_KEY, "[]"))
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"{source}: the onnxgraph metadata is not valid JSON ({exc}).") from None
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise ValueError(f"{source}: the onnxgraph config must be an object with a 'class_name'.")
    if not isinstance(entries, list) or not all(_is_entry(e) for e in entries):
        raise ValueError(f"{source}: the onnxgraph weight table must be a list of [initializer name, transform].")
    # The config may only create as many weight bytes as the file holds (checked before allocating).
    with custom_object_scope(custom_objects or {}), weight_budget(_tensor_bytes(proto), source):
        try:
            model = deserialize_layer(config, custom_objects)
            if not model.built:
                # A subclassed model is code: build it on the file's input shapes, as its first call did.
                from onnxgraph.models._subclassed import build_from_signatures

                build_from_signatures(model, _input_signatures(proto))
        except FileLimitError:
            raise
        except ValueError as exc:
            raise ValueError(f"{source}: {exc}") from None
        except (KeyError, IndexError, AttributeError) as exc:
            raise ValueError(f"{source}: the onnxgraph config is malformed ({type(exc).__name__}: {exc}); "
                             "the file was edited or damaged: re-save it from the code.") from None
        except RecursionError:
            raise ValueError(f"{source}: the onnxgraph config nests layers or models too deeply to rebuild "
                             "(Python's recursion limit); onnxgraph does not write such files.") from None
    _restore_weights(model, proto, entries, source)
    return model


def _tensor_bytes(proto) -> int:
    return sum(tensor_nbytes(t) or len(t.raw_data) for t in proto.graph.initializer)


def _is_entry(entry) -> bool:
    return (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)
            and isinstance(entry[1], list))


def _input_signatures(proto) -> list:
    """(Keras shape, dtype) of each graph input: symbolic dims become None."""
    signatures = []
    for value in proto.graph.input:
        tensor_type = value.type.tensor_type
        shape = tuple(d.dim_value if d.HasField("dim_value") else None for d in tensor_type.shape.dim)
        signatures.append((shape, dtypes.from_onnx(tensor_type.elem_type)))
    return signatures


def _restore_weights(model, proto, entries, source) -> None:
    initializers = {t.name: t for t in proto.graph.initializer}
    weights = model.weights
    if len(entries) != len(weights):
        raise ValueError(f"{source} stores {len(entries)} weights, but the rebuilt model has {len(weights)}: "
                         "the class's get_config() or code differs from the one that saved the file.")
    for variable, (name, spec) in zip(weights, entries):
        if name not in initializers:
            raise ValueError(f"{source}: weight '{variable.path}' should be initializer '{name}', which is missing.")
        try:
            transform = transforms.from_spec(spec)
            value = transforms.invert(numpy_helper.to_array(initializers[name]), transform, variable.shape)
        except (ValueError, TypeError, IndexError) as exc:
            raise ValueError(f"{source}: weight '{variable.path}' (initializer '{name}') cannot be restored: "
                             f"{exc}") from None
        if value.shape != variable.shape:
            raise ValueError(f"{source}: weight '{variable.path}' has shape {value.shape} in the file, "
                             f"{variable.shape} in the rebuilt layer.")
        variable.assign(np.asarray(value, dtype=variable.value.dtype))
