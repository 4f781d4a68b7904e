"""Request bodies to model inputs, model outputs to response bodies (JSON, .npy, .npz)."""

from __future__ import annotations

import io
import json
import re
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
            payload = loads_in_pieces(body) if len(body) > _PIECES_FROM else json.loads(body)
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
    # NaN/Infinity are written as JSON extensions most parsers accept; .npy answers are exact.
    parts = [f'{{"model":{json.dumps(served.name)},"outputs":{{']
    for k, (name, output) in enumerate(zip(served.output_names, outputs)):
        parts.append(f'{"," if k else ""}{json.dumps(name)}:{_array_json(np.asarray(output))}')
    parts.append("}}")
    return "".join(parts).encode(), JSON


_SEPARATORS = (",", ":")
_PIECES_FROM = 1 << 20  # bodies over 1 MiB are decoded in pieces
_ROWS_PER_PIECE = 512
_WS = re.compile(r"[ \t\n\r]*")


def _array_json(array: np.ndarray) -> str:
    """JSON of an array, written a block of rows at a time: one big json.dumps would hold the GIL
    (and so the event loop) for as long as it runs."""
    if array.ndim == 0 or array.nbytes <= _PIECES_FROM // 8:
        return json.dumps(array.tolist(), separators=_SEPARATORS)
    pieces = (json.dumps(array[i:i + _ROWS_PER_PIECE].tolist(), separators=_SEPARATORS)[1:-1]
              for i in range(0, len(array), _ROWS_PER_PIECE))
    return "[" + ",".join(p for p in pieces if p) + "]"


def loads_in_pieces(body: bytes):
    """`json.loads`, parsing the outer containers in Python and each row with the C decoder, so that
    the GIL is released between rows (a 15 MiB body in one json.loads held the event loop ~0.2 s)."""
    text = body.decode(json.detect_encoding(body))
    decoder = json.JSONDecoder()
    value, end = _value(text, _WS.match(text, 0).end(), decoder, 0)
    end = _WS.match(text, end).end()
    if end != len(text):
        raise ValueError(f"Extra data at char {end}")
    return value


def _value(text: str, i: int, decoder, depth: int):
    if depth > 2 or i >= len(text) or text[i] not in "[{":
        return decoder.raw_decode(text, i)
    first = _WS.match(text, i + 1).end()
    if text[i] == "[" and first < len(text) and text[first] not in "[{]":
        return decoder.raw_decode(text, i)  # a row of scalars: one C call
    close = "]" if text[i] == "[" else "}"
    out: list | dict = [] if close == "]" else {}
    i = first
    if text.startswith(close, i):
        return out, i + 1
    while True:
        if close == "}":
            key, i = decoder.raw_decode(text, i)
            if not isinstance(key, str):
                raise ValueError(f"Expecting a property name at char {i}")
            i = _WS.match(text, i).end()
            if not text.startswith(":", i):
                raise ValueError(f"Expecting ':' delimiter at char {i}")
            i = _WS.match(text, i + 1).end()
        item, i = _value(text, i, decoder, depth + 1)
        if close == "]":
            out.append(item)
        else:
            out[key] = item
        i = _WS.match(text, i).end()
        if text.startswith(",", i):
            i = _WS.match(text, i + 1).end()
        elif text.startswith(close, i):
            return out, i + 1
        else:
            raise ValueError(f"Expecting ',' or '{close}' at char {i}")
