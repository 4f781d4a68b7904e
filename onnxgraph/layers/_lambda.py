"""Lambda: a Python function called on the layer's symbolic input (Keras `layers.Lambda`).

The function runs once per call at graph-build time, on symbolic tensors: whatever it computes
(slicing, `og.ops`, operators) is emitted as ONNX nodes, so the saved graph needs no Python.

Its config names the function as Keras writes it: a named function by name (`"class_name":
"function"`), a `lambda` as Keras's `__lambda__` record (its bytecode, so Keras itself can load
the file with `safe_mode=False`). onnxgraph never runs code from a file, `safe_mode=False`
included: `from_config` takes the function from the process only, a named function through
`custom_objects` / the registry, a lambda through `custom_objects={"<layer name>": fn}`.
"""

from __future__ import annotations

import base64
import inspect
import marshal
import types

from onnxgraph.layers._layer import Layer

__all__ = ["Lambda"]


class Lambda(Layer):
    """`Lambda(function, output_shape=None, mask=None, arguments=None)`: `function(inputs, **arguments)`.

    Example:
        >>> x = Input(shape=(10, 4))
        >>> last3 = layers.Lambda(lambda t: t[:, -3:, :])(x)   # shape (None, 3, 4)
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise ValueError(f"Lambda '{self.name}': `function` must be callable, got {function!r}.")
        self.function = function
        self._output_shape_arg = output_shape  # config only: ONNX shape inference gives the real one
        self.mask = mask
        self.arguments = dict(arguments or {})
        params = inspect.signature(function).parameters if _has_signature(function) else {}
        self._fn_takes_mask = "mask" in params
        self._fn_takes_training = "training" in params
        self.supports_masking = mask is not None or self._fn_takes_mask

    def call(self, inputs, mask=None, training=None):
        kwargs = dict(self.arguments)
        if self._fn_takes_mask:
            kwargs["mask"] = mask
        if self._fn_takes_training:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def compute_mask(self, inputs, mask=None):
        if callable(self.mask):
            return self.mask(inputs, mask)
        return self.mask if self.mask is not None else mask

    def get_config(self) -> dict:
        if callable(self._output_shape_arg) or callable(self.mask):
            raise ValueError(f"Lambda '{self.name}': a callable `output_shape` or `mask` cannot be saved; pass a "
                             "shape tuple (or None) and a fixed mask, or write a custom layer.")
        return {**super().get_config(), "function": _serialize_function(self.function, self.name),
                "output_shape": self._output_shape_arg, "mask": self.mask, "arguments": self.arguments}

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        from onnxgraph.saving._registry import get_registered_object

        config = dict(config)
        name = config.get("name")
        entry = config.pop("function", None)
        function = _resolve(entry, name, custom_objects, get_registered_object)
        return cls(function, **config)


def _has_signature(fn) -> bool:
    try:
        inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    return True


def _serialize_function(fn, layer_name: str) -> dict:
    if isinstance(fn, types.LambdaType) and fn.__name__ == "<lambda>":
        closure = tuple(c.cell_contents for c in fn.__closure__) if fn.__closure__ else None
        return {"class_name": "__lambda__", "config": {
            "code": base64.b64encode(marshal.dumps(fn.__code__)).decode("ascii"),
            "defaults": fn.__defaults__, "closure": closure}}
    name = getattr(fn, "__name__", None)
    if not isinstance(name, str):
        raise ValueError(f"Lambda '{layer_name}': its function {fn!r} has no name to save; use a named function "
                         "or a lambda.")
    return {"module": getattr(fn, "__module__", None), "class_name": "function", "config": name,
            "registered_name": name}


def _resolve(entry, layer_name, custom_objects, lookup):
    """The in-process function a saved Lambda names; never code from the config."""
    if callable(entry):  # from_config on a live config
        return entry
    if isinstance(entry, dict) and entry.get("class_name") == "__lambda__":
        fn = (custom_objects or {}).get(layer_name) or lookup(layer_name, custom_objects)
        if callable(fn) and not isinstance(fn, type):
            return fn
        raise ValueError(
            f"Requested the deserialization of a `Lambda` layer ('{layer_name}') whose `function` is a Python "
            "lambda. This carries a potential risk of arbitrary code execution, and onnxgraph never runs code from "
            "a file (not even with safe_mode=False). Pass the function itself: "
            f"custom_objects={{'{layer_name}': <the function>}} (keyed by the Lambda layer's name).")
    if isinstance(entry, dict) and entry.get("class_name") == "function":
        fn_name = entry.get("config")
        fn = lookup(fn_name, custom_objects, entry.get("registered_name"))
        if callable(fn) and not isinstance(fn, type):
            return fn
        raise ValueError(f"Lambda '{layer_name}' calls function '{fn_name}', which is not known here. Pass "
                         f"custom_objects={{'{fn_name}': {fn_name}}} or register it with "
                         "@onnxgraph.saving.register_serializable().")
    raise ValueError(f"Lambda '{layer_name}': `function` in its config must name an in-process function, got "
                     f"{entry!r:.80}. Lambda layers hold Python code, which onnxgraph never loads from a file: pass "
                     f"custom_objects={{'{layer_name}': <the function>}}, or replace the Lambda with a registered "
                     "custom layer.")
