"""`.keras` archives in Keras 3's format: written for real Keras to load, and read from Keras.

An archive is a zip of `metadata.json`, `config.json` (the model config, `compile_config`
inside) and `model.weights.h5` (layout in `_keras_h5.py`; optimizer variables under
`optimizer/vars`), each stored uncompressed as Keras writes them.

Reading is as safe as reading `.onnx`: the config is JSON whose classes are found by name
(never imported from the `module` it names; no Lambda, no code), members are size-checked
before they are read (a zip bomb is refused), and weights are HDF5 datasets read as arrays.
"""

from __future__ import annotations

import datetime
import json
import os
import tempfile
import zipfile

__all__ = ["save_keras", "load_keras", "save_weights_file", "model_to_json", "model_from_json", "KERAS_LAYOUT_VERSION", "MAX_CONFIG_BYTES"]

# The Keras release whose saving_lib layout this writer follows (Keras reads metadata.json's
# keras_version for information only).
KERAS_LAYOUT_VERSION = "3.15.1"
MAX_CONFIG_BYTES = 64 * 2**20
_MAX_EXPANSION = 100  # stored members are 1:1; DEFLATE cannot exceed ~1032:1
_BOMB_FLOOR = 2**28
_WEIGHTS = "model.weights.h5"


def save_keras(model, filepath, overwrite: bool = True, include_optimizer: bool = True) -> None:
    """Write `model` as a Keras 3 `.keras` archive, atomically (see module docstring)."""
    from onnxgraph import __version__
    from onnxgraph.saving._compile_config import compile_config, optimizer_variables
    from onnxgraph.saving._files import _default_mode, _fsync
    from onnxgraph.saving._keras_config import to_keras
    from onnxgraph.saving._keras_h5 import weights_h5_bytes

    filepath = os.fspath(filepath)
    if not filepath.endswith(".keras"):
        raise ValueError(f"Keras archives end in '.keras'; got {filepath!r}.")
    if os.path.exists(filepath) and not overwrite:
        raise FileExistsError(f"{filepath} exists; pass overwrite=True to replace it.")
    sync = getattr(model, "_sync_trained_weights", None)
    if sync is not None:
        sync()
    config = json.dumps(to_keras(model, compile_config(model)))
    metadata = json.dumps({"keras_version": KERAS_LAYOUT_VERSION,
                           "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
                           "saved_by": f"onnxgraph {__version__}"})
    weights = weights_h5_bytes(model, optimizer_variables(model) if include_optimizer else None)
    folder = os.path.dirname(os.path.abspath(filepath))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".keras", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f, zipfile.ZipFile(f, "w") as zf:
            zf.writestr(zipfile.ZipInfo("metadata.json"), metadata)
            zf.writestr(zipfile.ZipInfo("config.json"), config)
            zf.writestr(_WEIGHTS, weights)
        _fsync(tmp)
        os.chmod(tmp, _default_mode(filepath))
        os.replace(tmp, filepath)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def save_weights_file(model, filepath: str, overwrite: bool = True) -> None:
    """Write a Keras 3 `.weights.h5` file atomically (optimizer variables too when compiled, as Keras)."""
    from onnxgraph.saving._compile_config import optimizer_variables
    from onnxgraph.saving._files import _default_mode, _fsync
    from onnxgraph.saving._keras_h5 import weights_h5_bytes

    if os.path.exists(filepath) and not overwrite:
        raise FileExistsError(f"{filepath} exists; pass overwrite=True to replace it.")
    sync = getattr(model, "_sync_trained_weights", None)
    if sync is not None:
        sync()
    data = weights_h5_bytes(model, optimizer_variables(model))
    folder = os.path.dirname(os.path.abspath(filepath))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".weights.h5", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        _fsync(tmp)
        os.chmod(tmp, _default_mode(filepath))
        os.replace(tmp, filepath)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _check_member(archive: zipfile.ZipFile, name: str, source: str, limit: int | None = None) -> None:
    info = archive.getinfo(name)
    if limit is not None and info.file_size > limit:
        raise ValueError(f"{source}: member {name} is {info.file_size} bytes, over the {limit}-byte limit.")
    if info.file_size > _BOMB_FLOOR and info.file_size > _MAX_EXPANSION * max(info.compress_size, 1):
        raise ValueError(f"{source}: member {name} declares {info.file_size} bytes but stores "
                         f"{info.compress_size}; refusing a likely decompression bomb.")


def load_keras(filepath, custom_objects=None, compile: bool = True):  # noqa: A002 - Keras name
    """Rebuild a model from a `.keras` archive written by Keras 3 or by onnxgraph."""
    from onnxgraph.models._config import deserialize_layer
    from onnxgraph.saving._keras_config import from_keras
    from onnxgraph.saving._keras_weights import load_weights
    from onnxgraph.saving._registry import custom_object_scope

    source = os.fspath(filepath)
    if not os.path.isfile(source):
        raise FileNotFoundError(f"No model file at {source!r}.")
    try:
        archive = zipfile.ZipFile(source)
    except zipfile.BadZipFile:
        raise ValueError(f"{source} is not a .keras archive (not a zip file).") from None
    with archive:
        names = archive.namelist()
        if "config.json" not in names:
            raise ValueError(f"{source} has no config.json: it is not a Keras 3 .keras archive (members {names[:5]}).")
        if _WEIGHTS not in names:
            hint = " (sharded or npz weights: load it in Keras and save it again with the default h5 weights)"
            raise ValueError(f"{source} has no {_WEIGHTS}{hint if names else ''}.")
        _check_member(archive, "config.json", source, MAX_CONFIG_BYTES)
        _check_member(archive, _WEIGHTS, source)
        try:
            config = json.loads(archive.read("config.json"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{source}: config.json is not valid JSON ({exc}).") from None
    with custom_object_scope(custom_objects or {}):
        try:
            model = deserialize_layer(from_keras(config, custom_objects), custom_objects)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{source}: {exc}") from None
    _build_sequential(model, config)
    if not getattr(model, "built", True):
        raise ValueError(f"{source}: the model in the archive has no inputs to build it from (a subclassed Keras "
                         "model): rebuild it in onnxgraph and use model.load_weights().")
    load_weights(model, source)  # the archive's model.weights.h5, through the weight reader's checks
    compile_config = config.get("compile_config")
    if compile and compile_config:
        _restore_compiled(model, compile_config, source, custom_objects)
    return model


def _build_sequential(model, config: dict) -> None:
    """A Keras Sequential built with `build(shape)` has no InputLayer: its config's
    `build_input_shape` gives the input, as Keras's `Sequential.from_config` uses it."""
    from onnxgraph.layers import Input

    shape = (config.get("config") or {}).get("build_input_shape")
    if getattr(model, "_functional", True) or not hasattr(model, "_input_tensor") or not isinstance(shape, list):
        return
    first = model.layers[0] if model.layers else None
    model._input_tensor = Input(batch_shape=tuple(shape), dtype=getattr(first, "dtype", None) or "float32")
    model._maybe_rebuild()


def _restore_compiled(model, compile_config, source: str, custom_objects) -> None:
    from onnxgraph.saving._compile_config import compile_from_config, set_optimizer_variables
    from onnxgraph.saving._keras_weights import _open_h5

    if not compile_from_config(model, compile_config, custom_objects, source):
        return
    with _open_h5(source) as f:  # the same checked reader as the layer weights
        group = f.get("optimizer/vars")
        if group is None or not len(group.keys()):
            return
        arrays = [group[k][()] for k in sorted(group.keys(), key=int)]
    set_optimizer_variables(model, arrays, source)


def model_to_json(model, **kwargs) -> str:
    """Keras's `model.to_json()`: the config.json object (compile config included) as a string."""
    from onnxgraph.saving._compile_config import compile_config
    from onnxgraph.saving._keras_config import to_keras

    return json.dumps(to_keras(model, compile_config(model)), **kwargs)


def model_from_json(json_string: str, custom_objects=None):
    """Rebuild a model (fresh weights) from `to_json()` output, onnxgraph's or Keras's.

    Like Keras, a compile config in the JSON compiles the model. Classes are found by name only.

    Example:
        >>> clone = model_from_json(model.to_json())
    """
    from onnxgraph.models._config import deserialize_layer
    from onnxgraph.saving._compile_config import compile_from_config
    from onnxgraph.saving._keras_config import from_keras
    from onnxgraph.saving._registry import custom_object_scope

    try:
        config = json.loads(json_string)
    except (json.JSONDecodeError, TypeError) as exc:
        raise ValueError(f"model_from_json: not a JSON model config ({exc}).") from None
    with custom_object_scope(custom_objects or {}):
        model = deserialize_layer(from_keras(config, custom_objects), custom_objects)
    _build_sequential(model, config)
    if config.get("compile_config"):
        compile_from_config(model, config["compile_config"], custom_objects, "model_from_json")
    return model
