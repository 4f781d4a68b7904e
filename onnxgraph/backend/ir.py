"""The emission IR: immutable-ish symbolic values linked to the node that produced them.

A `SymbolicTensor` is what `Input()` returns and what layers and ops produce. It knows its
Keras shape (``None`` for unknown dims), dtype, the `Node` that made it, and (for layer
outputs) the layer call that made it (``_keras_history``). Nothing here touches protobuf:
`serialize.py` walks values back from a model's outputs and writes the ModelProto.
"""

from __future__ import annotations

import itertools

import numpy as np

from onnxgraph.backend import dtypes

__all__ = ["SymbolicTensor", "Node", "KerasHistory", "is_symbolic"]

_ids = itertools.count()


class KerasHistory(tuple):
    """(layer, node_index, tensor_index) of the layer call that produced a tensor."""

    __slots__ = ()

    def __new__(cls, layer, node_index: int, tensor_index: int):
        return super().__new__(cls, (layer, node_index, tensor_index))

    layer = property(lambda self: self[0])
    node_index = property(lambda self: self[1])
    tensor_index = property(lambda self: self[2])


class Node:
    """One ONNX node: op type, input values (None for an omitted optional input), attributes.

    `functions` holds the ONNX local functions (FunctionProtos, the called one first) that a
    node calling a model-local function needs in the file; empty for standard ops.
    """

    __slots__ = ("op_type", "inputs", "outputs", "attrs", "domain", "scope", "id", "doc", "functions")

    def __init__(self, op_type, inputs, attrs, domain, scope, doc=None, functions=()):
        self.op_type = op_type
        self.inputs = list(inputs)
        self.outputs: list[SymbolicTensor] = []
        self.attrs = dict(attrs)
        self.domain = domain
        self.scope = scope
        self.id = next(_ids)
        self.doc = doc
        self.functions = tuple(functions)

    def __repr__(self):
        return f"<Node {'/'.join(self.scope + (self.op_type,))}>"


class SymbolicTensor:
    """A symbolic value in the graph: Keras shape and dtype, and where it came from.

    kind is one of "input" (graph input), "node" (output of a Node), "constant" (a numpy
    value folded into an initializer) or "variable" (a layer weight, possibly transformed).
    """

    __array_priority__ = 100  # numpy defers to our operators: np_array + tensor -> tensor
    sparse = ragged = False  # Keras KerasTensor metadata: ONNX tensors are dense

    def __init__(self, shape, dtype, *, kind="node", producer=None, index=0, name=None,
                 const=None, variable=None, transform=()):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = dtypes.standardize(dtype)
        self.kind = kind
        self.producer: Node | None = producer
        self.index = index
        self.name = name
        self.const = const
        self.variable = variable
        self.transform = transform
        self.id = next(_ids)
        self._keras_history: KerasHistory | None = None

    # -- Keras-like metadata -------------------------------------------------------------
    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self):
        label = f" name={self.name}" if self.name else ""
        return f"<SymbolicTensor shape={self.shape}, dtype={self.dtype}{label}>"

    def __len__(self):
        if not self.shape or self.shape[0] is None:
            raise TypeError("len() of a symbolic tensor needs a known first dimension.")
        return self.shape[0]

    def __iter__(self):
        raise TypeError("Symbolic tensors are not iterable; index them (x[:, i]) or use ops.unstack.")

    def __bool__(self):
        raise TypeError(
            "A symbolic tensor has no truth value at graph-construction time; "
            "use ops.where(...) instead of Python `if` on tensors."
        )

    def __hash__(self):
        return self.id

    def numpy(self):
        raise TypeError("A symbolic tensor has no value; call the model on numpy arrays to compute one.")

    # -- Python operators emit ONNX nodes through onnxgraph.ops ----------------------------
    def _ops(self):
        from onnxgraph import ops

        return ops

    def __add__(self, o): return self._ops().add(self, o)
    def __radd__(self, o): return self._ops().add(o, self)
    def __sub__(self, o): return self._ops().subtract(self, o)
    def __rsub__(self, o): return self._ops().subtract(o, self)
    def __mul__(self, o): return self._ops().multiply(self, o)
    def __rmul__(self, o): return self._ops().multiply(o, self)
    def __truediv__(self, o): return self._ops().divide(self, o)
    def __rtruediv__(self, o): return self._ops().divide(o, self)
    def __floordiv__(self, o): return self._ops().floor_divide(self, o)
    def __rfloordiv__(self, o): return self._ops().floor_divide(o, self)
    def __mod__(self, o): return self._ops().mod(self, o)
    def __rmod__(self, o): return self._ops().mod(o, self)
    def __and__(self, o): return self._ops().logical_and(self, o)
    def __rand__(self, o): return self._ops().logical_and(o, self)
    def __or__(self, o): return self._ops().logical_or(self, o)
    def __ror__(self, o): return self._ops().logical_or(o, self)
    def __xor__(self, o): return self._ops().logical_xor(self, o)
    def __rxor__(self, o): return self._ops().logical_xor(o, self)
    def __invert__(self): return self._ops().logical_not(self)
    def __matmul__(self, o): return self._ops().matmul(self, o)
    def __rmatmul__(self, o): return self._ops().matmul(o, self)
    def __pow__(self, o): return self._ops().power(self, o)
    def __rpow__(self, o): return self._ops().power(o, self)
    def __neg__(self): return self._ops().negative(self)
    def __pos__(self): return self
    def __abs__(self): return self._ops().absolute(self)
    def __lt__(self, o): return self._ops().less(self, o)
    def __le__(self, o): return self._ops().less_equal(self, o)
    def __gt__(self, o): return self._ops().greater(self, o)
    def __ge__(self, o): return self._ops().greater_equal(self, o)
    def __getitem__(self, key): return self._ops().getitem(self, key)

    def __eq__(self, o):
        # Identity comparison keeps tensors usable as dict keys and in `in` checks, as in
        # Keras graph code; use ops.equal for an elementwise comparison node.
        return self is o

    def __ne__(self, o):
        return self is not o


def is_symbolic(x) -> bool:
    return isinstance(x, SymbolicTensor)


def constant_value(x) -> np.ndarray | None:
    """The numpy value of a constant tensor, or None."""
    return x.const if isinstance(x, SymbolicTensor) and x.kind == "constant" else None
