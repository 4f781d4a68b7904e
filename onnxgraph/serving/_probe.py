"""The check after the proof: stacked runs on random probe inputs must equal separate runs."""

from __future__ import annotations

import numpy as np

__all__ = ["probe_rowwise"]


def probe_rowwise(run, signatures, make_rows, tolerance: float = 1e-4) -> tuple[bool, str]:
    """Stacked runs on random probe inputs equal separate runs (`run(feeds) -> list of arrays`)."""
    requests = [make_rows(k) for k in (1, 2, 3)]
    try:
        alone = [run(r) for r in requests]
        stacked = run({s.name: np.concatenate([r[s.name] for r in requests]) for s in signatures})
    except Exception as exc:  # noqa: BLE001 - onnxruntime's own errors: the probe says nothing
        return False, f"the probe could not run ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
    bounds = np.cumsum([0, 1, 2, 3])
    for k, outputs in enumerate(alone):
        for index, (single, joint) in enumerate(zip(outputs, stacked)):
            if np.ndim(joint) == 0 or joint.shape[0] != bounds[-1]:
                return False, f"output {index} does not keep the batch of the stacked probe"
            part = joint[bounds[k]:bounds[k + 1]]
            if part.shape != single.shape or not _close(part, single, tolerance):
                return False, f"output {index}: a stacked probe differs from separate runs"
    return True, "stacked probe runs equal separate runs"


def _close(a, b, tolerance) -> bool:
    if a.dtype.kind not in "fc":
        return np.array_equal(a, b)
    scale = max(1.0, float(np.nanmax(np.abs(b))) if b.size else 1.0)
    return bool(np.allclose(a, b, rtol=tolerance, atol=tolerance * scale, equal_nan=True))
