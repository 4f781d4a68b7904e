"""Running the server: in a background thread (`serve`) or in the foreground (the CLI)."""

from __future__ import annotations

import socket
import threading
import time

from onnxgraph.serving._servable import ServedModel, resolve_models

__all__ = ["serve", "ServerHandle", "make_server", "require_server_packages", "DEFAULT_MAX_BODY_BYTES",
           "Timeouts"]

DEFAULT_MAX_BODY_BYTES = 16 * 2**20
_MAX_HEADER_BYTES = 64 * 1024


class Timeouts:
    """How long a client may take, in seconds: to send a request's headers (from connecting or from
    the previous answer), to send its body, and to stay idle between requests on a kept-alive
    connection. A half-sent request never holds a connection longer than these.

    Example:
        >>> og.serving.serve(model, timeouts=og.serving.Timeouts(headers=5, body=30, idle=5))
    """

    def __init__(self, headers: float = 10.0, body: float = 30.0, idle: float = 5.0):
        for what, value in (("headers", headers), ("body", body), ("idle", idle)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"Timeouts: `{what}` must be a positive number of seconds, got {value!r}.")
        self.headers, self.body, self.idle = float(headers), float(body), float(idle)

    def __repr__(self):
        return f"Timeouts(headers={self.headers:g}, body={self.body:g}, idle={self.idle:g})"


def require_server_packages() -> None:
    """uvicorn and Starlette come from the `serve` extra; say so instead of a bare ImportError."""
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"Serving needs uvicorn and Starlette ({exc.name} is missing). Install them with "
                          "`pip install \"onnxgraph[serve]\"`.") from None


def _bind(host: str, port: int) -> socket.socket:
    """Bind and listen first, so port 0 picks a free port that is known before the server starts."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise OSError(f"Cannot listen on {host}:{port} ({exc.strerror}). Pick another --port, or 0 for any "
                      "free port.") from None
    sock.listen(2048)  # connections made before uvicorn starts wait in the backlog instead of failing
    return sock


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def make_server(models, *, host: str = "127.0.0.1", port: int = 8000, layers=None, max_batch_size: int = 64,
                max_latency_ms: float = 5.0, providers="auto", max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
                threads: int = 4, session_threads: int | None = None, log_level: str = "warning",
                graceful_timeout: float = 30.0, batching: str = "auto", timeouts: Timeouts | None = None):
    """Load the models, build the app and a uvicorn server on a bound socket.

    Returns:
        (uvicorn.Server, socket, list of ServedModel).
    """
    require_server_packages()
    import uvicorn

    from onnxgraph.serving._app import build_app

    from onnxgraph.serving._timeouts import header_deadline_protocol

    timeouts = timeouts or Timeouts()
    specs = resolve_models(models, layers)
    served = [ServedModel(spec, providers=providers, threads=session_threads, batching=batching) for spec in specs]
    app = build_app(served, max_batch_size=max_batch_size, max_latency_ms=max_latency_ms,
                    max_body_bytes=max_body_bytes, threads=threads, body_timeout=timeouts.body)
    sock = _bind(host, port)
    # h11 bounds the size of a request's headers (httptools does not); the protocol subclass adds
    # the header deadline uvicorn lacks (its keep-alive timer only runs between requests).
    config = uvicorn.Config(app, log_level=log_level, lifespan="on", access_log=False,
                            timeout_graceful_shutdown=graceful_timeout, timeout_keep_alive=timeouts.idle,
                            http=header_deadline_protocol(timeouts.headers), h11_max_incomplete_event_size=_MAX_HEADER_BYTES)
    return _server_class(uvicorn)(config), sock, served


def _server_class(uvicorn):
    class Server(uvicorn.Server):
        """uvicorn's server, telling the batchers to stop waiting for company once shutdown begins
        (uvicorn waits for accepted requests before the app's own shutdown runs)."""

        async def shutdown(self, sockets=None):
            self.config.app.state.hurry()
            await super().shutdown(sockets=sockets)

    return Server


class ServerHandle:
    """A server running in a background thread of this process.

    Attributes:
        url: base URL, e.g. "http://127.0.0.1:54321".
        models: the served model names.
    """

    def __init__(self, server, sock, served, thread):
        self._server, self._sock, self._thread = server, sock, thread
        self.url = _url(sock)
        self.models = [m.name for m in served]
        self.app = server.config.app

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop accepting, finish accepted requests, then return (idempotent)."""
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(5.0)
        self._sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def __repr__(self):
        return f"ServerHandle(url={self.url!r}, models={self.models}, running={self.running})"


def serve(models, *, host: str = "127.0.0.1", port: int = 0, layers=None, max_batch_size: int = 64,
          max_latency_ms: float = 5.0, providers="auto", max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
          threads: int = 4, session_threads: int | None = None, log_level: str = "warning",
          startup_timeout: float = 30.0, batching: str = "auto", timeouts: Timeouts | None = None) -> ServerHandle:
    """Serve models over HTTP from a background thread of this process.

    Args:
        models: an og.Model, a `.onnx` path (onnxgraph or any other tool), ONNX bytes, a list of
            those, or a dict {name: model}. Names default to the model name / file stem.
        host, port: where to listen; port 0 picks a free port (see `handle.url`).
        layers: serve the outputs of these layers instead (a feature extractor; one model only).
        max_batch_size, max_latency_ms: dynamic batching limits (max_batch_size=1: no batching).
        providers: "auto", "cpu", "cuda" or a list of onnxruntime execution providers.
        max_body_bytes: request bodies over this get HTTP 413.
        threads: inference threads; session_threads: onnxruntime intra-op threads per session.
        batching: "auto" stacks concurrent requests into one run only for models proven
            row-independent (graph analysis and a stacked probe; see `GET /v1/models/{name}`,
            `batching_reason`), "on" always (you vouch for it), "off" never.
        timeouts: `Timeouts` for request headers, bodies and idle connections.

    Returns:
        A `ServerHandle` with `.url` and `.stop()` (also a context manager).

    Example:
        >>> with og.serving.serve(model, layers=["dense_1"]) as server:
        ...     httpx.post(f"{server.url}/v1/models/{model.name}:predict", json={"inputs": x.tolist()})
    """
    server, sock, served = make_server(
        models, host=host, port=port, layers=layers, max_batch_size=max_batch_size,
        max_latency_ms=max_latency_ms, providers=providers, max_body_bytes=max_body_bytes, threads=threads,
        session_threads=session_threads, log_level=log_level, batching=batching, timeouts=timeouts)
    failure: list = []

    def run():
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # noqa: BLE001 - reported to the caller below
            failure.append(exc)

    thread = threading.Thread(target=run, name=f"onnxgraph-serve-{sock.getsockname()[1]}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            detail = f": {failure[0]}" if failure else " (see the log above)"
            raise RuntimeError(f"The model server did not start{detail}.")
        time.sleep(0.005)
    return ServerHandle(server, sock, served, thread)
