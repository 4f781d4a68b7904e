"""Half-sent requests cannot hold connections: header, body and idle deadlines on a real server."""

import socket
import time

import httpx
import pytest
from _serving_models import make_encoder

import onnxgraph as og

LIMIT = 0.5


@pytest.fixture(scope="module")
def server():
    timeouts = og.serving.Timeouts(headers=LIMIT, body=LIMIT, idle=LIMIT)
    with og.serving.serve(make_encoder(), providers="cpu", timeouts=timeouts) as handle:
        yield handle


def _connect(server) -> socket.socket:
    host, port = server.url.rsplit("/", 1)[1].split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def _closed_after(sock, send=()) -> tuple[float, bytes]:
    """Send the pieces (bytes, pause) in order, then read until the server closes; (seconds, reply)."""
    start, reply = time.monotonic(), b""
    for piece, pause in send:
        try:
            sock.sendall(piece)
        except OSError:
            break
        time.sleep(pause)
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return time.monotonic() - start, reply
        reply += chunk


def test_silent_connection_is_closed(server):
    with _connect(server) as sock:
        seconds, reply = _closed_after(sock)
    assert seconds < LIMIT + 2 and reply == b""


def test_slowloris_headers_are_cut_off(server):
    request = b"POST /v1/models/encoder:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    with _connect(server) as sock:
        seconds, _ = _closed_after(sock, [(request[i:i + 4], 0.05) for i in range(0, len(request), 4)]
                                   + [(b"X-Slow: " + b"a" * 10, 0.0)] * 40)
    assert seconds < LIMIT + 3


def test_stalled_body_gets_408_and_the_connection_closes(server):
    head = (b"POST /v1/models/encoder:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 500\r\n\r\n{\"inputs\": [[")
    with _connect(server) as sock:
        seconds, reply = _closed_after(sock, [(head, 0.0)])
    assert reply.startswith(b"HTTP/1.1 408") and b"did not arrive within 0.5 s" in reply
    assert seconds < LIMIT + 2


def test_idle_kept_alive_connection_is_closed(server):
    body = b'{"inputs": [[0, 0, 0, 0, 0, 0, 0, 0]]}'
    request = (b"POST /v1/models/encoder:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    with _connect(server) as sock:
        seconds, reply = _closed_after(sock, [(request, 0.0)])
    assert reply.startswith(b"HTTP/1.1 200") and seconds < LIMIT + 2


def test_kept_alive_connection_serves_several_requests(server):
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for _ in range(3):
            assert client.post("/v1/models/encoder:predict", json={"inputs": [[0] * 8]}).status_code == 200
            time.sleep(LIMIT / 3)  # within the idle deadline: the connection is reused
        assert client.get("/healthz").status_code == 200


def test_oversized_headers_are_refused(server):
    # h11 answers 400 past 64 KiB of headers and closes (the client may see the reset first).
    with _connect(server) as sock:
        try:
            _, reply = _closed_after(sock, [(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000, 0.0)])
        except ConnectionResetError:
            reply = b""
    assert reply == b"" or reply.startswith(b"HTTP/1.1 400"), reply[:100]
    assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200


def test_bad_timeouts_are_refused():
    with pytest.raises(ValueError, match="`body` must be a positive number of seconds"):
        og.serving.Timeouts(body=0)
    with pytest.raises(ValueError, match="`headers`"):
        og.serving.Timeouts(headers=float("nan"))
