"""Calling a layer on arrays: emit its graph once per input signature and run it on onnxruntime.

Compiled graphs are cached on the layer per signature (input shapes and dtypes, plus the
non-array arguments), least recently used first out, so an eager loop, even one that
alternates between a few shapes, emits and compiles each graph once. A weight change does
not recompile the graph: the cached runner re-exports only when weight versions change.
"""

from __future__ import annotations

import collections

import numpy as np

from onnxgraph.backend import dtypes
from onnxgraph.backend.scope import emit_options
from onnxgraph.layers._input_layer import placeholder
from onnxgraph.layers._node import recording
from onnxgraph.utils._tree import flatten, map_structure, pack_like

__all__ = ["call_eagerly", "arrays_to_constants", "EAGER_CACHE_SIZE"]

# Signatures kept per layer; eager loops rarely use more than a handful of shapes.
EAGER_CACHE_SIZE = 8


def _is_array(x) -> bool:
    return isinstance(x, np.ndarray) or (hasattr(x, "__array__") and not hasattr(x, "graph_value")
                                         and not isinstance(x, (bool, int, float, str)))


def call_eagerly(layer, args, kwargs):
    """Run `layer(*args, **kwargs)` where the tensors are numpy arrays; returns numpy arrays."""
    if not args and not any(_is_array(x) for x in flatten(kwargs)):
        raise ValueError(f"Layer '{layer.name}' was called without inputs.")
    first = args[0] if args else None  # keyword tensors (query=..., value=...) work too
    try:
        if isinstance(first, (list, tuple)) and first and not any(_is_array(x) for x in flatten(first)):
            args = (_to_array(layer, first),) + tuple(args[1:])
        masks = [_array_mask(x) for x in flatten((args, kwargs)) if _is_array(x)]
        arrays = [np.asarray(x) for x in flatten((args, kwargs)) if _is_array(x)]
    except RecursionError:
        raise ValueError(f"Layer '{layer.name}' was called on lists nested too deeply to be an array.") from None
    if not arrays:  # nothing to run on: a string, None... (and no symbolic tensor either)
        raise TypeError(f"Layer '{layer.name}' was called on {type(first).__name__} {first!r:.60}; call it on a "
                        "symbolic tensor (og.Input(...)) or on numpy arrays.")
    # Keras casts floating inputs to the layer's float dtype (float16 layers get float16 arrays);
    # float64 numpy defaults otherwise run as float32, onnxgraph's default.
    target = layer.dtype if getattr(layer, "dtype", None) in ("float16", "float64") else "float32"
    arrays = [a.astype(target) if a.dtype.kind == "f" and (a.dtype == np.float64 or target != "float32") else a
              for a in arrays]
    statics = tuple(repr(x) for x in flatten((args, kwargs)) if not _is_array(x))
    signature = (tuple((a.shape, a.dtype.str) for a in arrays), statics,
                 tuple(None if m is None else m.shape for m in masks), _trainable_flags(layer))
    cache = layer.__dict__.get("_eager_cache")
    if cache is None:
        cache = collections.OrderedDict()
        object.__setattr__(layer, "_eager_cache", cache)
    runner = cache.get(signature)
    if runner is None:
        runner = _compile(layer, args, kwargs, arrays, masks)
        cache[signature] = runner
        if len(cache) > EAGER_CACHE_SIZE:
            cache.popitem(last=False)
    else:
        cache.move_to_end(signature)
    structure, run, mask_of = runner
    feeds = {f"x{i}": a for i, a in enumerate(arrays)}
    feeds.update({f"m{i}": m for i, m in enumerate(masks) if m is not None})
    results = run(feeds)
    values = results[:len(results) - len(mask_of)]
    for k, i in enumerate(mask_of):  # Keras eager tensors carry their mask too
        values[i] = with_mask(values[i], results[len(values) + k])
    return pack_like(structure, values)


class MaskedArray(np.ndarray):
    """A numpy result of an eager layer call with the Keras mask its graph computed (`_keras_mask`)."""

    _keras_mask = None


def with_mask(value, mask):
    value = np.asarray(value).view(MaskedArray)
    value._keras_mask = np.asarray(mask)
    return value


def _array_mask(x):
    mask = getattr(x, "_keras_mask", None)
    return None if mask is None else np.asarray(mask, dtype=bool)


def _trainable_flags(layer) -> tuple:
    """Part of the signature: freezing a layer (BatchNormalization's training path) changes its graph."""
    from onnxgraph.layers._layer import _all_sublayers

    return (layer.trainable, *(sub.trainable for sub in _all_sublayers(layer)))


def _to_array(layer, value):
    try:
        return np.asarray(value, dtype=np.float32)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"Layer '{layer.name}' was called on a list that is not a numeric array: {exc}") from None


def _compile(layer, args, kwargs, arrays, masks):
    from onnxgraph.layers._recurrent import state_variables
    from onnxgraph.runtime import GraphRunner

    holders = [placeholder(a.shape, dtypes.standardize(a.dtype), f"x{i}") for i, a in enumerate(arrays)]
    mask_inputs = []
    for i, (holder, mask) in enumerate(zip(holders, masks)):
        if mask is not None:
            holder._keras_mask = placeholder(mask.shape, "bool", f"m{i}")
            mask_inputs.append(holder._keras_mask)
    holders = iter(holders)
    sym_args, sym_kwargs = map_structure(lambda x: next(holders) if _is_array(x) else x, (list(args), kwargs))
    inputs = [x for x in flatten((sym_args, sym_kwargs)) if getattr(x, "kind", None) == "input"]
    updates = []  # (variable, new value): BatchNormalization's moving statistics under training=True
    with recording(False), emit_options(state_updates=updates):
        outputs = layer(*sym_args, **sym_kwargs)
    flat_outputs = flatten(outputs)
    mask_of = [i for i, x in enumerate(flat_outputs) if getattr(x, "_keras_mask", None) is not None]
    fetched = flat_outputs + [flat_outputs[i]._keras_mask for i in mask_of] + [value for _, value in updates]
    runner = GraphRunner(inputs + mask_inputs, fetched, [x.name for x in inputs + mask_inputs],
                         [f"y{i}" for i in range(len(fetched))], layer.weights + state_variables(layer),
                         name=layer.name)
    if not updates:
        return outputs, runner.run_feeds, mask_of
    n = len(fetched) - len(updates)

    def run_and_update(feeds):
        # As Keras: an eager `layer(x, training=True)` moves the moving statistics.
        values = runner.run_feeds(feeds)
        for (variable, _), value in zip(updates, values[n:]):
            variable.assign(value)
        return values[:n]

    return outputs, run_and_update, mask_of


def arrays_to_constants(args, kwargs):
    """Replace numpy arrays in a call's arguments with graph constants (float64 becomes float32)."""
    from onnxgraph.backend.emit import constant

    def convert(x):
        return constant(np.asarray(x)) if isinstance(x, (np.ndarray, np.generic)) else x

    return map_structure(convert, (list(args), dict(kwargs)))
