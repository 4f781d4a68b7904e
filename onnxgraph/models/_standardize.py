"""Keras's input standardization for a functional model's calls: structure, names, rank.

What a model is called on is matched to the structure it was built with (Keras 3's
`Functional._standardize_inputs`):
- a dict is reconciled with a list (or single) input by input name; a list with a dict of
  inputs only when the dict's keys are in sorted order (Keras flattens dicts sorted);
- a reconcilable mismatch warns "The structure of `inputs` doesn't match the expected
  structure" (eager calls; symbolic calls are silent, like Keras's), an irreconcilable one raises;
- a trailing dimension of 1 is squeezed or added where the input's rank differs by one.
Dtype conversion and shape checks stay in `onnxgraph.runtime._feeds` (eager) and the layers'
input specs (symbolic).
"""

from __future__ import annotations

import warnings

import numpy as np

from onnxgraph.backend.ir import SymbolicTensor

__all__ = ["standardize_inputs", "structure_paths"]


# Deeper Python nesting than this is neither an input structure nor array data (numpy allows 64
# dimensions); refused before any recursive walk can overflow the stack.
_MAX_DEPTH = 64


def _too_deep(x) -> bool:
    stack = [(x, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > _MAX_DEPTH:
            return True
        if isinstance(value, (list, tuple)):
            stack.extend((v, depth + 1) for v in value[:1_000])
        elif isinstance(value, dict):
            stack.extend((v, depth + 1) for v in list(value.values())[:1_000])
    return False


def _is_leaf(x) -> bool:
    return not isinstance(x, (list, tuple, dict))


def _numeric(x) -> bool:
    """A nested Python list of numbers: one array's data, not a structure of inputs."""
    if isinstance(x, (list, tuple)):
        return bool(x) and all(_numeric(v) for v in x)
    return isinstance(x, (bool, int, float, complex, np.generic))


def _same_structure(a, b) -> bool:
    if _is_leaf(b) and _numeric(a):
        return True
    if isinstance(a, dict) or isinstance(b, dict):
        return isinstance(a, dict) and isinstance(b, dict) and set(a) == set(b) and all(
            _same_structure(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b)
                and all(_same_structure(x, y) for x, y in zip(a, b)))
    return True


def _flatten_like(struct, value) -> list:
    """Leaves of `value`, dict entries taken in `struct`'s key order where both are dicts (extra keys
    dropped); elsewhere dicts flatten in sorted key order, like Keras's tree.flatten."""
    if isinstance(struct, SymbolicTensor) and _numeric(value):
        return [value]
    if isinstance(struct, dict) and isinstance(value, dict) and all(k in value for k in struct):
        return [x for k in struct for x in _flatten_like(struct[k], value[k])]
    if isinstance(value, dict):
        return [x for k in sorted(value) for x in _flatten_like(None, value[k])]
    if isinstance(value, (list, tuple)):
        same = isinstance(struct, (list, tuple)) and len(struct) == len(value)
        return [x for i, v in enumerate(value) for x in _flatten_like(struct[i] if same else None, v)]
    return [value]


def _describe(value):
    if isinstance(value, dict):
        return {k: _describe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_describe(v) for v in value)
    return "None" if value is None else f"Tensor(shape={tuple(getattr(value, 'shape', np.shape(value)))})"


def _names(struct, model):
    names = iter(model.input_names)
    if isinstance(struct, dict):
        return {k: _names(v, model) if not _is_leaf(v) else next(names) for k, v in struct.items()}
    if isinstance(struct, (list, tuple)):
        return [next(names) if _is_leaf(v) else _names(v, model) for v in struct]
    return next(names)


def _missing(model, inputs, names):
    missing = [n for n in names if n not in inputs]
    if missing:
        raise ValueError(f"Missing input {missing[0]!r}: the model expects inputs {list(names)}, received keys "
                         f"{sorted(inputs)}. Pass a dict with every input name.")


def standardize_inputs(model, inputs, warn: bool = True) -> list:
    """The values `inputs` gives each of `model.inputs`, in order (rank adjusted for arrays)."""
    struct = model._inputs_struct
    if _too_deep(inputs):
        raise ValueError(f"Model '{model.name}' got inputs nested more than {_MAX_DEPTH} levels deep; it expects "
                         f"{model.input_names}: pass one array per input (a numpy array, not nested lists), a "
                         "list of them in order, or a dict by input name.")
    raise_exception = False
    if isinstance(struct, list) and len(struct) == 1 and (
            _is_leaf(inputs) or _numeric(inputs) and not _same_structure(inputs, struct)):
        inputs = [inputs]
    elif isinstance(struct, SymbolicTensor) and isinstance(inputs, (list, tuple)) and len(inputs) == 1 and (
            _is_leaf(inputs[0])):
        inputs = inputs[0]  # [x] for a single-input model: no structure to warn about
    elif isinstance(inputs, dict) and not isinstance(struct, dict):
        if isinstance(struct, SymbolicTensor) or isinstance(struct, list) and all(
                isinstance(x, SymbolicTensor) for x in struct):
            _missing(model, inputs, model.input_names)
            extra = sorted(str(k) for k in inputs if k not in model.input_names)
            if extra and warn:  # Keras drops them silently; a typo deserves a word
                warnings.warn(f"The structure of `inputs` doesn't match the expected structure: key(s) {extra} are "
                              f"not inputs of model '{model.name}' and are ignored; its inputs are "
                              f"{model.input_names}.", stacklevel=3)
            inputs = ([inputs[n] for n in model.input_names] if isinstance(struct, list)
                      else inputs[model.input_names[0]])
        else:
            raise_exception = True
    elif isinstance(inputs, dict) and all(isinstance(x, SymbolicTensor) for x in struct.values()):
        _missing(model, inputs, list(struct))
    if isinstance(struct, dict) and not isinstance(inputs, dict) and list(struct) != sorted(struct):
        raise_exception = True
    same = _same_structure(inputs, struct)
    message = ("The structure of `inputs` doesn't match the expected structure.\n"
               f"Expected: {_names(struct, model)}\nReceived: inputs={_describe(inputs)}")
    if not same and raise_exception:
        raise ValueError(message + "\nPass the inputs in the structure the model was built with"
                         + (" (a dict keyed by input name)." if isinstance(struct, dict) else "."))
    flat = _flatten_like(struct, inputs)
    if len(flat) != len(model.inputs):
        keys = ", ".join(f"'{n}': ..." for n in model.input_names)
        got = (f"a {type(inputs).__name__} of {len(flat)} arrays" if isinstance(inputs, (list, tuple))
               else f"{len(flat)} input tensors")
        raise ValueError(f"Model '{model.name}' expects {len(model.inputs)} inputs {model.input_names}, received {got} "
                         f"(it expects {len(model.inputs)} named input(s) with keys {model.input_names}). Pass one "
                         f"array per input, in order, or a dict by name, e.g. `model({{{keys}}})`.")
    if not same and warn:
        warnings.warn(message, stacklevel=3)
    return [_adjust_rank(model, i, x) for i, x in enumerate(flat)]


def structure_paths(struct) -> list[str]:
    """Keras's dotted path of each leaf of a structure ("0.foo"; "" for a single tensor)."""
    paths = []

    def walk(s, prefix):
        if isinstance(s, dict):
            for k, v in s.items():
                walk(v, prefix + [str(k)])
        elif isinstance(s, (list, tuple)):
            for i, v in enumerate(s):
                walk(v, prefix + [str(i)])
        else:
            paths.append(".".join(prefix))

    walk(struct, [])
    return paths


def _adjust_rank(model, index: int, x):
    """Squeeze or add a trailing dimension of 1 (Keras's `_adjust_input_rank`); arrays only."""
    if x is None or isinstance(x, SymbolicTensor):
        return x
    try:
        shape = np.shape(x)
    except Exception:  # noqa: BLE001 - ragged lists: the feeds say what is wrong with them
        return x
    ref = model.inputs[index].shape
    if len(shape) == len(ref):
        return x
    if len(shape) == len(ref) + 1 and shape[-1] == 1:
        return np.squeeze(np.asarray(x), axis=-1)
    if len(shape) == len(ref) - 1 and ref[-1] == 1:
        return np.expand_dims(np.asarray(x), axis=-1)
    name = model.input_names[index]
    raise ValueError(f"Input '{name}' expects shape {ref}, received an array of shape {tuple(shape)} (Invalid input "
                     f"shape for input with name '{name}' and path '{structure_paths(model._inputs_struct)[index]}': "
                     f"only a trailing dimension of 1 is added or removed). Pass an array of rank {len(ref)} (None "
                     "is any size; the first dimension is the batch).")
