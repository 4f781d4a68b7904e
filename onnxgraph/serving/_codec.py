"""Request bodies to model inputs, model outputs to response bodies (JSON, .npy, .npz)."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np

__all__ = ["HTTPError", "read_body", "decode_inputs", "encode_outputs", "NPY", "NPZ", "JSON"]

JSON = "application/json"
NPY = "application/x-npy"
NPZ = "application/x-npz"
_NPY_ALIASES = (NPY, "application/octet-stream", "application/npy")


class HTTPError(Exception):
    """An error answered to the client: status code, message, and a short reason for metrics."""

    def __init__(self, status: int, message: str, reason: str):
        super().__init__(message)
        self.status, self.message, self.reason = status, message, reason


async def read_body(request, limit: int) -> bytes:
    """The request body, refusing (413) anything over `limit` bytes before reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(int(declared), limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int, limit: int) -> HTTPError:
    return HTTPError(413, f"Request body of {size} bytes is over the server's limit of {limit} bytes. "
                          "Send fewer rows per request (or start the server with a larger --max-body-mb).",
                     "too_large")


def _media_type(header: str | None) -> str:
    return (header or "").split(";")[0].strip().lower()


def decode_inputs(body: bytes, content_type: str | None, served, limit: int):
    """What to pass to `served.feeds`: an array, a list, or a dict by input name."""
    media = _media_type(content_type)
    names = [i.name for i in served.inputs]
    if media in ("", JSON, "text/json") or media.endswith("+json"):
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
            raise HTTPError(400, f"The body is not valid JSON ({exc}). Send {{\"inputs\": ...}}.", "bad_json") from None
        if not isinstance(payload, dict) or "inputs" not in payload:
            raise HTTPError(400, f"JSON bodies look like {{\"inputs\": <array>}} or {{\"inputs\": "
                                 f"{{{', '.join(repr(n) for n in names)}: <array>}}}}; the key 'inputs' is "
                                 "missing.", "bad_json")
        return payload["inputs"]
    if media in _NPY_ALIASES:
        if len(names) != 1:
            raise HTTPError(400, f"A .npy body carries one array, but model '{served.name}' has inputs {names}. "
                                 f"Send an .npz ({NPZ}) keyed by input name, or JSON.", "bad_input")
        try:
            return np.load(io.BytesIO(body), allow_pickle=False)
        except Exception as exc:  # noqa: BLE001 - numpy raises several types for bad files
            raise HTTPError(400, f"The body is not a valid .npy array ({exc}). Write it with np.save.",
                            "bad_npy") from None
    if media == NPZ:
        return _load_npz(body, limit)
    raise HTTPError(415, f"Unsupported Content-Type {media!r}: send {JSON}, {NPY} (one input) or {NPZ}.",
                    "unsupported_media")


def _load_npz(body: bytes, limit: int) -> dict:
    try:
        archive = zipfile.ZipFile(io.BytesIO(body))
        # A small compressed body can expand hugely; hold the expanded size to the same limit.
        expanded = sum(info.file_size for info in archive.infolist())
        if expanded > limit:
            raise _too_large(expanded, limit)
        with np.load(io.BytesIO(body), allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except HTTPError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise HTTPError(400, f"The body is not a valid .npz archive ({exc}). Write it with np.savez.",
                        "bad_npy") from None


def accepted(accept: str | None) -> str:
    """The response format the client asked for: NPY, NPZ or JSON (the default)."""
    for part in (accept or "").split(","):
        media = _media_type(part)
        if media in _NPY_ALIASES:
            return NPY
        if media == NPZ:
            return NPZ
        if media in (JSON, "*/*", "application/*"):
            return JSON
    return JSON


def encode_outputs(served, outputs: list, media: str) -> tuple[bytes, str]:
    """Response body and its Content-Type."""
    if media == NPY:
        if len(outputs) != 1:
            raise HTTPError(406, f"Model '{served.name}' has {len(outputs)} outputs {served.output_names}; "
                                 f".npy holds one. Accept {NPZ} or {JSON} instead.", "not_acceptable")
        buffer = io.BytesIO()
        np.save(buffer, outputs[0], allow_pickle=False)
        return buffer.getvalue(), NPY
    if media == NPZ:
        buffer = io.BytesIO()
        np.savez(buffer, **dict(zip(served.output_names, outputs)))
        return buffer.getvalue(), NPZ
    payload = {"model": served.name, "outputs": {n: _to_json(o) for n, o in zip(served.output_names, outputs)}}
    # NaN/Infinity are written as JSON extensions most parsers accept; .npy answers are exact.
    return json.dumps(payload, separators=(",", ":")).encode(), JSON


def _to_json(array):
    return np.asarray(array).tolist()
