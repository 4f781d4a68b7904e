"""Load-test `onnxgraph serve` on loopback: bounded concurrent clients, with and without batching.

    python tools/loadtest.py                        # built-in feature encoder, 16 clients x 200 requests
    python tools/loadtest.py --model m.onnx --clients 32 --requests 100 --json out.json

For each mode (batch-1 serving, then dynamic batching) it starts the server in a subprocess,
waits for /healthz, runs the clients (each sends its requests one after another), checks every
answer's shape (and a sample of values against a local onnxruntime session), and reports
throughput, p50/p99 latency, mean batch size (from /metrics) and errors.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np


def build_encoder(path: str) -> None:
    """A feature encoder big enough that inference, not HTTP, dominates: 512 -> 2048 -> 2048 -> 256."""
    import onnxgraph as og
    from onnxgraph import layers

    inputs = og.Input(shape=(512,), name="x")
    x = layers.Dense(2048, activation="relu", name="hidden_1")(inputs)
    x = layers.Dense(2048, activation="relu", name="hidden_2")(x)
    outputs = layers.Dense(256, name="embedding")(x)
    og.Model(inputs, outputs, name="encoder").save(path)


def start_server(model: str, port: int, max_batch_size: int, max_latency_ms: float, threads: int):
    command = [sys.executable, "-m", "onnxgraph.cli._serve", model, "--port", str(port),
               "--max-batch-size", str(max_batch_size), "--max-latency-ms", str(max_latency_ms),
               "--providers", "cpu", "--threads", str(threads), "--log-level", "warning"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Connection:
    """A minimal keep-alive HTTP/1.1 client on asyncio streams.

    httpx spends ~3 ms of CPU per request here, which on a small machine measures the client,
    not the server; this costs a small fraction of that. Bodies with Content-Length only.
    """

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def request(self, method: str, path: str, body: bytes = b"", headers: dict | None = None):
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = [f"{method} {path} HTTP/1.1", f"host: {self.host}:{self.port}", f"content-length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        status_line = await self.reader.readuntil(b"\r\n")
        if not status_line:
            raise ConnectionError("server closed the connection")
        fields = {}
        while (line := await self.reader.readuntil(b"\r\n")) != b"\r\n":
            key, _, value = line.decode("latin-1").partition(":")
            fields[key.strip().lower()] = value.strip()
        content = await self.reader.readexactly(int(fields.get("content-length", 0)))
        if fields.get("connection", "").lower() == "close":
            await self.close()
        return int(status_line.split()[1]), fields, content

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None


async def wait_ready(url: str, process, timeout: float = 60.0) -> dict:
    """Poll /healthz until the server answers; returns the first model's description."""
    host, port = url.rsplit("//", 1)[1].split(":")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{process.stdout.read()}")
        connection = Connection(host, int(port))
        try:
            status, _, _ = await connection.request("GET", "/healthz")
            if status == 200:
                _, _, body = await connection.request("GET", "/v1/models")
                return json.loads(body)["models"][0]
        except OSError:  # not listening yet
            pass
        finally:
            await connection.close()
        await asyncio.sleep(0.05)
    raise RuntimeError(f"server at {url} not ready after {timeout} s")


def _bodies(rng, shape, dtype: str, fmt: str, input_name: str, count: int = 8):
    """A few request bodies per client, encoded once so the client measures the server."""
    out = []
    for _ in range(count):
        x = rng.standard_normal(shape).astype(dtype)
        if fmt == "npy":
            buffer = io.BytesIO()
            np.save(buffer, x)
            out.append((x, buffer.getvalue(), {"content-type": "application/x-npy", "accept": "application/x-npy"}))
        else:
            body = json.dumps({"inputs": {input_name: x.tolist()}}).encode()
            out.append((x, body, {"content-type": "application/json"}))
    return out


def _decode(content: bytes, fmt: str, output_name: str) -> np.ndarray:
    if fmt == "npy":
        return np.load(io.BytesIO(content))
    return np.asarray(json.loads(content)["outputs"][output_name], dtype=np.float32)


async def run_load(url: str, model: dict, clients: int, requests: int, fmt: str, rows: int, check) -> dict:
    """`clients` connections, each sending `requests` predict calls back to back."""
    host, port = url.rsplit("//", 1)[1].split(":")
    info_in, info_out = model["inputs"][0], model["outputs"][0]
    shape = [rows] + [d or 1 for d in info_in["shape"][1:]]
    path = f"/v1/models/{model['name']}:predict"
    latencies, errors, samples = [], [], []

    async def client_loop(k: int) -> None:
        bodies = _bodies(np.random.default_rng(k), shape, info_in["dtype"], fmt, info_in["name"])
        connection = Connection(host, int(port))
        try:
            for i in range(requests):
                x, body, headers = bodies[i % len(bodies)]
                start = time.perf_counter()
                try:
                    status, _, content = await connection.request("POST", path, body, headers)
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                    await connection.close()
                    continue
                if status != 200:
                    errors.append(f"HTTP {status}: {content[:200]!r}")
                    continue
                latencies.append(time.perf_counter() - start)
                if i < len(bodies):  # check each distinct body once, outside the timing
                    samples.append((x, _decode(content, fmt, info_out["name"])))
        finally:
            await connection.close()

    start = time.perf_counter()
    await asyncio.gather(*(client_loop(k) for k in range(clients)))
    elapsed = time.perf_counter() - start
    connection = Connection(host, int(port))
    _, _, metrics = await connection.request("GET", "/metrics")
    await connection.close()
    bad = sum(1 for x, y in samples if y.shape != check(x).shape or not np.allclose(check(x), y, rtol=1e-4, atol=1e-4))
    if bad:
        errors.append(f"{bad} of {len(samples)} checked answers differ from a local onnxruntime run")
    ok = len(latencies)
    lat = np.array(latencies) * 1000 if latencies else np.array([np.nan])
    return {
        "requests": clients * requests, "ok": ok, "errors": len(errors), "error_examples": errors[:3],
        "seconds": round(elapsed, 3), "throughput_rps": round(ok / elapsed, 1),
        "p50_ms": round(float(np.percentile(lat, 50)), 2), "p99_ms": round(float(np.percentile(lat, 99)), 2),
        "mean_batch_rows": _mean_batch(metrics.decode(), model["name"]),
    }


def _mean_batch(metrics: str, name: str):
    total = re.search(rf'onnxgraph_batch_size_sum{{model="{re.escape(name)}"}} (\S+)', metrics)
    count = re.search(rf'onnxgraph_batch_size_count{{model="{re.escape(name)}"}} (\S+)', metrics)
    return round(float(total.group(1)) / float(count.group(1)), 2) if total and count else None


async def one_mode(args, label: str, max_batch_size: int, check) -> dict:
    port = free_port()
    process = start_server(args.model, port, max_batch_size, args.max_latency_ms, args.threads)
    url = f"http://127.0.0.1:{port}"
    try:
        model = await wait_ready(url, process)
        await run_load(url, model, min(args.clients, 4), 5, args.format, args.rows, check)  # warm-up
        result = await run_load(url, model, args.clients, args.requests, args.format, args.rows, check)
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
    return {"mode": label, "max_batch_size": max_batch_size, **result}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help=".onnx file to serve (default: a built-in 512->256 feature encoder)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=200, help="requests per client")
    parser.add_argument("--rows", type=int, default=1, help="rows per request")
    parser.add_argument("--max-batch-size", type=int, default=64)
    parser.add_argument("--max-latency-ms", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=4, help="server inference threads")
    parser.add_argument("--format", choices=["json", "npy"], default="json")
    parser.add_argument("--json", dest="json_out", help="also write the results here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        if not args.model:
            args.model = os.path.join(tmp, "encoder.onnx")
            build_encoder(args.model)
        from onnxgraph.runtime import make_session

        with open(args.model, "rb") as f:
            session = make_session(f.read(), "cpu")
        input_name = session.get_inputs()[0].name

        def check(x):
            return session.run(None, {input_name: x})[0]

        results = [asyncio.run(one_mode(args, "batch-1", 1, check)),
                   asyncio.run(one_mode(args, "dynamic", args.max_batch_size, check))]
    print(f"{args.clients} clients x {args.requests} requests, {args.rows} row(s) each, {args.format} bodies")
    print(f"{'mode':<8} {'max_batch':>9} {'ok':>6} {'errors':>6} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'mean batch':>10}")
    for r in results:
        print(f"{r['mode']:<8} {r['max_batch_size']:>9} {r['ok']:>6} {r['errors']:>6} {r['throughput_rps']:>8} "
              f"{r['p50_ms']:>8} {r['p99_ms']:>8} {r['mean_batch_rows']!s:>10}")
        for example in r["error_examples"]:
            print(f"    error: {example}")
    speedup = results[1]["throughput_rps"] / max(results[0]["throughput_rps"], 1e-9)
    print(f"dynamic batching throughput: {speedup:.2f}x batch-1")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"results": results, "speedup": speedup}, f, indent=2)
    return 1 if any(r["errors"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
