"""og.backend.clear_session: fresh auto-names like Keras, and cached sessions released."""

import numpy as np
import pytest

import onnxgraph as og

keras = pytest.importorskip("keras")


def test_clear_session_restarts_auto_names_like_keras():
    for lib in (og, keras):
        lib.backend.clear_session()
        lib.layers.Dense(2), lib.layers.Dense(2)
        assert lib.layers.Dense(2).name == "dense_2"
        lib.backend.clear_session()
        assert lib.layers.Dense(2).name == "dense"
        inputs = lib.Input((3,))
        assert lib.Model(inputs, lib.layers.Dense(1)(inputs)).name == "functional"


def test_clear_session_releases_sessions_and_models_keep_working():
    inputs = og.Input((3,))
    model = og.Model(inputs, og.layers.Dense(2)(inputs))
    x = np.ones((2, 3), np.float32)
    before = model.predict(x, verbose=0)
    runner = model._runner()
    assert runner.session is not None
    og.backend.clear_session()
    assert runner.session is None
    np.testing.assert_array_equal(model.predict(x, verbose=0), before)
    assert og.utils.clear_session is og.backend.clear_session
