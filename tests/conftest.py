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


@pytest.fixture(scope="module")
def ray_local():
    """A local Ray (2 CPUs) for one test module, shut down and cleaned up after: its temp folder,
    and the auth token Ray writes under the home folder if it was not there before."""
    import pathlib
    import shutil
    import tempfile

    ray = pytest.importorskip("ray")
    token = pathlib.Path.home() / ".ray" / "auth_token"
    had_token = token.exists()
    saved = {key: os.environ.get(key) for key in ("RAY_USAGE_STATS_ENABLED", "RAY_AUTH_MODE")}
    os.environ.update(RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="disabled")  # loopback only
    temp = tempfile.mkdtemp(prefix="ogray-")  # short: Ray puts unix sockets in it
    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _temp_dir=temp)
        yield ray
    finally:
        ray.shutdown()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(temp, ignore_errors=True)
        if not had_token and token.exists():
            token.unlink()
            if not any(token.parent.iterdir()):
                token.parent.rmdir()
