"""Prometheus text-format metrics for the server (no client library needed for four series)."""

from __future__ import annotations

import bisect
import threading

__all__ = ["Metrics"]

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class _Histogram:
    def __init__(self, buckets):
        self.buckets = tuple(buckets)
        self.counts = [0] * (len(self.buckets) + 1)  # last slot: above every bucket (+Inf only)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.sum += value
        self.count += 1

    def lines(self, name: str, labels: str) -> list[str]:
        out, running = [], 0
        for bound, n in zip(self.buckets + ("+Inf",), self.counts):
            running += n
            out.append(f'{name}_bucket{{{labels},le="{bound}"}} {running}')
        out.append(f"{name}_sum{{{labels}}} {self.sum:.6g}")
        out.append(f"{name}_count{{{labels}}} {self.count}")
        return out


def _label(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    """Counters and histograms per model; `render()` gives the Prometheus exposition text.

    Requests for unknown models count under model="_unknown" so clients cannot grow the
    label set without bound.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self.requests: dict[tuple, int] = {}
        self.errors: dict[tuple, int] = {}
        self.latency: dict[str, _Histogram] = {}
        self.batch_size: dict[str, _Histogram] = {}
        self.inference: dict[str, _Histogram] = {}
        self.inflight = 0

    def request(self, model: str, code: int, seconds: float, reason: str | None = None) -> None:
        with self._lock:
            key = (model, str(code))
            self.requests[key] = self.requests.get(key, 0) + 1
            if code >= 400:
                ekey = (model, reason or "error")
                self.errors[ekey] = self.errors.get(ekey, 0) + 1
            self.latency.setdefault(model, _Histogram(LATENCY_BUCKETS)).observe(seconds)

    def batch(self, model: str, rows: int, seconds: float) -> None:
        with self._lock:
            self.batch_size.setdefault(model, _Histogram(BATCH_BUCKETS)).observe(rows)
            self.inference.setdefault(model, _Histogram(LATENCY_BUCKETS)).observe(seconds)

    def add_inflight(self, delta: int) -> None:
        with self._lock:
            self.inflight += delta

    def render(self) -> str:
        with self._lock:
            lines = [
                "# HELP onnxgraph_requests_total Predict requests by model and HTTP status code.",
                "# TYPE onnxgraph_requests_total counter",
            ]
            lines += [f'onnxgraph_requests_total{{model="{_label(m)}",code="{c}"}} {n}'
                      for (m, c), n in sorted(self.requests.items())]
            lines += ["# HELP onnxgraph_request_errors_total Failed predict requests by model and reason.",
                      "# TYPE onnxgraph_request_errors_total counter"]
            lines += [f'onnxgraph_request_errors_total{{model="{_label(m)}",reason="{r}"}} {n}'
                      for (m, r), n in sorted(self.errors.items())]
            for name, doc, table in (
                ("onnxgraph_request_latency_seconds", "Predict request latency, body read to response.",
                 self.latency),
                ("onnxgraph_batch_size", "Rows per onnxruntime run (dynamic batches).", self.batch_size),
                ("onnxgraph_inference_seconds", "Duration of one onnxruntime run.", self.inference),
            ):
                lines += [f"# HELP {name} {doc}", f"# TYPE {name} histogram"]
                for model, hist in sorted(table.items()):
                    lines += hist.lines(name, f'model="{_label(model)}"')
            lines += ["# HELP onnxgraph_inflight_requests Predict requests being handled now.",
                      "# TYPE onnxgraph_inflight_requests gauge", f"onnxgraph_inflight_requests {self.inflight}"]
        return "\n".join(lines) + "\n"
