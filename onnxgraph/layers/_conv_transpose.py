"""Conv1DTranspose, Conv2DTranspose and Conv3DTranspose as ONNX ConvTranspose.

Kernel in Keras layout (k..., filters, in_channels); the file holds ONNX's (in, filters, k...)
through a recorded transform. Output sizes follow Keras (`padding`, `output_padding`):
"same" without output_padding gives input * strides.
"""

from __future__ import annotations

from onnxgraph import activations, initializers, ops
from onnxgraph.layers._conv import conv_input_channels
from onnxgraph.layers._input_spec import InputSpec
from onnxgraph.layers._args import positive_int_message
from onnxgraph.layers._layer import Layer
from onnxgraph.ops._conv import conv_kernel_transform, emit_conv_transpose
from onnxgraph.ops._conv_utils import standardize_data_format, standardize_padding, standardize_tuple

__all__ = ["BaseConvTranspose", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"]


class BaseConvTranspose(Layer):
    """Shared by Conv1D/2D/3DTranspose: `activation(conv_transpose(inputs, kernel) + bias)`."""

    _activity_in_config = True

    rank = 2

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        rank = self.rank
        if not isinstance(filters, int) or isinstance(filters, bool) or filters <= 0:
            raise ValueError(positive_int_message(type(self).__name__, "filters", filters))
        self.filters = filters
        self.kernel_size = standardize_tuple(kernel_size, rank, "kernel_size")
        self.strides = standardize_tuple(strides, rank, "strides")
        self.dilation_rate = standardize_tuple(dilation_rate, rank, "dilation_rate")
        self.padding = standardize_padding(padding)
        self.output_padding = (None if output_padding is None
                               else standardize_tuple(output_padding, rank, "output_padding", allow_zero=True))
        if self.output_padding is not None and any(p >= s for p, s in zip(self.output_padding, self.strides)):
            raise ValueError(f"{type(self).__name__}: each `output_padding` value must be smaller than the "
                             f"stride on its axis; got output_padding={self.output_padding}, "
                             f"strides={self.strides}. (`output_padding` must be strictly less than `strides`.)")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"{type(self).__name__}: strides > 1 together with dilation_rate > 1 is not "
                             f"supported (Keras rule); got strides={self.strides}, "
                             f"dilation_rate={self.dilation_rate}. (`strides > 1` not supported in conjunction "
                             f"with `dilation_rate > 1`. Received: strides={self.strides} and "
                             f"dilation_rate={self.dilation_rate})")
        self.data_format = standardize_data_format(data_format)
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
        self.kernel = self.add_weight(self.kernel_size + (self.filters, channels), self.kernel_initializer,
                                      name="kernel", regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.bias = self.add_weight((self.filters,), self.bias_initializer, name="bias",
                                    regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None
        axis = -1 if self.data_format == "channels_last" else 1
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={axis: channels})
        self.built = True  # as Keras: a direct build() call counts, so the first call keeps set weights

    def call(self, inputs):
        if inputs.dtype != self.dtype:  # Keras casts inputs to the layer's compute dtype
            inputs = ops.cast(inputs, self.dtype)
        y = emit_conv_transpose(inputs, self.kernel.graph_value(conv_kernel_transform(self.rank)),
                                self.bias.graph_value() if self.use_bias else None,
                                kernel_size=self.kernel_size, strides=self.strides, padding=self.padding,
                                output_padding=self.output_padding, dilation_rate=self.dilation_rate,
                                data_format=self.data_format, filters=self.filters)
        return self.activation(y)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": self.padding,
                "output_padding": None if self.output_padding is None else list(self.output_padding),
                "data_format": self.data_format, "dilation_rate": list(self.dilation_rate),
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer)}


class Conv1DTranspose(BaseConvTranspose):
    """Transposed 1D convolution over (batch, steps, channels).

    Example:
        >>> Conv1DTranspose(4, 3, strides=2, padding="same")(Input(shape=(10, 8))).shape
        (None, 20, 4)
    """

    rank = 1


class Conv2DTranspose(BaseConvTranspose):
    """Transposed 2D convolution (the guide's decoder: 4x4 -> 6x6 with kernel 3, "valid").

    Example:
        >>> Conv2DTranspose(16, 3, activation="relu")(Input(shape=(4, 4, 1))).shape
        (None, 6, 6, 16)
    """

    rank = 2


class Conv3DTranspose(BaseConvTranspose):
    """Transposed 3D convolution over (batch, d1, d2, d3, channels).

    Example:
        >>> Conv3DTranspose(2, 2, strides=2)(Input(shape=(4, 4, 4, 3))).shape
        (None, 8, 8, 8, 2)
    """

    rank = 3
