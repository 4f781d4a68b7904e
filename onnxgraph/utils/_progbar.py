"""Keras 3's progress bar, character for character: `750/750 ━━━━━━━━━━ 1s 863us/step - loss: 0.1641`.

Same rules as `keras.utils.Progbar` (keras/src/utils/progbar.py): while running, the time
shown is the ETA (`%ds`, `%d:%02d`, `%d:%02d:%02d`), at the end the total time; the rate is
the time per step measured after the first step (`s`/`ms`/`us` per step); a value prints as
`%.4f`, or `%.4e` when its magnitude is at most 1e-3 (`2.5713e-05`). Values not named in
`stateful_metrics` are averaged over the steps they were given for, as in Keras.
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np

__all__ = ["Progbar"]


def _format_time(time_per_unit: float, unit_name: str) -> str:
    if time_per_unit >= 1 or time_per_unit == 0:
        return f" {time_per_unit:.0f}s/{unit_name}"
    if time_per_unit >= 1e-3:
        return f" {time_per_unit * 1000.0:.0f}ms/{unit_name}"
    return f" {time_per_unit * 1000000.0:.0f}us/{unit_name}"


def _format_eta(eta: float) -> str:
    if eta > 3600:
        return "%d:%02d:%02d" % (eta // 3600, (eta % 3600) // 60, eta % 60)
    if eta > 60:
        return "%d:%02d" % (eta // 60, eta % 60)
    return "%ds" % eta


class Progbar:
    """A progress bar (verbose 0: silent; 1: one redrawn line; 2: one line when finished).

    Args:
        target: total number of steps, or None when unknown.
        width: bar width in characters.
        verbose: 0, 1 or 2.
        interval: minimum seconds between redraws (verbose=1).
        stateful_metrics: names whose values are shown as given (not averaged over steps).
        stateless_metrics: or the other way round: only these are averaged (not with stateful_metrics).
        unit_name: what a step is called (`step`, `sample`).
        stream: where to write (sys.stdout when None).

    Example:
        >>> bar = Progbar(10)
        >>> for step in range(10):
        ...     bar.update(step + 1, [("loss", 0.5)])
    """

    def __init__(self, target, width: int = 20, verbose: int = 1, interval: float = 0.05, stateful_metrics=None,
                 stateless_metrics=None, unit_name: str = "step", stream=None):
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError("Progbar: pass stateful_metrics (names shown as given) or stateless_metrics (names "
                             "averaged over steps), not both.")
        self.target, self.width, self.verbose = target, width, verbose
        self.interval, self.unit_name = interval, unit_name
        self.stateful_metrics = set(stateful_metrics or ())
        self.stateless_metrics = None if stateless_metrics is None else set(stateless_metrics)
        self._stream = stream
        self._seen_so_far = 0
        self._values: dict = {}
        self._values_order: list = []
        self._start = time.time()
        self._last_update = 0.0
        self._time_after_first_step = None
        self._prev_total_width = 0

    @property
    def stream(self):
        return self._stream or sys.stdout

    def update(self, current: int, values=None, finalize: bool | None = None) -> None:
        """Show progress at step `current`; `values` is a list of (name, value) pairs or a dict."""
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        for k, v in (values.items() if isinstance(values, dict) else values or []):
            if k not in self._values_order:
                self._values_order.append(k)
            stateless = (k in self.stateless_metrics if self.stateless_metrics is not None
                         else k not in self.stateful_metrics)
            if not stateless or finalize:
                self._values[k] = [v, 1]
            else:
                base = max(current - self._seen_so_far, 1)
                if k not in self._values:
                    self._values[k] = [v * base, base]
                else:
                    self._values[k][0] += v * base
                    self._values[k][1] += base
        self._seen_so_far = current
        now = time.time()
        time_per_unit = self._step_duration(current, now)
        if self.verbose == 1:
            if now - self._last_update < self.interval and not finalize:
                return
            self._write_line(current, now, time_per_unit, finalize)
        elif self.verbose == 2 and finalize and self.target is not None and self.target > 0:
            digits = int(math.log10(self.target)) + 1
            info = f"%{digits}d/%d" % (current, self.target) + f" - {now - self._start:.0f}s"
            info += f" -{_format_time(time_per_unit, self.unit_name)}"
            for k in self._values_order:
                avg = self._average(k)
                info += f" - {k}: {avg:.4f}" if avg > 1e-3 else f" - {k}: {avg:.4e}"
            self.stream.write(info + "\n")
            self.stream.flush()
        self._last_update = now

    def add(self, n: int, values=None) -> None:
        self.update(self._seen_so_far + n, values)

    def _average(self, k):
        value, count = self._values[k]
        if not isinstance(value, float):
            value = np.mean(value)
        return value / max(1, count)

    def _write_line(self, current, now, time_per_unit, finalize) -> None:
        message = "\b" * self._prev_total_width + "\r"
        special = 0
        if self.target is not None and self.target > 0:
            digits = int(math.log10(self.target)) + 1
            bar = f"\x1b[1m{f'%{digits}d/%d' % (current, self.target)}\x1b[0m "
            special += 8
            filled = int(self.width * float(current) / self.target)
            if filled > 0:
                bar += f"\33[32m{'━' * filled}\x1b[0m"
                special += 9
            bar += f"\33[37m{'━' * (self.width - filled)}\x1b[0m"
            special += 9
        else:
            bar = "%7d/Unknown" % current
        if self.target is not None and self.target > 0 and not finalize:
            info = f" \x1b[1m{_format_eta(time_per_unit * (self.target - current))}\x1b[0m"
        else:
            info = f" \x1b[1m{now - self._start:.0f}s\x1b[0m"
        special += 8
        info += _format_time(time_per_unit, self.unit_name)
        for k in self._values_order:
            info += f" - {k}:"
            if isinstance(self._values[k], list):
                avg = self._average(k)
                info += f" {avg:.4f}" if abs(avg) > 1e-3 else f" {avg:.4e}"
            else:
                info += f" {self._values[k]}"
        message += bar + info
        total_width = len(bar) + len(info) - special
        if self._prev_total_width > total_width:
            message += " " * (self._prev_total_width - total_width)
        if finalize:
            message += "\n"
        self.stream.write(message)
        self.stream.flush()
        self._prev_total_width = total_width

    def _step_duration(self, current, now) -> float:
        """Seconds per step, not counting the first step (it includes session creation and warm-up)."""
        if not current:
            return 0
        if self._time_after_first_step is not None and current > 1:
            per_step = (now - self._time_after_first_step) / (current - 1)
        else:
            per_step = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return per_step
