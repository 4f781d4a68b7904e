"""Tensor operations in the style of `keras.ops`.

Each function emits ONNX nodes when given symbolic tensors and computes with numpy when
given arrays, so the same code serves layer `call`s and eager checks.
"""

from onnxgraph.ops._math import (abs, absolute, add, cast, ceil, divide, equal, erf, exp, floor,
                                 greater, greater_equal, less, less_equal, log, matmul, max,
                                 maximum, mean, min, minimum, multiply, negative, not_equal, power,
                                 prod, reciprocal, round, rsqrt, sign, sqrt, square, subtract, sum)
from onnxgraph.ops._nn import (elu, exponential, gelu, hard_sigmoid, hard_silu, hard_swish,
                               leaky_relu, log_softmax, mish, relu, relu6, selu, sigmoid, silu,
                               softmax, softplus, softsign, swish, tanh)
from onnxgraph.ops._shape import (concatenate, expand_dims, flatten_batch, getitem, identity, ones,
                                  reshape, squeeze, stack, tile, transpose, zeros)

__all__ = [
    "abs", "absolute", "add", "cast", "ceil", "divide", "equal", "erf", "exp", "floor", "greater",
    "greater_equal", "less", "less_equal", "log", "matmul", "max", "maximum", "mean", "min",
    "minimum", "multiply", "negative", "not_equal", "power", "prod", "reciprocal", "round",
    "rsqrt", "sign", "sqrt", "square", "subtract", "sum",
    "elu", "exponential", "gelu", "hard_sigmoid", "hard_silu", "hard_swish", "leaky_relu",
    "log_softmax", "mish", "relu", "relu6", "selu", "sigmoid", "silu", "softmax", "softplus",
    "softsign", "swish", "tanh",
    "concatenate", "expand_dims", "flatten_batch", "getitem", "identity", "ones", "reshape",
    "squeeze", "stack", "tile", "transpose", "zeros",
]
