"""og.utils.Progbar prints what keras.utils.Progbar prints for the same steps, values and clock."""

import io
import time

import pytest

import onnxgraph as og

keras = pytest.importorskip("keras")


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def drive(make_bar, monkeypatch, steps, values, dt, **kwargs):
    """Run a bar through `steps` updates, `dt[i]` seconds apart; returns what it wrote."""
    clock = Clock()
    monkeypatch.setattr(time, "time", clock)
    out = io.StringIO()
    import contextlib

    with contextlib.redirect_stdout(out):
        bar = make_bar(**kwargs)
        for step in range(1, steps + 1):
            clock.now += dt[step - 1]
            bar.update(step, values(step))
    return out.getvalue()


CASES = [
    # (target, steps, values per step, seconds per step)
    (10, 10, lambda s: [("loss", 1.0 / s), ("accuracy", 0.5 + s / 40)], [0.2] * 10),
    (5, 5, lambda s: [("loss", 2.5713e-05 * s)], [3.0, 0.01, 0.01, 0.01, 0.01]),           # tiny values, slow 1st step
    (200, 200, lambda s: [("loss", -0.5), ("mae", 1e-4)], [0.5] * 200),                     # ETA in minutes
    (4, 4, lambda s: [("loss", 0.1)], [2000.0] * 4),                                        # ETA in hours
    (None, 6, lambda s: [("loss", 0.3)], [0.0004] * 6),                                     # unknown target, us/step
]


@pytest.mark.parametrize("verbose", [1, 2])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_output_matches_keras(monkeypatch, case, verbose):
    target, steps, values, dt = CASES[case]
    ours = drive(og.utils.Progbar, monkeypatch, steps, values, dt, target=target, verbose=verbose)
    theirs = drive(keras.utils.Progbar, monkeypatch, steps, values, dt, target=target, verbose=verbose)
    assert ours == theirs
    if verbose == 2 and target:
        assert ours.count("\n") == 1


def test_running_line_shows_eta_and_final_line_total_time(monkeypatch):
    out = drive(og.utils.Progbar, monkeypatch, 10, lambda s: [("loss", 2.5713e-05)], [1.0] * 10, target=10)
    frames = out.split("\r")
    assert "\x1b[1m8s\x1b[0m 1s/step" in frames[2]      # after step 2: 8 steps left at 1 s/step
    assert "\x1b[1m10s\x1b[0m 1s/step" in frames[-1]    # finished: total time
    assert "loss: 2.5713e-05" in frames[-1] and frames[-1].endswith("\n")


def test_stateful_metrics_are_shown_as_given(monkeypatch):
    kwargs = {"target": 3, "stateful_metrics": ["acc"]}
    values = lambda s: [("acc", 0.1 * s), ("loss", 1.0 * s)]  # noqa: E731
    ours = drive(og.utils.Progbar, monkeypatch, 2, values, [0.1, 0.1], **kwargs)
    theirs = drive(keras.utils.Progbar, monkeypatch, 2, values, [0.1, 0.1], **kwargs)
    assert ours == theirs and "acc: 0.2000 - loss: 1.5000" in ours
