"""Keras weight files into onnxgraph models: `.weights.h5`, `.keras` archives, legacy `.h5`.

Keras 3 writes one HDF5 group per saved object, keyed by *class* (``layers/dense_1/vars/0``,
nested models under ``layers/functional/layers/...``, sublayers under attribute names such as
``layers/lstm/cell/vars/0``) and records the layer name as the ``name`` attribute of each
``vars`` group. A layer is found here by its name when every weighted layer of the model has
a same-named entry in the file (Keras 3.6+ files from a model with the same layer names),
otherwise by Keras's own structural key, so files from models with other auto-names load too.
Legacy Keras 2 style `.h5` files (``layer_names`` / ``weight_names`` attributes, the format of
the keras.applications ImageNet downloads) are matched by layer name, else by order.

Everything is checked before anything is assigned: a failed load leaves the model unchanged.
The file is data: external links, external storage, virtual datasets and plugin filters are
refused, and a `.keras` archive may not expand past what the model can hold (`_h5_safety`).
"""

from __future__ import annotations

import contextlib
import os
import warnings
import zipfile

import numpy as np

from onnxgraph.saving._h5_safety import check_h5_file, read_archive_member

__all__ = ["load_weights"]

# Keras's weights order for built-in composite layers, as the sublayer groups it saves.
_CHILD_ORDER = {
    "Bidirectional": ["forward_layer", "backward_layer"],
    "MultiHeadAttention": ["query_dense", "key_dense", "value_dense", "output_dense"],
}


def load_weights(model, filepath, skip_mismatch: bool = False) -> None:
    """Assign the weights stored in a Keras weights file to `model`, layer by layer.

    Args:
        model: an onnxgraph Model with the same architecture as the saved Keras model.
        filepath: a Keras 3 `.weights.h5`, a `.keras` archive, or a legacy `.h5` file.
        skip_mismatch: warn about (and skip) missing layers and shape mismatches instead of raising.

    Example (a Keras model and the same architecture built with onnxgraph)::

        keras_model.save_weights("m.weights.h5")
        og_model.load_weights("m.weights.h5")
    """
    source = os.fspath(filepath)
    if not os.path.isfile(source):
        raise FileNotFoundError(f"load_weights: no file at {source!r}.")
    with _open_h5(source, model) as f:
        try:
            if "layers" in f or "vars" in f:
                pairs, problems = _Keras3(source).model(model, f, "")
            elif "layer_names" in f.attrs or "model_weights" in f:
                pairs, problems = _legacy(model, f["model_weights"] if "model_weights" in f else f, source)
            else:
                raise ValueError(f"{source} holds no Keras weights (no 'layers' group and no 'layer_names' "
                                 "attribute).")
        except (KeyError, TypeError, AttributeError) as exc:  # names the file lists but does not hold
            raise ValueError(f"{source}: the weights file is inconsistent ({type(exc).__name__}: {exc}); it "
                             "lists layers or weights it does not contain. Re-save it with Keras.") from None
        if problems and not skip_mismatch:
            raise ValueError(f"Cannot load weights from {source} into model '{model.name}':\n  - "
                             + "\n  - ".join(problems)
                             + "\nPass skip_mismatch=True to load the layers that do match.")
        for problem in problems:
            warnings.warn(f"load_weights({source}): skipped: {problem}", stacklevel=2)
        values = [(variable, np.asarray(dataset[()])) for variable, dataset in pairs]
    for variable, value in values:
        variable.assign(value.astype(variable.value.dtype, copy=False))


@contextlib.contextmanager
def _open_h5(path, model=None):
    """The HDF5 file (of a `.weights.h5`/`.h5` path, or inside a `.keras` zip), checked by
    `_h5_safety.check_h5_file` before anything is matched or read."""
    try:
        import h5py
    except ImportError:
        raise ImportError("Reading Keras weight files needs h5py: pip install h5py "
                          "(or onnxgraph[keras-weights]).") from None
    if os.path.getsize(path) == 0:
        raise ValueError(f"{path} is empty (0 bytes); expected a Keras weights file (.weights.h5, .keras or .h5).")
    if zipfile.is_zipfile(path):
        try:
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise ValueError(f"{path} looks like a .keras zip archive but cannot be read ({exc}).") from None
        with archive:
            names = archive.namelist()
            if "model.weights.h5" not in names:
                hint = (" It stores sharded weights (model.weights.json); load them in Keras and save "
                        "with model.save_weights('x.weights.h5').") if "model.weights.json" in names else ""
                raise ValueError(f"{path} is a zip archive without model.weights.h5 (it has {names[:20]}).{hint}")
            model_bytes = sum(int(np.prod(w.shape, dtype=np.int64)) * w.value.dtype.itemsize
                              for w in (model.weights if model is not None else []))
            try:
                data = read_archive_member(archive, "model.weights.h5", model_bytes, path)
            except (zipfile.BadZipFile, EOFError, OSError) as exc:
                raise ValueError(f"{path}: model.weights.h5 in the archive is damaged ({exc}).") from None
        opener = lambda: h5py.File(data, "r")  # noqa: E731
    else:
        opener = lambda: h5py.File(path, "r")  # noqa: E731
    try:
        handle = opener()
    except OSError as exc:
        raise ValueError(f"{path} is neither an HDF5 weights file nor a .keras archive, or it is truncated "
                         f"({exc}).") from None
    try:
        check_h5_file(handle, path)
        yield handle
    finally:
        handle.close()


def _keras_class(layer) -> str:
    return layer._class_name() if hasattr(layer, "_class_name") else type(layer).__name__


def _is_model(layer) -> bool:
    return getattr(layer, "_functional", False) and hasattr(layer, "layers")


def _text(value) -> str:
    return value.decode("utf8") if isinstance(value, bytes) else str(value)


def _describe(variables) -> str:
    return "[" + ", ".join(f"{v.name} {tuple(v.shape)}" for v in variables) + "]"


class _Keras3:
    """Matching for the Keras 3 layout; collects (variable, dataset) pairs and problems."""

    def __init__(self, source):
        self.source = source
        self.pairs, self.problems = [], []

    def model(self, model, group, path):
        if _is_model(model):
            self._model(model, group, path)
        else:  # a subclassed model: Keras saves its sublayers under their attribute names
            self._layer(model, group, path.rstrip("/"))
        return self.pairs, self.problems

    def _model(self, model, group, path):
        """Match a model's layers by name when every weighted one has a named entry, else by
        Keras's structural keys; when that fails too, report the by-name comparison."""
        container = group.get("layers")
        entries = {} if container is None else {key: f"{path}layers/{key}" for key in container.keys()}
        names = {}
        for key in entries:
            vars_group = container[key].get("vars")
            if vars_group is not None and "name" in vars_group.attrs:
                names[_text(vars_group.attrs["name"])] = key
        weighted = [layer for layer in model.layers if layer.weights]
        if names and all(layer.name in names for layer in weighted):
            attempt = self._match(model, container, entries, path, names)
        else:
            attempt = self._match(model, container, entries, path, None)
            if attempt.problems and names:
                attempt = self._match(model, container, entries, path, names)
        self.pairs += attempt.pairs
        self.problems += attempt.problems

    def _match(self, model, container, entries, path, names):
        """One attempt: by `names` (layer name -> key) or, when None, by structural key."""
        from onnxgraph.utils._naming import to_snake_case

        attempt = _Keras3(self.source)
        counters, used = {}, set()
        for layer in model.layers:
            base = to_snake_case(_keras_class(layer))
            key = base if base not in counters else f"{base}_{counters[base] + 1}"
            counters[base] = counters.get(base, -1) + 1
            if not layer.weights:
                continue
            if names is not None:
                key = names.get(layer.name)
            if key not in entries:
                looked = f"an entry named '{layer.name}'" if names is not None else f"'{path}layers/{key}'"
                attempt.problems.append(
                    f"layer '{layer.name}' ({_keras_class(layer)}, weights {_describe(layer.weights)}) has no "
                    f"entry in the file (looked for {looked}); the file has entries for "
                    f"{self._listing(container, [k for k in entries if _count_arrays(container[k])])}."
                )
                continue
            used.add(key)
            if _is_model(layer):
                attempt._model(layer, container[key], f"{entries[key]}/")
            else:
                attempt._layer(layer, container[key], entries[key])
        unused = [k for k in entries if k not in used and _count_arrays(container[k])]
        if unused:
            attempt.problems.append(f"the file has weights for layers the model does not have: "
                                    f"{self._listing(container, unused)}.")
        return attempt

    def _layer(self, layer, group, path):
        variables = layer.weights
        arrays = _flatten(group, path, _keras_class(layer), layer)
        if arrays is None or len(arrays) != len(variables):
            # Sublayers saved under attribute names this layer does not share (a subclassed
            # model's `layers` list, say): match each sublayer by its recorded name instead.
            by_name = _sublayers_by_name(layer, group, path) if _children(group) else None
            if by_name is not None:
                arrays = by_name
        if arrays is None:
            self.problems.append(f"layer '{layer.name}' ({_keras_class(layer)}): cannot tell how its sublayers "
                                 f"map to the groups under '{path}' ({sorted(group.keys())}).")
            return
        if len(arrays) != len(variables):
            shapes = [tuple(d.shape) for _, d in arrays]
            self.problems.append(f"layer '{layer.name}' ({_keras_class(layer)}) has {len(variables)} weights "
                                 f"{_describe(variables)}, the file has {len(arrays)} at '{path}' {shapes}.")
            return
        for variable, (array_path, dataset) in zip(variables, arrays):
            if tuple(dataset.shape) != tuple(variable.shape):
                self.problems.append(f"layer '{layer.name}' weight '{variable.name}': the model expects shape "
                                     f"{tuple(variable.shape)}, the file has {tuple(dataset.shape)} "
                                     f"('{array_path}').")
            else:
                self.pairs.append((variable, dataset))

    @staticmethod
    def _listing(container, keys) -> str:
        items = []
        for key in keys:
            vars_group = container[key].get("vars")
            name = _text(vars_group.attrs["name"]) if vars_group is not None and "name" in vars_group.attrs else None
            items.append(f"'{key}'" + (f" (layer '{name}')" if name and name != key else ""))
        return ", ".join(items) if items else "nothing"


def _own_arrays(group, path):
    vars_group = group.get("vars")
    if vars_group is None:
        return []
    return [(f"{path}/vars/{k}", vars_group[k]) for k in sorted(vars_group.keys(), key=int)]


def _children(group) -> list:
    import h5py

    return [k for k in group.keys() if k != "vars" and isinstance(group[k], h5py.Group) and _count_arrays(group[k])]


def _count_arrays(group) -> int:
    import h5py

    count = len(group["vars"].keys()) if "vars" in group else 0
    return count + sum(_count_arrays(group[k]) for k in group.keys()
                       if k != "vars" and isinstance(group[k], h5py.Group))


def _flatten(group, path, class_name, layer=None):
    """The arrays of one saved layer in Keras's `weights` order, or None when that is unknowable.

    Own variables come first; sublayers follow in the order Keras's `weights` lists them: a
    single sublayer (RNN `cell`, TimeDistributed `layer`), a known composite's order, or, for
    custom layers and subclassed models, the order of `layer`'s own sublayer attributes with
    the same names.
    """
    arrays = _own_arrays(group, path)
    children = _children(group)
    if not children:
        return arrays
    order = [(child, None) for child in _CHILD_ORDER.get(class_name, [])] or None
    if order is None and layer is not None:
        order = _attribute_order(layer, children)
    if order is None and len(children) == 1:
        order = [(children[0], None)]
    if order is None or set(children) - {child for child, _ in order}:
        return None
    for child, sublayer in order:
        if child in children:
            sub = _flatten(group[child], f"{path}/{child}", sublayer and _keras_class(sublayer), sublayer)
            if sub is None:
                return None
            arrays += sub
    return arrays


def _attribute_order(layer, children):
    """(child group name, sublayer) in the order the layer's sublayers appear in `layer.weights`."""
    from onnxgraph.layers._layer import Layer

    attrs = {}
    for attr, value in vars(layer).items():
        if isinstance(value, Layer) and value is not layer:
            attrs.setdefault(id(value), attr.lstrip("_"))
    order = [(attrs.get(id(sub)), sub) for sub in layer._layers if sub.weights]
    return order if set(children) <= {name for name, _ in order if name} else None


def _sublayers_by_name(layer, group, path):
    """Arrays in `layer.weights` order, finding each (sub)layer's own variables by the name Keras
    recorded on its `vars` group anywhere below `group`; None when a name is missing or repeated."""
    import h5py

    found, repeated = {}, set()

    def visit(name, obj):
        if isinstance(obj, h5py.Group) and name.split("/")[-1] == "vars" and "name" in obj.attrs and len(obj.keys()):
            key = _text(obj.attrs["name"])
            if key in found:
                repeated.add(key)
            found[key] = (f"{path}/{name}", obj)

    group.visititems(visit)
    if "vars" in group and len(group["vars"].keys()):
        found[layer.name] = (f"{path}/vars", group["vars"])
    by_variable = {}
    for owner in _layer_tree(layer):
        own = owner._trainable_vars + owner._non_trainable_vars
        if not own:
            continue
        if owner.name not in found or owner.name in repeated:
            return None
        vars_path, vars_group = found[owner.name]
        datasets = [(f"{vars_path}/{k}", vars_group[k]) for k in sorted(vars_group.keys(), key=int)]
        if len(datasets) != len(own):
            return None
        by_variable.update({id(v): d for v, d in zip(own, datasets)})
    if len(by_variable) != len(layer.weights):
        return None
    return [by_variable[id(v)] for v in layer.weights]


def _layer_tree(layer):
    yield layer
    for sub in layer._layers:
        yield from _layer_tree(sub)


def _legacy(model, group, source):
    """Keras 2 style files: `layer_names`, and per layer `weight_names` in saving order."""
    names = [_text(n) for n in group.attrs.get("layer_names", [])]
    saved = {n: [group[n][_text(w)] for w in group[n].attrs.get("weight_names", [])] for n in names}
    saved_weighted = [n for n in names if saved[n]]
    ours = [layer for layer in model.layers if layer.weights]
    pairs, problems = [], []
    if all(layer.name in saved for layer in ours):
        matches = [(layer, layer.name) for layer in ours]
        unused = [n for n in saved_weighted if n not in {layer.name for layer in ours}]
    elif len(ours) == len(saved_weighted):
        matches = list(zip(ours, saved_weighted))
        unused = []
    else:
        missing = [layer.name for layer in ours if layer.name not in saved]
        return [], [f"layers {missing} are not in the file, and the model has {len(ours)} layers with weights "
                    f"while the file has {len(saved_weighted)} ({saved_weighted})."]
    for layer, name in matches:
        # Legacy files list a layer's trainable weights, then its non-trainable ones.
        variables = layer.trainable_weights + layer.non_trainable_weights
        datasets = saved[name]
        if len(datasets) != len(variables):
            problems.append(f"layer '{layer.name}' has {len(variables)} weights {_describe(variables)}, the file "
                            f"has {len(datasets)} for '{name}' {[tuple(d.shape) for d in datasets]}.")
            continue
        for variable, dataset in zip(variables, datasets):
            if tuple(dataset.shape) != tuple(variable.shape):
                problems.append(f"layer '{layer.name}' weight '{variable.name}': the model expects shape "
                                f"{tuple(variable.shape)}, the file has {tuple(dataset.shape)} ('{dataset.name}').")
            else:
                pairs.append((variable, dataset))
    if unused:
        problems.append(f"the file has weights for layers the model does not have: {unused}.")
    return pairs, problems
