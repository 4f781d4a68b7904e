"""Layers with Keras names, arguments, defaults and weight layouts.

Each family lives in a private module; this file re-exports the public names.
"""

from onnxgraph.layers._activations import ELU, LeakyReLU, PReLU, ReLU, Softmax
from onnxgraph.layers._attention import MultiHeadAttention
from onnxgraph.layers._bidirectional import Bidirectional
from onnxgraph.layers._core import Activation, Dense, Dropout, Identity
from onnxgraph.layers._embedding import Embedding
from onnxgraph.layers._input_layer import Input, InputLayer
from onnxgraph.layers._input_spec import InputSpec
from onnxgraph.layers._layer import Layer
from onnxgraph.layers._layer_norm import GroupNormalization, LayerNormalization
from onnxgraph.layers._merging import (Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply,
                                       Subtract, add, average, concatenate, dot, maximum, minimum,
                                       multiply, subtract)
from onnxgraph.layers._normalization import BatchNormalization
from onnxgraph.layers._preprocessing import Normalization, Rescaling
from onnxgraph.layers._recurrent import GRU, LSTM, SimpleRNN
from onnxgraph.layers._reshaping import Flatten, Permute, RepeatVector, Reshape
from onnxgraph.layers._wrappers import TimeDistributed

__all__ = [
    "Layer", "Input", "InputLayer", "InputSpec",
    "Dense", "Activation", "Dropout", "Identity",
    "Flatten", "Reshape", "Permute", "RepeatVector",
    "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot",
    "add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate", "dot",
    "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax", "BatchNormalization", "Rescaling", "Normalization",
    "Embedding", "SimpleRNN", "LSTM", "GRU", "Bidirectional", "TimeDistributed",
    "LayerNormalization", "GroupNormalization", "MultiHeadAttention",
]
