"""`serialize_keras_object` / `deserialize_keras_object`: Keras 3's dict form of a layer or model.

The dict is Keras's: `{"module", "class_name", "config", "registered_name"}`. Deserializing
finds the class by name (custom_objects, custom_object_scope, the registry, the built-ins) and
calls `from_config`: data only, nothing is imported from a module the dict names.
"""

from __future__ import annotations

__all__ = ["serialize_keras_object", "deserialize_keras_object"]


def serialize_keras_object(obj) -> dict | None:
    """A layer or model (anything with get_config) as Keras's serialized dict; plain values pass through.

    Example:
        >>> entry = serialize_keras_object(layers.Dense(3))
        >>> entry["class_name"], entry["config"]["units"]
        ('Dense', 3)
    """
    from onnxgraph.models._config import serialize_layer

    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, (list, tuple)):
        return [serialize_keras_object(x) for x in obj]
    if not hasattr(obj, "get_config"):
        raise TypeError(f"Cannot serialize {obj!r} ({type(obj).__name__}): it has no get_config().")
    entry = serialize_layer(obj)
    entry.pop("name", None)
    entry.setdefault("registered_name", None)
    return entry


def deserialize_keras_object(config, custom_objects=None, **kwargs):
    """Rebuild what `serialize_keras_object` (or Keras's own) wrote: the class by name, then from_config.

    Example:
        >>> layer = deserialize_keras_object({"class_name": "Dense", "config": {"units": 3}})
    """
    from onnxgraph.models._config import deserialize_layer

    if config is None or isinstance(config, (bool, int, float)):
        return config
    if isinstance(config, list):
        return [deserialize_keras_object(x, custom_objects) for x in config]
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"deserialize_keras_object needs a dict with 'class_name' and 'config', got {config!r}.")
    return deserialize_layer(config, custom_objects)
