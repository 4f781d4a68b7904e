"""Names for custom classes. Loading looks classes up here, never imports what a file names.

A saved config names each layer by class name (and `package>Name` when registered). Loading
resolves that name, in order, from `custom_objects=`, the active `custom_object_scope`s, the
registry filled by `@register_serializable`, then onnxgraph's own classes. The `module` field
of a config is informational only: nothing is imported from it.
"""

from __future__ import annotations

import contextlib
import threading

__all__ = ["register_serializable", "get_registered_name", "get_registered_object", "builtin_objects",
           "custom_object_scope", "get_custom_objects"]

_REGISTRY: dict[str, object] = {}
_NAMES: dict[int, str] = {}
_scopes = threading.local()


def register_serializable(package: str = "Custom", name: str | None = None):
    """Class decorator: make a custom layer/model loadable by the name `package>Name`.

    Args:
        package: a namespace for the name (Keras's default is "Custom").
        name: the registered class name; defaults to the class's `__name__`.

    Returns:
        The decorator, which returns the class unchanged.

    Example:
        >>> @register_serializable(package="MyLayers")
        ... class CustomDense(layers.Layer): ...
    """
    if ">" in package:
        raise ValueError(f"register_serializable: package {package!r} cannot contain '>'.")

    def decorator(obj):
        key = f"{package}>{name or obj.__name__}"
        if key in _REGISTRY and _REGISTRY[key] is not obj:
            existing = _REGISTRY[key]
            if getattr(existing, "__qualname__", None) != getattr(obj, "__qualname__", None) or \
                    getattr(existing, "__module__", None) != getattr(obj, "__module__", None):
                raise ValueError(f"'{key}' is already registered to {existing!r}; pick another name.")
        _REGISTRY[key] = obj  # re-running a notebook cell re-registers the same class
        _NAMES[id(obj)] = key
        return obj

    return decorator


def get_registered_name(obj) -> str:
    """`package>Name` for a registered object, else its plain name."""
    return _NAMES.get(id(obj), getattr(obj, "__name__", type(obj).__name__))


def get_custom_objects() -> dict:
    """The registry: `package>Name` -> class (a live view, as in Keras)."""
    return _REGISTRY


@contextlib.contextmanager
def custom_object_scope(custom_objects: dict):
    """Make `custom_objects` visible to every `from_config`/`load_model` inside the block.

    Nested deserialization (a custom layer whose `from_config` rebuilds sublayers) finds
    custom classes through the scope without passing `custom_objects` around.

    Example:
        >>> with custom_object_scope({"CustomDense": CustomDense}):
        ...     model = load_model("model.onnx")
    """
    stack = _scope_stack()
    stack.append(dict(custom_objects or {}))
    try:
        yield
    finally:
        stack.pop()


def _scope_stack() -> list:
    if not hasattr(_scopes, "stack"):
        _scopes.stack = []
    return _scopes.stack


def builtin_objects() -> dict:
    """Built-in layer and model classes by class name (from the packages' explicit __all__)."""
    from onnxgraph import layers, models
    from onnxgraph.layers._onnxscript import OnnxFunctionLayer
    from onnxgraph.layers._op_layer import OpLayer

    objects = {name: getattr(layers, name) for name in layers.__all__ if isinstance(getattr(layers, name), type)}
    objects.update({"Functional": models.Model, "Model": models.Model, "Sequential": models.Sequential,
                    "OpLayer": OpLayer, "OnnxFunctionLayer": OnnxFunctionLayer})
    return objects


def get_registered_object(name: str, custom_objects: dict | None = None, registered_name: str | None = None):
    """Resolve a class name: custom_objects, custom_object_scope, the registry, then built-ins; else None."""
    keys = [k for k in (registered_name, name) if isinstance(k, str) and k]
    for objects in [custom_objects or {}, *reversed(_scope_stack())]:
        for key in keys:
            if key in objects:
                return objects[key]
    for key in keys:
        if key in _REGISTRY:
            return _REGISTRY[key]
    if isinstance(name, str):
        matches = [obj for key, obj in _REGISTRY.items() if key.split(">", 1)[-1] == name]
        if len(matches) == 1:
            return matches[0]
        return builtin_objects().get(name)
    return None
