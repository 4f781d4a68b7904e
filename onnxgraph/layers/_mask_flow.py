"""How `Layer.__call__` moves Keras masks: into `call(mask=...)`, and onto the outputs.

Keras 3 rules (keras/src/layers/layer.py, steps 6 and 7 of `__call__`):
- a call with one tensor argument and a `mask` parameter gets that tensor's mask;
- a call with several tensor arguments gets `<name>_mask` for each `<name>` it declares;
- after the call, a layer with `supports_masking` sets `compute_mask(inputs, previous_mask)`
  on outputs that have no mask yet; a layer without it drops the mask, with a warning.
"""

from __future__ import annotations

import functools
import inspect
import warnings

from onnxgraph.backend.ir import SymbolicTensor
from onnxgraph.backend.scope import name_scope
from onnxgraph.utils._tree import flatten, map_structure

__all__ = ["populate", "set_output_masks"]


def _mask_of(x):
    return getattr(x, "_keras_mask", None) if isinstance(x, SymbolicTensor) else None


def _has_tensor(value) -> bool:
    return any(isinstance(x, SymbolicTensor) for x in flatten(value))


@functools.lru_cache(maxsize=None)
def _parameters(call) -> tuple:
    return tuple(inspect.signature(call).parameters)


def populate(layer, args, kwargs, call_kwargs):
    """Fill `call_kwargs` with the masks `call` declares; return the previous mask (Keras step 6)."""
    params = _parameters(layer.__class__.call) if hasattr(layer.__class__, "call") else ()
    params = tuple(p for p in params if p != "self")
    bound = dict(zip(params, args))
    bound.update(kwargs)
    tensors = {name: value for name, value in bound.items() if _has_tensor(value) and "mask" not in name}
    if len(tensors) == 1 and "mask" in params and call_kwargs.get("mask") is None:
        value = next(iter(tensors.values()))
        mask = map_structure(_mask_of, value)
        if any(m is not None for m in flatten(mask)):
            call_kwargs["mask"] = mask
    elif len(tensors) > 1:
        for name, value in tensors.items():
            key = f"{name}_mask"
            if key in params and call_kwargs.get(key) is None:
                mask = map_structure(_mask_of, value)
                if any(m is not None for m in flatten(mask)):
                    call_kwargs[key] = mask
    if call_kwargs.get("mask") is not None:
        return call_kwargs["mask"]
    first = args[0] if args else next(iter(kwargs.values()), None)
    return map_structure(_mask_of, first)


def set_output_masks(layer, inputs, outputs, previous_mask) -> None:
    """Keras `_set_mask_metadata`: masks for the outputs, or a warning when they are dropped."""
    flat_outputs = [x for x in flatten(outputs) if isinstance(x, SymbolicTensor)]
    if not flat_outputs:
        return
    if layer.supports_masking:
        if all(_mask_of(x) is not None for x in flat_outputs):
            return
        with name_scope(layer.name):
            masks = layer.compute_mask(inputs, previous_mask)
        if masks is None:
            return
        for tensor, mask in zip(flat_outputs, flatten(masks)):
            if _mask_of(tensor) is None and mask is not None:
                tensor._keras_mask = mask
    elif getattr(layer, "_warns_on_dropped_mask", True) and any(m is not None for m in flatten(previous_mask)):
        warnings.warn(f"Layer '{layer.name}' (of type {type(layer).__name__}) was passed an input with a mask "
                      "attached to it. However, this layer does not support masking and will therefore destroy "
                      "the mask information. Downstream layers will not see the mask.", stacklevel=3)
