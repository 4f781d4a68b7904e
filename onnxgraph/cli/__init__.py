"""The `onnxgraph` command: summary, check, view, plot, export, extract, predict, bench (and serve).

Each subcommand module has `add_parser(subparsers)` (registering its subcommands with
`set_defaults(func=run)`) and the `run(args) -> int` functions; `MODULES` lists them, so a
new subcommand is a new module name here.
"""

from __future__ import annotations

import argparse
import importlib
import sys

__all__ = ["main", "MODULES"]

MODULES = ("onnxgraph.cli._inspect", "onnxgraph.cli._convert", "onnxgraph.cli._run", "onnxgraph.cli._serve")


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line (`onnxgraph predict: error: ...`), exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="onnxgraph", description="Inspect, view, convert and run ONNX models "
                     "(onnxgraph files or any exporter's).")
    from onnxgraph import __version__

    parser.add_argument("--version", action="version", version=f"onnxgraph {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    for name in MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # an optional subcommand module that is not there
                continue
            raise
        module.add_parser(subparsers)
    return parser


def main(argv=None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 failed check, 2 bad input)."""
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - one line for the user, not a traceback
        if args.debug:
            raise
        text = " ".join(str(exc).split()) or type(exc).__name__
        print(f"onnxgraph {args.command}: error: {text}", file=sys.stderr)
        return 2
