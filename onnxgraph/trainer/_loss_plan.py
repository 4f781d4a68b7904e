"""compile()'s `loss` / `loss_weights` matched to the model's output structure (Keras 3's CompileLoss.build).

A loss may cover one output or a sub-structure of outputs (dicts, tuples, namedtuples, nested
lists), several losses may cover one output, and `loss_weights` may mirror `loss`. The result is
a list of `LossTerm`s, each naming the flat outputs it reads and the structure it gets them in;
the graph builder emits one scalar per term, and the total is the weighted sum. Error types and
messages for structures that do not match are Keras's.
"""

from __future__ import annotations

import math
import numbers

from onnxgraph import losses as losses_module
from onnxgraph.utils._tree import flatten, map_structure, pack_like

__all__ = ["LossTerm", "LossPlan", "build_plan"]


class LossTerm:
    """One compiled loss: `loss(y_true[path], y_pred[path])`, scaled by `weight` in the total."""

    def __init__(self, path, loss, weight, name, structure):
        self.path, self.loss, self.weight, self.name = path, loss, weight, name
        self.structure = structure          # the outputs it reads, as flat output indices
        self.indices = flatten(structure)

    def pack(self, flat_tensors):
        return pack_like(self.structure, [flat_tensors[i] for i in self.indices])


class LossPlan(list):
    """Per flat output, the Loss that shapes its labels (None: no label); `.terms` are the losses."""

    def __init__(self, label_losses, terms):
        super().__init__(label_losses)
        self.terms = terms


class _Weighted:
    def __init__(self, loss, weight):
        self.loss, self.weight = loss, weight


def _nested(x) -> bool:
    return isinstance(x, (list, tuple, dict))


def _map2(fn, a, b):
    flat_b = flatten(b)
    flat_a = flatten(a)
    return pack_like(a, [fn(x, y) for x, y in zip(flat_a, flat_b)])


def _check_weight(value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
        raise ValueError(f"compile(): each `loss_weights` entry must be a finite float >= 0, got {value!r}.")
    return float(value)


def build_plan(model, loss, loss_weights, y_shapes=None) -> LossPlan:
    """Keras's rules; `y_shapes` (per flat output) resolve "crossentropy"."""
    if loss_weights and not isinstance(loss_weights, (list, tuple, dict, float, int)):
        raise ValueError("Expected `loss_weights` argument to be a float (single output case) or a list, tuple, or "
                         f"dict (multiple output case). Received instead: loss_weights={loss_weights} of type "
                         f"{type(loss_weights)}")
    flat_outputs = list(model.outputs)
    n = len(flat_outputs)
    y_pred = pack_like(model._outputs_struct, list(range(n))) if n > 1 or _nested(model._outputs_struct) else 0
    # Keras's flat output names are the output layers' names (onnxgraph's list names are those, deduplicated).
    names = list(model.output_names) if not isinstance(model._outputs_struct, dict) else \
        [x._keras_history.layer.name for x in flat_outputs]
    if isinstance(loss, dict) and not isinstance(y_pred, dict):
        if set(names) != set(loss):
            raise ValueError(f"Expected keys {names} in loss dict, but found loss.keys()={list(loss)}")
        loss = [loss[name] for name in names]
        if isinstance(loss_weights, dict):
            loss_weights = [loss_weights[name] for name in names]
    wrap = (lambda x, w: None if x is None else _Weighted(x, _check_weight(w)))
    if loss_weights is not None:
        if not _nested(loss_weights) and not _nested(loss):
            loss = wrap(loss, loss_weights)
        else:
            if len(flatten(loss)) != len(flatten(loss_weights)):
                raise ValueError(f"`loss_weights` must match the number of losses, got {len(flatten(loss))} "
                                 f"losses and {len(flatten(loss_weights))} weights.")
            loss = _map2(wrap, loss, loss_weights)
    else:
        loss = map_structure(lambda x: wrap(x, None), loss) if _nested(loss) else wrap(loss, None)
    if isinstance(loss, dict) and isinstance(y_pred, (list, tuple)) and set(loss) == set(names):
        y_pred = dict(zip(names, y_pred))
    out_names = pack_like(y_pred, names) if _nested(y_pred) else names[0]
    if not _nested(loss):
        loss = map_structure(lambda _: loss, y_pred) if _nested(y_pred) else loss
    terms: list[LossTerm] = []
    _build(y_pred, loss, out_names, (), terms, model, y_shapes)
    if not terms:
        raise ValueError(f"Model '{model.name}' was compiled without a loss; pass `loss=` to compile() "
                         "before fit() or evaluate().")
    label_losses, alone = [None] * n, set()
    for term in terms:  # a loss on that output alone shapes its labels (sparse CE: int ids)
        for i in term.indices:
            if label_losses[i] is None or (len(term.indices) == 1 and i not in alone):
                label_losses[i] = term.loss
                if len(term.indices) == 1:
                    alone.add(i)
    return LossPlan(label_losses, terms)


def _build(y_pred, loss, out_names, path, terms, model, y_shapes):
    flat_pred = flatten(y_pred)
    if not _nested(loss):
        if loss is None:
            return
        first = flat_pred[0]
        shape = None if not y_shapes else y_shapes[first]
        resolved = losses_module.get(loss.loss, y_true_shape=shape, y_pred_shape=tuple(model.outputs[first].shape))
        name_path = path
        if not _nested(out_names):
            output_name = out_names if out_names is not None else resolved.name
            if not name_path:
                name_path = (output_name,)
            elif isinstance(name_path[-1], int):
                name_path = name_path[:-1] + (output_name,)
        name = "/".join(str(p) for p in name_path)
        if name == "":
            name = "_".join(list(out_names) if isinstance(out_names, dict) else flatten(out_names))
        terms.append(LossTerm(path, resolved, loss.weight, name, y_pred))
        return
    if isinstance(loss, (list, tuple)) and not any(_nested(x) for x in loss) and len(loss) == len(flat_pred):
        loss = pack_like(y_pred, list(loss))
    elif isinstance(loss, (list, tuple)) and not isinstance(y_pred, type(loss)):
        for item in loss:
            _build(y_pred, item, out_names, path, terms, model, y_shapes)
        return
    if not _nested(loss):
        return _build(y_pred, loss, out_names, path, terms, model, y_shapes)
    if not isinstance(loss, type(y_pred)):
        raise KeyError(f"The path: {path} in the `loss` argument, can't be found in the model's output (`y_pred`).")
    items = loss.items() if isinstance(loss, dict) else enumerate(loss)
    for key, item in items:
        if item is None:
            continue
        found = key in y_pred if isinstance(y_pred, dict) else isinstance(y_pred, (list, tuple)) and key < len(y_pred)
        if not found:
            raise KeyError(f"The path: {path + (key,)} in the `loss` argument, can't be found in either the model's "
                           "output (`y_pred`) or in the labels (`y_true`).")
        _build(y_pred[key], item, out_names[key], path + (key,), terms, model, y_shapes)
