"""One call of a layer on symbolic tensors (Keras's "node" in the graph of layers)."""

from __future__ import annotations

import contextlib
import threading

from onnxgraph.backend.ir import SymbolicTensor
from onnxgraph.utils._tree import flatten

__all__ = ["LayerNode", "recording", "is_recording"]

_state = threading.local()


@contextlib.contextmanager
def recording(enabled: bool):
    """Whether layer calls append LayerNodes (replays for training/eager graphs do not)."""
    saved = getattr(_state, "enabled", True)
    _state.enabled = enabled
    try:
        yield
    finally:
        _state.enabled = saved


def is_recording() -> bool:
    return getattr(_state, "enabled", True)


class LayerNode:
    """The layer, the call's arguments (with tensors in place) and its outputs."""

    def __init__(self, layer, args, kwargs, outputs):
        self.layer = layer
        self.args = args
        self.kwargs = kwargs
        self.outputs = outputs
        self.input_tensors = [x for x in flatten((args, kwargs)) if isinstance(x, SymbolicTensor)]
        self.output_tensors = [x for x in flatten(outputs) if isinstance(x, SymbolicTensor)]

    @property
    def is_input(self) -> bool:
        return not self.input_tensors and self.layer.__class__.__name__ == "InputLayer"

    @property
    def parent_nodes(self) -> list:
        parents = []
        for x in self.input_tensors:
            history = x._keras_history
            if history is not None:
                parents.append(history.layer._inbound_nodes[history.node_index])
        return parents

    def __repr__(self):
        return f"<LayerNode {self.layer.name} inputs={[t.shape for t in self.input_tensors]}>"
