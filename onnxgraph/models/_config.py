"""Functional model config (Keras 3 layout) and rebuilding a model from it."""

from __future__ import annotations

import inspect

from onnxgraph.backend.ir import SymbolicTensor
from onnxgraph.utils._tree import flatten, map_structure

__all__ = ["functional_config", "functional_from_config", "serialize_layer", "deserialize_layer"]


def serialize_layer(layer) -> dict:
    from onnxgraph.saving._registry import get_registered_name

    class_name = layer._class_name() if hasattr(layer, "_class_name") else type(layer).__name__
    entry = {"module": type(layer).__module__.split("._")[0], "class_name": class_name,
             "config": layer.get_config(), "name": layer.name}
    registered = get_registered_name(type(layer))
    if ">" in registered:
        entry["registered_name"] = registered
    return entry


def deserialize_layer(entry: dict, custom_objects=None):
    from onnxgraph.saving._registry import get_registered_object

    class_name = entry.get("class_name")
    cls = get_registered_object(class_name, custom_objects, entry.get("registered_name"))
    if cls is None:
        config = entry.get("config")
        name = entry.get("name") or (config.get("name") if isinstance(config, dict) else None)
        raise ValueError(
            f"Unknown layer class '{class_name}' (layer '{name}') in the model config. "
            f"Pass custom_objects={{'{class_name}': {class_name}}} to load_model/from_config, or "
            f"decorate the class with @onnxgraph.saving.register_serializable()."
        )
    config = entry.get("config", {})
    if not isinstance(config, dict):
        raise ValueError(f"Layer '{entry.get('name')}' ({class_name}): its config must be a dict, got {config!r}.")
    if hasattr(cls, "_functional") and "layers" in config:
        return cls.from_config(config, custom_objects=custom_objects)
    try:
        if "custom_objects" in inspect.signature(cls.from_config).parameters:
            return cls.from_config(config, custom_objects=custom_objects)
        return cls.from_config(config)
    except TypeError as exc:
        if exc.__cause__ is not None and not isinstance(exc.__cause__, TypeError):
            raise exc.__cause__  # Layer.from_config's Keras-style wrapping of a constructor check
        raise TypeError(
            f"Could not rebuild layer '{entry.get('name')}' of class {class_name} from its config "
            f"{config}: {exc}. get_config() must return the arguments of __init__ (accept **kwargs "
            "in __init__ for name/trainable/dtype), or override the from_config classmethod."
        ) from exc


def _node_indices(model) -> dict:
    """(layer id, absolute node index) -> index among this model's calls of that layer."""
    model_nodes = {id(n) for nodes in model._nodes_by_depth.values() for n in nodes}
    mapping = {}
    for layer in model.layers:
        k = 0
        for i, node in enumerate(layer._inbound_nodes):
            if id(node) in model_nodes:
                mapping[(id(layer), i)] = k
                k += 1
    return mapping


def functional_config(model) -> dict:
    indices = _node_indices(model)

    def tensor_ref(t):
        layer, node_index, tensor_index = t._keras_history
        return [layer.name, indices[(id(layer), node_index)], tensor_index]

    def encode(value):
        if isinstance(value, SymbolicTensor):
            # shape and dtype as Keras writes them (Keras's loader needs them; ours ignores them)
            return {"class_name": "__keras_tensor__", "config": {
                "shape": list(value.shape), "dtype": str(value.dtype), "keras_history": tensor_ref(value)}}
        return value

    layer_entries = []
    for layer in model.layers:
        entry = serialize_layer(layer)
        nodes = [n for i, n in enumerate(layer._inbound_nodes) if (id(layer), i) in indices]
        entry["inbound_nodes"] = [] if type(layer).__name__ == "InputLayer" else [
            {"args": map_structure(encode, list(n.args)), "kwargs": map_structure(encode, dict(n.kwargs))}
            for n in nodes
        ]
        layer_entries.append(entry)
    return {
        "name": model.name,
        "trainable": model.trainable,
        "layers": layer_entries,
        "input_layers": map_structure(tensor_ref, model._inputs_struct),
        "output_layers": map_structure(tensor_ref, model._outputs_struct),
    }


def _is_ref(value) -> bool:
    return (isinstance(value, list) and len(value) == 3 and isinstance(value[0], str)
            and isinstance(value[1], int) and isinstance(value[2], int))


def _modern_node(node):
    """Keras 2's node layout `[[layer, node_index, tensor_index, kwargs], ...]` as Keras 3's args/kwargs."""
    if not isinstance(node, list):
        return node
    tensors, kwargs = [], {}
    for item in node:
        if not isinstance(item, list) or len(item) not in (3, 4):
            raise ValueError(f"Cannot deserialize the model (invalid config data?): inbound node entry {item!r} "
                             "must be [layer_name, node_index, tensor_index(, kwargs)].")
        tensors.append({"class_name": "__keras_tensor__", "config": {"keras_history": list(item[:3])}})
        kwargs = item[3] if len(item) == 4 else kwargs
    return {"args": [tensors[0]] if len(tensors) == 1 else [tensors], "kwargs": kwargs}


def _refs(value) -> list:
    if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
        return [value["config"]["keras_history"][0]]
    if isinstance(value, dict):
        return [r for v in value.values() for r in _refs(v)]
    if isinstance(value, list):
        return [r for v in value for r in _refs(v)]
    return []


def functional_from_config(config: dict, custom_objects=None, cls=None):
    """Recreate layers, then replay their calls in dependency order."""
    from onnxgraph.models._model import Model

    cls = cls or Model
    layers, outputs = {}, {}
    pending = []
    for entry in config["layers"]:
        layer = deserialize_layer(entry, custom_objects)
        layers[entry["name"]] = layer
        outputs[entry["name"]] = []
        if type(layer).__name__ == "InputLayer":
            outputs[entry["name"]].append([layer._output])
        pending.extend((entry["name"], _modern_node(node)) for node in entry.get("inbound_nodes", []))
    for name, node in pending:
        for ref in _refs(node):
            if ref not in layers:
                raise ValueError(f"Invalid Functional model configuration. Missing node: {ref} (layer '{name}' is "
                                 f"called on the output of '{ref}', which is not among the config's layers).")

    def decode(value):
        if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
            name, node_index, tensor_index = value["config"]["keras_history"]
            return outputs[name][node_index][tensor_index]
        if isinstance(value, dict):
            return {k: decode(v) for k, v in value.items()}
        if isinstance(value, list):
            return [decode(v) for v in value]
        return value

    def ready(value) -> bool:
        if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
            name, node_index, _ = value["config"]["keras_history"]
            return name in outputs and node_index < len(outputs[name])
        if isinstance(value, dict):
            return all(ready(v) for v in value.values())
        if isinstance(value, list):
            return all(ready(v) for v in value)
        return True

    while pending:
        progressed = False
        for item in list(pending):
            name, node = item
            # A layer's calls replay in their recorded order.
            earlier = [p for p in pending if p[0] == name]
            if earlier[0] is not item or not ready(node):
                continue
            result = layers[name](*decode(node["args"]), **decode(node["kwargs"]))
            outputs[name].append([x for x in flatten(result) if isinstance(x, SymbolicTensor)])
            pending.remove(item)
            progressed = True
        if not progressed:
            raise ValueError(f"Functional model config '{config.get('name')}' either has loops or disconnected "
                             f"nodes: the calls of layers {[p[0] for p in pending]} wait on inputs that no other "
                             "call produces.")

    def resolve(ref):
        return outputs[ref[0]][ref[1]][ref[2]]

    def walk(struct):
        if _is_ref(struct):
            return resolve(struct)
        if isinstance(struct, dict):
            return {k: walk(v) for k, v in struct.items()}
        return type(struct)(walk(v) for v in struct)  # a tuple of outputs stays a tuple (Keras)

    # Keys a subclass's get_config added (Keras: `base_config | {"param": ...}`) go back to its __init__.
    extra = {k: v for k, v in config.items() if k not in ("name", "trainable", "layers", "input_layers",
                                                          "output_layers")}
    model = cls(walk(config["input_layers"]), walk(config["output_layers"]), name=config.get("name"), **extra)
    model.trainable = config.get("trainable", True)
    return model
