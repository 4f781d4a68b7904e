"""Layers with Keras names, arguments, defaults and weight layouts.

Each family lives in a private module; this file re-exports the public names.
"""

from onnxgraph.layers._activations import ELU, LeakyReLU, PReLU, ReLU, Softmax
from onnxgraph.layers._attention import MultiHeadAttention
from onnxgraph.layers._bidirectional import Bidirectional
from onnxgraph.layers._conv import Conv1D, Conv2D, Conv3D
from onnxgraph.layers._conv_transpose import Conv1DTranspose, Conv2DTranspose, Conv3DTranspose
from onnxgraph.layers._core import Activation, Dense, Dropout, Identity
from onnxgraph.layers._embedding import Embedding
from onnxgraph.layers._input_layer import Input, InputLayer
from onnxgraph.layers._input_spec import InputSpec
from onnxgraph.layers._lambda import Lambda
from onnxgraph.layers._layer import Layer
from onnxgraph.layers._layer_norm import GroupNormalization, LayerNormalization
from onnxgraph.layers._masking import Masking
from onnxgraph.layers._merging import (Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply,
                                       Subtract, add, average, concatenate, dot, maximum, minimum,
                                       multiply, subtract)
from onnxgraph.layers._normalization import BatchNormalization
from onnxgraph.layers._onnxscript import inline_onnxscript
from onnxgraph.layers._pooling import (AveragePooling1D, AveragePooling2D, AveragePooling3D,
                                       GlobalAveragePooling1D, GlobalAveragePooling2D,
                                       GlobalAveragePooling3D, GlobalMaxPooling1D, GlobalMaxPooling2D,
                                       GlobalMaxPooling3D, MaxPooling1D, MaxPooling2D, MaxPooling3D)
from onnxgraph.layers._preprocessing import Normalization, Rescaling
from onnxgraph.layers._recurrent import GRU, LSTM, SimpleRNN
from onnxgraph.layers._reshaping import Flatten, Permute, RepeatVector, Reshape
from onnxgraph.layers._separable import DepthwiseConv1D, DepthwiseConv2D, SeparableConv1D, SeparableConv2D
from onnxgraph.layers._spatial import (Cropping1D, Cropping2D, Cropping3D, UpSampling1D, UpSampling2D,
                                       UpSampling3D, ZeroPadding1D, ZeroPadding2D, ZeroPadding3D)
from onnxgraph.layers._wrappers import TimeDistributed, Wrapper

# Keras's alternative names for the same classes.
Convolution1D, Convolution2D, Convolution3D = Conv1D, Conv2D, Conv3D
Convolution1DTranspose, Convolution2DTranspose, Convolution3DTranspose = Conv1DTranspose, Conv2DTranspose, Conv3DTranspose
SeparableConvolution1D, SeparableConvolution2D = SeparableConv1D, SeparableConv2D
MaxPool1D, MaxPool2D, MaxPool3D = MaxPooling1D, MaxPooling2D, MaxPooling3D
AvgPool1D, AvgPool2D, AvgPool3D = AveragePooling1D, AveragePooling2D, AveragePooling3D
GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPool3D = GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D
GlobalAvgPool1D, GlobalAvgPool2D, GlobalAvgPool3D = (GlobalAveragePooling1D, GlobalAveragePooling2D,
                                                     GlobalAveragePooling3D)

__all__ = [
    "Layer", "Input", "InputLayer", "InputSpec",
    "Dense", "Activation", "Dropout", "Identity", "Lambda",
    "Flatten", "Reshape", "Permute", "RepeatVector",
    "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot",
    "add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate", "dot",
    "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax", "BatchNormalization", "Rescaling", "Normalization",
    "Embedding", "Masking", "SimpleRNN", "LSTM", "GRU", "Bidirectional", "TimeDistributed", "Wrapper",
    "LayerNormalization", "GroupNormalization", "MultiHeadAttention",
    "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose",
    "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D",
    "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D", "AveragePooling3D",
    "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D", "GlobalAveragePooling1D",
    "GlobalAveragePooling2D", "GlobalAveragePooling3D",
    "UpSampling1D", "UpSampling2D", "UpSampling3D", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D",
    "Cropping1D", "Cropping2D", "Cropping3D",
    "Convolution1D", "Convolution2D", "Convolution3D", "Convolution1DTranspose", "Convolution2DTranspose",
    "Convolution3DTranspose", "SeparableConvolution1D", "SeparableConvolution2D",
    "MaxPool1D", "MaxPool2D", "MaxPool3D", "AvgPool1D", "AvgPool2D", "AvgPool3D",
    "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPool3D", "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalAvgPool3D",
    "inline_onnxscript",
]
