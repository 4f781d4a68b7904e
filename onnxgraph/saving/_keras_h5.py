"""Writing Keras 3's weights layout (`model.weights.h5` in `.keras` archives, `.weights.h5` files).

Keras 3 (`keras/src/saving/saving_lib.py`, `_save_state`) writes one HDF5 group per saveable
object: its own variables as datasets `vars/0`, `vars/1`, ... with the object's `name` as
an attribute of `vars`. A Functional or Sequential model's layers go under `layers/` keyed by
*class* in snake case, numbered by repetition (`dense`, `dense_1`; an InputLayer is
`input_layer`); other sublayers go under the attribute that holds them (`cell`,
`forward_layer`, `query_dense`), lists of them under the attribute with class keys, and the
optimizer under `optimizer`. Attributes are visited in Keras's order (sorted, private names
last) and each object is written once, where it is first reached. The reader of this layout
is `_keras_weights.py`.
"""

from __future__ import annotations

import functools
import io

import numpy as np

__all__ = ["write_weights", "weights_h5_bytes"]


def weights_h5_bytes(model, optimizer_variables=None) -> bytes:
    """The HDF5 file Keras would write for `model` (and its optimizer's variables, in Keras order)."""
    buffer = io.BytesIO()
    write_weights(model, buffer, optimizer_variables)
    return buffer.getvalue()


def write_weights(model, target, optimizer_variables=None) -> None:
    """Write `model`'s weights in Keras 3's layout to `target` (a path or a binary file object)."""
    try:
        import h5py
    except ImportError:
        raise ImportError("Writing Keras weight files needs h5py: pip install h5py.") from None
    with h5py.File(target, "w") as f:
        visited: set[int] = set()
        _save(model, f, "", visited)
        if optimizer_variables is not None:
            group = f.create_group("optimizer").create_group("vars")
            group.attrs["name"] = optimizer_variables[0]
            for i, array in enumerate(optimizer_variables[1]):
                group.create_dataset(str(i), data=np.asarray(array))


def _own_variables(obj) -> list:
    return list(getattr(obj, "_trainable_vars", [])) + list(getattr(obj, "_non_trainable_vars", []))


def _save(obj, f, path: str, visited: set) -> None:
    if id(obj) in visited:
        return
    visited.add(id(obj))
    group = f.create_group(f"{path}/vars" if path else "vars")
    group.attrs["name"] = obj.name
    for i, variable in enumerate(_own_variables(obj)):
        group.create_dataset(str(i), data=np.asarray(variable.value))
    for attr, child in _children(obj):
        child_path = f"{path}/{attr}" if path else attr
        if isinstance(child, (list, tuple, dict)):
            _save_container(list(child.values()) if isinstance(child, dict) else child, f, child_path, visited)
        else:
            _save(child, f, child_path, visited)


def _save_container(items, f, path: str, visited: set) -> None:
    from onnxgraph.layers._layer import Layer
    from onnxgraph.utils._naming import to_snake_case

    used: dict[str, int] = {}
    for item in items:
        if not isinstance(item, Layer):
            continue
        base = to_snake_case(_keras_class(item))
        used[base] = used.get(base, -1) + 1
        key = base if used[base] == 0 else f"{base}_{used[base]}"
        _save(item, f, f"{path}/{key}", visited)


def _keras_class(layer) -> str:
    return layer._class_name() if hasattr(layer, "_class_name") else type(layer).__name__


def _children(obj):
    """(attribute, Layer or container of Layers) in the order Keras's `_walk_saveable` visits them."""
    from onnxgraph.layers._layer import Layer

    if getattr(obj, "_functional", False):  # Functional and Sequential: their layers, first
        yield "layers", obj.layers
        return
    skip = _base_attributes()
    for attr in sorted(set(dir(type(obj))) | set(vars(obj)), key=lambda a: f"~{a}" if a.startswith("_") else a):
        if attr.startswith("__") or attr in skip:
            continue
        try:
            value = getattr(obj, attr)
        except Exception:  # noqa: BLE001 - Keras skips attributes that cannot be read, too
            continue
        if isinstance(value, Layer) and value is not obj:
            yield attr, value
        elif isinstance(value, (list, tuple)) and any(isinstance(v, Layer) for v in value):
            yield attr, value
        elif isinstance(value, dict) and any(isinstance(v, Layer) for v in value.values()):
            yield attr, value


@functools.lru_cache(maxsize=1)
def _base_attributes() -> frozenset:
    """What a bare Layer has: Keras skips those attributes (`get_attr_skipset("Layer")`)."""
    from onnxgraph.layers._layer import Layer

    return frozenset(dir(Layer(name="__attribute_reference__")))
