"""Shared test setup: fresh Keras-style names and a fixed seed per test."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import pytest  # noqa: E402

import onnxgraph as og  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_session():
    og.utils.clear_session()
    og.utils.set_random_seed(1234)
    yield


def check_onnx(model_or_proto):
    """Every emitted model passes the ONNX checker at full_check; returns the proto."""
    proto = model_or_proto.to_onnx() if hasattr(model_or_proto, "to_onnx") else model_or_proto
    onnx.checker.check_model(proto, full_check=True)
    return proto


def rand(*shape, seed=0, dtype="float32"):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)
