"""Process-wide thread policy for onnxgraph's onnxruntime sessions: worker threads do not spin.

Every onnxruntime session owns an intra-op thread pool. By default its idle workers
busy-wait ("spin") after each run to pick up the next parallel section quickly: measured
here, a toy ResNet session burnt 8 ms of CPU in the 20 ms after each run (0.1 ms without
spinning), CPU that the process's other sessions (another model, the training engine's
eval session, a server's event loop) needed. onnxruntime-training 1.19.2's Python API has
no process-wide (global) thread pool (`use_per_session_threads` is C API only), so
onnxgraph turns spinning off for every session it creates, except the "onnx" training
engine's train-step session, which fit runs back to back (see trainer/_onnx_engine.py). A
process that runs one model in a tight loop on otherwise idle cores can turn it back on.
"""

from __future__ import annotations

__all__ = ["set_thread_spinning", "thread_spinning", "spin_config", "SPIN_KEYS"]

SPIN_KEYS = ("session.intra_op.allow_spinning", "session.inter_op.allow_spinning")
_state = {"spinning": False}


def set_thread_spinning(enabled: bool) -> None:
    """Let sessions created from now on spin their idle worker threads (onnxruntime's default).

    Args:
        enabled: True for onnxruntime's default (lowest latency for one model on idle cores),
            False (onnxgraph's default) so idle sessions leave the CPU to everything else.

    Example:
        >>> set_thread_spinning(True)   # one latency-critical model, nothing else on the machine
    """
    _state["spinning"] = bool(enabled)


def thread_spinning() -> bool:
    """Whether sessions created now spin their idle worker threads."""
    return _state["spinning"]


def spin_config() -> dict:
    """Session config entries for the current policy (explicit entries passed to make_session win)."""
    value = "1" if _state["spinning"] else "0"
    return {key: value for key in SPIN_KEYS}
