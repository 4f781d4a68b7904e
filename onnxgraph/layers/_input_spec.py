"""Input specs: what a layer accepts, checked at call time with messages that teach."""

from __future__ import annotations

from onnxgraph.backend import dtypes

__all__ = ["InputSpec", "check_input_spec"]


class InputSpec:
    """Constraints on one input: ndim, min_ndim, max_ndim, dtype, full shape, or given axes."""

    def __init__(self, dtype=None, shape=None, ndim=None, max_ndim=None, min_ndim=None, axes=None,
                 allow_last_axis_squeeze=False, name=None):
        self.dtype = dtypes.standardize(dtype) if dtype is not None else None
        self.shape = tuple(shape) if shape is not None else None
        self.ndim = len(shape) if shape is not None else ndim
        self.max_ndim = max_ndim
        self.min_ndim = min_ndim
        self.axes = {int(k): v for k, v in (axes or {}).items()}
        self.name = name

    def __repr__(self):
        parts = [f"{k}={v}" for k, v in vars(self).items() if v not in (None, {}, False)]
        return f"InputSpec({', '.join(parts)})"


def check_input_spec(layer, specs, tensors) -> None:
    if specs is None:
        return
    specs = specs if isinstance(specs, (list, tuple)) else [specs]
    if len(specs) != len(tensors) and len(specs) != 1:
        raise ValueError(
            f"Layer '{layer.name}' expects {len(specs)} input(s), but it received {len(tensors)} "
            f"input tensors: {[getattr(t, 'shape', t) for t in tensors]}."
        )
    for i, (spec, x) in enumerate(zip(specs * (len(tensors) if len(specs) == 1 else 1), tensors)):
        if spec is None:
            continue
        label = f"Layer '{layer.name}'" + (f" (input {i})" if len(tensors) > 1 else "")
        shape = x.shape
        if spec.ndim is not None and len(shape) != spec.ndim:
            raise ValueError(
                f"{label} expects an input of rank {spec.ndim}, got shape {shape} (rank {len(shape)})."
            )
        if spec.min_ndim is not None and len(shape) < spec.min_ndim:
            raise ValueError(
                f"{label} expects an input of rank >= {spec.min_ndim}, got shape {shape} (rank {len(shape)})."
            )
        if spec.max_ndim is not None and len(shape) > spec.max_ndim:
            raise ValueError(
                f"{label} expects an input of rank <= {spec.max_ndim}, got shape {shape} (rank {len(shape)})."
            )
        if spec.dtype is not None and x.dtype != spec.dtype:
            raise ValueError(f"{label} expects dtype {spec.dtype}, got {x.dtype} (shape {shape}).")
        for axis, size in spec.axes.items():
            if size is None:
                continue
            if not -len(shape) <= axis < len(shape):
                raise ValueError(f"{label} expects an input with an axis {axis} of size {size}, got shape {shape}.")
            got = shape[axis]
            if got is not None and got != size:
                which = "last dimension" if axis == -1 else f"dimension {axis}"
                raise ValueError(f"{label} expects an input whose {which} is {size}, got shape {shape} (the input "
                                 "is incompatible with the layer).")
        if spec.shape is not None:
            for want, got in zip(spec.shape, shape):
                if want is not None and got is not None and want != got:
                    raise ValueError(f"{label} expects an input of shape {spec.shape}, got shape {shape} "
                                     f"(expected shape={spec.shape}, found shape={tuple(shape)}).")
