"""Conv1D, Conv2D and Conv3D: Keras arguments, kernel layout and output sizes, as ONNX Conv.

The kernel keeps Keras's layout (k..., in/groups, filters) in `get_weights()`; the file holds
it as an ONNX (filters, in/groups, k...) initializer through a recorded transform. The bias
is the Conv node's third input, so a layer is Transpose -> Conv -> Transpose (channels_last)
plus its activation, and the layout pass removes the Transposes between layers.
"""

from __future__ import annotations

from onnxgraph import activations, initializers, ops
from onnxgraph.layers._args import positive_int
from onnxgraph.layers._input_spec import InputSpec
from onnxgraph.layers._layer import Layer
from onnxgraph.ops._conv import conv_kernel_transform, emit_conv
from onnxgraph.ops._conv_utils import (channels_first_shape, conv_output_size, effective_kernel,
                                       standardize_data_format, standardize_padding, standardize_tuple)

__all__ = ["BaseConv", "Conv1D", "Conv2D", "Conv3D", "conv_input_channels", "check_output_size"]


def conv_input_channels(layer, input_shape) -> int:
    """The input's channel count (by data_format), or an error naming the layer."""
    channels = channels_first_shape(tuple(input_shape), layer.data_format)[1]
    if channels is None:
        raise ValueError(
            f"Layer '{layer.name}' needs a known channel dimension to create its kernel, got input shape "
            f"{tuple(input_shape)} with data_format='{layer.data_format}'."
        )
    return channels


def check_output_size(layer, input_shape, k_eff, strides, padding) -> None:
    """Keras's "Computed output size would be zero or negative" check, with the layer named."""
    spatial = channels_first_shape(tuple(input_shape), layer.data_format)[2:]
    for size, k, s in zip(spatial, k_eff, strides):
        out = conv_output_size(size, k, s, padding)
        if out is not None and out <= 0:
            raise ValueError(
                f"Layer '{layer.name}': input shape {tuple(input_shape)} is too small for kernel_size "
                f"{layer.kernel_size} with dilation_rate {getattr(layer, 'dilation_rate', None)} and "
                f"padding='{padding}' (the output would have size {out}). Use padding='same' or a "
                "larger input. (Computed output size would be zero or negative.)"
            )


class BaseConv(Layer):
    """Shared by Conv1D/2D/3D: `activation(conv(inputs, kernel) + bias)`."""

    _activity_in_config = True

    rank = 2

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, lora_rank=None,
                 lora_alpha=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        rank = self.rank
        filters = positive_int(type(self).__name__, "filters", filters)
        try:
            positive_int(type(self).__name__, "groups", groups)
        except ValueError as exc:
            raise ValueError(f"{exc} (The number of groups must be a positive integer. Received: groups={groups}.)") \
                from None
        if filters % groups:
            raise ValueError(f"{type(self).__name__}: `groups` must be a positive int dividing filters "
                             f"({filters}), got groups={groups!r}. (The number of filters must be evenly divisible "
                             f"by the number of groups. Received: groups={groups}, filters={filters}.)")
        if lora_rank:
            raise ValueError(f"{type(self).__name__}: LoRA (lora_rank) is not supported; leave it None.")
        self.filters = filters
        self.kernel_size = standardize_tuple(kernel_size, rank, "kernel_size")
        self.strides = standardize_tuple(strides, rank, "strides")
        self.dilation_rate = standardize_tuple(dilation_rate, rank, "dilation_rate")
        self.padding = standardize_padding(padding, allow_causal=rank == 1)
        self.data_format = standardize_data_format(data_format)
        self.groups = groups
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"{type(self).__name__}: strides > 1 together with dilation_rate > 1 is not "
                             f"supported (Keras rule); got strides={self.strides}, "
                             f"dilation_rate={self.dilation_rate}. (`strides > 1` not supported in conjunction "
                             f"with `dilation_rate > 1`. Received: strides={self.strides} and "
                             f"dilation_rate={self.dilation_rate})")
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        # Penalties join the training loss, constraints project after each step; inference ignores both.
        self._weight_options(kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                             kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
        self.input_spec = InputSpec(ndim=rank + 2)

    def build(self, input_shape):
        channels = conv_input_channels(self, input_shape)
        if channels % self.groups:
            raise ValueError(
                f"Layer '{self.name}': the input's {channels} channels (shape {tuple(input_shape)}) must be "
                f"divisible by groups={self.groups}."
            )
        check_output_size(self, input_shape, effective_kernel(self.kernel_size, self.dilation_rate),
                          self.strides, self.padding)
        self.kernel = self.add_weight(self.kernel_size + (channels // self.groups, self.filters),
                                      self.kernel_initializer, name="kernel",
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.bias = self.add_weight((self.filters,), self.bias_initializer, name="bias",
                                    regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None
        axis = -1 if self.data_format == "channels_last" else 1
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={axis: channels})
        self.built = True  # as Keras: a direct build() call counts, so the first call keeps set weights

    def call(self, inputs):
        if inputs.dtype != self.dtype:  # Keras casts inputs to the layer's compute dtype
            inputs = ops.cast(inputs, self.dtype)
        y = emit_conv(inputs, self.kernel.graph_value(conv_kernel_transform(self.rank)),
                      self.bias.graph_value() if self.use_bias else None, kernel_size=self.kernel_size,
                      strides=self.strides, padding=self.padding, dilation_rate=self.dilation_rate,
                      groups=self.groups, data_format=self.data_format, filters=self.filters)
        return self.activation(y)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": list(self.dilation_rate), "groups": self.groups,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer)}


class Conv1D(BaseConv):
    """1D convolution over (batch, steps, channels); padding "valid", "same" or "causal".

    Example:
        >>> Conv1D(8, 3, padding="causal")(Input(shape=(100, 4))).shape
        (None, 100, 8)
    """

    rank = 1


class Conv2D(BaseConv):
    """2D convolution over (batch, rows, cols, channels) (or channels_first).

    Example:
        >>> Conv2D(32, 3, activation="relu")(Input(shape=(28, 28, 1))).shape
        (None, 26, 26, 32)
    """

    rank = 2


class Conv3D(BaseConv):
    """3D convolution over (batch, d1, d2, d3, channels) (or channels_first).

    Example:
        >>> Conv3D(4, 3, padding="same")(Input(shape=(8, 8, 8, 2))).shape
        (None, 8, 8, 8, 4)
    """

    rank = 3
