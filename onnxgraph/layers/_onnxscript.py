"""The ONNX escape hatch: onnxscript functions (`@script()`) called on symbolic tensors.

onnxscript runs a script function by handing it to its default evaluator. onnxgraph installs
an evaluator in front of the existing one: when the arguments are symbolic tensors it emits
the call into the graph, otherwise it hands over, so numpy inputs still run eagerly.

- A `@script()` function becomes an ONNX local function of the model (one node calling it,
  the FunctionProto and the domains it needs in the file; functions it calls come along).
  Inside `with inline_onnxscript():` its body is emitted op by op instead.
- An onnxscript op (`op.Relu(x)` with `from onnxscript import opset21 as op`) is one node.
- Called outside any layer on layer outputs, a function call is recorded as an
  `OnnxFunctionLayer` whose config holds the FunctionProto bytes (ONNX data, not code).

The evaluator is installed right after `import onnxscript`, whenever that happens (see
`_onnxscript_hook.py`).
"""

from __future__ import annotations

import contextlib

import numpy as np

from onnxgraph.backend import dtypes
from onnxgraph.backend.emit import as_tensor, emit
from onnxgraph.backend.ir import SymbolicTensor
from onnxgraph.backend.scope import current_scope, emit_options
from onnxgraph.layers._layer import Layer

__all__ = ["OnnxFunctionLayer", "inline_onnxscript", "install"]

def install() -> None:
    """Put onnxgraph's evaluator in front of onnxscript's current default evaluator."""
    from onnxscript._internal import evaluator

    if not isinstance(evaluator.default(), _Evaluator):
        evaluator.set_default(_Evaluator(evaluator.default()))


@contextlib.contextmanager
def inline_onnxscript():
    """Emit onnxscript function bodies op by op inside this block, instead of as local functions.

    Example:
        >>> with inline_onnxscript():
        ...     y = my_script_function(x)   # the function's ops appear in the main graph
    """
    with emit_options(inline_functions=True):
        yield


def _symbolic(values) -> bool:
    return any(isinstance(v, SymbolicTensor) for v in values)


class _Evaluator:
    """Emits onnxscript calls on symbolic tensors; delegates everything else."""

    def __init__(self, fallback):
        self._fallback = fallback

    def eval_op(self, op, args, kwargs):
        if not _symbolic([*args, *kwargs.values()]):
            return self._fallback.eval_op(op, args, kwargs)
        schema = op.op_schema
        if schema is None:
            raise ValueError(f"onnxscript op '{op.name}' has no ONNX schema to emit it with.")
        inputs = _tensors(args)
        attrs = {k: _attribute_value(v) for k, v in kwargs.items() if v is not None}
        if op.name == "CastLike" and op.opset.domain == "":
            # The target type is known: Cast (differentiable by onnxruntime-training) does the same.
            return emit("Cast", inputs[:1], {"to": dtypes.to_onnx(inputs[1].dtype)}, shapes=[inputs[0].shape],
                        dtypes_=[inputs[1].dtype])
        n = len(schema.outputs)
        if schema.outputs and schema.outputs[-1].option == schema.outputs[-1].option.Variadic:
            n = attrs.pop("_num_outputs", None) or attrs.get("num_outputs")
            if n is None:
                raise ValueError(f"onnxscript op '{op.name}' has variadic outputs: pass num_outputs=.")
        return emit(op.name, inputs, attrs, outputs=n, domain=op.opset.domain)

    def eval_function(self, function, args, kwargs):
        if not _symbolic([*args, *kwargs.values()]):
            return self._fallback.eval_function(function, args, kwargs)
        inputs, attrs = _bind(function, args, kwargs)
        if not current_scope() and any(x._keras_history is not None for x in inputs if isinstance(x, SymbolicTensor)):
            from onnxgraph.layers._node import is_recording

            if is_recording():
                return _call_as_layer(function, inputs, attrs)
        from onnxgraph.backend.local_functions import call_function

        return call_function(_protos(function), _tensors(inputs), attrs)


def _tensors(values):
    """Symbolic inputs as they are; arrays and Python numbers as constants typed like the tensors."""
    like = next((v for v in values if isinstance(v, SymbolicTensor)), None)
    result = []
    for v in values:
        if v is None or isinstance(v, SymbolicTensor):
            result.append(v)
        elif isinstance(v, (bool, int, float)) and like is not None:
            result.append(as_tensor(v, like.dtype))
        else:
            result.append(as_tensor(np.asarray(v)))
    return result


def _bind(function, args, kwargs):
    """Split a call's arguments into tensor inputs and attributes (with defaults filled in)."""
    params = list(function.op_signature.params)
    bound = dict(zip((p.name for p in params), args))
    unknown = set(kwargs) - {p.name for p in params}
    if unknown or len(args) > len(params):
        raise TypeError(f"onnxscript function '{function.name}' got unexpected arguments "
                        f"{sorted(unknown) or args[len(params):]}; its signature is {function.op_signature}.")
    bound.update(kwargs)
    inputs, attrs = [], {}
    for p in params:
        if p.is_attribute():
            if p.name in bound:
                attrs[p.name] = _attribute_value(bound[p.name])
            elif p.has_default():
                attrs[p.name] = _attribute_value(p.default.value if hasattr(p.default, "value") else p.default)
            elif p.required:
                raise TypeError(f"onnxscript function '{function.name}' needs attribute '{p.name}'.")
        else:
            if p.name not in bound and p.required:
                raise TypeError(f"onnxscript function '{function.name}' needs input '{p.name}'.")
            inputs.append(bound.get(p.name))
    while inputs and inputs[-1] is None:
        inputs.pop()
    return inputs, attrs


def _attribute_value(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_attribute_value(v) for v in value]
    return value


def _protos(function) -> list:
    """The function's FunctionProto (default opset matched to the model), then those it calls."""
    from onnxgraph.backend.local_functions import with_default_opset

    cached = function.__dict__.get("_onnxgraph_protos")
    if cached is None:
        called = function.function_ir.get_called_functions().values()
        cached = [with_default_opset(f.to_function_proto()) for f in [function, *called]]
        function.__dict__["_onnxgraph_protos"] = cached
    return cached


def _call_as_layer(function, inputs, attrs):
    from onnxgraph.backend.local_functions import functions_to_data
    from onnxgraph.layers._op_layer import _encode

    tensors: list = []
    arguments = _encode(list(inputs), tensors, function.name)
    layer = OnnxFunctionLayer(functions_to_data(_protos(function)), attrs, arguments)
    return layer(tensors[0] if len(tensors) == 1 else tensors)


class OnnxFunctionLayer(Layer):
    """Calls an ONNX local function on its inputs; the config holds the function as ONNX bytes.

    Made when an onnxscript function is called on layer outputs outside any layer, so the
    call is part of the functional model and survives save/load without any Python code.
    """

    def __init__(self, functions, attributes=None, arguments=None, **kwargs):
        from onnxgraph.backend.local_functions import functions_from_data
        from onnxgraph.layers._op_layer import _check_data

        protos = functions_from_data(functions)
        if kwargs.get("name") is None:
            from onnxgraph.utils._naming import auto_name

            kwargs["name"] = auto_name(protos[0].name)
        super().__init__(**kwargs)
        self.functions = list(functions)
        self.attributes = dict(attributes or {})
        self.arguments = arguments if arguments is not None else [{"__tensor__": 0}]
        _check_data([self.attributes, self.arguments], self.name)
        self._protos = protos

    def call(self, inputs):
        from onnxgraph.backend.local_functions import call_function
        from onnxgraph.layers._op_layer import _decode

        tensors = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        return call_function(self._protos, _tensors(_decode(self.arguments, tensors)), self.attributes)

    def get_config(self):
        return {**super().get_config(), "functions": self.functions, "attributes": self.attributes,
                "arguments": self.arguments}
