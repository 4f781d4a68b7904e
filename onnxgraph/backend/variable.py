"""Layer weights: a numpy value in Keras layout with a graph handle per layout transform."""

from __future__ import annotations

import itertools
import threading

import numpy as np

from onnxgraph.backend import dtypes
from onnxgraph.backend.ir import SymbolicTensor
from onnxgraph.backend.scope import current_scope

__all__ = ["Variable", "state_epoch", "weights_lock"]

_epoch = itertools.count(1)
_current = [0]

# Held while several weights change together (set_weights, trained values written back) and while
# a session is exported from the weights: an exported session never mixes two weight states.
weights_lock = threading.RLock()


def state_epoch() -> int:
    """Increases whenever any variable is assigned; runtime caches compare it first."""
    return _current[0]


def _bump() -> int:
    _current[0] = next(_epoch)
    return _current[0]


class Variable:
    """A layer weight. `value` is the Keras-layout numpy array; `path` is `<layer>/<name>`."""

    def __init__(self, value, *, name: str, path: str, trainable: bool = True, dtype=None, copy: bool = True):
        dtype = dtypes.standardize(dtype if dtype is not None else np.asarray(value).dtype)
        # add_weight passes a fresh initializer output (copy=False): no second copy of big kernels.
        self._value = np.array(value, dtype=dtypes.to_numpy(dtype), copy=copy or None)
        self.name = name
        self.path = path
        self.trainable = trainable
        self.dtype = dtype
        self.version = _bump()
        self._handles: dict[tuple, SymbolicTensor] = {}

    @property
    def shape(self) -> tuple:
        return self._value.shape

    @property
    def value(self) -> np.ndarray:
        return self._value

    def numpy(self) -> np.ndarray:
        return self._value.copy()

    def assign(self, value) -> None:
        value = np.asarray(value)
        if value.shape != self._value.shape:
            raise ValueError(
                f"Variable '{self.path}' has shape {self._value.shape}; cannot assign a value of "
                f"shape {value.shape}."
            )
        self._value = np.array(value, dtype=self._value.dtype)
        self.version = _bump()

    def graph_value(self, transform: tuple = ()) -> SymbolicTensor:
        """The symbolic initializer standing for this weight (in ONNX layout after `transform`)."""
        handle = self._handles.get(transform)
        if handle is None:
            from onnxgraph.backend import transforms

            shape = transforms.apply(np.empty(self.shape, dtype=np.uint8), transform).shape
            handle = SymbolicTensor(shape, self.dtype, kind="variable", variable=self, transform=transform)
            self._handles[transform] = handle
        return handle

    def __repr__(self):
        return f"<Variable path={self.path} shape={self.shape} dtype={self.dtype}>"

    def __array__(self, dtype=None, copy=None):
        return self._value if dtype is None else self._value.astype(dtype)

    # Arithmetic on a variable inside `call` works on its graph value (custom layers do
    # `ops.matmul(x, self.w) + self.b`), and on its numpy value outside a graph.
    def _operand(self, other=None):
        # Inside a layer's call (a naming scope is active) a graph is being emitted: the weight
        # must stay a weight, never be folded into a constant from its current value.
        return self.graph_value() if isinstance(other, SymbolicTensor) or current_scope() else self._value

    def __add__(self, o): return self._operand(o) + o
    def __radd__(self, o): return o + self._operand(o)
    def __sub__(self, o): return self._operand(o) - o
    def __rsub__(self, o): return o - self._operand(o)
    def __mul__(self, o): return self._operand(o) * o
    def __rmul__(self, o): return o * self._operand(o)
    def __truediv__(self, o): return self._operand(o) / o
    def __rtruediv__(self, o): return o / self._operand(o)
    def __matmul__(self, o): return self._operand(o) @ o
    def __rmatmul__(self, o): return o @ self._operand(o)
    def __neg__(self): return -self._operand()
