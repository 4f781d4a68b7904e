"""The HTTP handler: a Starlette app over served models (used by uvicorn and by Ray Serve)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from onnxgraph.serving._batcher import DynamicBatcher, InferenceError, RejectedInput
from onnxgraph.serving._codec import HTTPError, accepted, decode_inputs, encode_outputs, read_body
from onnxgraph.serving._embedded import DEFAULT_MAX_BODY_BYTES
from onnxgraph.serving._metrics import Metrics

__all__ = ["build_app"]

_log = logging.getLogger("onnxgraph.serving")


def _error(status: int, message: str, model: str | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": status, "message": message, "model": model}}, status_code=status)


# Bodies and answers larger than this are decoded/encoded in a worker thread, not on the event loop.
_OFFLOAD_BYTES = 64 * 1024


def build_app(models, *, max_batch_size: int = 64, max_latency_ms: float = 5.0,
              max_body_bytes: int = DEFAULT_MAX_BODY_BYTES, threads: int = 4,
              body_timeout: float = 30.0) -> Starlette:
    """A Starlette app serving `models` (a list of `ServedModel`) under /v1/models.

    Args:
        models: `ServedModel`s, names unique.
        max_batch_size: most rows stacked into one onnxruntime run (1: no batching).
        max_latency_ms: how long a request may wait for others to share its run.
        max_body_bytes: larger request bodies get HTTP 413.
        threads: worker threads running onnxruntime (batches of different models, or single
            requests when batching is off, run side by side).
        body_timeout: seconds a client may take to send a request body (HTTP 408 after).

    Returns:
        The app; `app.state.metrics` holds its `Metrics`.
    """
    served = {m.name: m for m in models}
    metrics = Metrics()
    if not body_timeout > 0:
        raise ValueError(f"body_timeout must be a positive number of seconds, got {body_timeout!r}.")
    executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="onnxgraph-infer")
    # JSON/npy decoding and encoding of large bodies: their own threads, so that a big request
    # neither blocks the event loop (health checks, other clients) nor waits behind inference.
    codec = ThreadPoolExecutor(max_workers=2, thread_name_prefix="onnxgraph-codec")
    batchers = {name: DynamicBatcher(m, executor, metrics, max_batch_size, max_latency_ms)
                for name, m in served.items()}

    @contextlib.asynccontextmanager
    async def lifespan(app):
        for batcher in batchers.values():
            await batcher.start()
        try:
            yield
        finally:
            # uvicorn has already waited for accepted requests; this answers anything still queued.
            for batcher in batchers.values():
                await batcher.stop()
            executor.shutdown(wait=True)
            codec.shutdown(wait=True)

    def lookup(name: str):
        if name not in served:
            raise HTTPError(404, f"No model named {name!r}. Served models: {sorted(served)}.", "not_found")
        return served[name]

    async def predict(request):
        name = request.path_params["name"]
        model_label = name if name in served else "_unknown"
        start = time.perf_counter()
        metrics.add_inflight(1)
        code, reason = 200, None
        try:
            model = lookup(name)
            media = accepted(request.headers.get("accept"))
            try:
                body = await asyncio.wait_for(read_body(request, max_body_bytes), body_timeout)
            except asyncio.TimeoutError:
                raise HTTPError(408, f"The request body did not arrive within {body_timeout:g} s.", "timeout") from None
            feeds = await _off_loop(len(body), _decode, body, request.headers.get("content-type"), model)
            outputs = await batchers[name].submit(feeds)
            size = sum(getattr(o, "nbytes", 0) for o in outputs)
            content, content_type = await _off_loop(size, encode_outputs, model, outputs, media)
            return Response(content, media_type=content_type)
        except HTTPError as exc:
            code, reason = exc.status, exc.reason
            response = _error(exc.status, exc.message, name)
            if exc.status == 408:  # the rest of the body may still be on its way: close the connection
                response.headers["connection"] = "close"
            return response
        except RejectedInput as exc:
            code, reason = 400, "bad_input"
            return _error(400, str(exc), name)
        except InferenceError as exc:
            code, reason = 500, "inference"
            return _error(500, str(exc), name)
        except ClientDisconnect:  # nobody to answer; counted with nginx's "client closed request" code
            code, reason = 499, "client_closed"
            return Response(status_code=499)
        except Exception as exc:  # noqa: BLE001 - a failing request never takes the server down
            _log.exception("predict on model %r failed", name)
            code, reason = 500, "internal"
            return _error(500, f"Internal error while serving model {name!r}: {type(exc).__name__}: {exc}", name)
        finally:
            metrics.add_inflight(-1)
            metrics.request(model_label, code, time.perf_counter() - start, reason)

    def _decode(body, content_type, model):
        try:
            return model.feeds(decode_inputs(body, content_type, model, max_body_bytes))
        except ValueError as exc:  # normalize_feeds' messages name the input, expected and received
            raise HTTPError(400, str(exc), "bad_input") from None

    async def _off_loop(size, function, *args):
        if size <= _OFFLOAD_BYTES:
            return function(*args)
        return await asyncio.get_running_loop().run_in_executor(codec, function, *args)

    def describe(model) -> dict:
        info = model.describe()
        info["max_batch_size"] = batchers[model.name].max_batch_size if batchers[model.name].batching else 1
        return info

    async def list_models(request):
        return JSONResponse({"models": [describe(m) for m in served.values()]})

    async def get_model(request):
        name = request.path_params["name"]
        if name.endswith(":predict"):
            return _error(405, f"Predict takes POST: POST /v1/models/{name} with a JSON or .npy body.", name)
        try:
            return JSONResponse(describe(lookup(name)))
        except HTTPError as exc:
            return _error(exc.status, exc.message, request.path_params["name"])

    async def healthz(request):
        return JSONResponse({"status": "ok", "models": sorted(served)})

    async def render_metrics(request):
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")

    routes = [
        Route("/v1/models/{name}:predict", predict, methods=["POST"]),
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/models/{name}", get_model, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", render_metrics, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.metrics = metrics
    app.state.models = served
    app.state.batchers = batchers
    app.state.hurry = lambda: [b.hurry() for b in batchers.values()]
    return app
