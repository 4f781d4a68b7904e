"""One parity helper for ops: run an op symbolically (through a Model of op-layers) and eagerly."""

import numpy as np

import onnxgraph as og
from tests.conftest import check_onnx


def symbolic_inputs(arrays, static=False):
    """One Input per array: dynamic batch for arrays of rank >= 1 unless `static`."""
    inputs = []
    for a in arrays:
        a = np.asarray(a)
        if static or a.ndim == 0:
            inputs.append(og.Input(batch_shape=a.shape, dtype=a.dtype))
        else:
            inputs.append(og.Input(shape=a.shape[1:], dtype=a.dtype))
    return inputs


def run_symbolic(fn, arrays, static=False, roundtrip=False):
    """Outputs of `fn` built on Inputs (ops outside layers become op-layers), run by onnxruntime.

    Also checks the ONNX file and that the model rebuilt from its config computes the same.
    """
    inputs = symbolic_inputs(arrays, static)
    model = og.Model(inputs, fn(*inputs))
    check_onnx(model)
    feed = list(arrays) if len(arrays) > 1 else arrays[0]
    got = model.predict(feed, verbose=0)
    if roundtrip:
        clone = og.Model.from_config(model.get_config())
        assert_close(clone.predict(feed, verbose=0), got)
    return got


def assert_close(got, want, rtol=1e-5, atol=1e-5, check_dtype=True):
    if isinstance(want, (list, tuple)):
        assert isinstance(got, (list, tuple)) and len(got) == len(want), (type(got), len(want))
        for g, w in zip(got, want):
            assert_close(g, w, rtol, atol, check_dtype)
        return
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"shape {got.shape} != {want.shape}"
    if check_dtype:
        assert got.dtype == want.dtype, f"dtype {got.dtype} != {want.dtype}"
    if want.dtype.kind in "fc":
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True)
    else:
        np.testing.assert_array_equal(got, want)


class Case:
    """An op check: `fn` on arrays (via ops) against `ref`, an independent numpy computation."""

    def __init__(self, id, fn, ref, *arrays, static=False, rtol=1e-5, atol=1e-5, eager=True):  # noqa: A002
        self.id, self.fn, self.ref, self.arrays = id, fn, ref, [np.asarray(a) for a in arrays]
        self.static, self.rtol, self.atol, self.eager = static, rtol, atol, eager

    def expected(self):
        return self.ref(*self.arrays)


def check_case_symbolic(case):
    assert_close(run_symbolic(case.fn, case.arrays, case.static), case.expected(), case.rtol, case.atol)


def check_case_eager(case):
    assert_close(case.fn(*case.arrays), case.expected(), case.rtol, case.atol)
