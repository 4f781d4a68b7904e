"""Optimizers with Keras 3's names, defaults and exact update formulas, applied in numpy.

Interface for the training engine (onnxruntime-training computes the gradients; the
optimizer updates the parameter buffers in place):

    opt = optimizers.get("adam")          # name (any case), config dict, or Optimizer instance
    opt.apply(params, grads)              # params: list of writable float numpy arrays, same
                                          # list and order every step; grads: same shapes
                                          # (None skips one). Updates params IN PLACE, then
                                          # opt.iterations += 1.
    opt.learning_rate                     # float the NEXT step uses (schedules evaluated at
                                          # opt.iterations); settable to a float when it was
                                          # created with a float (ReduceLROnPlateau)
    opt.iterations                        # int, steps applied so far (settable on resume)
    state = opt.get_state()               # {"iterations", "learning_rate" (float lr only),
    opt.set_state(state)                  #  "<slot>/<param index>": array}: np.savez-ready
    opt.get_config() / Cls.from_config()  # Keras-layout config; serialize/deserialize add class_name

One step does, in Keras 3's order: divide by `loss_scale_factor`, clip (`clipnorm` per
gradient, `global_clipnorm` over all, or `clipvalue`), decoupled weight decay
`w -= w * weight_decay * lr` (AdamW's default 0.004; any optimizer accepts `weight_decay`),
the optimizer's update, `iterations += 1`. Math runs in the parameter's dtype (float32),
like Keras.

Example:
    >>> import numpy as np
    >>> from onnxgraph import optimizers
    >>> w = np.ones((2, 2), np.float32)
    >>> opt = optimizers.get("sgd")
    >>> opt.apply([w], [np.full((2, 2), 10.0, np.float32)])
    >>> round(float(w[0, 0]), 6), opt.iterations
    (0.9, 1)
"""

from __future__ import annotations

from onnxgraph.optimizers import schedules
from onnxgraph.optimizers._adagrad import Adagrad
from onnxgraph.optimizers._adam import Adam, AdamW
from onnxgraph.optimizers._base import Optimizer
from onnxgraph.optimizers._rmsprop import RMSprop
from onnxgraph.optimizers._sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "schedules", "get", "serialize",
           "deserialize"]

_BY_NAME = {cls.__name__.lower(): cls for cls in (SGD, Adam, AdamW, RMSprop, Adagrad)}


def serialize(optimizer: Optimizer) -> dict:
    """Keras-layout dict: `{"module", "class_name", "config", "registered_name"}`.

    Example:
        >>> serialize(Adam())["class_name"]
        'Adam'
    """
    from onnxgraph.saving import get_registered_name

    cls = type(optimizer)
    builtin = _BY_NAME.get(cls.__name__.lower()) is cls
    return {"module": "keras.optimizers" if builtin else cls.__module__, "class_name": cls.__name__,
            "config": optimizer.get_config(), "registered_name": None if builtin else get_registered_name(cls)}


def deserialize(config: dict, custom_objects: dict | None = None) -> Optimizer:
    """Rebuild an optimizer from `serialize`'s dict; built-in class names are case-insensitive.

    Example:
        >>> deserialize({"class_name": "rmsprop", "config": {"rho": 0.8}}).rho
        0.8
    """
    from onnxgraph.saving import get_registered_object

    name = config.get("class_name", "")
    cls = (custom_objects or {}).get(name) or _BY_NAME.get(name.lower())
    if cls is None:
        cls = get_registered_object(name, custom_objects, config.get("registered_name"))
    if not (isinstance(cls, type) and issubclass(cls, Optimizer)):
        raise ValueError(
            f"Could not interpret optimizer identifier: '{name}'. Known optimizers: {sorted(_BY_NAME)}; "
            "a custom Optimizer subclass must be registered with onnxgraph.saving.register_serializable()."
        )
    return cls.from_config(dict(config.get("config", {})), custom_objects)


def get(identifier) -> Optimizer:
    """An Optimizer from a name ("adam", "SGD", "rmsprop", ...), a config dict, or an instance.

    Args:
        identifier: str, dict from `serialize`, or an `Optimizer` (returned unchanged).

    Returns:
        An Optimizer instance with Keras's defaults for a name.

    Example:
        >>> get("adamw").weight_decay
        0.004
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        return deserialize({"class_name": identifier, "config": {}})
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise ValueError(
        f"Could not interpret optimizer identifier: {identifier!r}. Pass a name such as 'adam', a config "
        "dict, or an onnxgraph.optimizers.Optimizer instance."
    )
