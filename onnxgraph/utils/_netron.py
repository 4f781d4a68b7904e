"""view(): open a model in Netron, served by its own process from a private temporary folder.

Netron (PyPI `netron`) keeps its served model on a class shared by all servers of one
process, and serves everything in the model's folder under `/data/`. So each view runs one
child process that serves one file from a folder holding only that model; the child exits
when its stdin closes (on `stop()`, or when this process dies).
"""

from __future__ import annotations

import atexit
import json
import os
import selectors
import shutil
import subprocess
import sys
import tempfile
import time
import weakref

__all__ = ["view", "NetronView"]

# The child: serve one file, print its (host, port), stop when stdin reaches EOF.
_CHILD = """
import json, logging, sys
import netron
logging.disable(logging.CRITICAL)
address = netron.start(sys.argv[1], (sys.argv[2], int(sys.argv[3])), browse=False)
print(json.dumps(list(address)), flush=True)
sys.stdin.read()
netron.stop(tuple(address))
"""

_LIVE: "weakref.WeakSet[NetronView]" = weakref.WeakSet()


class NetronView:
    """A running Netron server for one model. `url`, `stop()`; also a context manager.

    Example:
        >>> with og.utils.view(model, browse=False) as v:
        ...     print(v.url)
    """

    def __init__(self, process: subprocess.Popen, url: str, folder: str, file: str):
        self.process, self.url, self._folder, self.file = process, url, folder, file
        _LIVE.add(self)

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the server process and delete the temporary folder (idempotent)."""
        if self.process.poll() is None:
            try:
                self.process.stdin.close()
                self.process.wait(timeout)
            except (OSError, subprocess.TimeoutExpired):
                self.process.terminate()
                try:
                    self.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream and not stream.closed:
                stream.close()
        shutil.rmtree(self._folder, ignore_errors=True)
        _LIVE.discard(self)

    def __enter__(self) -> "NetronView":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _repr_html_(self) -> str:  # inline in notebooks
        return f'<iframe src="{self.url}" width="100%" height="600" frameborder="0"></iframe>'

    def __repr__(self) -> str:
        return f"<NetronView {self.url} {'running' if self.running else 'stopped'}>"


@atexit.register
def _stop_all() -> None:
    for live in list(_LIVE):
        live.stop(timeout=2.0)


def _write_model(source, folder: str, layer_functions: bool) -> str:
    """Write the model (self-contained, or with data files of its own) into `folder`; return its path."""
    import onnx

    from onnxgraph.saving._files import save_model_file

    if isinstance(source, (str, os.PathLike)):
        from onnxgraph.saving._safe_io import read_onnx_file

        # Checked and self-contained: external data is read from inside the model's folder only, and
        # Netron gets a fresh copy (never links to files a crafted `location` names).
        path = os.fspath(source)
        name = os.path.basename(path)
        target = os.path.join(folder, name if name.endswith(".onnx") else name + ".onnx")
        save_model_file(read_onnx_file(path), target)
        return target
    if isinstance(source, onnx.ModelProto):
        proto, name = source, source.graph.name or "model"
    elif hasattr(source, "to_onnx"):
        proto, name = source.to_onnx(layer_functions=layer_functions), source.name
    else:
        raise TypeError(f"view takes a Model, an onnx.ModelProto or a .onnx path, got {type(source).__name__}.")
    target = os.path.join(folder, f"{name}.onnx")
    save_model_file(proto, target)
    return target


def view(model_or_path, port: int | None = None, browse: bool = True, layer_functions: bool = True,
         host: str = "localhost", timeout: float = 60.0) -> NetronView:
    """Serve a model with Netron in its own process and return the running view.

    Args:
        model_or_path: a Model, an onnx.ModelProto or a path to a `.onnx` file.
        port: the port to listen on (None: a free one).
        browse: open the URL in the default web browser.
        layer_functions: for a Model, show one node per layer (ONNX local functions; the
            ops are one click away); False shows the flat runtime graph.
        host: the interface to bind; "localhost" keeps Netron's consent cookie.
        timeout: seconds to wait for the server to start.

    Returns:
        A NetronView with `.url`; call `.stop()` (or use `with`) to shut it down.

    Example:
        >>> v = og.utils.view(model)      # opens the browser
        >>> v.stop()
    """
    try:
        import netron  # noqa: F401 - fail here, with advice, rather than in the child
    except ImportError:
        raise ImportError("view needs Netron: `pip install netron`.") from None
    base = tempfile.mkdtemp(prefix="onnxgraph-netron-")
    folder = os.path.join(base, "model")  # served: holds only the model
    os.mkdir(folder, 0o700)
    try:
        file = _write_model(model_or_path, folder, layer_functions)
        log = open(os.path.join(base, "netron.log"), "wb")
        with log:
            process = subprocess.Popen(
                [sys.executable, "-c", _CHILD, os.path.basename(file), host, str(port or 0)],
                cwd=folder, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log)
        address = _read_address(process, timeout, os.path.join(base, "netron.log"))
    except BaseException:
        shutil.rmtree(base, ignore_errors=True)
        raise
    url = f"http://{address[0]}:{address[1]}"
    handle = NetronView(process, url, base, file)
    if browse:
        import webbrowser

        webbrowser.open(url)
    return handle


def _read_address(process: subprocess.Popen, timeout: float, log_path: str) -> list:
    deadline = time.monotonic() + timeout
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    try:
        while time.monotonic() < deadline:
            if selector.select(timeout=0.1):
                line = process.stdout.readline()
                if line:
                    return json.loads(line)
                break  # EOF: the child exited
            if process.poll() is not None:
                break
    finally:
        selector.close()
    process.kill()
    process.wait()
    process.stdin.close()
    process.stdout.close()
    with open(log_path, "rb") as f:
        tail = f.read().decode("utf-8", "replace").strip().splitlines()
    reason = tail[-1] if tail else f"no answer within {timeout:.0f} s"
    raise RuntimeError(f"Netron did not start: {reason}")
