"""Input() and the InputLayer behind it."""

from __future__ import annotations

import numbers
import warnings

from onnxgraph.backend import dtypes
from onnxgraph.backend.ir import KerasHistory, SymbolicTensor
from onnxgraph.layers._layer import Layer
from onnxgraph.layers._node import LayerNode
from onnxgraph.layers._onnxscript_hook import ensure_installed

__all__ = ["Input", "InputLayer", "placeholder"]


def _standardize_shape(shape, what: str) -> tuple:
    if isinstance(shape, int):
        shape = (shape,)
    try:
        shape = tuple(shape)
    except TypeError:
        raise ValueError(f"{what} must be a tuple of ints or None, got {shape!r}.") from None
    for d in shape:
        if d is not None and (not isinstance(d, numbers.Integral) or isinstance(d, bool) or d < 0):
            raise ValueError(f"{what} must be a tuple of non-negative ints or None, got {shape!r}.")
    return tuple(None if d is None else int(d) for d in shape)  # numpy ints too, as Keras


def placeholder(shape, dtype="float32", name=None) -> SymbolicTensor:
    """A bare graph input (no InputLayer): used for eager calls and shape probing."""
    return SymbolicTensor(shape, dtype, kind="input", name=name or "input")


class InputLayer(Layer):
    """The layer behind `Input()`: no computation, one output tensor that is a graph input."""

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None,
                 name=None, input_tensor=None, optional=False, ragged=None, **kwargs):
        if "input_shape" in kwargs:  # Keras 2 name, still accepted (with Keras's warning)
            warnings.warn("Argument `input_shape` is deprecated. Use `shape` instead.", stacklevel=2)
            shape = kwargs.pop("input_shape")
        batch_input_shape = kwargs.pop("batch_input_shape", None)
        batch_shape = batch_input_shape if batch_shape is None else batch_shape
        super().__init__(name=name, dtype=dtype, **{k: v for k, v in kwargs.items() if k == "trainable"})
        if sparse and input_tensor is not None:
            raise ValueError(f"Input '{self.name}': input_tensor is dense, so sparse=True disagrees with it (when "
                             "providing the `input_tensor` argument, you cannot provide an incompatible `sparse` "
                             "argument).")
        if sparse:
            raise ValueError(f"Input '{self.name}': sparse inputs are not supported by ONNX models "
                             "(`sparse=True` is not supported).")
        if ragged:
            raise ValueError(f"Input '{self.name}': ragged inputs are not supported by ONNX models "
                             "(`ragged=True` is not supported).")
        if input_tensor is not None:
            batch_shape = self._check_input_tensor(input_tensor, shape, batch_size, batch_shape, dtype)
        elif batch_shape is not None:
            if shape is not None:
                raise ValueError(f"Input '{self.name}': give either `shape` or `batch_shape`, not both "
                                 "(you cannot pass both `shape` and `batch_shape` at the same time).")
            if batch_size is not None:
                raise ValueError(f"Input '{self.name}': `batch_shape` already holds the batch size; you cannot "
                                 "pass both `batch_size` and `batch_shape` at the same time.")
            batch_shape = _standardize_shape(batch_shape, "Input batch_shape")
        elif shape is not None:
            if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)
                                           or batch_size <= 0):
                raise ValueError(f"Input '{self.name}': `batch_size` must be a positive int or None, got {batch_size!r}.")
            batch_shape = (batch_size,) + _standardize_shape(shape, "Input shape")
        else:
            raise ValueError("Input() needs `shape=` (without the batch dimension) or `batch_shape=`. "
                             "(Keras: You must pass a `shape` argument.)")
        self.batch_shape = batch_shape
        self.built = True
        self.optional = optional
        self.sparse = self.ragged = False
        if input_tensor is not None:  # Keras: the layer's output IS that (graph input) tensor
            tensor = input_tensor
            self.dtype = tensor.dtype
        else:
            tensor = SymbolicTensor(batch_shape, self.dtype, kind="input", name=self.name)
        self._inbound_nodes.append(LayerNode(self, (), {}, tensor))
        tensor._keras_history = KerasHistory(self, 0, 0)
        self._output = tensor

    def _check_input_tensor(self, tensor, shape, batch_size, batch_shape, dtype) -> tuple:
        """Keras's checks for InputLayer(input_tensor=...): the given arguments must agree with it."""
        def incompatible(arg):
            return ValueError(f"Input '{self.name}': `{arg}` disagrees with input_tensor {tensor!r}. (When "
                              f"providing the `input_tensor` argument, you cannot provide an incompatible `{arg}` "
                              "argument.)")

        if not isinstance(tensor, SymbolicTensor):
            raise ValueError(f"Input '{self.name}': Argument `input_tensor` must be a KerasTensor (a symbolic "
                             f"tensor from Input()), got {type(tensor).__name__}.")
        if tensor.kind != "input":
            raise ValueError(f"Input '{self.name}': `input_tensor` must be a graph input (from Input()), not the "
                             f"output of a layer: {tensor!r}.")
        if batch_size is not None and (not tensor.shape or tensor.shape[0] != batch_size):
            raise incompatible("batch_size")
        if shape is not None and tuple(shape) != tensor.shape[1:]:
            raise incompatible("shape")
        if batch_shape is not None and tuple(batch_shape) != tensor.shape:
            raise incompatible("batch_shape")
        if dtype is not None and dtypes.standardize(dtype) != tensor.dtype:
            raise incompatible("dtype")
        return tensor.shape

    def call(self):
        """Keras: an InputLayer computes nothing."""
        return None

    def get_config(self):
        return {"batch_shape": list(self.batch_shape), "dtype": self.dtype, "sparse": False,
                "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None,
          tensor=None, optional=False) -> SymbolicTensor:
    """A symbolic model input. `shape` excludes the batch dimension: Input(shape=(784,)).

    Example:
        >>> x = Input(shape=(784,))
        >>> x.shape, x.dtype
        ((None, 784), 'float32')
    """
    if tensor is not None:
        raise ValueError("Input(tensor=...) is not supported: build the graph from Input() directly.")
    ensure_installed()  # onnxscript functions called on this input emit into the graph
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtypes.standardize(dtype),
                       sparse=sparse, batch_shape=batch_shape, name=name, optional=optional)
    return layer._output
