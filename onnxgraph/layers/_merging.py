"""Merge layers (Add, Subtract, ..., Concatenate, Dot) and their functional forms."""

from __future__ import annotations

from onnxgraph import ops
from onnxgraph.layers._layer import Layer
from onnxgraph.ops._base import broadcast_shapes

__all__ = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot",
           "add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate", "dot"]


class _Merge(Layer):
    """Elementwise merge of a list of same-shaped tensors (batch broadcasting allowed)."""

    exact_inputs: int | None = None

    def _check(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"Layer '{self.name}' must be called on a list of tensors, got {inputs!r}.")
        if len(inputs) < 2 or (self.exact_inputs and len(inputs) != self.exact_inputs):
            want = f"exactly {self.exact_inputs}" if self.exact_inputs else "at least 2"
            raise ValueError(f"Layer '{self.name}' needs {want} inputs, got {len(inputs)} (a `{type(self).__name__}` "
                             f"layer should be called on {want} inputs).")
        shape = inputs[0].shape
        for x in inputs[1:]:
            try:
                shape = broadcast_shapes(shape, x.shape)
            except ValueError:
                raise ValueError(
                    f"Layer '{self.name}' needs inputs of compatible shapes, got shapes "
                    f"{[t.shape for t in inputs]}."
                ) from None
        return shape

    def call(self, inputs):
        self._check(inputs)
        return self._merge(list(inputs))

    def compute_mask(self, inputs, mask=None):
        """Keras: the OR of the inputs' masks when every input has one, else no mask."""
        if mask is None:
            return None
        _check_masks(inputs, mask)
        if any(m is None for m in mask):
            return None
        return _chain(ops.logical_or, [ops.cast(m, "bool") for m in mask])


def _check_masks(inputs, mask) -> None:
    """Keras's argument checks of a merge layer's compute_mask (one mask per input, as lists)."""
    if not isinstance(mask, (tuple, list)):
        raise ValueError(f"`mask` should be a list. Received: mask={mask!r}")
    if not isinstance(inputs, (tuple, list)):
        raise ValueError(f"`inputs` should be a list. Received: inputs={inputs!r}")
    if len(mask) != len(inputs):
        raise ValueError(f"The lists `inputs` and `mask` should have the same length. Received: inputs of length "
                         f"{len(inputs)}, and mask of length {len(mask)}.")


def _feature_mask(x):
    mask = getattr(x, "_keras_mask", None)
    if mask is None:
        return None
    return ops.logical_and(ops.expand_dims(ops.cast(mask, "bool"), -1), ops.ones_like(x, dtype="bool"))


def _merge_masked_or(op, xs):
    """Keras's `_apply_merge_op_and_or_mask` (Maximum, Minimum): masked values never win."""
    output, output_mask = None, None
    for x in xs:
        mask = _feature_mask(x)
        if output is None:
            output, output_mask = x, mask
            continue
        if mask is not None:
            x = ops.where(mask, x, output)
        if output_mask is not None:
            output = ops.where(output_mask, output, x)
        output_mask = ops.logical_or(output_mask, mask) if mask is not None and output_mask is not None else None
        output = op(output, x)
    return output


def _chain(fn, xs):
    y = xs[0]
    for x in xs[1:]:
        y = fn(y, x)
    return y


class Add(_Merge):
    """Elementwise sum (a chain of ONNX Add: trainable everywhere, unlike Sum)."""

    def _merge(self, xs):
        return _chain(ops.add, xs)


class Subtract(_Merge):
    exact_inputs = 2

    def _merge(self, xs):
        return ops.subtract(xs[0], xs[1])


class Multiply(_Merge):
    def _merge(self, xs):
        masks = [_feature_mask(x) for x in xs]
        if all(m is None for m in masks):
            return _chain(ops.multiply, xs)
        # Keras: masked values count as 1; with every input masked, positions masked everywhere are 0.
        xs = [x if m is None else ops.where(m, x, ops.ones_like(x)) for x, m in zip(xs, masks)]
        output = _chain(ops.multiply, xs)
        if all(m is not None for m in masks):
            output = ops.where(_chain(ops.logical_or, masks), output, ops.zeros_like(output))
        return output


class Average(_Merge):
    def _merge(self, xs):
        return ops.multiply(_chain(ops.add, xs), 1.0 / len(xs))


class Maximum(_Merge):
    def _merge(self, xs):
        return _merge_masked_or(ops.maximum, xs)


class Minimum(_Merge):
    def _merge(self, xs):
        return _merge_masked_or(ops.minimum, xs)


class Concatenate(Layer):
    """Concatenate a list of tensors along `axis` (default: the last)."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) < 1:
            raise ValueError(f"Layer '{self.name}' must be called on a list of tensors, got {inputs!r}.")
        try:
            return ops.concatenate(list(inputs), axis=self.axis)
        except ValueError:
            raise ValueError(
                f"Layer '{self.name}' needs inputs that match on every axis except the concat axis "
                f"({self.axis}); got shapes {[tuple(getattr(x, 'shape', ())) for x in inputs]} (a `Concatenate` layer "
                "requires inputs with matching shapes except for the concatenation axis)."
            ) from None

    def compute_mask(self, inputs, mask=None):
        """Keras: concatenate the masks (all-true for unmasked inputs), then any() over the last axis."""
        if mask is None:
            return None
        _check_masks(inputs, mask)
        if all(m is None for m in mask):
            return None
        masks = []
        for x, m in zip(inputs, mask):
            if m is None:
                m = ops.ones_like(x, dtype="bool")
            elif m.ndim < x.ndim:
                m = ops.logical_and(ops.expand_dims(ops.cast(m, "bool"), -1), ops.ones_like(x, dtype="bool"))
            masks.append(m)
        return ops.any(ops.concatenate(masks, axis=self.axis), axis=-1)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class Dot(Layer):
    """Batched dot product along `axes` (Keras batch_dot), optionally of L2-normalized inputs."""

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.axes = axes
        self.normalize = normalize

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError(f"Layer '{self.name}' must be called on a list of 2 tensors.")
        x, y = inputs
        axes = self.axes if isinstance(self.axes, (list, tuple)) else (self.axes, self.axes)
        ax = axes[0] % x.ndim
        ay = axes[1] % y.ndim
        if x.shape[ax] is not None and y.shape[ay] is not None and x.shape[ax] != y.shape[ay]:
            raise ValueError(
                f"Layer '{self.name}': dimension {ax} of input 0 (shape {x.shape}) must equal "
                f"dimension {ay} of input 1 (shape {y.shape})."
            )
        if self.normalize:
            x, y = _l2_normalize(x, ax), _l2_normalize(y, ay)
        return _batch_dot(x, y, ax, ay)

    def compute_mask(self, inputs, mask=None):
        return None  # Keras: the contracted output has no mask

    def get_config(self):
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


def _l2_normalize(x, axis):
    norm = ops.sqrt(ops.maximum(ops.sum(ops.square(x), axis=axis, keepdims=True), 1e-12))
    return ops.divide(x, norm)


def _batch_dot(x, y, ax, ay):
    """x: (b, X..., k) after moving ax last; y: (b, k, Y...) after moving ay to 1; MatMul."""
    x = ops.transpose(x, [0] + [i for i in range(1, x.ndim) if i != ax] + [ax])
    y = ops.transpose(y, [0, ay] + [i for i in range(1, y.ndim) if i != ay])
    x_rest, y_rest = x.shape[1:-1], y.shape[2:]
    if len(x_rest) != 1:
        x = ops.reshape(x, (None, -1, x.shape[-1]))
    if len(y_rest) != 1:
        y = ops.reshape(y, (None, y.shape[1], -1))
    out = ops.matmul(x, y)
    if len(x_rest) == 1 and len(y_rest) == 1:
        return out
    final = (*x_rest, *y_rest) or (1,)
    return ops.reshape(out, (None, *final))


def _functional(cls):
    def fn(inputs, **kwargs):
        return cls(**kwargs)(inputs)

    fn.__name__ = cls.__name__.lower()
    fn.__doc__ = f"Functional form of `{cls.__name__}`: `{fn.__name__}(inputs, **layer_kwargs)`."
    return fn


add = _functional(Add)
subtract = _functional(Subtract)
multiply = _functional(Multiply)
average = _functional(Average)
maximum = _functional(Maximum)
minimum = _functional(Minimum)
concatenate = _functional(Concatenate)


def dot(inputs, axes=-1, **kwargs):
    """Functional form of `Dot`."""
    return Dot(axes=axes, **kwargs)(inputs)
