"""Learning-rate schedules (Keras 3 formulas, names and configs).

A schedule is a callable `schedule(step) -> float`; an optimizer evaluates it at its
`iterations` (the number of updates already applied) before each update, like Keras.

    from onnxgraph.optimizers import SGD, schedules
    lr = schedules.ExponentialDecay(0.1, decay_steps=100, decay_rate=0.96, staircase=True)
    opt = SGD(learning_rate=lr)

`serialize(schedule)` gives Keras's `{"module", "class_name", "config", "registered_name"}`
layout; `deserialize(config)` resolves built-ins by class name and custom schedules through
`onnxgraph.saving.register_serializable`.
"""

from __future__ import annotations

from onnxgraph.optimizers.schedules._schedules import (CosineDecay, ExponentialDecay, InverseTimeDecay,
                                                       LearningRateSchedule, PiecewiseConstantDecay,
                                                       PolynomialDecay)

__all__ = ["LearningRateSchedule", "ExponentialDecay", "PiecewiseConstantDecay", "PolynomialDecay",
           "InverseTimeDecay", "CosineDecay", "serialize", "deserialize"]

_BUILTINS = {cls.__name__: cls for cls in (ExponentialDecay, PiecewiseConstantDecay, PolynomialDecay,
                                           InverseTimeDecay, CosineDecay)}


def serialize(schedule: LearningRateSchedule) -> dict:
    """Keras-layout config dict of a schedule.

    A plain function is recorded by name (`{"class_name": "function", "config": name}`), like
    Keras; `deserialize` finds it again in `custom_objects` or the `register_serializable` registry.

    Args:
        schedule: a `LearningRateSchedule` with `get_config()`, or a callable.

    Returns:
        `{"module", "class_name", "config", "registered_name"}`.

    Example:
        >>> serialize(ExponentialDecay(0.1, 10, 0.9))["class_name"]
        'ExponentialDecay'
    """
    from onnxgraph.saving import get_registered_name

    if not isinstance(schedule, LearningRateSchedule):
        name = getattr(schedule, "__name__", type(schedule).__name__)
        return {"module": getattr(schedule, "__module__", None), "class_name": "function", "config": name,
                "registered_name": get_registered_name(schedule)}
    name = type(schedule).__name__
    builtin = _BUILTINS.get(name) is type(schedule)
    return {"module": "keras.optimizers.schedules" if builtin else type(schedule).__module__,
            "class_name": name, "config": schedule.get_config(),
            "registered_name": None if builtin else get_registered_name(type(schedule))}


def deserialize(config: dict, custom_objects: dict | None = None):
    """Rebuild a schedule from `serialize`'s dict (built-ins, registered or `custom_objects` classes).

    Example:
        >>> deserialize(serialize(CosineDecay(0.1, 100))).decay_steps
        100
    """
    from onnxgraph.saving import get_registered_object

    name = config.get("class_name")
    if name == "function":
        fn_name = config.get("config")
        fn = get_registered_object(fn_name, custom_objects, config.get("registered_name"))
        if fn is None or not callable(fn) or isinstance(fn, type):
            raise ValueError(
                f"The learning rate was the function '{fn_name}', which a config cannot hold. Pass it again: "
                f"custom_objects={{'{fn_name}': {fn_name}}}, or register it with register_serializable()."
            )
        return fn
    cls = (custom_objects or {}).get(name) or _BUILTINS.get(name)
    if cls is None:
        cls = get_registered_object(name, custom_objects, config.get("registered_name"))
    if cls is None or not (isinstance(cls, type) and issubclass(cls, LearningRateSchedule)):
        raise ValueError(
            f"Unknown learning rate schedule '{name}'. Built-ins: {sorted(_BUILTINS)}; register a custom "
            "schedule with onnxgraph.saving.register_serializable() or pass custom_objects={name: cls}."
        )
    return cls.from_config(dict(config.get("config", {})))
