"""Sessions onnxgraph creates leave idle worker threads parked (no spinning) unless asked."""

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph.runtime import make_session
from onnxgraph.runtime._threads import SPIN_KEYS


def spin_entries(session):
    options = session.get_session_options()
    return [options.get_session_config_entry(key) for key in SPIN_KEYS]


@pytest.fixture
def model():
    inputs = og.Input((3,))
    return og.Model(inputs, og.layers.Dense(2)(inputs))


def test_predict_sessions_do_not_spin_by_default(model):
    model.predict(np.ones((4, 3), np.float32), verbose=0)
    assert spin_entries(model._runner().session) == ["0", "0"]


def test_spinning_can_be_turned_back_on_and_explicit_config_wins(model):
    proto = model.to_onnx().SerializeToString()
    try:
        og.runtime.set_thread_spinning(True)
        assert og.runtime.thread_spinning()
        assert spin_entries(make_session(proto, "cpu")) == ["1", "1"]
        explicit = make_session(proto, "cpu", config={SPIN_KEYS[0]: "0"})
        assert spin_entries(explicit) == ["0", "1"]
    finally:
        og.runtime.set_thread_spinning(False)
    assert spin_entries(make_session(proto, "cpu")) == ["0", "0"]


def test_only_the_onnx_engines_train_step_session_spins(model):
    # fit runs the step session back to back: its workers spin; evaluation and predict sessions park.
    model.compile(optimizer="adam", loss="mse", engine="onnx", providers="cpu")
    x, y = np.ones((8, 3), np.float32), np.zeros((8, 2), np.float32)
    model.fit(x, y, epochs=1, verbose=0)
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    engine = model._engine
    assert spin_entries(engine.session)[0] == "1"
    assert spin_entries(engine.eval_session) == ["0", "0"]
    assert spin_entries(model._runner().session) == ["0", "0"]
