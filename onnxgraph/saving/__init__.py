"""Saving and loading `.onnx` models, and names for custom classes."""

from onnxgraph.saving._load import load_model
from onnxgraph.saving._registry import (custom_object_scope, get_custom_objects, get_registered_name,
                                        get_registered_object, register_serializable)
from onnxgraph.saving._serialization import deserialize_keras_object, serialize_keras_object

__all__ = ["load_model", "register_serializable", "get_registered_name", "get_registered_object",
           "custom_object_scope", "get_custom_objects", "serialize_keras_object", "deserialize_keras_object"]
