"""Tensor operations in the style of `keras.ops`.

Each function emits ONNX nodes when given symbolic tensors and computes with numpy when
given arrays, so the same code serves layer `call`s and eager checks. Called on layer outputs
outside any layer (functional code such as `layers.Dense(4)(x) * 2`), an op is recorded as
an op-layer of the model, as Keras 3 does.
"""

from onnxgraph.ops._compare import (equal, greater, greater_equal, isfinite, isinf, isnan, less, less_equal,
                                    logical_and, logical_not, logical_or, logical_xor, not_equal, where)
from onnxgraph.ops._conv import conv, conv_transpose, depthwise_conv, separable_conv
from onnxgraph.ops._creation import (arange, convert_to_numpy, convert_to_tensor, eye, full, full_like,
                                     linspace, ndim, ones, ones_like, shape, size, zeros, zeros_like)
from onnxgraph.ops._einsum import einsum
from onnxgraph.ops._indexing import getitem, one_hot, take, take_along_axis, tril, triu
from onnxgraph.ops._linalg import dot, matmul, norm, outer, tensordot
from onnxgraph.ops._math import (abs, absolute, add, cast, ceil, clip, cos, divide, erf, exp, expm1, floor,
                                 floor_divide, log, log1p, log2, log10, maximum, minimum, mod, multiply,
                                 negative, power, reciprocal, round, rsqrt, sign, sin, sqrt, square, subtract,
                                 tan, true_divide)
from onnxgraph.ops._nn import (elu, exponential, gelu, hard_sigmoid, hard_silu, hard_swish, leaky_relu,
                               log_sigmoid, log_softmax, mish, relu, relu6, selu, sigmoid, silu, softmax,
                               softplus, softsign, swish, tanh)
from onnxgraph.ops._pooling import average_pool, max_pool
from onnxgraph.ops._reduce import (all, any, argmax, argmin, argsort, cumsum, logsumexp, max, mean, min,
                                   prod, sort, std, sum, top_k, var)
from onnxgraph.ops._shape import (broadcast_to, concatenate, expand_dims, flatten_batch, flip, identity,
                                  moveaxis, pad, ravel, repeat, reshape, split, squeeze, stack, swapaxes,
                                  tile, transpose, unstack)

__all__ = [
    # elementwise math, comparisons, logic
    "abs", "absolute", "add", "cast", "ceil", "clip", "cos", "divide", "equal", "erf", "exp", "expm1",
    "floor", "floor_divide", "greater", "greater_equal", "isfinite", "isinf", "isnan", "less",
    "less_equal", "log", "log1p", "log2", "log10", "logical_and", "logical_not", "logical_or",
    "logical_xor", "maximum", "minimum", "mod", "multiply", "negative", "not_equal", "power",
    "reciprocal", "round", "rsqrt", "sign", "sin", "sqrt", "square", "subtract", "tan", "true_divide",
    "where",
    # products
    "dot", "einsum", "matmul", "norm", "outer", "tensordot",
    # reductions and sorting
    "all", "any", "argmax", "argmin", "argsort", "cumsum", "logsumexp", "max", "mean", "min", "prod",
    "sort", "std", "sum", "top_k", "var",
    # activations
    "elu", "exponential", "gelu", "hard_sigmoid", "hard_silu", "hard_swish", "leaky_relu", "log_sigmoid",
    "log_softmax", "mish", "relu", "relu6", "selu", "sigmoid", "silu", "softmax", "softplus", "softsign",
    "swish", "tanh",
    # shapes
    "broadcast_to", "concatenate", "expand_dims", "flatten_batch", "flip", "identity", "moveaxis", "pad",
    "ravel", "repeat", "reshape", "split", "squeeze", "stack", "swapaxes", "tile", "transpose", "unstack",
    # indexing
    "getitem", "one_hot", "take", "take_along_axis", "tril", "triu",
    # creation and shape helpers
    "arange", "convert_to_numpy", "convert_to_tensor", "eye", "full", "full_like", "linspace", "ndim",
    "ones", "ones_like", "shape", "size", "zeros", "zeros_like",
    # convolution and pooling
    "conv", "conv_transpose", "depthwise_conv", "separable_conv", "max_pool", "average_pool",
]
