"""Sequential: a plain stack of layers, built into a functional graph once its input is known."""

from __future__ import annotations

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
            raise TypeError(f"Sequential.add expects a Layer, got {layer!r}.")
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
        if self._input_tensor is None or not self._stack:
            self._functional = False
            self.built = bool(self._stack) and all(layer.built for layer in self._stack)
            return
        x = self._input_tensor
        # The stack's own graph of layers is recorded even when the first call happens inside
        # an eager compile or a replay (which turn recording off): _init_graph walks it.
        with recording(True):
            for layer in self._stack:
                x = layer(x)
        self._init_graph(self._input_tensor, x)

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
            self._input_tensor = Input(batch_shape=(None, *inputs.shape[1:]), dtype=inputs.dtype)
            self._maybe_rebuild()
        return super().call(inputs, training=training, mask=mask)

    def __call__(self, *args, **kwargs):
        if not self._stack:
            raise ValueError(f"Sequential model '{self.name}' has no layers: add() some before calling it.")
        if not self._functional and args and not isinstance(args[0], SymbolicTensor):
            import numpy as np

            x = np.asarray(args[0])
            self._input_tensor = Input(batch_shape=(None, *x.shape[1:]),
                                       dtype="float32" if x.dtype == np.float64 else x.dtype)
            self._maybe_rebuild()
        return super().__call__(*args, **kwargs)

    def get_config(self) -> dict:
        from onnxgraph.models._config import serialize_layer

        entries = [serialize_layer(layer) for layer in self._stack]
        if self._input_tensor is not None:
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
