"""Models: functional `Model`, `Sequential`, and loading saved `.onnx` models."""

from onnxgraph.models._model import Model
from onnxgraph.models._sequential import Sequential
from onnxgraph.saving import load_model

__all__ = ["Model", "Sequential", "load_model"]
