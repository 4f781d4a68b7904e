"""OpLayer: an `og.ops` call on layer outputs, recorded in functional code as a layer.

Keras 3 records `layers.Dense(4)(x) * 2` or `ops.concatenate([a, b])` between layer calls
as operations of the model. Here such a call becomes an `OpLayer` holding the op's name (a
key of the fixed op table `ops._dispatch.OPS`) and its non-tensor arguments as plain data,
with every tensor argument replaced by a reference to one of the layer's inputs. Replaying
it calls the same op function, so saving and loading an op-layer never stores or runs code.
"""

from __future__ import annotations

import numpy as np

from onnxgraph.backend import dtypes
from onnxgraph.backend.ir import SymbolicTensor
from onnxgraph.layers._layer import Layer
from onnxgraph.utils._naming import auto_name

__all__ = ["OpLayer", "call_op_layer"]

# Keras 3 names some operations differently from their function (GetItem -> "get_item").
_LAYER_NAMES = {"getitem": "get_item"}
_MARKERS = ("__tensor__", "__tuple__", "__slice__", "__ellipsis__", "__array__")


def _op_table() -> dict:
    from onnxgraph.ops._dispatch import OPS

    return OPS


class OpLayer(Layer):
    """Replays one `og.ops` function on its input tensors; `arguments` are its other arguments as data.

    Example:
        >>> x = Input(shape=(4,))
        >>> y = ops.concatenate([x, x * 2], axis=-1)   # records OpLayers "multiply", "concatenate"
        >>> Model(x, y).layers[-1].op
        'concatenate'
    """

    # Keras ops on symbolic tensors are not layers: they drop a mask without a warning.
    _warns_on_dropped_mask = False

    def __init__(self, op, arguments=None, **kwargs):
        if op not in _op_table():
            raise ValueError(
                f"OpLayer: unknown op {op!r}. Op-layers can only replay functions of og.ops "
                f"(for example 'add', 'concatenate', 'getitem'); a file naming another op is refused."
            )
        if kwargs.get("name") is None:
            kwargs["name"] = auto_name(_LAYER_NAMES.get(op, op))
        super().__init__(**kwargs)
        self.op = op
        self.arguments = arguments if arguments is not None else {"args": [{"__tensor__": 0}], "kwargs": {}}
        _check_data(self.arguments, self.name)

    def call(self, inputs):
        tensors = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        args = _decode(self.arguments.get("args", []), tensors)
        kwargs = _decode(self.arguments.get("kwargs", {}), tensors)
        return _op_table()[self.op](*args, **kwargs)

    def get_config(self):
        return {**super().get_config(), "op": self.op, "arguments": self.arguments}

    def _summary_type(self) -> str:
        """Keras 3 shows the operation's class in summaries: multiply -> Multiply."""
        return "".join(part.capitalize() for part in _LAYER_NAMES.get(self.op, self.op).split("_"))


def call_op_layer(op: str, args, kwargs):
    """Record `og.ops.<op>(*args, **kwargs)` as an OpLayer call on the tensors among the arguments."""
    tensors: list[SymbolicTensor] = []
    arguments = {"args": _encode(list(args), tensors, op), "kwargs": _encode(dict(kwargs), tensors, op)}
    layer = OpLayer(op, arguments)
    return layer(tensors[0] if len(tensors) == 1 else tensors)


def _encode(value, tensors: list, op: str):
    """Arguments -> JSON-able data; tensors become {"__tensor__": index into `tensors`}."""
    if isinstance(value, SymbolicTensor):
        if value.kind == "constant":
            return _encode(value.const, tensors, op)
        if value._keras_history is None:
            raise ValueError(
                f"ops.{op} was called outside a layer on a tensor that no layer produced ({value}). "
                "Compute it from Input() and layer outputs, or do this inside a custom Layer's call()."
            )
        for i, t in enumerate(tensors):
            if t is value:
                return {"__tensor__": i}
        tensors.append(value)
        return {"__tensor__": len(tensors) - 1}
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, list):
        return [_encode(v, tensors, op) for v in value]
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, tensors, op) for v in value]}
    if isinstance(value, dict) and all(isinstance(k, str) and k not in _MARKERS for k in value):
        return {k: _encode(v, tensors, op) for k, v in value.items()}
    if isinstance(value, slice):
        return {"__slice__": [_encode(v, tensors, op) for v in (value.start, value.stop, value.step)]}
    if value is Ellipsis:
        return {"__ellipsis__": True}
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return {"__array__": value.tolist(), "dtype": dtypes.standardize(value.dtype)}
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        return dtypes.standardize(value)
    raise TypeError(
        f"ops.{op} was called outside a layer with an argument of type {type(value).__name__} "
        f"({value!r}), which cannot be saved as data in the model. Pass numbers, strings, lists, "
        "tuples, slices or arrays, or move the computation into a custom Layer's call()."
    )


def _decode(value, tensors: list):
    if isinstance(value, list):
        return [_decode(v, tensors) for v in value]
    if not isinstance(value, dict):
        return value
    if "__tensor__" in value:
        index = value["__tensor__"]
        if not isinstance(index, int) or not 0 <= index < len(tensors):
            raise ValueError(f"OpLayer arguments refer to input {index!r}, but the layer got {len(tensors)} input(s).")
        return tensors[index]
    if "__tuple__" in value:
        return tuple(_decode(v, tensors) for v in value["__tuple__"])
    if "__slice__" in value:
        return slice(*[_decode(v, tensors) for v in value["__slice__"]])
    if "__ellipsis__" in value:
        return Ellipsis
    if "__array__" in value:
        return np.asarray(value["__array__"], dtype=dtypes.to_numpy(value["dtype"]))
    return {k: _decode(v, tensors) for k, v in value.items()}


def _check_data(value, name: str) -> None:
    """A config's arguments are plain JSON data (a loaded file cannot smuggle objects in)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return
    if isinstance(value, list):
        for v in value:
            _check_data(v, name)
        return
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        for v in value.values():
            _check_data(v, name)
        return
    raise TypeError(f"OpLayer '{name}': arguments must be plain data (JSON types), got {type(value).__name__}.")
