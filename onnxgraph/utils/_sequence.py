"""`pad_sequences`: lists of sequences to one padded array, with Keras's options."""

from __future__ import annotations

import numpy as np

__all__ = ["pad_sequences"]


def pad_sequences(sequences, maxlen: int | None = None, dtype="int32", padding: str = "pre",
                  truncating: str = "pre", value=0.0) -> np.ndarray:
    """Pad (or truncate) each sequence to `maxlen` steps, like `keras.utils.pad_sequences`.

    Args:
        sequences: a list of sequences (lists or arrays; steps may themselves be arrays).
        maxlen: the length of every row; the longest sequence's length when None.
        dtype: dtype of the result (`object` for variable-length strings).
        padding: "pre" (pad at the start, Keras's default) or "post".
        truncating: "pre" (drop steps at the start) or "post" for sequences longer than `maxlen`.
        value: the padding value.

    Returns:
        An array of shape `(len(sequences), maxlen) + step_shape`.

    Example:
        >>> pad_sequences([[1, 2], [3]], padding="post")
        array([[1, 2],
               [3, 0]], dtype=int32)
    """
    if padding not in ("pre", "post"):
        raise ValueError(f"pad_sequences: padding must be 'pre' or 'post', got {padding!r}.")
    if truncating not in ("pre", "post"):
        raise ValueError(f"pad_sequences: truncating must be 'pre' or 'post', got {truncating!r}.")
    if not hasattr(sequences, "__len__"):
        raise ValueError(f"pad_sequences: `sequences` must be a list of sequences, got {type(sequences).__name__}.")
    lengths, sample_shape, found = [], (), False
    for index, seq in enumerate(sequences):
        try:
            lengths.append(len(seq))
        except TypeError:
            raise ValueError(f"pad_sequences: `sequences` must be a list of iterables; item {index} is "
                             f"{seq!r}.") from None
        if not found and len(seq):
            sample_shape, found = np.asarray(seq).shape[1:], True
    if maxlen is None:
        maxlen = max(lengths, default=0)
    maxlen = int(maxlen)
    if maxlen < 0:
        raise ValueError(f"pad_sequences: maxlen must be >= 0, got {maxlen}.")
    is_text = np.issubdtype(dtype, np.str_) or np.issubdtype(dtype, np.bytes_)
    if isinstance(value, str) and dtype is not object and not is_text:
        raise ValueError(f"pad_sequences: dtype {dtype} cannot hold the string padding value {value!r}; pass "
                         "dtype=object for variable-length strings.")
    result = np.full((len(sequences), maxlen) + sample_shape, value, dtype=dtype)
    for index, seq in enumerate(sequences):
        if not len(seq) or not maxlen:
            continue
        kept = np.asarray(seq[-maxlen:] if truncating == "pre" else seq[:maxlen], dtype=dtype)
        if kept.shape[1:] != sample_shape:
            raise ValueError(f"pad_sequences: sequence {index} has steps of shape {kept.shape[1:]}, the first "
                             f"non-empty sequence has {sample_shape}; every step must have the same shape.")
        if padding == "post":
            result[index, :len(kept)] = kept
        else:
            result[index, -len(kept):] = kept
    return result
