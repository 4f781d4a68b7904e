"""Checks on predict/__call__ inputs that the graph's shapes and dtypes cannot express.

- Embedding ids: ONNX Gather reads a negative id from the end of the table (Keras refuses it),
  so ids outside [0, input_dim) are refused before running. Checked only for Embeddings fed
  straight from a model input, with one vectorized min and max.
- onnxruntime failures are re-raised as a ValueError naming the model, each input's received and
  expected shape and dtype, and onnxruntime's reason without its C++ framing.
"""

from __future__ import annotations

import re

import numpy as np

__all__ = ["embedding_ranges", "check_ids", "run_explained"]


def embedding_ranges(model) -> list[tuple[str, int, str]]:
    from onnxgraph.layers._embedding import Embedding

    by_id = {x.id: name for x, name in zip(model.inputs, model.input_names)}
    ranges = []
    for node in getattr(model, "_ordered_nodes", []):
        if isinstance(node.layer, Embedding) and node.args and getattr(node.args[0], "id", None) in by_id:
            ranges.append((by_id[node.args[0].id], node.layer.input_dim, node.layer.name))
    return ranges


def check_ids(feeds: dict, ranges) -> None:
    for name, size, layer in ranges:
        ids = feeds[name]
        if ids.size == 0:
            continue
        if ids.dtype.kind == "i":  # seen as unsigned, negatives are huge: one max checks both ends
            if ids.view(_UNSIGNED[ids.dtype.itemsize]).max() < size:
                continue
        low, high = ids.min(), ids.max()
        if not (low >= 0 and high < size):  # NaN fails both comparisons
            bad = low if not low >= 0 else high
            raise ValueError(f"Input '{name}' feeds Embedding '{layer}', whose ids must be in [0, {size}) "
                             f"(input_dim={size}); received {bad.item()!r} (values from {low.item()!r} to "
                             f"{high.item()!r}). Map the ids into the vocabulary, or build the Embedding with a "
                             "larger input_dim.")


_UNSIGNED = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}
_ORT_FRAME = re.compile(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ")


def run_explained(model, state, feeds: dict) -> list:
    """`session.run` on one (session, fetches) state; onnxruntime's errors get the inputs named."""
    session, fetches = state
    try:
        return session.run(fetches, feeds)
    except Exception as exc:  # noqa: BLE001 - onnxruntime's pybind exception types
        if type(exc).__module__.split(".")[0] != "onnxruntime":
            raise
        reason = _ORT_FRAME.sub("", str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
        received = ", ".join(f"'{n}' {tuple(a.shape)} {a.dtype}" for n, a in feeds.items())
        expected = ", ".join(f"'{s.name}' {s.shape} {s.dtype}" for s in model._signatures())
        raise ValueError(f"Model '{model.name}' could not run on the inputs given: {received} (the model takes "
                         f"{expected}; None is any size). onnxruntime said: {reason}") from None
