"""Every model the onnx wheel ships as backend test data: import, predict, cut, re-save, fp16, int8.

Each model passes every step, or is refused at import with a clear reason (sequences, strings,
training ops). The per-collection counts are in the closing note of issue 14 and come from
`python -m pytest tests/interop/test_onnx_zoo.py -q -rA`.
"""

import os

import numpy as np
import onnx
import pytest

import onnxgraph as og
from tests.interop import _zoo

CASES = _zoo.cases()
# The light/ classics whose reduced weights still expand to 230-550 MB at import (vgg19, zfnet512,
# alexnet): tens of seconds each, so marked slow (CI runs them too).
_BIG = ("light_vgg19", "light_zfnet512", "light_bvlc_alexnet")
IMPORTABLE = [pytest.param(c, id=c.id, marks=[pytest.mark.slow] if c.name in _BIG else [])
              for c in CASES if c.refusal is None]


def test_the_wheel_ships_the_collections():
    collections = {c.collection for c in CASES}
    assert {"light", "pytorch-converted", "pytorch-operator", "simple"} <= collections
    assert len(CASES) >= 140


@pytest.mark.parametrize("case", [c for c in CASES if c.refusal], ids=lambda c: c.id)
def test_not_applicable_models_are_refused_with_the_reason(case):
    with pytest.raises(ValueError, match=case.refusal):
        og.Model.from_onnx(case.path)


def _check_close(got, want, rtol, atol, what):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    np.testing.assert_allclose(got.astype(np.float64) if got.dtype.kind == "f" else got, want,
                               rtol=rtol, atol=atol, equal_nan=True, err_msg=what)


@pytest.mark.parametrize("case", IMPORTABLE)
def test_import_predict_cut_resave_and_edge_export(case, tmp_path):
    model = og.Model.from_onnx(case.path)
    inputs, expected = case.inputs_and_outputs()
    rtol, atol = case.tolerances()

    # 1. predict equals the outputs stored beside the model
    got = _zoo.as_list(model.predict(_zoo.feed(model, inputs), verbose=0))
    assert len(got) == len(expected)
    for i, (g, want) in enumerate(zip(got, expected)):
        _check_close(g, want, rtol, atol, f"{case.id} output {i}")

    # 2. a feature extractor cut at an intermediate node equals onnxruntime on the original file
    source = onnx.load(case.path)
    value = _zoo.intermediate_value(model, source)
    extractor = og.Model(model.inputs, model.get_tensor(value))
    cut = extractor.predict(_zoo.feed(extractor, inputs), verbose=0)
    _check_close(cut, _zoo.reference_value(case.path, value, inputs), rtol, atol, f"{case.id} value {value}")

    # 3. save -> load -> predict: the same numbers
    path = str(tmp_path / "model.onnx")
    model.save(path)
    reloaded = og.load_model(path)
    again = _zoo.as_list(reloaded.predict(_zoo.feed(reloaded, inputs), verbose=0))
    for g, a in zip(got, again):
        np.testing.assert_array_equal(a, g)

    # 4. float16 and int8 exports run and stay near float32 where the outputs are floats
    for options in ({"fp16": True}, {"quantize": "dynamic"}):
        out = str(tmp_path / f"edge_{'_'.join(options)}.onnx")
        report = model.export(out, sample_data=_zoo.feed(model, inputs), verbose=False, **options)
        assert os.path.getsize(out) > 0
        assert report.max_abs_diff is not None, f"{case.id}: the {options} export did not run"
        for name, deviation in report.max_abs_diff.items():
            assert np.isfinite(deviation) or not np.all(np.isfinite(np.concatenate(
                [np.ravel(np.asarray(g, dtype=np.float64)) for g in got]))), (case.id, options, name)


def test_summary_says_how_the_opset_was_brought_up():
    case = next(c for c in CASES if c.name == "light_vgg19")
    model = og.Model.from_onnx(case.path)
    lines = []
    model.summary(print_fn=lines.append)
    assert lines[-1].startswith("Imported from ONNX opset 9; onnx version converter 9 -> 21")
    assert "Dropout -> Identity" in lines[-1]
    assert model.import_report["source_opset"] == 9
