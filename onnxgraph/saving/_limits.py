"""Limits on what a file may make the loaders do: nesting depths, node counts, allocations.

A file is data from anywhere, so every loader checks what the file *declares* (subgraph
depth, function call chains, node counts after inlining, config nesting, weight sizes,
archive member sizes) against these limits before acting on it. The defaults fit every
model onnxgraph writes with room to spare; raise one for a trusted file with
`file_limits(...)` in Python or the `ONNXGRAPH_FILE_LIMITS` environment variable
(`ONNXGRAPH_FILE_LIMITS="max_subgraph_depth=16,max_nodes=5000000"`) for the command line.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import os
import re

import numpy as np

__all__ = ["FileLimits", "file_limits", "get_file_limits", "FileLimitError", "limit_hint", "weight_budget",
           "charge_weight", "check_json_depth"]

ENV_VAR = "ONNXGRAPH_FILE_LIMITS"


class FileLimitError(ValueError):
    """A file declares more than a loader limit allows (refused before acting on it)."""


@dataclasses.dataclass(frozen=True)
class FileLimits:
    """What a model or weights file may declare before loading refuses it.

    Attributes:
        max_subgraph_depth: If/Loop/Scan bodies nested inside each other (through local
            functions too). onnxruntime's session creation slows down steeply past ~16.
        max_function_depth: the longest chain of local functions calling each other.
        max_nodes: nodes in the whole model once local functions are inlined.
        max_json_depth: nesting of the onnxgraph config JSON (nested models, lists).
        weight_ratio, weight_slack_bytes: the weights a config may make `load_model`
            allocate: `weight_ratio` x the tensor bytes the file holds, plus the slack.
        max_constant_bytes: constants `Model.from_onnx` may compute at import in total
            (ConstantOfShape, Expand, Tile, ... of constant inputs); ONNX's "light" zoo models
            make their weights this way, so it is absolute, not relative to the file.
        archive_ratio, archive_slack_bytes: the uncompressed `model.weights.h5` a `.keras`
            archive may expand to: `archive_ratio` x the weights of the model it loads
            into (optimizer state included), plus the slack.
    """

    max_subgraph_depth: int = 8
    max_function_depth: int = 64
    max_nodes: int = 2_000_000
    max_json_depth: int = 128
    weight_ratio: float = 2.0
    weight_slack_bytes: int = 32 * 2**20
    max_constant_bytes: int = 2**31
    archive_ratio: float = 4.0
    archive_slack_bytes: int = 64 * 2**20


_override: contextvars.ContextVar[dict] = contextvars.ContextVar("onnxgraph_file_limits", default={})
_FIELDS = {f.name: f.type for f in dataclasses.fields(FileLimits)}


def _from_env() -> dict:
    text = os.environ.get(ENV_VAR, "").strip()
    values = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in _FIELDS:
            raise ValueError(f"{ENV_VAR}: cannot read {item!r}; use comma-separated name=value with names "
                             f"{sorted(_FIELDS)}.")
        try:
            values[key] = float(value) if "ratio" in key else int(float(value))
        except ValueError:
            raise ValueError(f"{ENV_VAR}: {key} needs a number, got {value!r}.") from None
    return values


def get_file_limits() -> FileLimits:
    """The limits in force: defaults, then `ONNXGRAPH_FILE_LIMITS`, then `file_limits(...)` blocks."""
    return FileLimits(**{**_from_env(), **_override.get()})


@contextlib.contextmanager
def file_limits(**limits):
    """Raise (or lower) loader limits inside a `with` block, for files you trust.

    Example:
        >>> with og.saving.file_limits(max_subgraph_depth=16):
        ...     model = og.Model.from_onnx("deep_control_flow.onnx")
    """
    unknown = sorted(set(limits) - set(_FIELDS))
    if unknown:
        raise TypeError(f"file_limits: unknown limit(s) {unknown}; the limits are {sorted(_FIELDS)}.")
    token = _override.set({**_override.get(), **limits})
    try:
        yield get_file_limits()
    finally:
        _override.reset(token)


def limit_hint(name: str, value) -> str:
    """How to raise one limit, for error messages."""
    return (f"If you trust this file, raise the limit: `with og.saving.file_limits({name}=...):` in Python, or "
            f"{ENV_VAR}={name}=... for the command line (now {value}).")


# -- weights a config may allocate ------------------------------------------------------------
_budget: contextvars.ContextVar = contextvars.ContextVar("onnxgraph_weight_budget", default=None)


@contextlib.contextmanager
def weight_budget(file_tensor_bytes: int, source: str):
    """While a file's config is rebuilt, cap the weight bytes its layers may create."""
    limits = get_file_limits()
    allowed = int(file_tensor_bytes * limits.weight_ratio) + limits.weight_slack_bytes
    state = {"allowed": allowed, "used": 0, "source": source, "file_bytes": file_tensor_bytes}
    token = _budget.set(state)
    try:
        yield state
    finally:
        _budget.reset(token)


def charge_weight(layer_name: str, weight_name, shape: tuple, dtype) -> None:
    """Called by `Layer.add_weight` before allocating: refuses what the file cannot hold."""
    state = _budget.get()
    if state is None:
        return
    nbytes = int(np.prod(shape, dtype=object)) * np.dtype(dtype).itemsize
    state["used"] += nbytes
    if state["used"] > state["allowed"]:
        raise FileLimitError(
            f"{state['source']}: layer '{layer_name}' declares weight {weight_name!r} of shape {tuple(shape)} "
            f"({nbytes:,} bytes), which brings the model's weights to {state['used']:,} bytes, but the file holds "
            f"only {state['file_bytes']:,} bytes of tensors (the config asks for weights the file cannot contain). "
            "Nothing was allocated. " + limit_hint("weight_slack_bytes", get_file_limits().weight_slack_bytes))


# -- config JSON nesting ------------------------------------------------------------------------
_STRINGS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)  # unrolled: fast on long configs


def check_json_depth(text: str, source: str, what: str = "the onnxgraph config") -> None:
    """Refuse JSON nested deeper than `max_json_depth` before decoding it (no RecursionError)."""
    limit = get_file_limits().max_json_depth
    data = _STRINGS.sub(b'""', text.encode("utf8", "surrogatepass"))
    codes = np.frombuffer(data, np.uint8)
    steps = ((codes == 0x5B) | (codes == 0x7B)).astype(np.int32) - ((codes == 0x5D) | (codes == 0x7D))
    depth = int(np.cumsum(steps).max()) if steps.size else 0
    if depth > limit:
        raise FileLimitError(f"{source}: {what} is nested {depth} levels deep; loading allows {limit} (nested "
                             "models and lists that deep are not something onnxgraph writes). "
                             + limit_hint("max_json_depth", limit))
