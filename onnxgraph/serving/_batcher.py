"""Dynamic batching: stack concurrent requests into one onnxruntime run, hand each its rows.

One worker coroutine per model takes the first waiting request, then keeps taking requests
until the batch holds `max_batch_size` rows or `max_latency_ms` has passed since it took the
first one. The run happens in a worker thread (onnxruntime releases the GIL), so the event
loop keeps accepting requests while it runs; they form the next batch, which is topped up with
everything that arrived in the meantime once the runner is free. Under load, batches grow to
what arrives during one run, without waiting longer than `max_latency_ms` for company.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np

__all__ = ["DynamicBatcher", "InferenceError", "RejectedInput"]


class InferenceError(RuntimeError):
    """onnxruntime failed on a request (answered with HTTP 500; the server keeps running)."""


class RejectedInput(InferenceError):
    """onnxruntime refused a request's values as an invalid argument (answered with HTTP 400)."""


_STOP = object()
_WAKE = object()  # ends a wait for company early (server shutting down)


class _Pending:
    __slots__ = ("feeds", "rows", "key", "future")

    def __init__(self, feeds: dict, future):
        self.feeds = feeds
        self.rows = _rows(feeds)
        # Requests stack only when every non-batch dimension matches (e.g. same sequence length).
        self.key = tuple((name, a.shape[1:], a.dtype.str) for name, a in feeds.items())
        self.future = future


def _rows(feeds: dict) -> int:
    return int(next(iter(feeds.values())).shape[0])


class DynamicBatcher:
    """Batches `served.run` calls for one model.

    Args:
        served: a `ServedModel`.
        executor: the thread pool that runs onnxruntime.
        metrics: a `Metrics` (batch sizes, inference time).
        max_batch_size: rows per run; 1 turns batching off (each request runs on its own,
            concurrently in the pool). A larger single request runs alone, unsplit.
        max_latency_ms: how long the first request of a batch waits for company.
    """

    def __init__(self, served, executor, metrics, max_batch_size: int = 64, max_latency_ms: float = 5.0):
        if int(max_batch_size) < 1:
            raise ValueError(f"max_batch_size must be at least 1, got {max_batch_size}.")
        if max_latency_ms < 0:
            raise ValueError(f"max_latency_ms must be >= 0, got {max_latency_ms}.")
        self.served = served
        self.executor = executor
        self.metrics = metrics
        self.max_batch_size = int(max_batch_size)
        self.max_latency = max_latency_ms / 1000.0
        self.batching = self.max_batch_size > 1 and served.batchable
        self._queue: asyncio.Queue | None = None
        self._carry = None
        self._worker: asyncio.Task | None = None
        self._running: set = set()  # dispatch tasks, referenced until done
        self._closed = False

    async def start(self) -> None:
        if self.batching:
            self._queue = asyncio.Queue()
            self._worker = asyncio.create_task(self._loop(), name=f"batcher-{self.served.name}")

    async def stop(self) -> None:
        """Finish every request already queued, then end the worker."""
        self._closed = True
        if self._worker is not None:
            await self._queue.put(_STOP)
            await self._worker
            self._worker = None

    def hurry(self) -> None:
        """Stop waiting for company: run what is queued now (called when shutdown begins, so that
        accepted requests finish instead of waiting out `max_latency_ms`)."""
        self.max_latency = 0.0
        if self._queue is not None:
            self._queue.put_nowait(_WAKE)

    async def submit(self, feeds: dict) -> list:
        """Run one request (already checked by `served.feeds`); returns its outputs."""
        if self._closed:
            raise InferenceError(f"Model '{self.served.name}' is shutting down; retry on another server.")
        if not self.batching or self._worker is None:
            return _unwrap((await self._run([feeds]))[0])
        if self._worker.done():  # never wait on a worker that is gone
            raise InferenceError(f"The batcher of model '{self.served.name}' stopped: "
                                 f"{self._worker.exception() if not self._worker.cancelled() else 'cancelled'}")
        pending = _Pending(feeds, asyncio.get_running_loop().create_future())
        self._queue.put_nowait(pending)
        return _unwrap(await pending.future)

    # -- worker --------------------------------------------------------------------------------
    async def _next(self, timeout: float | None):
        """The carried-over request, else the next queued one; None when `timeout` runs out."""
        if self._carry is not None:
            item, self._carry = self._carry, None
            return item
        if not self._queue.empty():
            return self._queue.get_nowait()
        if timeout is None:
            return await self._queue.get()
        if timeout <= 0:
            return None
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except asyncio.TimeoutError:
            return None

    async def _loop(self) -> None:
        # One run at a time; the next batch is collected while the current one runs, and is
        # topped up with whatever arrived meanwhile once the runner is free.
        free = asyncio.Semaphore(1)
        stopping = False
        while not stopping or self._carry is not None:
            first = await self._next(None)
            if first is _WAKE:
                continue
            if first is _STOP:
                stopping = True
                continue
            batch, rows = [first], first.rows
            deadline = time.perf_counter() + self.max_latency
            stopping = await self._fill(batch, rows, deadline, first.key)
            await free.acquire()
            if not stopping:
                stopping = await self._fill(batch, sum(p.rows for p in batch), 0.0, first.key)
            task = asyncio.create_task(self._dispatch(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
            task.add_done_callback(lambda _: free.release())
        await free.acquire()  # the last run has finished

    async def _fill(self, batch: list, rows: int, deadline: float, key) -> bool:
        """Add compatible requests until full or past `deadline`; True when the stop sentinel came."""
        while rows < self.max_batch_size and self.batching:
            item = await self._next(deadline - time.perf_counter())
            if item is None or item is _WAKE:
                return False
            if item is _STOP:
                return True
            if item.key != key or rows + item.rows > self.max_batch_size:
                self._carry = item  # it starts the next batch, so arrival order is kept
                return False
            batch.append(item)
            rows += item.rows
        return False

    async def _dispatch(self, batch: list) -> None:
        live = [p for p in batch if not p.future.done()]  # a cancelled caller is skipped
        if not live:
            return
        try:
            results = await self._run([p.feeds for p in live])
        except Exception as exc:  # noqa: BLE001 - the worker must outlive any failure
            results = [exc] * len(live)
        for p, result in zip(live, results):
            if not p.future.done():
                p.future.set_result(result)

    async def _run(self, requests: list[dict]) -> list:
        """Outputs (or the exception) per request; a failed batch is retried one request at a time
        so that only the bad request fails."""
        loop = asyncio.get_running_loop()
        counts = [_rows(f) for f in requests]
        if len(requests) == 1:
            feeds = requests[0]
        else:
            feeds = {name: np.concatenate([f[name] for f in requests]) for name in requests[0]}
        start = time.perf_counter()
        try:
            outputs = await loop.run_in_executor(self.executor, self.served.run, feeds)
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
            if len(requests) > 1:
                return [(await self._run([f]))[0] for f in requests]
            return [_failure(self.served.name, exc)]
        self.metrics.batch(self.served.name, sum(counts), time.perf_counter() - start)
        if len(requests) == 1:
            return [outputs]
        if any(np.ndim(out) == 0 or out.shape[0] != sum(counts) for out in outputs):
            # The outputs do not keep the batch dimension (e.g. a reduction over rows): stop stacking.
            self.batching = False
            return [(await self._run([f]))[0] for f in requests]
        bounds = np.cumsum([0] + counts)
        return [[out[bounds[k]:bounds[k + 1]] for out in outputs] for k in range(len(requests))]


def _failure(name: str, exc: Exception) -> InferenceError:
    # onnxruntime's INVALID_ARGUMENT at run time means this request's values (the model loaded and
    # ran its probe): the client's error. Anything else is the server's.
    text = str(exc).strip()
    if type(exc).__name__ == "InvalidArgument":
        return RejectedInput(f"Model '{name}' cannot run on this input: {text}")
    return InferenceError(f"Model '{name}' failed to run on this input: {text}")


def _unwrap(result):
    if isinstance(result, Exception):
        raise result
    return result
