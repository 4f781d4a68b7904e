"""Names for custom classes. Loading looks classes up here, never imports what a file names."""

from __future__ import annotations

__all__ = ["register_serializable", "get_registered_name", "get_registered_object", "builtin_objects"]

_REGISTRY: dict[str, object] = {}
_NAMES: dict[int, str] = {}


def register_serializable(package: str = "Custom", name: str | None = None):
    """Class decorator: make a custom layer/model loadable by the name `package>Name`.

    Example:
        >>> @register_serializable(package="MyLayers")
        ... class CustomDense(layers.Layer): ...
    """
    def decorator(obj):
        key = f"{package}>{name or obj.__name__}"
        if key in _REGISTRY and _REGISTRY[key] is not obj:
            raise ValueError(f"'{key}' is already registered to {_REGISTRY[key]!r}; pick another name.")
        _REGISTRY[key] = obj
        _NAMES[id(obj)] = key
        return obj

    return decorator


def get_registered_name(obj) -> str:
    """`package>Name` for a registered object, else its plain name."""
    return _NAMES.get(id(obj), getattr(obj, "__name__", type(obj).__name__))


def builtin_objects() -> dict:
    """Built-in layer and model classes by class name (from the packages' explicit __all__)."""
    from onnxgraph import layers, models

    objects = {name: getattr(layers, name) for name in layers.__all__ if isinstance(getattr(layers, name), type)}
    objects.update({"Functional": models.Model, "Model": models.Model, "Sequential": models.Sequential})
    return objects


def get_registered_object(name: str, custom_objects: dict | None = None, registered_name: str | None = None):
    """Resolve a class name: custom_objects, then the registry, then built-ins; else None."""
    custom_objects = custom_objects or {}
    for key in (registered_name, name):
        if key and key in custom_objects:
            return custom_objects[key]
    for key in (registered_name, name):
        if key and key in _REGISTRY:
            return _REGISTRY[key]
    matches = [obj for key, obj in _REGISTRY.items() if key.split(">", 1)[-1] == name]
    if len(matches) == 1:
        return matches[0]
    return builtin_objects().get(name)
