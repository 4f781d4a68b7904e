"""A bounded fuzz of the real server on loopback: malformed bodies, headers, content types, sizes,
methods, paths, and half-sent (slowloris) requests. Zero 5xx, zero hangs, healthy afterwards.

Seeded and bounded (a few hundred requests, short server timeouts); run with -s for the tally.
"""

import io
import json
import random
import socket
import time
import zipfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import onnx
import pytest
from _serving_models import make_encoder, make_gather_proto, make_pair

import onnxgraph as og
from onnxgraph import layers, ops

LIMIT = 0.5  # server header/body/idle timeouts, seconds
HANG = 10.0  # a request unanswered this long is a hang


def _models(tmp_path):
    lookup = tmp_path / "lookup.onnx"
    onnx.save(make_gather_proto(), lookup)
    ids = og.Input(shape=(None,), dtype="int32", name="ids")
    image = og.Input(shape=(None, None, 3), name="image")
    conv = layers.GlobalAveragePooling2D()(layers.Conv2D(2, 3)(layers.MaxPooling2D()(image)))
    x = og.Input(shape=(4,), name="x")
    return {"encoder": make_encoder(), "pair": make_pair(), "lookup": lookup,
            "emb": og.Model(ids, layers.Embedding(10, 4)(ids)), "conv": og.Model(image, conv),
            "centered": og.Model(x, x - ops.mean(x, axis=0, keepdims=True))}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    timeouts = og.serving.Timeouts(headers=LIMIT, body=LIMIT, idle=LIMIT)
    with og.serving.serve(_models(tmp_path_factory.mktemp("fuzz")), providers="cpu", max_body_bytes=256 * 1024,
                          timeouts=timeouts, max_latency_ms=2) as handle:
        yield handle


def _npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def _npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("x.npy", _npy(np.zeros((4096, 1024), np.float32)))  # 16 MiB, compresses to ~16 KiB
    return buffer.getvalue()


def _values(rng: random.Random, depth=0):
    kind = rng.randrange(12 if depth < 4 else 6)
    if kind == 0:
        return rng.choice([None, True, False, "", "x" * rng.randrange(50), 0, -1, 2**63, 1e308, -0.0])
    if kind == 1:
        return rng.uniform(-1e6, 1e6)
    if kind == 2:
        return rng.randrange(-20, 20)
    if kind in (3, 4, 5):
        return float("nan") if kind == 3 else float("inf")
    if kind in (6, 7, 8, 9):
        return [_values(rng, depth + 1) for _ in range(rng.randrange(5))]
    return {rng.choice(["x", "a", "b", "ids", "image", "idx", "inputs", "?"]): _values(rng, depth + 1)
            for _ in range(rng.randrange(3))}


def _json_case(rng: random.Random, model: str) -> tuple:
    shapes = {"encoder": (8,), "pair": (3,), "lookup": (), "emb": (5,), "conv": (rng.randrange(0, 9), 5, 3),
              "centered": (4,)}
    rows = rng.choice([0, 1, 2, 7])
    shape = (rows, *shapes.get(model, (8,)))
    choice = rng.randrange(10)
    if choice == 0:
        payload = {"inputs": np.random.default_rng(rng.randrange(99)).standard_normal(shape).tolist()}
    elif choice == 1:  # ids, possibly out of range
        payload = {"inputs": [[rng.randrange(-12, 14) for _ in range(5)] for _ in range(max(rows, 1))]}
    elif choice == 2:
        payload = {"inputs": _values(rng)}
    elif choice == 3:
        payload = _values(rng)
    elif choice == 4:
        payload = {"inputs": {"a": [[1, 2, 3]], "b": _values(rng)}}
    elif choice == 5:
        return "[" * rng.choice([100, 5000, 60000]), "application/json"
    elif choice == 6:
        return json.dumps({"inputs": [[0] * 8] * 2})[: rng.randrange(30)], "application/json"
    elif choice == 7:
        return '{"inputs": [[1e999, -1e999, NaN, 0, 0, 0, 0, 0]]}', "application/json"
    elif choice == 8:
        return json.dumps({"inputs": [[0.5] * 8] * 4000}), "application/json"  # over the body limit
    else:
        payload = {"inputs": [[1, 2, 3]] * rng.randrange(3), "extra": _values(rng)}
    return json.dumps(payload, allow_nan=True), rng.choice(["application/json", "", "text/json",
                                                             "application/json; charset=utf-8", "x/y+json"])


def _binary_case(rng: random.Random) -> tuple:
    choice = rng.randrange(9)
    if choice == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(2000))), rng.choice(
            ["application/x-npy", "application/x-npz", "application/octet-stream", "image/png", None])
    if choice == 1:
        return _npy(np.zeros((rng.randrange(3), 8), rng.choice(["float32", "float64", "int8", "bool", "complex64"]))), \
            "application/x-npy"
    if choice == 2:
        return _npy(np.array([{"a": 1}], dtype=object)), "application/x-npy"  # a pickle: refused
    if choice == 3:
        return _npy(np.zeros((2, 8), np.float32))[: rng.randrange(10, 120)], "application/x-npy"
    if choice == 4:
        return _npz(a=np.zeros((2, 3), np.float32), c=np.zeros((2, 2))), "application/x-npz"
    if choice == 5:
        return _bomb(), "application/x-npz"
    if choice == 6:
        return _npy(np.array([[-3], [4]], np.int64)), "application/x-npy"
    if choice == 7:
        return _npy(np.zeros((1, 1, 1, 3), np.float32)), "application/x-npy"  # smaller than the kernel
    return _npy(np.full((2, 8), np.nan, np.float32)), "application/x-npy"


def _http_case(rng: random.Random) -> dict:
    model = rng.choice(["encoder", "pair", "lookup", "emb", "conv", "centered"] * 3 + ["nope", ""])
    path = rng.choice([f"/v1/models/{model}:predict"] * 20 + [f"/v1/models/{model}", "/v1/models", "/healthz",
                       "/metrics", "/v1/models/%00:predict", "/" + "a" * 3000, "/v1/models/../../etc/passwd"])
    method = "POST" if rng.random() < 0.9 else rng.choice(["GET", "PUT", "DELETE", "PATCH", "OPTIONS"])
    body, content_type = _json_case(rng, model) if rng.random() < 0.65 else _binary_case(rng)
    headers = {"accept": rng.choice(["application/json", "application/x-npy", "application/x-npz", "*/*",
                                     "text/html", "", "application/x-npy;q=0.1, application/json"])}
    if content_type is not None:
        headers["content-type"] = content_type
    if rng.random() < 0.1:
        headers["x-junk"] = "y" * rng.randrange(5000)
    return {"method": method, "url": path, "content": body.encode() if isinstance(body, str) else body,
            "headers": headers}


def _raw_cases(rng: random.Random) -> list[bytes]:
    head = b"POST /v1/models/encoder:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    cases = [b"", b"GARBAGE\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"\x16\x03\x01\x00\xa5\x01\x00" * 10,
             head + b"Content-Length: -5\r\n\r\n{}", head + b"Content-Length: 99999999999999999999\r\n\r\n",
             head + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n", head + b"Content-Length: 2\r\n\r\n{}extra",
             head + b"Content-Length: 10\r\nContent-Length: 11\r\n\r\n0123456789", head + b"Content-Length: 400\r\n\r\n{",
             b"POST /v1/models/encoder:predict HTTP/1.1\r\n" + b"X: y\r\n" * 2000 + b"\r\n"]
    cases += [head[: rng.randrange(len(head))] for _ in range(8)]  # half-sent headers (slowloris)
    return cases


def _raw(server, data: bytes) -> tuple[int | None, float]:
    host, port = server.url.rsplit("/", 1)[1].split(":")
    start = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=HANG) as sock:
        try:
            sock.sendall(data)
            reply = b""
            while chunk := sock.recv(65536):
                reply += chunk
        except ConnectionResetError:
            return None, time.monotonic() - start
        except socket.timeout:
            return -1, time.monotonic() - start  # a hang
    status = int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/1.1 ") else None
    return status, time.monotonic() - start


def test_fuzz_the_server(server):
    rng = random.Random(1234)
    cases = [_http_case(rng) for _ in range(360)]
    statuses, hangs, five = Counter(), [], []

    def send(case):
        try:
            answer = httpx.request(case["method"], server.url + case["url"], content=case["content"],
                                   headers=case["headers"], timeout=HANG)
            return answer.status_code, answer.text[:200]
        except httpx.TimeoutException:
            return -1, ""
        except httpx.TransportError as exc:  # the server closed on a protocol error: not a 5xx
            return 0, str(exc)

    with ThreadPoolExecutor(8) as pool:
        for case, (status, text) in zip(cases, pool.map(send, cases)):
            statuses[status] += 1
            if status == -1:
                hangs.append(case["url"])
            if status >= 500:
                five.append((case["url"], status, text))
    raw = _raw_cases(rng)
    with ThreadPoolExecutor(8) as pool:
        raw_results = list(pool.map(lambda data: _raw(server, data), raw))
    for status, seconds in raw_results:
        statuses[f"raw {status}"] += 1
        if status == -1 or seconds > LIMIT + 5:
            hangs.append(("raw", seconds))
        if status is not None and status >= 500:
            five.append(("raw", status, ""))
    health = httpx.get(f"{server.url}/healthz", timeout=HANG)
    metrics = httpx.get(f"{server.url}/metrics", timeout=HANG).text
    print(f"\nfuzz: {len(cases)} HTTP + {len(raw)} raw cases; statuses {dict(sorted(statuses.items(), key=str))}; "
          f"5xx {len(five)}; hangs {len(hangs)}")
    assert not five, five[:5]
    assert not hangs, hangs[:5]
    assert health.status_code == 200 and "onnxgraph" in metrics
    x = np.random.default_rng(0).standard_normal((3, 8)).astype(np.float32)
    answer = httpx.post(f"{server.url}/v1/models/encoder:predict", json={"inputs": x.tolist()}, timeout=HANG).json()
    np.testing.assert_allclose(answer["outputs"]["embedding"], make_encoder_like(server).predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


def make_encoder_like(server):
    """The served encoder's own weights, as a model (the fixture's encoder was built inside `_models`)."""
    proto = onnx.load_from_string(server.app.state.models["encoder"].spec.onnx_bytes)
    return og.Model.from_onnx(proto)
