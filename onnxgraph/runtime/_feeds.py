"""Turn what users pass to predict/__call__ into checked onnxruntime feeds.

Errors name the input, what it expects and what it received, instead of surfacing
onnxruntime's messages.
"""

from __future__ import annotations

import numpy as np

from onnxgraph.backend import dtypes

__all__ = ["normalize_feeds", "InputSignature"]


class InputSignature:
    def __init__(self, name: str, shape: tuple, dtype: str):
        self.name, self.shape, self.dtype = name, tuple(shape), dtype
        self.np_dtype = dtypes.to_numpy(dtype)


def _describe(sig: InputSignature) -> str:
    return f"shape {sig.shape} and dtype {sig.dtype}"


def _convert(sig: InputSignature, value) -> np.ndarray:
    if (type(value) is np.ndarray and value.dtype == sig.np_dtype and value.ndim == len(sig.shape)
            and value.flags.c_contiguous and all(w is None or w == g for w, g in zip(sig.shape, value.shape))):
        return value  # the common case, checked without copies
    if value is None:
        raise ValueError(f"Input '{sig.name}' received None, but it is not optional: pass an array with "
                         f"{_describe(sig)} (an ONNX graph input always needs a value).")
    try:
        array = np.asarray(value)
    except Exception as exc:  # noqa: BLE001 - ragged lists etc.
        raise ValueError(f"Input '{sig.name}' expects an array with {_describe(sig)}; could not convert "
                         f"the value given ({type(value).__name__}): {exc}") from None
    kind = array.dtype.kind
    want_float = dtypes.is_float(sig.dtype)
    if kind == "f" and sig.np_dtype.kind in "iu" and _integral(array):
        kind = "i"  # whole numbers as floats (np.ones): converted like Keras's convert_to_tensor(x, dtype)
    if kind not in "biuf" or (not want_float and kind == "f") or (sig.dtype == "bool" and kind != "b"):
        raise ValueError(
            f"Input '{sig.name}' expects dtype {sig.dtype}, received dtype {array.dtype} "
            f"(shape {array.shape}). Convert it, e.g. x.astype('{sig.dtype}')."
        )
    if array.dtype != sig.np_dtype:
        if kind in "iu" and sig.np_dtype.kind in "iu" and array.size:  # (whole floats too)
            _check_fits(sig, array)
        array = array.astype(sig.np_dtype)
    if array.ndim != len(sig.shape) or any(
        want is not None and want != got for want, got in zip(sig.shape, array.shape)
    ):
        raise ValueError(
            f"Input '{sig.name}' expects shape {sig.shape}, received an array of shape {array.shape}. "
            "(None is any size; the first dimension is the batch.) "
            f"(Keras: expected shape={sig.shape}, found shape={tuple(array.shape)})"
        )
    return np.ascontiguousarray(array)


def _integral(array: np.ndarray) -> bool:
    """Every value a whole number (NaN and inf are not): exact to convert to an integer dtype."""
    return bool(np.all(np.isfinite(array)) and np.all(array == np.trunc(array)))


def _check_fits(sig: InputSignature, array: np.ndarray) -> None:
    """Integers converted to the input's dtype must not wrap (uint64 2**64-1 would become -1)."""
    info = np.iinfo(sig.np_dtype)
    low, high = array.min().item(), array.max().item()
    if low < info.min or high > info.max:
        raise ValueError(f"Input '{sig.name}' expects dtype {sig.dtype} (values {info.min} to {info.max}); the "
                         f"{array.dtype} values given range from {low} to {high} and would wrap around.")


def normalize_feeds(x, signatures: list[InputSignature]) -> dict:
    """Map an array, a list of arrays or a dict keyed by input name to {input name: array}."""
    if len(signatures) == 1 and type(x) is np.ndarray:  # the common case: one input, one array
        return {signatures[0].name: _convert(signatures[0], x)}
    names = [s.name for s in signatures]
    if isinstance(x, dict):
        missing = [n for n in names if n not in x]
        if missing:
            raise ValueError(
                f"Missing input {missing[0]!r}: the model expects inputs {names}, received keys "
                f"{sorted(x)}. Pass a dict with every input name."
            )
        unknown = [k for k in x if k not in names]
        if unknown:
            raise ValueError(f"Unknown input name(s) {unknown}: the model's inputs are {names}.")
        values = [x[n] for n in names]
    elif isinstance(x, (list, tuple)) and len(signatures) > 1:
        if len(x) != len(signatures):
            raise ValueError(
                f"The model expects {len(signatures)} inputs {names}, received a {type(x).__name__} "
                f"of {len(x)} arrays. Pass one array per input, in order, or a dict by name."
            )
        values = list(x)
    elif isinstance(x, (list, tuple)) and len(x) == 1 and (x[0] is None or hasattr(x[0], "shape")):
        values = [x[0]]
    else:
        if len(signatures) != 1:
            raise ValueError(
                f"The model expects {len(signatures)} inputs {names}, received a single array. "
                "Pass a list with one array per input, or a dict by name."
            )
        values = [x]
    feeds = {sig.name: _convert(sig, v) for sig, v in zip(signatures, values)}
    # Only inputs whose first dimension is open are batched (imported graphs may fix it, or feed
    # a shape vector or a weight matrix beside the batch).
    batches = {sig.name: feeds[sig.name].shape[0] for sig in signatures if sig.shape and sig.shape[0] is None}
    if len(set(batches.values())) > 1:
        raise ValueError(f"All inputs must have the same batch size; received {batches}.")
    return feeds
