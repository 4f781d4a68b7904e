"""DepthwiseConv1D/2D and SeparableConv1D/2D as grouped ONNX Conv nodes.

A depthwise kernel (k..., C, M) becomes a grouped-conv weight (C*M, 1, k...) with group=C;
output channel c*M + m is input channel c filtered by kernel[..., c, m], as in Keras. A
separable conv is that depthwise Conv followed by a 1x1 Conv holding the bias.
"""

from __future__ import annotations

from onnxgraph import activations, initializers, ops
from onnxgraph.layers._conv import check_output_size, conv_input_channels
from onnxgraph.layers._args import positive_int, positive_int_message
from onnxgraph.layers._input_spec import InputSpec
from onnxgraph.layers._layer import Layer
from onnxgraph.ops._conv import conv_kernel_transform, depthwise_kernel_transform, emit_conv
from onnxgraph.ops._conv_utils import (effective_kernel, from_channels_first, standardize_data_format,
                                       standardize_padding, standardize_tuple, to_channels_first)

__all__ = ["DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D"]


class _DepthwiseBase(Layer):
    _activity_in_config = True
    rank = 2

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, bias_initializer="zeros",
                 bias_regularizer=None, activity_regularizer=None, bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        rank = self.rank
        self.depth_multiplier = positive_int(type(self).__name__, "depth_multiplier", depth_multiplier)
        self.kernel_size = standardize_tuple(kernel_size, rank, "kernel_size")
        self.strides = standardize_tuple(strides, rank, "strides")
        self.dilation_rate = standardize_tuple(dilation_rate, rank, "dilation_rate")
        self.padding = standardize_padding(padding)
        self.data_format = standardize_data_format(data_format)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.bias_initializer = initializers.get(bias_initializer)
        # Penalties join the training loss, constraints project after each step; inference ignores both.
        self._weight_options(bias_regularizer=bias_regularizer, bias_constraint=bias_constraint)
        self.input_spec = InputSpec(ndim=rank + 2)

    def _channels(self, input_shape) -> int:
        channels = conv_input_channels(self, input_shape)
        check_output_size(self, input_shape, effective_kernel(self.kernel_size, self.dilation_rate),
                          self.strides, self.padding)
        axis = -1 if self.data_format == "channels_last" else 1
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={axis: channels})
        return channels

    def _depthwise(self, x_cf, kernel, channels, bias):
        return emit_conv(x_cf, kernel.graph_value(depthwise_kernel_transform(kernel.shape)), bias,
                         kernel_size=self.kernel_size, strides=self.strides, padding=self.padding,
                         dilation_rate=self.dilation_rate, groups=channels, data_format="channels_first",
                         filters=channels * self.depth_multiplier)

    def _config(self) -> dict:
        return {**super().get_config(), "depth_multiplier": self.depth_multiplier,
                "kernel_size": list(self.kernel_size), "strides": list(self.strides), "padding": self.padding,
                "data_format": self.data_format, "dilation_rate": list(self.dilation_rate),
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "bias_initializer": initializers.serialize(self.bias_initializer)}


class _Depthwise(_DepthwiseBase):
    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate, activation,
                         use_bias, bias_initializer, bias_regularizer, activity_regularizer, bias_constraint,
                         **kwargs)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self._weight_options(depthwise_regularizer=depthwise_regularizer, depthwise_constraint=depthwise_constraint)

    def build(self, input_shape):
        channels = self._channels(input_shape)
        self.kernel = self.add_weight(self.kernel_size + (channels, self.depth_multiplier),
                                      self.depthwise_initializer, name="kernel",
                                      regularizer=self.depthwise_regularizer, constraint=self.depthwise_constraint)
        self.bias = (self.add_weight((channels * self.depth_multiplier,), self.bias_initializer, name="bias",
                                     regularizer=self.bias_regularizer, constraint=self.bias_constraint)
                     if self.use_bias else None)
        self.built = True  # as Keras: a direct build() call counts

    def call(self, inputs):
        if inputs.dtype != self.dtype:  # Keras casts inputs to the layer's compute dtype
            inputs = ops.cast(inputs, self.dtype)
        channels = self.kernel.shape[-2]
        y = self._depthwise(to_channels_first(inputs, self.data_format), self.kernel, channels,
                            self.bias.graph_value() if self.use_bias else None)
        return self.activation(from_channels_first(y, self.data_format))

    def get_config(self):
        return {**self._config(), "depthwise_initializer": initializers.serialize(self.depthwise_initializer)}


class _Separable(_DepthwiseBase):
    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 depth_multiplier=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 pointwise_initializer="glorot_uniform", bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate, activation,
                         use_bias, bias_initializer, bias_regularizer, activity_regularizer, bias_constraint,
                         **kwargs)
        if not isinstance(filters, int) or isinstance(filters, bool) or filters <= 0:
            raise ValueError(positive_int_message(type(self).__name__, "filters", filters))
        self.filters = filters
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self._weight_options(depthwise_regularizer=depthwise_regularizer, pointwise_regularizer=pointwise_regularizer,
                             depthwise_constraint=depthwise_constraint, pointwise_constraint=pointwise_constraint)

    def build(self, input_shape):
        channels = self._channels(input_shape)
        self.depthwise_kernel = self.add_weight(self.kernel_size + (channels, self.depth_multiplier),
                                                self.depthwise_initializer, name="depthwise_kernel",
                                                regularizer=self.depthwise_regularizer,
                                                constraint=self.depthwise_constraint)
        self.pointwise_kernel = self.add_weight((1,) * self.rank + (channels * self.depth_multiplier, self.filters),
                                                self.pointwise_initializer, name="pointwise_kernel",
                                                regularizer=self.pointwise_regularizer,
                                                constraint=self.pointwise_constraint)
        self.bias = self.add_weight((self.filters,), self.bias_initializer, name="bias", regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None
        self.built = True  # as Keras: a direct build() call counts

    def call(self, inputs):
        if inputs.dtype != self.dtype:  # Keras casts inputs to the layer's compute dtype
            inputs = ops.cast(inputs, self.dtype)
        channels = self.depthwise_kernel.shape[-2]
        y = self._depthwise(to_channels_first(inputs, self.data_format), self.depthwise_kernel, channels, None)
        ones = (1,) * self.rank
        y = emit_conv(y, self.pointwise_kernel.graph_value(conv_kernel_transform(self.rank)),
                      self.bias.graph_value() if self.use_bias else None, kernel_size=ones, strides=ones,
                      padding="valid", dilation_rate=ones, groups=1, data_format="channels_first",
                      filters=self.filters)
        return self.activation(from_channels_first(y, self.data_format))

    def get_config(self):
        return {**self._config(), "filters": self.filters,
                "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
                "pointwise_initializer": initializers.serialize(self.pointwise_initializer)}


class DepthwiseConv1D(_Depthwise):
    """Depthwise 1D convolution: each channel filtered by its own `depth_multiplier` kernels.

    Example:
        >>> DepthwiseConv1D(3, depth_multiplier=2)(Input(shape=(10, 4))).shape
        (None, 8, 8)
    """

    rank = 1


class DepthwiseConv2D(_Depthwise):
    """Depthwise 2D convolution (MobileNet's building block); kernel (kh, kw, in, depth_multiplier).

    Example:
        >>> DepthwiseConv2D(3, padding="same")(Input(shape=(16, 16, 8))).shape
        (None, 16, 16, 8)
    """

    rank = 2


class SeparableConv1D(_Separable):
    """Depthwise 1D convolution followed by a pointwise (1x1) convolution to `filters` channels.

    Example:
        >>> SeparableConv1D(6, 3)(Input(shape=(10, 4))).shape
        (None, 8, 6)
    """

    rank = 1


class SeparableConv2D(_Separable):
    """Depthwise 2D convolution followed by a pointwise (1x1) convolution to `filters` channels.

    Example:
        >>> SeparableConv2D(16, 3, padding="same")(Input(shape=(8, 8, 4))).shape
        (None, 8, 8, 16)
    """

    rank = 2
