"""`onnxgraph serve m.onnx [more.onnx ...]`: serve models (or their features) over HTTP."""

from __future__ import annotations

import argparse
import os
import sys

__all__ = ["add_parser", "run", "parse_models"]

DESCRIPTION = """Serve .onnx models over HTTP with dynamic batching (uvicorn + Starlette).

Endpoints: POST /v1/models/{name}:predict (JSON {"inputs": ...} or an .npy body; answers JSON,
or .npy with `Accept: application/x-npy`), GET /v1/models, GET /v1/models/{name},
GET /healthz, GET /metrics (Prometheus). A model is named after its file (NAME=PATH renames it).
Ctrl-C (SIGINT/SIGTERM) stops accepting and finishes accepted requests."""


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the `serve` subcommand on an argparse subparsers object."""
    parser = subparsers.add_parser("serve", help="serve .onnx models over HTTP with dynamic batching",
                                   description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", metavar="[NAME=]MODEL.onnx",
                        help="model files (onnxgraph or any ONNX exporter)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    parser.add_argument("--max-batch-size", type=int, default=64,
                        help="rows stacked into one onnxruntime run (default 64; 1 turns batching off)")
    parser.add_argument("--batching", choices=["auto", "on", "off"], default="auto",
                        help="auto (default): stack requests only for models proven row-independent (graph "
                             "analysis + a stacked probe); on: always (you vouch for it); off: never")
    parser.add_argument("--max-latency-ms", type=float, default=5.0,
                        help="how long a request waits for others to share its run (default 5)")
    parser.add_argument("--providers", default="auto",
                        help="auto, cpu, cuda, or comma-separated onnxruntime provider names")
    parser.add_argument("--layers", default=None,
                        help="comma-separated layer names: serve those layers' outputs (one model only)")
    parser.add_argument("--max-body-mb", type=float, default=16.0,
                        help="larger request bodies get HTTP 413 (default 16)")
    parser.add_argument("--threads", type=int, default=4, help="inference threads (default 4)")
    parser.add_argument("--session-threads", type=int, default=None,
                        help="onnxruntime intra-op threads per model (default: onnxruntime's choice)")
    parser.add_argument("--header-timeout", type=float, default=10.0,
                        help="seconds a client may take to send a request's headers (default 10)")
    parser.add_argument("--body-timeout", type=float, default=30.0,
                        help="seconds a client may take to send a request body; HTTP 408 after (default 30)")
    parser.add_argument("--idle-timeout", type=float, default=5.0,
                        help="seconds an idle kept-alive connection stays open (default 5)")
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    parser.set_defaults(func=run)
    return parser


def parse_models(items: list[str]):
    """`NAME=PATH` or `PATH` arguments to a dict {name: path} (or the list of paths when none is named)."""
    named, plain = {}, []
    for item in items:
        name, sep, path = item.partition("=")
        if sep and not os.path.exists(item):
            named[name] = path
        else:
            plain.append(item)
    if not named:
        return plain
    for path in plain:
        named[os.path.splitext(os.path.basename(path))[0]] = path
    return named


def _providers(value: str):
    return value if value in ("auto", "cpu", "cuda") else [p.strip() for p in value.split(",") if p.strip()]


def run(args) -> int:
    from onnxgraph.serving._embedded import Timeouts, _url, make_server

    layers = [n.strip() for n in args.layers.split(",") if n.strip()] if args.layers else None
    try:
        timeouts = Timeouts(headers=args.header_timeout, body=args.body_timeout, idle=args.idle_timeout)
        server, sock, served = make_server(
            parse_models(args.models), host=args.host, port=args.port, layers=layers,
            max_batch_size=args.max_batch_size, max_latency_ms=args.max_latency_ms,
            providers=_providers(args.providers), max_body_bytes=int(args.max_body_mb * 2**20),
            threads=args.threads, session_threads=args.session_threads, log_level=args.log_level,
            batching=args.batching, timeouts=timeouts)
    except (OSError, ValueError, TypeError, ImportError) as exc:
        print(f"onnxgraph serve: {exc}", file=sys.stderr)
        return 2
    url = _url(sock)
    for model in served:
        inputs = ", ".join(f"{i.name}{list(i.shape)}:{i.dtype}" for i in model.inputs)
        print(f"  {model.name}: POST {url}/v1/models/{model.name}:predict  inputs {inputs}", flush=True)
        batching = "on" if model.batchable and args.max_batch_size > 1 else "off"
        print(f"    batching {batching}: {model.batching_reason}", flush=True)
    print(f"onnxgraph serving {len(served)} model(s) at {url} "
          f"(max batch {args.max_batch_size}, max latency {args.max_latency_ms} ms); Ctrl-C stops.", flush=True)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 0


def main(argv=None) -> int:
    """Run the subcommand on its own: `python -m onnxgraph.cli._serve m.onnx`."""
    parser = argparse.ArgumentParser(prog="onnxgraph")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["serve", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
