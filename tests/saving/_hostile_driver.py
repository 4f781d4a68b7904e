"""Run one model file through every entry point, in a subprocess, and report what each did.

    python tests/saving/_hostile_driver.py REPORT.json OUTSIDE_DIR WORK_DIR MODEL.onnx [MODEL.onnx ...]

Entry points: the Python API (load_model, Model.from_onnx on the path and on the parsed proto,
export_model), serving (resolve_models + ServedModel from the path and from the bytes, a raw
ModelSpec, the in-process HTTP server `og.serving.serve`), and every command of the command line
(`onnxgraph.cli.main`, stderr captured). An audit hook records every "open" that reaches
OUTSIDE_DIR (where the crafted files point); a crash or hang kills this process, which the
calling test sees in its exit status or timeout. Each result: entry, outcome
("ok" | "refused" | "unclear"), message, outputs (for "ok"), outside opens.
"""

import contextlib
import io
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from tests.saving._audit import outside, recording  # noqa: E402

CLEAR = (ValueError, OSError, TypeError)  # FileNotFoundError, limit and format errors are ValueError/OSError
BLOCKING = ("view", "serve")


class NotApplicable(Exception):
    """The entry point cannot even be called with this file (e.g. there is no proto to pass)."""  # an accepted file would serve until stopped


def _named(message: str, path: str) -> bool:
    return path in message or os.path.basename(path) in message or "model '" in message \
        or "the ONNX bytes" in message or "from_onnx" in message


def _python_entries(path, work):
    import onnx

    import onnxgraph as og
    from onnxgraph.export import export_model
    from onnxgraph.serving import ModelSpec, ServedModel, resolve_models

    x = np.ones((2, 6), np.float32)

    def served(specs):
        model = ServedModel(specs[0], providers="cpu")
        return model.run(model.feeds(x))[0]

    def http():
        import httpx

        with og.serving.serve(path, providers="cpu") as server:
            name = os.path.splitext(os.path.basename(path))[0]
            reply = httpx.post(f"{server.url}/v1/models/{name}:predict", json={"inputs": x.tolist()}, timeout=30)
            outputs = reply.json()["outputs"]
            return np.array(next(iter(outputs.values())) if isinstance(outputs, dict) else outputs, np.float32)

    def proto():
        parsed = onnx.ModelProto()
        try:
            with open(path, "rb") as f:
                parsed.ParseFromString(f.read())  # a caller's own parse: external references kept
        except Exception:  # noqa: BLE001 - protobuf itself refuses: there is no proto to pass
            raise NotApplicable("protobuf cannot parse the file, so there is no proto to pass") from None
        return og.Model.from_onnx(parsed).predict(x, verbose=0)

    return {
        "load_model": lambda: og.load_model(path).predict(x, verbose=0),
        "from_onnx": lambda: og.Model.from_onnx(path).predict(x, verbose=0),
        "from_onnx(proto)": proto,
        "export_model": lambda: export_model(path, os.path.join(work, "exported.onnx"), verbose=False).max_abs_diff,
        "serving(path)": lambda: served(resolve_models(path)),
        "serving(bytes)": lambda: served(resolve_models(open(path, "rb").read())),
        "ServedModel(ModelSpec)": lambda: served([ModelSpec("m", open(path, "rb").read())]),
        "serve(http)": http,
    }


def _cli_entries(path, work):
    from onnxgraph.cli import main

    inputs = os.path.join(work, "x.npy")
    np.save(inputs, np.ones((2, 6), np.float32))
    out = os.path.join(work, "out")
    commands = {
        "summary": ["summary", path],
        "check": ["check", path],
        "predict": ["predict", path, "--input", inputs, "--output", out + ".npy"],
        "bench": ["bench", path, "--iterations", "2", "--warmup", "0"],
        "extract": ["extract", path, os.path.join(work, "features.onnx"), "--outputs", "y"],
        "export": ["export", path, os.path.join(work, "edge.onnx")],
        "plot": ["plot", path, "-o", out + ".svg"],
        "view": ["view", path, "--no-browse"],
        "serve": ["serve", path, "--port", "0"],
    }

    def run(argv):
        def call():
            err = io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                status = main(argv)
            if status == 0 and argv[0] == "predict":
                return np.load(out + ".npy")
            return status, err.getvalue().strip()
        return call

    return {f"cli {name}": run(argv) for name, argv in commands.items()}


def _classify(entry, call, path, blocking_ok):
    if not blocking_ok and entry.split()[-1] in BLOCKING:
        return {"outcome": "skipped", "message": "blocks when the file is accepted"}
    try:
        result = call()
    except NotApplicable as exc:
        return {"outcome": "skipped", "message": str(exc)}
    except CLEAR as exc:
        message = " ".join(str(exc).split())
        return {"outcome": "refused" if _named(message, path) else "unclear", "message": message[:1500],
                "type": type(exc).__name__}
    except Exception as exc:  # noqa: BLE001 - anything else is a cryptic error
        return {"outcome": "unclear", "message": f"{type(exc).__name__}: {exc}"[:1500], "type": type(exc).__name__}
    if isinstance(result, tuple):  # a CLI status
        status, err = result
        if status == 0:
            return {"outcome": "ok", "message": ""}
        clear = status == 2 and err.startswith("onnxgraph ") and _named(err, path) and "\n" not in err
        return {"outcome": "refused" if clear else "unclear", "message": err[:1500], "status": status}
    values = None if result is None or isinstance(result, dict) else np.asarray(result, np.float64).ravel()[:64]
    return {"outcome": "ok", "message": "", "outputs": None if values is None else values.tolist()}


def main(argv):
    report, forbidden, work = argv[:3]
    results = []
    for path in argv[3:]:
        blocking_ok = os.environ.get("HOSTILE_RUN_BLOCKING") == "1"
        entries = {**_python_entries(path, work), **_cli_entries(path, work)}
        for entry, call in entries.items():
            with recording() as opened:
                result = _classify(entry, call, path, blocking_ok)
            result.update(file=path, entry=entry, outside=outside(opened, forbidden, names=("secret.bin",)))
            results.append(result)
    with open(report, "w") as f:
        json.dump(results, f)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("KERAS_BACKEND", "torch")
    sys.exit(main(sys.argv[1:]))
