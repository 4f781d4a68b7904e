"""Sequential: a plain stack of layers, built into a functional graph once its input is known."""

from __future__ import annotations

import inspect

import numpy as np

from onnxgraph.backend.ir import SymbolicTensor
from onnxgraph.layers._input_layer import Input, InputLayer
from onnxgraph.layers._layer import Layer
from onnxgraph.layers._node import recording
from onnxgraph.models._model import Model

__all__ = ["Sequential"]


class Sequential(Model):
    """`Sequential([Input(shape=(4,)), Dense(8), Dense(1)])`, with `add` and `pop`."""

    def __init__(self, layers=None, trainable=True, name=None):
        super().__init__(name=name, trainable=trainable)
        self._stack: list[Layer] = []
        self._input_tensor = None
        for layer in layers or []:
            self.add(layer, rebuild=False)
        self._maybe_rebuild()

    def _class_name(self) -> str:
        return "Sequential"

    def add(self, layer, rebuild: bool = True) -> None:
        """Append a layer (or an `Input(...)` tensor as the first element)."""
        if isinstance(layer, SymbolicTensor):
            history = layer._keras_history
            if history is None or not isinstance(history.layer, InputLayer) or self._stack or self._input_tensor is not None:
                raise ValueError("Sequential.add: a tensor can only be added first, and only an Input()"
                                 + (f" (Sequential model '{self.name}' has already been configured to use input shape "
                                    f"{self._input_tensor.shape})." if self._input_tensor is not None else "."))
            self._input_tensor = layer
        elif isinstance(layer, InputLayer):
            if self._stack or self._input_tensor is not None:
                raise ValueError("Sequential.add: an InputLayer can only come first"
                                 + (f" (Sequential model '{self.name}' has already been configured to use input shape "
                                    f"{self._input_tensor.shape})." if self._input_tensor is not None else "."))
            self._input_tensor = layer._output
        elif isinstance(layer, Layer):
            if any(existing.name == layer.name for existing in self._stack):
                raise ValueError(f"Sequential: a layer named '{layer.name}' is already in the model; names must be unique "
                                 "(all layers added to a Sequential model should have unique names).")
            self._stack.append(layer)
        else:
            raise ValueError(f"Only instances of `Layer` can be added to a Sequential model (Sequential.add on "
                             f"'{self.name}'). Received: {layer!r} (of type {type(layer).__name__}).")
        if rebuild:
            self._maybe_rebuild()

    def pop(self, rebuild: bool = True) -> Layer:
        """Remove and return the last layer."""
        if not self._stack:
            raise ValueError(f"Sequential '{self.name}' has no layers to pop.")
        layer = self._stack.pop()
        if rebuild:
            self._maybe_rebuild()
        return layer

    def _maybe_rebuild(self) -> None:
        object.__setattr__(self, "_tracked_layers", list(self._stack))
        if self._input_tensor is None and self._stack and self._stack[0]._batch_input_shape is not None:
            self._input_tensor = Input(batch_shape=self._stack[0]._batch_input_shape, dtype=self._stack[0].dtype)
        first = self._stack[0] if self._stack else None
        if (self._input_tensor is None and len(self._stack) > 1 and isinstance(first, Model) and first._functional
                and len(first.inputs) == 1):  # Keras: a built model first gives the stack its input shape
            self._input_tensor = Input(batch_shape=first.inputs[0].shape, dtype=first.inputs[0].dtype)
        if self._input_tensor is None or not self._stack:
            self._functional = False
            self.built = bool(self._stack) and all(layer.built for layer in self._stack)
            return
        x = self._input_tensor
        # The stack's own graph of layers is recorded even when the first call happens inside
        # an eager compile or a replay (which turn recording off): _init_graph walks it.
        with recording(True):
            for layer in self._stack:
                try:
                    x = layer(x)
                except TypeError:
                    _check_single_positional(layer)
                    raise
        self._init_graph(self._input_tensor, x)

    @property
    def _functional(self):
        """Keras: the Functional model the stack is built into (False until it is)."""
        if not self.__dict__.get("_functional"):
            return False
        view = self.__dict__.get("_functional_view")
        if view is None or view.outputs[0] is not self.outputs[0]:
            view = Model(self._inputs_struct, self._outputs_struct, name=f"{self.name}_functional")
            self.__dict__["_functional_view"] = view
        return view

    @_functional.setter
    def _functional(self, value):
        self.__dict__["_functional"] = bool(value)

    @property
    def layers(self) -> list:
        return list(self._stack)

    @layers.setter
    def layers(self, _):
        raise AttributeError(f"Sequential '{self.name}': `Sequential.layers` attribute is reserved and should not be "
                             "used. Use `add()` and `pop()` to change the layers in this model.")

    def build(self, input_shape=None):
        """Keras `Sequential.build`: give the stack an input of `input_shape` (batch dimension included)."""
        if input_shape is None and self._input_tensor is None:
            raise ValueError(f"Sequential model '{self.name}': build() needs an `input_shape` (batch dimension "
                             "first, e.g. (None, 784)) when the model has no Input. (You must provide an "
                             "`input_shape` argument.)")
        if self._input_tensor is not None:
            have = self._input_tensor.shape
            if input_shape is not None and (len(input_shape) != len(have) or any(
                    a is not None and b is not None and a != b for a, b in zip(input_shape, have))):
                raise ValueError(f"Sequential model '{self.name}' has already been configured to use input shape "
                                 f"{have}; build() got input_shape {tuple(input_shape)}.")
        else:
            dtype = self._stack[0].dtype if self._stack else "float32"
            self._input_tensor = Input(batch_shape=tuple(input_shape), dtype=dtype)
        self._maybe_rebuild()

    def call(self, inputs, training=None, mask=None):
        if not self._functional:
            self._input_tensor = _inputs_like(inputs)
            self._input_from_data = True
            self._maybe_rebuild()
        return super().call(inputs, training=training, mask=mask)

    def __call__(self, *args, **kwargs):
        if not self._stack:
            raise ValueError(f"Sequential model '{self.name}' has no layers: add() some before calling it.")
        if args and not any(isinstance(x, SymbolicTensor) for x in _leaves(args[0])):
            if not self._functional:
                self._input_tensor = _inputs_like(args[0])
                self._input_from_data = True
                self._maybe_rebuild()
            else:
                self._fit_input_to(args[0])
        return super().__call__(*args, **kwargs)

    def _build_open(self, sample) -> None:
        """Build from a generator's first batch with every dimension but the last open (its batches may
        vary, e.g. in length); where a layer needs the sizes (Flatten then Dense), from the batch's shape."""
        x = np.asarray(sample)
        if x.ndim >= 3:
            dtype = "float32" if x.dtype == np.float64 else x.dtype
            try:
                self._input_tensor = Input(batch_shape=(None,) * (x.ndim - 1) + (x.shape[-1],), dtype=dtype)
                self._input_from_data = True
                self._maybe_rebuild()
                return
            except (ValueError, TypeError):
                self._input_tensor = None
        self(x[:2])

    def _fit_input_to(self, inputs) -> None:
        """Keras runs an Input-less Sequential on batches of any shape: when this one was built from data
        (no Input given) and a batch of the same rank differs in a dimension, that dimension becomes
        None and the graph is rebuilt (the layers keep their weights; one that needs the size refuses)."""
        if not self.__dict__.get("_input_from_data") or not isinstance(self._input_tensor, SymbolicTensor):
            return
        if isinstance(inputs, (list, tuple, dict)) and not _is_numbers(inputs):
            return
        have, shape = self._input_tensor.shape, np.shape(inputs)
        if len(shape) != len(have) or all(a is None or a == b for a, b in zip(have[1:], shape[1:])):
            return
        opened = (None, *(a if a == b else None for a, b in zip(have[1:], shape[1:])))
        self._input_tensor = Input(batch_shape=opened, dtype=self._input_tensor.dtype)
        self._maybe_rebuild()

    def get_config(self) -> dict:
        from onnxgraph.models._config import serialize_layer

        entries = [serialize_layer(layer) for layer in self._stack]
        if isinstance(self._input_tensor, SymbolicTensor):  # (a dict or list of inputs is rebuilt from data)
            entries.insert(0, serialize_layer(self._input_tensor._keras_history.layer))
        return {"name": self.name, "trainable": self.trainable, "layers": entries}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from onnxgraph.models._config import deserialize_layer

        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for entry in config["layers"]:
            layer = deserialize_layer(entry, custom_objects)
            model.add(layer._output if isinstance(layer, InputLayer) else layer, rebuild=False)
        model._maybe_rebuild()
        return model


def _leaves(x) -> list:
    if isinstance(x, dict):
        return [v for k in x for v in _leaves(x[k])]
    if isinstance(x, (list, tuple)) and x and not _is_numbers(x):
        return [v for item in x for v in _leaves(item)]
    return [x]


def _is_numbers(x) -> bool:
    if isinstance(x, (list, tuple)):
        return all(_is_numbers(v) for v in x)
    return isinstance(x, (bool, int, float, np.generic))


def _inputs_like(data):
    """Inputs shaped like the first batch a Sequential without an Input is called on (any batch size);
    a dict or list of arrays gives a dict or list of Inputs (Keras applies the stack to the structure)."""
    if isinstance(data, SymbolicTensor):
        return Input(batch_shape=(None, *data.shape[1:]), dtype=data.dtype)
    if isinstance(data, dict):
        return {k: _inputs_like(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)) and data and not _is_numbers(data):
        return [_inputs_like(v) for v in data]
    x = np.asarray(data)
    return Input(batch_shape=(None, *x.shape[1:]), dtype="float32" if x.dtype == np.float64 else x.dtype)


def _check_single_positional(layer) -> None:
    """Keras's error for a layer whose `call` needs more than the one input Sequential gives it."""
    params = list(inspect.signature(layer.call).parameters.values())
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p.name for p in positional if p.default is p.empty]
    if not positional:
        raise ValueError(f"Layers added to a Sequential model should have a single positional argument, the input "
                         f"tensor. Layer {type(layer).__name__} ('{layer.name}') has no positional arguments.")
    if len(required) > 1:
        raise ValueError(f"Layers added to a Sequential model can only have a single required positional argument, "
                         f"the input tensor. Layer {type(layer).__name__} ('{layer.name}') has multiple required "
                         f"positional arguments: {required}. Give the others defaults (e.g. `training=None`).")
