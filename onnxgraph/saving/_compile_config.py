"""A model's compile() arguments and optimizer state as data, in Keras 3's layout.

`compile_config` is the dict Keras stores as `compile_config` in a `.keras` config.json
(optimizer, loss, loss_weights, metrics, weighted_metrics, ...): names stay names, Loss /
Metric / Optimizer objects are `{"module", "class_name", "config", "registered_name"}`
dicts, plain functions `{"class_name": "function", "config": <name>}` (found again by name
only: registered, in `custom_objects`, or an onnxgraph built-in).

`optimizer_variables` lists the optimizer's state the way Keras's `optimizer.variables`
does: `iteration`, `learning_rate` (not for a schedule), then the slots over the model's
trainable weights (Adam/AdamW interleave momentum and velocity per weight, then
velocity_hat; the others list each slot over all weights in turn).
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["compile_config", "compile_from_config", "optimizer_variables", "set_optimizer_variables",
           "attach_training_state", "restore_training_state", "OPTIMIZER_PREFIX"]

_INTERLEAVED = {"Adam": ("momentum", "velocity"), "AdamW": ("momentum", "velocity")}


# -- compile config ---------------------------------------------------------------------------
def _serialize(value, module):
    from onnxgraph.saving._registry import get_registered_name

    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, dict):
        return {k: _serialize(v, module) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_serialize(v, module) for v in value]
    if hasattr(value, "get_config") and not isinstance(value, type):
        return module.serialize(value)
    if callable(value):
        name = getattr(value, "__name__", None)
        if not name or name == "<lambda>":
            raise ValueError(f"compile() got {value!r}, which cannot be saved: a lambda has no name to find it by. "
                             "Use a named function registered with onnxgraph.saving.register_serializable().")
        return {"module": getattr(value, "__module__", None), "class_name": "function", "config": name,
                "registered_name": get_registered_name(value)}
    raise ValueError(f"compile() argument {value!r} ({type(value).__name__}) cannot be saved as data.")


def compile_config(model) -> dict | None:
    """Keras's `compile_config` dict for a compiled model (None when it is not compiled)."""
    from onnxgraph import losses, metrics, optimizers

    if not getattr(model, "compiled", False) or model._compile_args is None:
        return None
    loss, loss_weights, metric_args, weighted = model._compile_args
    return {"optimizer": optimizers.serialize(model.optimizer), "loss": _serialize(loss, losses),
            "loss_weights": _serialize(loss_weights, losses), "metrics": _serialize(metric_args, metrics),
            "weighted_metrics": _serialize(weighted, metrics), "run_eagerly": False, "steps_per_execution": 1,
            "jit_compile": False}


def _deserialize(value, module, custom_objects):
    from onnxgraph.saving._registry import get_registered_object

    if isinstance(value, list):
        return [_deserialize(v, module, custom_objects) for v in value]
    if isinstance(value, dict) and "class_name" in value and "config" in value:
        if value["class_name"] == "function":
            name = value["config"]
            found = get_registered_object(value.get("registered_name") or name, custom_objects)
            if found is not None:
                return found
            try:
                module.get(name)  # a built-in function name ("mean_squared_error") resolves
            except (ValueError, TypeError):
                raise ValueError(f"function '{name}' is neither an onnxgraph built-in nor registered: pass "
                                 f"custom_objects={{'{name}': {name}}} to load_model") from None
            return name
        return module.deserialize(value, custom_objects)
    if isinstance(value, dict):
        return {k: _deserialize(v, module, custom_objects) for k, v in value.items()}
    return value


def compile_from_config(model, config: dict, custom_objects=None, source: str = "model") -> bool:
    """compile() the model from a `compile_config` dict; warns and returns False when it cannot."""
    from onnxgraph import losses, metrics, optimizers

    if not isinstance(config, dict) or not config:
        return False
    try:
        optimizer = optimizers.deserialize(config["optimizer"], custom_objects) if isinstance(
            config.get("optimizer"), dict) else config.get("optimizer", "rmsprop")
        model.compile(optimizer=optimizer, loss=_deserialize(config.get("loss"), losses, custom_objects),
                      loss_weights=config.get("loss_weights"),
                      metrics=_deserialize(config.get("metrics"), metrics, custom_objects),
                      weighted_metrics=_deserialize(config.get("weighted_metrics"), metrics, custom_objects))
    except (ValueError, TypeError, KeyError) as exc:
        warnings.warn(f"{source}: the model was loaded uncompiled; its compile config could not be restored "
                      f"({exc}). Call model.compile(...) before fit/evaluate.", stacklevel=3)
        return False
    return True


# -- optimizer state ----------------------------------------------------------------------------
def _slot_order(optimizer, n: int) -> list[tuple[str, int]]:
    slots = list(optimizer._slot_specs())
    pairs = _INTERLEAVED.get(type(optimizer).__name__)
    order = []
    if pairs and all(s in slots for s in pairs):
        order += [(slot, i) for i in range(n) for slot in pairs]
        slots = [s for s in slots if s not in pairs]
    for slot in slots:
        order += [(slot, i) for i in range(n)]
    return order


def optimizer_variables(model) -> tuple[str, list[np.ndarray]] | None:
    """(optimizer name, arrays in Keras's `optimizer.variables` order), or None when not compiled.

    Slots follow `model.trainable_weights`; an optimizer that has not stepped yet gives its
    initial slot values (what Keras's built optimizer holds), so Keras loads the state without
    a count mismatch.
    """
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not getattr(model, "compiled", False):
        return None
    trainable = model.trainable_weights
    state = optimizer.get_state()
    paths = model._optimizer_param_paths() or [v.path for v in trainable]
    position = {path: i for i, path in enumerate(paths)}
    arrays = [np.asarray(optimizer.iterations, dtype=np.int32)]
    if not callable(optimizer._learning_rate):
        arrays.append(np.asarray(optimizer.learning_rate, dtype=np.float32))
    specs = optimizer._slot_specs()
    for slot, i in _slot_order(optimizer, len(trainable)):
        key = f"{slot}/{position.get(trainable[i].path, -1)}"
        value = state.get(key)
        if value is None:
            value = np.full(trainable[i].shape, specs[slot], dtype=trainable[i].value.dtype)
        arrays.append(np.asarray(value))
    return optimizer.name, arrays


def set_optimizer_variables(model, arrays: list, source: str = "model") -> bool:
    """Restore Keras-ordered optimizer variables into the compiled model's optimizer.

    A count or shape that does not fit is skipped with a warning (the optimizer starts fresh),
    as Keras does.
    """
    optimizer = model.optimizer
    trainable = model.trainable_weights
    has_lr = not callable(optimizer._learning_rate)
    order = _slot_order(optimizer, len(trainable))
    expected = 1 + has_lr + len(order)
    if len(arrays) == 1 + has_lr and order:  # saved before its first step: Keras had not built the slots
        order = []
    elif len(arrays) != expected:
        warnings.warn(f"{source}: skipped the saved optimizer state: {len(arrays)} variables for a "
                      f"{type(optimizer).__name__} that has {expected} over {len(trainable)} trainable weights; "
                      "training restarts the optimizer.", stacklevel=3)
        return False
    state = {"iterations": np.asarray(arrays[0], dtype=np.int64)}
    if has_lr:
        state["learning_rate"] = np.asarray(arrays[1], dtype=np.float64)
    for (slot, i), array in zip(order, arrays[1 + has_lr:]):
        if tuple(np.shape(array)) != tuple(trainable[i].shape):
            warnings.warn(f"{source}: skipped the saved optimizer state: slot {slot} of '{trainable[i].path}' has "
                          f"shape {np.shape(array)}, the weight {trainable[i].shape}.", stacklevel=3)
            return False
        state[f"{slot}/{i}"] = np.array(array, dtype=trainable[i].value.dtype)
    optimizer.set_state(state)
    model._optimizer_order = [v.path for v in trainable]
    if model._engine is not None:
        model._match_optimizer_order()
    return True


# -- in .onnx files: metadata, and optimizer variables as initializers no node reads ------------
COMPILE_KEY = "onnxgraph.compile"
OPTIMIZER_KEY = "onnxgraph.optimizer"
OPTIMIZER_PREFIX = "onnxgraph.optimizer/"


def attach_training_state(proto, model, include_optimizer: bool) -> None:
    """Add the compile config (metadata JSON) and, when asked, the optimizer variables to `proto`.

    The variables become initializers `onnxgraph.optimizer/<i>` (Keras order) that no node
    reads: the inference graph is unchanged, and large states go to external data like weights.
    """
    import json

    from onnx import numpy_helper

    config = compile_config(model)
    if config is None:
        return
    proto.metadata_props.add(key=COMPILE_KEY, value=json.dumps(config))
    state = optimizer_variables(model) if include_optimizer else None
    if state is None:
        return
    name, arrays = state
    for i, array in enumerate(arrays):
        proto.graph.initializer.append(numpy_helper.from_array(np.asarray(array), f"{OPTIMIZER_PREFIX}{i}"))
    proto.metadata_props.add(key=OPTIMIZER_KEY, value=json.dumps({"name": name, "variables": len(arrays)}))


def restore_training_state(model, proto, custom_objects=None, source: str = "model") -> None:
    """compile() a model loaded from `proto` as it was saved, and restore its optimizer variables."""
    import json

    from onnx import numpy_helper

    meta = {p.key: p.value for p in proto.metadata_props}
    if COMPILE_KEY not in meta:
        return
    try:
        config = json.loads(meta[COMPILE_KEY])
        state = json.loads(meta.get(OPTIMIZER_KEY, "null"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{source}: the compile metadata is not valid JSON ({exc}).") from None
    if not compile_from_config(model, config, custom_objects, source) or not isinstance(state, dict):
        return
    count = state.get("variables")
    initializers = {t.name: t for t in proto.graph.initializer if t.name.startswith(OPTIMIZER_PREFIX)}
    if not isinstance(count, int) or any(f"{OPTIMIZER_PREFIX}{i}" not in initializers for i in range(count)):
        raise ValueError(f"{source}: the optimizer state lists {count} variables, but the file holds "
                         f"{len(initializers)} '{OPTIMIZER_PREFIX}*' initializers.")
    arrays = [numpy_helper.to_array(initializers[f"{OPTIMIZER_PREFIX}{i}"]) for i in range(count)]
    set_optimizer_variables(model, arrays, source)
