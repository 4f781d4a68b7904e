"""MultiHeadAttention with Keras 3 sublayers and weight layouts, emitted as MatMul/Reshape/Transpose.

Keras computes the projections and the attention with einsum; ONNX Einsum has no gradient
in ORT-training, so each einsum becomes a MatMul between reshaped/transposed operands.
Kernels keep Keras shapes (query/key/value (dim, heads, key_dim), attention_output
(heads, value_dim, dim)); the 2-D views MatMul needs are reshape transforms on the
initializers, not runtime nodes.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np

from onnxgraph import activations, initializers, ops, regularizers
from onnxgraph.backend import dtypes
from onnxgraph.backend.emit import constant, emit
from onnxgraph.backend.ir import SymbolicTensor
from onnxgraph.backend.scope import current_scope, name_scope
from onnxgraph.layers._args import dropout_rate, positive_int
from onnxgraph.layers._core import Dropout
from onnxgraph.layers._layer import Layer

__all__ = ["MultiHeadAttention"]

_LARGE_NEGATIVE = -1e9  # Keras's masked-softmax fill for float32


class _Projection(Layer):
    """Keras's EinsumDense as MHA uses it: contract the last `bound` axes with kernel (*in, *out)."""

    def __init__(self, bound: int, out_dims, use_bias, kernel_initializer, bias_initializer, activation=None,
                 kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(**kwargs)
        self._weight_options(kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                             kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
        self.bound, self.out_dims, self.use_bias = bound, tuple(int(d) for d in out_dims), use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.activation = activations.get(activation)

    def build(self, input_shape):
        in_dims = tuple(input_shape[-self.bound:])
        if None in in_dims:
            raise ValueError(f"Layer '{self.name}' needs known sizes for its input axes {in_dims}, got input "
                             f"shape {tuple(input_shape)}.")
        self.kernel = self.add_weight(in_dims + self.out_dims, self.kernel_initializer, name="kernel",
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.bias = self.add_weight(self.out_dims, self.bias_initializer, name="bias",
                                    regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None

    def call(self, inputs):
        lead = inputs.ndim - self.bound
        n_in, n_out = math.prod(self.kernel.shape[:self.bound]), math.prod(self.out_dims)
        x = inputs if self.bound == 1 else ops.reshape(inputs, [None] * lead + [n_in])
        kernel = self.kernel.graph_value((("reshape", (n_in, n_out)),) if len(self.kernel.shape) != 2 else ())
        y = emit("MatMul", [x, kernel], shapes=[x.shape[:-1] + (n_out,)], dtypes_=[x.dtype])
        if self.bias is not None:
            bias = self.bias.graph_value((("reshape", (n_out,)),) if len(self.out_dims) > 1 else ())
            y = ops.add(y, bias)
        if len(self.out_dims) > 1:
            y = ops.reshape(y, [None] * lead + list(self.out_dims))
        return self.activation(y)


class MultiHeadAttention(Layer):
    """Multi-head attention (Vaswani et al. 2017) with Keras 3 arguments, sublayers and weights.

    Called as `mha(query, value, key=None, attention_mask=None, return_attention_scores=False)`.
    Sublayers are named `query`, `key`, `value` and `attention_output` as in Keras, so weights
    copy over with `get_weights`/`set_weights`. `query_mask` is ignored, as in Keras 3 (which
    reads the query's Keras mask instead; onnxgraph does not propagate masks).

    Args:
        num_heads: Number of attention heads.
        key_dim: Size of each head for query and key.
        value_dim: Size of each head for value (defaults to key_dim).
        dropout: Dropout rate on the attention probabilities (training only).
        use_bias: Whether the projections use biases.
        output_shape: Last dimension(s) of the output (defaults to the query's last dim).
        attention_axes: Axes attention runs over (default: all axes but batch, heads, features).

    Returns:
        The attention output `(B, *query_dims, out)`, plus the attention probabilities
        `(B, heads, T_q, T_k)` when `return_attention_scores=True`.

    Example:
        >>> tokens = Input(shape=(8, 16))
        >>> MultiHeadAttention(num_heads=2, key_dim=4)(tokens, tokens).shape
        (None, 8, 16)
    """

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True, output_shape=None,
                 attention_axes=None, sliding_window=None, flash_attention=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 use_gate=False, seed=None, **kwargs):
        for arg, value in (("num_heads", num_heads), ("key_dim", key_dim), ("value_dim", 1 if value_dim is None else value_dim)):
            positive_int("MultiHeadAttention", arg, value)
        dropout_rate("MultiHeadAttention", "dropout", dropout)
        super().__init__(**kwargs)
        self.supports_masking = True
        # As in Keras, every projection gets these (activity_regularizer included: MHA itself has none).
        self._weight_options(kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                             kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
        self._sublayer_activity_regularizer = regularizers.get(activity_regularizer)
        self.num_heads, self.key_dim = num_heads, key_dim
        self.value_dim = value_dim or key_dim
        self.dropout, self.use_bias, self.use_gate, self.seed = dropout, use_bias, use_gate, seed
        if output_shape is not None and (isinstance(output_shape, bool) or not isinstance(output_shape, (int, list, tuple))):
            raise ValueError(f"MultiHeadAttention: Invalid `output_shape`: {output_shape!r}. When specified, the "
                             "`output_shape` should be of type tuple, list, or int (the output's trailing dims).")
        self._output_shape = (output_shape,) if isinstance(output_shape, int) else (
            tuple(output_shape) if output_shape else None)
        if sliding_window is not None and (isinstance(sliding_window, bool) or not isinstance(sliding_window, int)
                                           or sliding_window <= 0):
            raise ValueError("MultiHeadAttention: `sliding_window` must be `None` or a positive integer (each query "
                             f"attends to keys within sliding_window - 1 positions). Received: sliding_window={sliding_window!r}")
        # A request, as in Keras: onnxruntime picks its own fused attention kernel. Keras's contract
        # still holds: no dropout, and no attention scores, with flash attention on.
        self._flash_attention = flash_attention
        if flash_attention and dropout > 0.0:
            raise ValueError("MultiHeadAttention: Dropout is not supported when flash attention is enabled. "
                             f"Please set dropout to 0.0 to use flash attention (got dropout={dropout}).")
        self._attention_axes = (attention_axes,) if isinstance(attention_axes, int) else (
            tuple(attention_axes) if attention_axes else None)
        self._sliding_window = sliding_window
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self._dropout_layer = Dropout(dropout, seed=seed, name="dropout")

    attention_axes = property(lambda self: self._attention_axes)
    sliding_window = property(lambda self: self._sliding_window)
    query_dense = property(lambda self: self._query_dense)
    key_dense = property(lambda self: self._key_dense)
    value_dense = property(lambda self: self._value_dense)
    output_dense = property(lambda self: self._output_dense)

    def build(self, query_shape, value_shape=None, key_shape=None):
        """Create the projections now if the value shape is given, else on the first call."""
        if value_shape is None or hasattr(self, "_output_dense"):
            return
        key_shape = value_shape if key_shape is None else key_shape
        self._make_sublayers(query_shape, value_shape, key_shape)
        projected = tuple(query_shape[:-1]) + (self.num_heads, self.value_dim)
        shapes = [query_shape, key_shape] + ([query_shape] if self.use_gate else []) + [value_shape, projected]
        sublayers = [self._query_dense, self._key_dense] + ([self._gate_dense] if self.use_gate else []) + \
            [self._value_dense, self._output_dense]
        scope = current_scope()
        outer = name_scope(self.name) if not scope or scope[-1] != self.name else contextlib.nullcontext()
        with outer:  # weight paths multi_head_attention/query/kernel, as in Keras
            for layer, shape in zip(sublayers, shapes):
                with name_scope(layer.name):
                    layer.build(shape)
                layer.built = True
        self.built = True

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        if value_shape is not None:
            key_shape = value_shape if key_shape is None else key_shape
            if tuple(value_shape[1:-1]) != tuple(key_shape[1:-1]):
                raise ValueError(f"Layer '{self.name}': value and key must match on every axis but the last; got "
                                 f"value shape {tuple(value_shape)} and key shape {tuple(key_shape)}. (All dimensions "
                                 "of `value` and `key`, except the last one, must be equal.)")
        return tuple(query_shape[:-1]) + (self._output_shape or (query_shape[-1],))

    def _make_sublayers(self, query_shape, value_shape, key_shape):
        if tuple(value_shape[1:-1]) != tuple(key_shape[1:-1]):
            raise ValueError(f"Layer '{self.name}': value and key must match on every axis but the last; got "
                             f"value shape {value_shape} and key shape {key_shape}. (All dimensions of `value` and "
                             "`key`, except the last one, must be equal.)")

        def projection(out_dims, name, bound=1, activation=None):
            # Fresh initializer objects per sublayer, as Keras does (seeded ones stay reproducible).
            return _Projection(bound, out_dims, self.use_bias, type(self.kernel_initializer).from_config(
                self.kernel_initializer.get_config()), type(self.bias_initializer).from_config(
                self.bias_initializer.get_config()), activation=activation, name=name, dtype=self.dtype,
                kernel_regularizer=self.kernel_regularizer, bias_regularizer=self.bias_regularizer,
                kernel_constraint=self.kernel_constraint, bias_constraint=self.bias_constraint,
                activity_regularizer=self._sublayer_activity_regularizer)

        self._query_dense = projection((self.num_heads, self.key_dim), "query")
        self._key_dense = projection((self.num_heads, self.key_dim), "key")
        if self.use_gate:
            self._gate_dense = projection((self.num_heads, self.value_dim), "gate", activation="sigmoid")
        self._value_dense = projection((self.num_heads, self.value_dim), "value")
        self._output_dense = projection(self._output_shape or (query_shape[-1],), "attention_output", bound=2)
        rank = len(query_shape) + 1  # projected rank (B, *dims, heads, channels)
        axes = self._attention_axes or tuple(range(1, rank - 2))
        self._axes = tuple(a if a >= 0 else rank - 1 + a for a in axes)

    def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None, attention_mask=None,
             return_attention_scores=False, training=None, use_causal_mask=False):
        key = value if key is None else key
        if return_attention_scores and self._flash_attention:
            raise ValueError(f"Layer '{self.name}': Returning attention scores is not supported when flash attention "
                             "is enabled. Please disable flash attention to access attention scores "
                             "(MultiHeadAttention(..., flash_attention=False)).")
        if not hasattr(self, "_output_dense"):
            self._make_sublayers(query.shape, value.shape, key.shape)
        # Keras: the query's own mask masks the rows; the inputs' masks are consumed here.
        query_mask = getattr(query, "_keras_mask", None)
        for x in (query, value, key):
            x._keras_mask = None
        mask = self._attention_mask(query, value, query_mask, value_mask, key_mask, attention_mask,
                                    use_causal_mask)
        gate = self._gate_dense(query) if self.use_gate else None
        q = self._query_dense(query)
        k = self._key_dense(key)
        v = self._value_dense(value)
        output, scores = self._attend(q, k, v, mask, training)
        if gate is not None:
            output = ops.multiply(output, gate)
        output = self._output_dense(output)
        if query_mask is not None:
            output._keras_mask = query_mask
        return (output, scores) if return_attention_scores else output

    def _attend(self, q, k, v, mask, training):
        n, axes = q.ndim, self._axes
        batch = [i for i in range(n) if i not in axes and i != n - 1]
        perm = batch + list(axes) + [n - 1]
        flat = len(axes) > 1
        if flat and None in [x.shape[a] for x in (q, k) for a in axes]:
            raise ValueError(f"Layer '{self.name}': attention over several axes {axes} needs their sizes known, got "
                             f"projected query shape {q.shape} and key shape {k.shape}.")

        def gather_axes(x, move_channels_first=False):
            x = ops.transpose(x, batch + ([n - 1] + list(axes) if move_channels_first else list(axes) + [n - 1]))
            if not flat:
                return x
            sizes = [x.shape[i] for i in range(len(batch), x.ndim)]
            return ops.reshape(x, [None] * len(batch) + ([sizes[0], -1] if move_channels_first else [-1, sizes[-1]]))

        q = ops.multiply(q, constant(np.array(1.0 / math.sqrt(self.key_dim), dtype=dtypes.to_numpy(q.dtype))))
        scores = ops.matmul(gather_axes(q), gather_axes(k, move_channels_first=True))
        full_shape = tuple(q.shape[i] for i in batch) + tuple(q.shape[a] for a in axes) + \
            tuple(k.shape[a] for a in axes)
        if mask is not None:
            mask = self._expand_mask(mask, len(full_shape))
            if flat:
                # Broadcast over the attention axes, then fold them like the scores.
                target = constant(np.array([1] * len(batch) + list(full_shape[len(batch):]), dtype=np.int64))
                mask = emit("Expand", [mask, target], dtypes_=["bool"])
                mask = ops.reshape(mask, [None] * len(batch) + list(scores.shape[-2:]))
            fill = constant(np.array(_LARGE_NEGATIVE, dtype=dtypes.to_numpy(scores.dtype)))
            scores = emit("Where", [mask, scores, fill], shapes=[scores.shape], dtypes_=[scores.dtype])
        probs = ops.softmax(scores, axis=-1)
        dropped = self._dropout_layer(probs, training=training) if self.dropout > 0 and training else probs
        out = ops.matmul(dropped, gather_axes(v))
        if flat:
            out = ops.reshape(out, [None] * len(batch) + [q.shape[a] for a in axes] + [out.shape[-1]])
            probs = ops.reshape(probs, [None] * len(batch) + list(full_shape[len(batch):]))
        return ops.transpose(out, [int(i) for i in np.argsort(perm)]), probs

    def _expand_mask(self, mask, rank):
        # Keras inserts the missing (head) axes just before the query attention axes.
        while mask.ndim < rank:
            mask = ops.expand_dims(mask, -len(self._axes) * 2 - 1)
        return mask

    def _attention_mask(self, query, value, query_mask, value_mask, key_mask, attention_mask, use_causal_mask):
        masks = [] if query_mask is None else [ops.expand_dims(_as_bool(query_mask), -1)]
        for m in (value_mask, key_mask):
            if m is not None:
                masks.append(ops.expand_dims(_as_bool(m), -2))
        if use_causal_mask or self.sliding_window is not None:
            rows, cols = _positions(query, 1), _positions(value, 1)
            rows = ops.expand_dims(rows, 1)
            if use_causal_mask:
                masks.append(ops.expand_dims(emit("GreaterOrEqual", [rows, ops.expand_dims(cols, 0)],
                                                  dtypes_=["bool"]), 0))
            if self.sliding_window is not None:
                distance = ops.absolute(ops.subtract(rows, ops.expand_dims(cols, 0)))
                masks.append(ops.expand_dims(emit("Less", [distance, constant(np.array(
                    self.sliding_window, dtype=np.int64))], dtypes_=["bool"]), 0))
        if attention_mask is not None:
            masks.insert(0, _as_bool(attention_mask))
        if not masks:
            return None
        result = masks[0]
        for m in masks[1:]:
            result = emit("And", [result, m], dtypes_=["bool"])
        return result

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim,
                "value_dim": self.value_dim, "dropout": self.dropout, "use_bias": self.use_bias,
                "use_gate": self.use_gate, "output_shape": self._output_shape,
                "attention_axes": self._attention_axes, "sliding_window": self.sliding_window,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer), "seed": self.seed,
                "activity_regularizer": regularizers.serialize(self._sublayer_activity_regularizer)}


def _as_bool(mask):
    """Keras casts masks to bool: nonzero means "attend"."""
    if not isinstance(mask, SymbolicTensor):
        return constant(np.asarray(mask) != 0)
    return mask if mask.dtype == "bool" else ops.cast(mask, "bool")


def _positions(x, axis: int):
    """0, 1, ..., x.shape[axis]-1 as int64 (a constant when the size is known)."""
    size = x.shape[axis]
    if size is not None:
        return constant(np.arange(size, dtype=np.int64))
    length = emit("Shape", [x], {"start": axis, "end": axis + 1}, shapes=[(1,)], dtypes_=["int64"])
    length = emit("Squeeze", [length, constant(np.array([0], dtype=np.int64))], shapes=[()], dtypes_=["int64"])
    return emit("Range", [constant(np.array(0, dtype=np.int64)), length, constant(np.array(1, dtype=np.int64))],
                shapes=[(None,)], dtypes_=["int64"])

