"""Models: functional `Model`, `Sequential`, and loading saved `.onnx` models."""

from onnxgraph.models._model import Model
from onnxgraph.models._sequential import Sequential
from onnxgraph.saving import load_model
from onnxgraph.saving._keras_archive import model_from_json

__all__ = ["Model", "Sequential", "load_model", "model_from_json"]
