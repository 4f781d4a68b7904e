"""Input() and the InputLayer behind it."""

from __future__ import annotations

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
        if d is not None and (not isinstance(d, int) or isinstance(d, bool) or d < 0):
            raise ValueError(f"{what} must be a tuple of non-negative ints or None, got {shape!r}.")
    return shape


def placeholder(shape, dtype="float32", name=None) -> SymbolicTensor:
    """A bare graph input (no InputLayer): used for eager calls and shape probing."""
    return SymbolicTensor(shape, dtype, kind="input", name=name or "input")


class InputLayer(Layer):
    """The layer behind `Input()`: no computation, one output tensor that is a graph input."""

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None,
                 name=None, input_tensor=None, optional=False, **kwargs):
        kwargs.pop("batch_input_shape", None) if batch_shape is None else None
        super().__init__(name=name, dtype=dtype, **{k: v for k, v in kwargs.items() if k == "trainable"})
        if sparse:
            raise ValueError(f"Input '{self.name}': sparse inputs are not supported by ONNX models.")
        if batch_shape is not None:
            if shape is not None:
                raise ValueError(f"Input '{self.name}': give either `shape` or `batch_shape`, not both.")
            batch_shape = _standardize_shape(batch_shape, "Input batch_shape")
        elif shape is not None:
            if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)
                                           or batch_size <= 0):
                raise ValueError(f"Input '{self.name}': `batch_size` must be a positive int or None, got {batch_size!r}.")
            batch_shape = (batch_size,) + _standardize_shape(shape, "Input shape")
        else:
            raise ValueError("Input() needs `shape=` (without the batch dimension) or `batch_shape=`.")
        self.batch_shape = batch_shape
        self.built = True
        self.optional = optional
        tensor = SymbolicTensor(batch_shape, self.dtype, kind="input", name=self.name)
        self._inbound_nodes.append(LayerNode(self, (), {}, tensor))
        tensor._keras_history = KerasHistory(self, 0, 0)
        self._output = tensor

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
