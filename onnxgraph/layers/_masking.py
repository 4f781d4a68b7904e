"""Keras masks on symbolic tensors, and the Masking layer.

A mask is a bool tensor carried on a symbolic tensor as `tensor._keras_mask` (the name Keras 3
uses), usually of shape `(batch, timesteps)`. `Layer.__call__` passes it to a `call` that takes
`mask=` (or `<argument>_mask=` when a call takes several tensors), and, for layers with
`supports_masking`, sets `compute_mask(inputs, previous_mask)` on the outputs: the mask flows
through the graph as ordinary ONNX nodes, in the inference file and in the training graph.
"""

from __future__ import annotations

from onnxgraph import ops
from onnxgraph.backend.emit import constant, emit
from onnxgraph.backend.ir import SymbolicTensor
from onnxgraph.layers._layer import Layer

__all__ = ["Masking", "get_mask", "set_mask", "batch_normalized"]


def get_mask(x):
    """The Keras mask carried by `x` (None when it has none or is not a symbolic tensor)."""
    return getattr(x, "_keras_mask", None) if isinstance(x, SymbolicTensor) else None


def set_mask(x, mask) -> None:
    if isinstance(x, SymbolicTensor):
        x._keras_mask = mask


def batch_normalized(loss, output):
    """`loss / batch_size(output)` (Keras divides activity penalties by the batch size)."""
    if not isinstance(output, SymbolicTensor) or output.ndim == 0:
        return loss
    size = emit("Shape", [output], {"start": 0, "end": 1}, shapes=[(1,)], dtypes_=["int64"])
    size = ops.cast(ops.reshape(size, ()), loss.dtype if isinstance(loss, SymbolicTensor) else "float32")
    return loss / size


class Masking(Layer):
    """Masks timesteps whose features all equal `mask_value` (output zeroed there, mask set).

    Example:
        >>> x = Input(shape=(5, 3))
        >>> Masking(0.0)(x)._keras_mask.shape
        (None, 5)
    """

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = mask_value
        self.supports_masking = True
        self._build_at_init()

    def compute_mask(self, inputs, mask=None):
        return ops.any(ops.not_equal(inputs, constant(self.mask_value, inputs.dtype)), axis=-1)

    def call(self, inputs):
        keep = ops.any(ops.not_equal(inputs, constant(self.mask_value, inputs.dtype)), axis=-1, keepdims=True)
        outputs = inputs * ops.cast(keep, inputs.dtype)
        set_mask(outputs, ops.squeeze(keep, axis=-1))
        return outputs

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}
