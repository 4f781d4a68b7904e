"""onnxgraph: the Keras functional API with ONNX as the model.

    import onnxgraph as keras
    from onnxgraph import layers

    inputs = keras.Input(shape=(784,))
    x = layers.Dense(64, activation="relu")(inputs)
    outputs = layers.Dense(10)(x)
    model = keras.Model(inputs, outputs, name="mnist_model")
    model.save("mnist_model.onnx")      # a plain ONNX file: run it, train it, open it in Netron
"""

__version__ = "0.1.0"

from onnxgraph import activations, initializers, layers, models, ops, saving, utils  # noqa: E402
from onnxgraph import constraints, losses, metrics, optimizers, regularizers  # noqa: E402
from onnxgraph import callbacks  # noqa: E402
from onnxgraph import export, interop  # noqa: E402  (interop registers OnnxNode for load_model)
from onnxgraph import applications  # noqa: E402
from onnxgraph import backend, datasets  # noqa: E402
from onnxgraph import data, serving  # noqa: E402  (uvicorn, Starlette and Ray are imported only when used)
from onnxgraph.layers import Input, InputLayer, Layer  # noqa: E402
from onnxgraph.models import Model, Sequential  # noqa: E402
from onnxgraph.saving import load_model  # noqa: E402

__all__ = [
    "__version__", "Input", "InputLayer", "Layer", "Model", "Sequential", "load_model",
    "activations", "initializers", "layers", "models", "ops", "saving", "utils",
    "losses", "metrics", "optimizers", "regularizers", "constraints", "callbacks", "export", "interop",
    "applications", "data", "serving", "backend", "datasets",
]
