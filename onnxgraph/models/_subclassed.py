"""Subclassed models: `class MLP(Model)` with `__init__` and `call`, built on first call.

A subclassed model is Python code, not a graph of layers. It becomes a graph when it is
called: the first call (on symbolic tensors or, eagerly, on arrays) builds its sublayers
and records the input shapes. Its ONNX graph (for `to_onnx`, `save`, `predict`, `summary`)
comes from calling it once more on placeholders of those shapes with the batch dimension
left symbolic; if `call` needs a static batch (`ops.zeros((inputs.shape[0], n))`), the first
call's batch size is kept instead. Loading rebuilds the model from its config and calls it
on the saved file's input shapes before restoring the weights.
"""

from __future__ import annotations

import inspect

from onnxgraph.backend.ir import SymbolicTensor
from onnxgraph.backend.scope import name_scope
from onnxgraph.utils._tree import flatten, map_structure, pack_like

__all__ = ["SubclassedMixin", "build_from_signatures"]


def _graph_property(key: str, what: str):
    """A Model attribute describing its export graph; built on first read for subclassed models."""

    def read(self):
        return self._graph_attr(key, what)

    def write(self, value):
        self.__dict__[key] = value

    return property(read, write, doc=f"The model's graph {what} (built on first call for subclassed models).")


class SubclassedMixin:
    """What Model needs for subclassing: first-call build, a lazy export graph, replays."""

    # Model(inputs, outputs) sets these; a subclassed model gets them from its first call's shapes.
    inputs = _graph_property("_graph_inputs", "inputs")
    outputs = _graph_property("_graph_outputs", "outputs")
    input_names = _graph_property("_graph_input_names", "input_names")
    output_names = _graph_property("_graph_output_names", "output_names")

    def _graph_attr(self, key: str, what: str):
        value = self.__dict__.get(key)
        if value is None and self._ensure_export_graph():
            value = self.__dict__.get(key)
        if value is None:
            raise AttributeError(f"Model '{self.name}' has no {what} yet: it is built when first called on data.")
        return value

    def _is_subclassed(self) -> bool:
        from onnxgraph.models._model import Model
        from onnxgraph.models._sequential import Sequential

        return (not self.__dict__.get("_functional", False) and type(self).call is not Model.call
                and not isinstance(self, Sequential))

    def _build_subclassed(self, inputs) -> None:
        """First symbolic call: remember input shapes/dtypes, run a user-defined `build`."""
        from onnxgraph.layers._layer import Layer

        self._build_signature = map_structure(
            lambda x: (tuple(x.shape), x.dtype) if isinstance(x, SymbolicTensor) else None, inputs)
        if type(self).build is not Layer.build:
            self.build(map_structure(lambda x: x.shape if isinstance(x, SymbolicTensor) else None, inputs))

    def _ensure_export_graph(self) -> bool:
        """Build the export graph of a called subclassed model; False when there is nothing to build."""
        if self.__dict__.get("_graph_outputs") is not None:
            return True
        if not self._is_subclassed() or self.__dict__.get("_build_signature") is None:
            return False
        if self.__dict__.get("_building_export_graph"):
            return False
        self.__dict__["_building_export_graph"] = True
        try:
            self._trace_export_graph()
        finally:
            self.__dict__["_building_export_graph"] = False
        return True

    def _trace_export_graph(self) -> None:
        from onnxgraph.layers._input_layer import placeholder

        signature = self._build_signature
        names = _input_names(self, signature)
        static_batch = any(shape and shape[0] is not None for shape, _ in _leaves(signature))
        # Symbolic batch first (the file then takes any batch size); the recorded batch if not.
        for dynamic_batch in (True, False):
            flat = [placeholder(((None,) + tuple(shape[1:])) if dynamic_batch and shape else shape, dtype, name)
                    for (shape, dtype), name in zip(_leaves(signature), names)]
            try:
                outputs = self(pack_like(_structure(signature), flat))
                break
            except (ValueError, TypeError):
                if not dynamic_batch or not static_batch:
                    raise
        if isinstance(outputs, tuple):
            outputs = list(outputs)
        flat_outputs = [x for x in flatten(outputs) if isinstance(x, SymbolicTensor)]
        self._inputs_struct = pack_like(_structure(signature), flat)
        self._outputs_struct = outputs
        self.__dict__["_graph_inputs"] = flat
        self.__dict__["_graph_input_names"] = names
        self.__dict__["_graph_output_names"] = (
            [str(k) for k in outputs] if isinstance(outputs, dict) else
            [f"output_{i}" for i in range(len(flat_outputs))])
        self.__dict__["_graph_outputs"] = flat_outputs
        self._runners = {}

    def _run_subclassed(self, flat_inputs, training=None):
        """Replay `call` on new tensors (training graphs), like `_run_graph` for functional models."""
        signature = self.__dict__.get("_build_signature")
        structure = _structure(signature) if signature is not None else flat_inputs
        inputs = pack_like(structure, list(flat_inputs))
        kwargs = {"training": training} if training is not None and "training" in self._call_params else {}
        with name_scope(self.name):
            return self.call(inputs, **kwargs)


def build_from_signatures(model, signatures) -> None:
    """Build a loaded subclassed model by calling it on placeholders of (shape, dtype) pairs.

    One input is passed as a tensor, several as a list (a file does not record dict keys).
    """
    from onnxgraph.layers._input_layer import placeholder
    from onnxgraph.layers._node import recording

    holders = [placeholder(shape, dtype) for shape, dtype in signatures]
    with recording(False):
        model(holders[0] if len(holders) == 1 else holders)


def _leaves(signature) -> list:
    leaves = []

    def visit(value):
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], str):
            leaves.append(value)
        elif isinstance(value, dict):
            for v in value.values():
                visit(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                visit(v)

    visit(signature)
    return leaves


def _structure(signature):
    """The call's input structure with a placeholder leaf per tensor."""
    if isinstance(signature, tuple) and len(signature) == 2 and isinstance(signature[1], str):
        return 0
    if isinstance(signature, dict):
        return {k: _structure(v) for k, v in signature.items()}
    return [_structure(v) for v in signature]


def _input_names(model, signature) -> list:
    """Graph input names: the call's first parameter name, indexed or keyed for structures."""
    params = [p for p in inspect.signature(model.call).parameters if p not in ("self",)]
    base = params[0] if params else "inputs"
    if isinstance(signature, dict):
        return [str(k) for k in signature]
    n = len(_leaves(signature))
    if n == 1:
        return [base]
    return [f"{base}_{i}" for i in range(n)]
