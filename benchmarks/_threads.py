"""One thread count for every contender: onnxruntime, torch (PyTorch and Keras), OpenMP and OpenBLAS.

Oversubscribed thread pools on a shared machine are the largest source of noise: with two
threads on two busy cores, torch's OpenMP barriers made a batch-1 MLP 20x slower, and a
two-thread OpenBLAS QR (the LSTM's orthogonal initializer) took 0.9 s instead of 9 ms.
"""

from __future__ import annotations

import functools
import os

__all__ = ["set_env", "apply", "ort_options", "ENV_KEY"]

ENV_KEY = "ONNXGRAPH_BENCH_THREADS"
_LIBRARY_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def set_env(threads: int) -> None:
    """Thread counts read by the native libraries at load: call before numpy/torch are imported."""
    os.environ[ENV_KEY] = str(threads)
    for var in _LIBRARY_VARS:
        os.environ[var] = str(threads)


def threads() -> int:
    return int(os.environ.get(ENV_KEY, "1"))


def apply() -> int:
    """Give torch and onnxgraph's inference sessions the benchmark's thread count; returns it."""
    import torch

    import onnxgraph.runtime
    from onnxgraph.runtime import _runner

    n = threads()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    if getattr(_runner.make_session, "_bench_threads", None) != n:
        original = getattr(_runner.make_session, "_bench_original", _runner.make_session)

        # onnxgraph has no public knob for predict's session threads; sessions made through
        # make_session (predict, __call__) get the same count as the raw session and torch.
        @functools.wraps(original)
        def make_session(model_bytes, providers="auto", threads=None, *args, **kwargs):
            return original(model_bytes, providers, threads or n, *args, **kwargs)

        make_session._bench_threads, make_session._bench_original = n, original
        _runner.make_session = onnxgraph.runtime.make_session = make_session
    return n


def ort_options():
    """SessionOptions for a raw onnxruntime session with the benchmark's thread count."""
    from onnxgraph.runtime import import_onnxruntime

    options = import_onnxruntime().SessionOptions()
    options.intra_op_num_threads = threads()
    options.log_severity_level = 3
    return options
