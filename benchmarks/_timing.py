"""Interleaved repetitions and medians: every contender runs once per round, rounds repeat."""

from __future__ import annotations

import statistics
import time
import traceback

__all__ = ["interleaved", "per_call", "fmt_time", "ratio"]


def interleaved(contenders: dict, repeats: int) -> dict:
    """contenders: name -> zero-arg callable returning seconds (or raising). Returns name -> median or error."""
    samples = {name: [] for name in contenders}
    errors = {}
    for _ in range(repeats):
        for name, run in contenders.items():
            if name in errors:
                continue
            try:
                samples[name].append(run())
            except Exception as exc:  # noqa: BLE001 - a failing contender is reported, not fatal
                errors[name] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''}"
                traceback.print_exc(limit=2)
    return {name: (statistics.median(v) if v else None) for name, v in samples.items()} | \
        {f"{name}__error": e for name, e in errors.items()}


def per_call(fn, min_time: float = 0.3, min_calls: int = 3) -> float:
    """Seconds per call of fn, timed over enough calls to take min_time."""
    fn()
    calls, start = 0, time.perf_counter()
    while calls < min_calls or time.perf_counter() - start < min_time:
        fn()
        calls += 1
    return (time.perf_counter() - start) / calls


def fmt_time(seconds) -> str:
    if seconds is None:
        return "failed"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


def ratio(ours, theirs) -> str:
    if ours is None or theirs is None:
        return "n/a"
    return f"{theirs / ours:.2f}x"
