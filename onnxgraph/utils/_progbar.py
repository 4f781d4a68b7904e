"""A Keras 3 style progress bar: `750/750 ━━━━━━━━━━━━━━━━━━━━ 1s 863us/step - loss: 0.1641`."""

from __future__ import annotations

import sys
import time

__all__ = ["Progbar"]


def _format_time(seconds_per_step: float) -> str:
    if seconds_per_step >= 1:
        return f"{seconds_per_step:.0f}s/step"
    if seconds_per_step >= 1e-3:
        return f"{seconds_per_step * 1e3:.0f}ms/step"
    return f"{seconds_per_step * 1e6:.0f}us/step"


class Progbar:
    """verbose 0: silent; 1: live bar; 2: one line when finalized."""

    def __init__(self, target: int | None, width: int = 20, verbose: int = 1, stream=None):
        self.target, self.width, self.verbose = target, width, verbose
        self.stream = stream or sys.stdout
        self.start = time.perf_counter()
        self._last_draw = 0.0

    def update(self, current: int, values=None, finalize: bool = False) -> None:
        if not self.verbose:
            return
        now = time.perf_counter()
        if self.verbose == 1 and not finalize and now - self._last_draw < 0.05:
            return
        self._last_draw = now
        elapsed = now - self.start
        per_step = elapsed / max(current, 1)
        metrics = "".join(f" - {k}: {v:.4f}" if isinstance(v, float) else f" - {k}: {v}"
                          for k, v in (values or {}).items())
        total = self.target or current
        if self.verbose == 1:
            filled = int(self.width * current / max(total, 1))
            bar = "━" * filled + " " * (self.width - filled)
            line = f"\r{current}/{total} {bar} {elapsed:.0f}s {_format_time(per_step)}{metrics}"
            self.stream.write(line + ("\n" if finalize else ""))
            self.stream.flush()
        elif finalize:
            self.stream.write(f"{current}/{total} - {elapsed:.0f}s - {_format_time(per_step)}{metrics}\n")
            self.stream.flush()
