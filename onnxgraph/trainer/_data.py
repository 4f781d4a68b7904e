"""What fit/evaluate accept as data, turned into batches of flat numpy lists.

Arrays, lists of arrays and dicts keyed by input/output name are sliced into batches
(shuffled per epoch from a seed, so a resumed run sees the same order); Python iterables
and generators yield batches `(x, y)` or `(x, y, sample_weight)` themselves.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from onnxgraph.runtime._feeds import InputSignature, normalize_feeds
from onnxgraph.utils._tree import flatten

__all__ = ["DataSpec", "ArrayData", "IterableData", "make_data", "split_validation", "is_array_like"]


def is_array_like(x) -> bool:
    return isinstance(x, np.ndarray) or (hasattr(x, "__array__") and hasattr(x, "shape"))


def _is_structure_of_arrays(x) -> bool:
    if x is None:
        return True
    if isinstance(x, dict):
        return all(_is_structure_of_arrays(v) for v in x.values())
    if isinstance(x, (list, tuple)):
        # None entries stay arrays' business: the feeds say which input is not optional.
        return all(v is None or is_array_like(v) or isinstance(v, (list, tuple)) and v and not isinstance(v[0], tuple)
                   for v in x)
    return is_array_like(x)


class DataSpec:
    """How to turn user structures into flat lists: model inputs, per-output targets and weights."""

    def __init__(self, model, losses):
        self.model = model
        self.losses = losses
        self.signatures = [InputSignature(n, x.shape, x.dtype) for n, x in zip(model.input_names, model.inputs)]
        self.output_names = list(model.output_names)
        self.pred_shapes = [x.shape for x in model.outputs]

    def inputs(self, x) -> list[np.ndarray]:
        feeds = normalize_feeds(x, self.signatures)
        return [feeds[s.name] for s in self.signatures]

    def per_output(self, value, what: str, allow_single=True) -> list:
        """A value for each output from an array, list or dict (None stays None)."""
        n = len(self.output_names)
        if value is None:
            return [None] * n
        struct = getattr(self.model, "_outputs_struct", None)
        if isinstance(value, dict) and isinstance(struct, dict) and set(value) <= set(struct) and \
                len(struct) != n:  # nested dict outputs: the value follows their structure
            return _flatten_like(value, struct, what)
        if isinstance(value, dict):
            unknown = [k for k in value if k not in self.output_names]
            if unknown:
                raise ValueError(f"{what} has key(s) {unknown} that are not outputs of model "
                                 f"'{self.model.name}'; its outputs are {self.output_names}.")
            return [value.get(name) for name in self.output_names]
        if isinstance(value, (list, tuple)) and n > 1:
            if len(value) != n:
                raise ValueError(f"Model '{self.model.name}' has {n} outputs {self.output_names}, but {what} is a "
                                 f"{type(value).__name__} of {len(value)}. Pass one per output, or a dict by name.")
            return list(value)
        if isinstance(value, (list, tuple)) and len(value) == 1 and is_array_like(value[0]):
            return [value[0]]
        if n > 1 and allow_single:
            return [value] * n
        if n > 1:
            raise ValueError(f"Model '{self.model.name}' has {n} outputs {self.output_names}; pass {what} as a list "
                             "or a dict keyed by output name.")
        return [value]

    def targets(self, y) -> list:
        """Targets per output, coerced to each loss's label spec (None where no loss)."""
        values = self.per_output(y, "y", allow_single=False)
        result = []
        for name, value, loss, shape in zip(self.output_names, values, self.losses, self.pred_shapes):
            if loss is None:  # no loss: kept only for metrics
                result.append(None if value is None else np.asarray(value))
                continue
            if value is None:
                raise ValueError(f"No target given for output '{name}', which has the loss '{loss.name}'. "
                                 f"Pass y for every output with a loss: {self.output_names}.")
            result.append(loss.coerce_labels(np.asarray(value), shape))
        return result

    def weights(self, sample_weight, class_weight, targets, batch: int) -> list:
        """float32 (batch,) sample weights per loss-bearing output (ones when not given)."""
        if class_weight is not None:
            if sample_weight is not None:
                raise ValueError("Pass either `class_weight` or `sample_weight` to fit(), not both.")
            live = [t for t in targets if t is not None]
            if len(self.output_names) > 1:
                raise ValueError("`class_weight` is only supported for models with a single output; use "
                                 "`sample_weight` per output instead.")
            sample_weight = class_weight_to_sample_weights(live[0], class_weight)
        values = self.per_output(sample_weight, "sample_weight")
        result = []
        for value, target in zip(values, targets):
            if target is None:
                result.append(None)
            elif value is None:
                result.append(np.ones((batch,), np.float32))
            else:
                value = np.asarray(value, dtype=np.float32)
                if value.ndim == 2 and value.shape[1] == 1:
                    value = value[:, 0]
                if value.shape != (batch,):
                    raise ValueError(f"sample_weight must have shape ({batch},) (one weight per sample), got "
                                     f"{value.shape}.")
                result.append(value)
        return result


def _flatten_like(value, struct, what: str) -> list:
    """`value` flattened in the order of the output structure `struct` (None where it has no entry)."""
    if isinstance(struct, dict):
        if not isinstance(value, dict):
            raise ValueError(f"{what} must follow the model's output structure: expected a dict with keys "
                             f"{list(struct)}, got {type(value).__name__}.")
        return [x for k in struct for x in _flatten_like(value.get(k), struct[k], what)]
    if isinstance(struct, (list, tuple)):
        if value is None:
            return [None] * len(flatten(struct))
        if not isinstance(value, (list, tuple)) or len(value) != len(struct):
            raise ValueError(f"{what} must follow the model's output structure: expected {len(struct)} entries, "
                             f"got {value!r:.80}.")
        return [x for v, sv in zip(value, struct) for x in _flatten_like(v, sv, what)]
    return [value]


def class_weight_to_sample_weights(y: np.ndarray, class_weight: dict) -> np.ndarray:
    """Keras's rule: class ids from integer labels, one-hot argmax, or rounded binary labels."""
    y = np.asarray(y)
    if y.ndim > 1:
        y = np.argmax(y, axis=-1) if y.shape[-1] != 1 else y[..., 0]
    ids = np.round(y).astype(np.int64).reshape(len(y))
    return np.array([class_weight.get(int(i), 1.0) for i in ids], dtype=np.float32)


class ArrayData:
    """In-memory arrays, batched; a per-epoch permutation from (seed, epoch) when shuffling."""

    def __init__(self, spec: DataSpec, x, y, sample_weight=None, class_weight=None, batch_size=32,
                 shuffle=True, steps_per_epoch=None, seed=0):
        self.x = spec.inputs(x)
        self.y = spec.targets(y) if y is not None or any(loss is not None for loss in spec.losses) else None
        self.size = self.x[0].shape[0] if self.x and self.x[0].ndim else 1
        for name, target in zip(spec.output_names, self.y or []):
            if target is not None and len(target) != self.size:
                raise ValueError(f"Data cardinality is ambiguous: x has {self.size} samples but the targets for "
                                 f"output '{name}' have {len(target)}. Give them the same number of samples.")
        self.w = spec.weights(sample_weight, class_weight, self.y or [], self.size) if self.y else []
        self.batch_size = int(batch_size or 32)
        self.shuffle = shuffle
        self.seed = seed
        self.num_batches = max(1, math.ceil(self.size / self.batch_size))
        self._steps_arg = steps_per_epoch
        self.steps_per_epoch = steps_per_epoch or self.num_batches

    def _order(self, epoch: int) -> np.ndarray:
        if not self.shuffle:
            return np.arange(self.size)
        if self.shuffle == "batch":
            blocks = np.random.default_rng([self.seed, epoch]).permutation(self.num_batches)
            return np.concatenate([np.arange(b * self.batch_size, min((b + 1) * self.batch_size, self.size))
                                   for b in blocks])
        return np.random.default_rng([self.seed, epoch]).permutation(self.size)

    def epoch(self, epoch: int):
        """Yield (x list, y list, w list) for `steps_per_epoch` batches.

        Like Keras, an epoch shorter than the data continues where the previous one stopped;
        the position is computed from (epoch, step), so a resumed run sees the same batches.
        """
        orders: dict[int, np.ndarray] = {}
        for step in range(self.steps_per_epoch):
            data_pass, batch = divmod(epoch * self.steps_per_epoch + step, self.num_batches)
            if data_pass not in orders:
                orders[data_pass] = self._order(data_pass)
            start = batch * self.batch_size
            yield self._take(orders[data_pass][start:start + self.batch_size])

    def _take(self, index):
        contiguous = len(index) and index[-1] - index[0] == len(index) - 1 and not self.shuffle
        pick = (lambda a: a[index[0]:index[-1] + 1]) if contiguous else (lambda a: a[index])
        return ([pick(a) for a in self.x], [None if t is None else pick(t) for t in (self.y or [])],
                [None if w is None else pick(w) for w in self.w])

    def split(self, fraction: float):
        """Keras's validation_split: the last `fraction` of the samples (before shuffling)."""
        at = int(math.floor(self.size * (1.0 - fraction)))
        if at in (0, self.size):
            raise ValueError(f"Training data contains {self.size} samples, which is not sufficient to split it into "
                             f"a validation and training set as specified by `validation_split={fraction}`.")
        val = _copy(self)
        self.x, val.x = [a[:at] for a in self.x], [a[at:] for a in self.x]
        self.y, val.y = _cut(self.y, 0, at), _cut(val.y, at, None)
        self.w, val.w = _cut(self.w, 0, at), _cut(val.w, at, None)
        for part, size in ((self, at), (val, self.size - at)):
            part.size = size
            part.num_batches = max(1, math.ceil(size / part.batch_size))
        self.steps_per_epoch = self._steps_arg or self.num_batches
        val.steps_per_epoch = val.num_batches
        val.shuffle = False
        return val


def _cut(values, start, stop):
    return None if values is None else [None if v is None else v[start:stop] for v in values]


def _copy(data: ArrayData) -> ArrayData:
    clone = ArrayData.__new__(ArrayData)
    clone.__dict__.update(data.__dict__)
    return clone


class IterableData:
    """A Python iterable or generator of batches: `(x, y)`, `(x, y, sample_weight)` or `x`."""

    def __init__(self, spec: DataSpec, source, steps_per_epoch=None, class_weight=None):
        self.spec = spec
        self.source = source
        self.steps_per_epoch = steps_per_epoch
        self.class_weight = class_weight
        self._iterator = None
        self.exhausted = False
        self.num_batches = steps_per_epoch or (len(source) if hasattr(source, "__len__") else None)

    def _next_iterator(self):
        iterator = iter(self.source)
        return iterator

    def epoch(self, epoch: int):
        if self.steps_per_epoch is None:
            count = 0
            for item in self._next_iterator():
                count += 1
                yield self._convert(item)
            if count == 0:
                self.exhausted = True
                warnings.warn("Your input ran out of data; interrupting training. Make sure that your generator "
                              "can generate at least `steps_per_epoch * epochs` batches.", stacklevel=2)
            return
        if self._iterator is None:
            self._iterator = self._next_iterator()
        for _ in range(self.steps_per_epoch):
            try:
                item = next(self._iterator)
            except StopIteration:
                if iter(self.source) is self.source:  # a generator: nothing more will come
                    self.exhausted = True
                    warnings.warn("Your input ran out of data; interrupting training. Make sure that your "
                                  "generator can generate at least `steps_per_epoch * epochs` batches.", stacklevel=2)
                    return
                self._iterator = self._next_iterator()
                try:
                    item = next(self._iterator)
                except StopIteration:
                    self.exhausted = True
                    return
            yield self._convert(item)

    def _convert(self, item):
        if isinstance(item, tuple) and len(item) in (2, 3):
            x, y = item[0], item[1]
            sw = item[2] if len(item) == 3 else None
        else:
            x, y, sw = item, None, None
        inputs = self.spec.inputs(x)
        batch = inputs[0].shape[0] if inputs and inputs[0].ndim else 1
        # A batch without y still needs targets for every output with a loss (targets() says which).
        targets = self.spec.targets(y) if y is not None or any(self.spec.losses) else []
        weights = self.spec.weights(sw, self.class_weight, targets, batch) if y is not None else []
        return inputs, targets, weights


def make_data(spec: DataSpec, x, y=None, sample_weight=None, class_weight=None, batch_size=None, shuffle=True,
              steps_per_epoch=None, seed=0):
    """ArrayData for arrays/lists/dicts of arrays; IterableData for anything else iterable."""
    if _is_structure_of_arrays(x) and not (isinstance(x, (list, tuple)) and x and isinstance(x[0], tuple)):
        return ArrayData(spec, x, y, sample_weight, class_weight, batch_size, shuffle, steps_per_epoch, seed)
    if y is not None:
        raise ValueError("When x is a generator or iterable of batches, do not pass `y`: yield (x, y) tuples.")
    if sample_weight is not None:
        raise ValueError("When x is a generator or iterable of batches, yield (x, y, sample_weight) tuples instead "
                         "of passing `sample_weight`.")
    if batch_size is not None:
        warnings.warn("`batch_size` is ignored when x is a generator or iterable: it yields whole batches.",
                      stacklevel=3)
    if not hasattr(x, "__iter__"):
        raise ValueError(f"Unrecognized data type x={type(x).__name__}. Pass numpy arrays (a list or a dict of "
                         "arrays for several inputs) or an iterable/generator yielding (x, y) batches.")
    return IterableData(spec, x, steps_per_epoch, class_weight)


def split_validation(data, fraction: float):
    if not isinstance(data, ArrayData):
        raise ValueError("`validation_split` is only supported for numpy arrays (not generators or iterables); "
                         "pass `validation_data` instead.")
    return data.split(fraction)
