"""Saving and loading models (`.onnx`, and Keras 3 `.keras` archives), names for custom classes, and the
limits on what files may declare."""

from onnxgraph.saving._external import UnsafeExternalDataError
from onnxgraph.saving._limits import FileLimitError, FileLimits, file_limits, get_file_limits
from onnxgraph.saving._load import load_model
from onnxgraph.saving._registry import (custom_object_scope, get_custom_objects, get_registered_name,
                                        get_registered_object, register_serializable)
from onnxgraph.saving._safe_io import ModelFileError
from onnxgraph.saving._serialization import deserialize_keras_object, serialize_keras_object

__all__ = ["load_model", "register_serializable", "get_registered_name", "get_registered_object",
           "custom_object_scope", "get_custom_objects", "serialize_keras_object", "deserialize_keras_object",
           "file_limits", "get_file_limits", "FileLimits", "FileLimitError", "ModelFileError",
           "UnsafeExternalDataError"]
