"""Interleaved repetitions and medians: every contender runs once per round, rounds repeat.

Each round starts with a different contender (rotation), so a contender is not always the
one that runs right after the same neighbour; on a shared machine, load changes between
rounds hit every contender alike and the medians stay comparable.
"""

from __future__ import annotations

import statistics
import time
import traceback

__all__ = ["interleaved", "per_call", "fmt_time", "ratio", "Result"]


class Result(dict):
    """name -> median sample (None when it failed); `.errors`, `.samples` and `.counts` per name."""

    def __init__(self, samples: dict, errors: dict):
        super().__init__({name: (statistics.median(v) if v else None) for name, v in samples.items()})
        self.samples = samples
        self.errors = errors
        self.counts = {name: len(v) for name, v in samples.items()}

    def cell(self, name: str, fmt) -> str:
        """`fmt(median)`, or 'failed (reason)' for a contender that raised."""
        if self[name] is None:
            return f"failed ({self.errors.get(name, 'no sample')})"
        return fmt(self[name])


def interleaved(contenders: dict, repeats: int, max_seconds: float | None = None) -> Result:
    """Run each contender once per round for `repeats` rounds; a contender that raises is dropped.

    Args:
        contenders: name -> zero-argument callable returning one sample (seconds, or a rate).
        repeats: number of rounds.
        max_seconds: a contender whose single run took longer than this is not repeated
            (the 1,000-layer Keras build takes over a minute a run).

    Returns:
        A `Result`: name -> median sample or None, with `.errors`, `.samples`, `.counts`.
    """
    names = list(contenders)
    samples: dict[str, list] = {name: [] for name in names}
    errors: dict[str, str] = {}
    slow: set[str] = set()
    for round_ in range(repeats):
        for k in range(len(names)):
            name = names[(round_ + k) % len(names)]
            if name in errors or name in slow:
                continue
            start = time.perf_counter()
            try:
                samples[name].append(contenders[name]())
            except Exception as exc:  # noqa: BLE001 - a failing contender is reported, not fatal
                errors[name] = _describe(exc)
                traceback.print_exc(limit=3)
            if max_seconds is not None and time.perf_counter() - start > max_seconds:
                slow.add(name)
    return Result(samples, errors)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0][:100] if text else ""
    # Markdown tables break on pipes.
    return f"{type(exc).__name__}: {first}".replace("|", "/")


def per_call(fn, min_time: float = 0.3, min_calls: int = 3) -> float:
    """Seconds per call of fn, timed over enough calls to take min_time (after one warm-up call)."""
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
    """theirs / ours as 'N.NNx' (for times: > 1 means ours is faster)."""
    if ours is None or theirs is None:
        return "n/a"
    return f"{theirs / ours:.2f}x"
