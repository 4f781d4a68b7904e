"""Model configs between onnxgraph and Keras 3's `config.json` (both use Keras's layout).

onnxgraph's config is already Keras 3's (`models/_config.py`); the differences are the
`module` / `registered_name` of each entry, keys one side has and the other does not, and
ops called outside layers (onnxgraph's `OpLayer`, Keras's `keras.src.ops.*` operations).

To Keras: built-in layers get `module: "keras.layers"`, models Keras's module and registered
name; op-layers become Keras operations. From Keras: each entry's class is found by name
(registry, custom_objects, onnxgraph's layers: a `module` is never imported); config keys
the onnxgraph class does not take are dropped when they hold Keras's "off" value (None,
False, empty) and refused otherwise, naming the layer and option; Keras operations become
op-layers of the same og.ops function. A Keras class that carries code (a TorchModuleWrapper)
has no onnxgraph counterpart, so such a file is refused by class name; a Lambda is rebuilt only
with its function given in-process (custom_objects), never from the code in the file.
"""

from __future__ import annotations

import inspect
import json
import re

__all__ = ["to_keras", "from_keras"]

_MODEL_MODULES = {"Functional": ("keras.src.models.functional", "Functional"), "Sequential": ("keras", None),
                  "Model": ("keras.src.models.model", "Model")}
# Keras config keys that carry no meaning for onnxgraph whatever their value.
_IGNORED = {"shared_object_id", "build_config", "compile_config", "build_input_shape"}
_OFF = (None, False, {}, [], "", ())
# Keras-only options that only matter when the switch they belong to is on.
_DEPENDS = {"renorm_momentum": "renorm", "renorm_clipping": "renorm"}
# og.ops functions whose Keras operation lives in keras.src.ops.nn (the rest are keras.src.ops.numpy).
_NN_OPS = {"relu", "relu6", "sigmoid", "softmax", "log_softmax", "gelu", "silu", "swish", "elu", "selu",
           "softplus", "softsign", "leaky_relu", "hard_sigmoid", "hard_silu", "one_hot", "conv", "max_pool",
           "average_pool", "batch_normalization", "moments"}


# -- onnxgraph -> Keras --------------------------------------------------------------------------------
def to_keras(model, compile_config=None) -> dict:
    """The config.json object Keras writes for `model` (plus `compile_config` when compiled)."""
    from onnxgraph.models._config import serialize_layer
    from onnxgraph.models._export import _json_default

    entry = json.loads(json.dumps(serialize_layer(model), default=_json_default))
    entry.pop("name", None)
    entry = _to_keras_entry(entry)
    entry["build_config"] = {"input_shape": None}
    entry["compile_config"] = compile_config
    return entry


def _to_keras_entry(entry: dict) -> dict:
    class_name = entry.get("class_name")
    module = entry.get("module", "")
    if class_name == "OpLayer":
        return _op_to_keras(entry)
    if class_name in _MODEL_MODULES and module.startswith("onnxgraph"):
        entry["module"], entry["registered_name"] = _MODEL_MODULES[class_name]
    elif module.startswith("onnxgraph."):
        entry["module"], entry["registered_name"] = "keras.layers", None
    else:
        entry.setdefault("registered_name", class_name)
    config = entry.get("config")
    if isinstance(config, dict):
        if isinstance(config.get("layers"), list):
            config["layers"] = [_to_keras_entry(e) for e in config["layers"]]
        for key in ("layer", "backward_layer", "cell"):
            if isinstance(config.get(key), dict) and "class_name" in config[key]:
                config[key] = _to_keras_entry(config[key])
    return entry


def _op_to_keras(entry: dict) -> dict:
    """An OpLayer as the Keras operation of the same function: tensors in the call, the rest as kwargs."""
    config = entry["config"]
    op, arguments = config["op"], config.get("arguments", {})
    nodes = entry.get("inbound_nodes", [])
    if len(nodes) != 1:
        raise ValueError(f"Op-layer '{entry.get('name')}' ({op}) is called {len(nodes)} times; Keras operations are "
                         "called once.")
    tensors = nodes[0]["args"][0] if nodes[0]["args"] else []
    tensors = tensors if isinstance(tensors, list) else [tensors]

    def decode(value):
        if isinstance(value, dict) and "__tensor__" in value:
            return tensors[value["__tensor__"]]
        if isinstance(value, dict) and "__tuple__" in value:
            return [decode(v) for v in value["__tuple__"]]
        if isinstance(value, dict) and any(k in value for k in ("__slice__", "__ellipsis__", "__array__")):
            raise ValueError(f"Op-layer '{entry.get('name')}' ({op}) has slice/array arguments, which have no Keras "
                             "config form; use a layer (layers.Cropping*, layers.Reshape, ...) instead.")
        if isinstance(value, dict):
            return {k: decode(v) for k, v in value.items()}
        if isinstance(value, list):
            return [decode(v) for v in value]
        return value

    class_name = "".join(part.capitalize() for part in op.split("_"))
    module = "keras.src.ops.nn" if op in _NN_OPS else "keras.src.ops.numpy"
    return {"module": module, "class_name": class_name,
            "config": {"name": config.get("name"), **decode(arguments.get("kwargs", {}))},
            "registered_name": None, "name": entry.get("name"),
            "inbound_nodes": [{"args": decode(arguments.get("args", [])), "kwargs": {}}]}


# -- Keras -> onnxgraph ---------------------------------------------------------------------------------
def from_keras(entry: dict, custom_objects=None) -> dict:
    """A Keras config.json object (or layer entry) cleaned for onnxgraph's `deserialize_layer`."""
    from onnxgraph.saving._registry import get_registered_object

    if not isinstance(entry, dict) or not isinstance(entry.get("class_name"), str):
        raise ValueError(f"A Keras layer entry must be an object with a 'class_name', got {entry!r:.200}.")
    entry = dict(entry)
    if str(entry.get("module", "")).startswith("keras.src.ops"):
        return _op_from_keras(entry)
    config = entry.get("config")
    name = entry.get("name") or (config.get("name") if isinstance(config, dict) else None)
    cls = get_registered_object(entry["class_name"], custom_objects, entry.get("registered_name"))
    if cls is None:
        hint = (" Lambda layers hold Python code, which onnxgraph never loads from a file: replace the Lambda "
                "with a registered custom layer.") if entry["class_name"] == "Lambda" else ""
        raise ValueError(f"Unknown layer class '{entry['class_name']}' (layer '{name}', module "
                         f"'{entry.get('module')}') in the Keras config. Pass "
                         f"custom_objects={{'{entry['class_name']}': cls}} or register the class with @onnxgraph.saving.register_serializable().{hint}")
    if not isinstance(config, dict):
        return entry
    config = {k: v for k, v in config.items() if k not in _IGNORED}
    if isinstance(config.get("layers"), list):
        config["layers"] = [from_keras(e, custom_objects) for e in config["layers"]]
    for key in ("layer", "backward_layer", "cell"):
        if isinstance(config.get(key), dict) and "class_name" in config[key]:
            config[key] = from_keras(config[key], custom_objects)
    if not isinstance(config.get("layers"), list):  # models read their own keys
        config = _accepted(cls, config, entry["class_name"], name)
    entry["config"] = config
    if "inbound_nodes" in entry:
        entry["inbound_nodes"] = [_clean_node(node, cls) for node in entry["inbound_nodes"]]
    return entry


_UNEXPECTED = re.compile(r"unexpected keyword arguments \[([^\]]*)\]")


def _accepted(cls, config: dict, class_name: str, name) -> dict:
    """`config` without the Keras-only keys the onnxgraph class refuses (when they are off).

    The class tells which keys it refuses by constructing it (layers make no weights before
    build): onnxgraph's Layer names every unexpected keyword in its TypeError.
    """
    if not cls.__module__.startswith("onnxgraph."):
        return config  # a custom class reads its own config
    try:
        cls.from_config(dict(config))
        return config
    except TypeError as exc:
        match = _UNEXPECTED.search(str(exc))
        if match is None:
            return config  # deserialize_layer reports it with context
        unknown = [k.strip().strip("'\"") for k in match.group(1).split(",") if k.strip()]
    except ValueError:
        return config
    for key in unknown:
        value = config.get(key)
        if value not in _OFF and not (key in _DEPENDS and config.get(_DEPENDS[key]) in _OFF):
            raise ValueError(f"Keras layer '{name}' ({class_name}) sets {key}={value!r}, which onnxgraph's "
                             f"{class_name} does not support; rebuild that layer without it.")
    return {k: v for k, v in config.items() if k not in unknown}


def _clean_node(node, cls):
    """Drop call keywords the onnxgraph layer does not take when Keras recorded them as None."""
    if not isinstance(node, dict) or not isinstance(node.get("kwargs"), dict):
        return node
    try:
        params = inspect.signature(cls.call).parameters
    except (TypeError, ValueError):
        return node
    takes_any = any(p.kind == p.VAR_KEYWORD for p in params.values())
    kwargs = {k: v for k, v in node["kwargs"].items() if takes_any or k in params or v is not None}
    return {**node, "kwargs": kwargs}


def _op_from_keras(entry: dict) -> dict:
    """A Keras operation (`keras.src.ops.numpy.Concatenate`, ...) as an onnxgraph OpLayer entry."""
    from onnxgraph.ops._dispatch import OPS
    from onnxgraph.utils._naming import to_snake_case

    op = to_snake_case(entry["class_name"])
    op = {"get_item": "getitem"}.get(op, op)
    name = entry.get("name") or entry.get("config", {}).get("name")
    if op not in OPS:
        raise ValueError(f"Keras operation '{entry['class_name']}' (layer '{name}') has no onnxgraph op "
                         f"'{op}' to replay it.")
    nodes = entry.get("inbound_nodes", [])
    if len(nodes) != 1:
        raise ValueError(f"Keras operation '{name}' is called {len(nodes)} times; operations are called once.")
    tensors: list = []

    def encode(value):
        if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
            tensors.append(value)
            return {"__tensor__": len(tensors) - 1}
        if isinstance(value, dict):
            return {k: encode(v) for k, v in value.items()}
        if isinstance(value, list):
            return [encode(v) for v in value]
        return value

    init_kwargs = {k: v for k, v in entry.get("config", {}).items() if k != "name"}
    args = encode(nodes[0].get("args", []))
    kwargs = encode({**init_kwargs, **nodes[0].get("kwargs", {})})
    return {"module": "onnxgraph.layers", "class_name": "OpLayer", "name": name,
            "config": {"name": name, "op": op, "arguments": {"args": args, "kwargs": kwargs}},
            "inbound_nodes": [{"args": [tensors[0] if len(tensors) == 1 else tensors], "kwargs": {}}]}
