"""Fixtures for the serving tests (models in _serving_models.py)."""

import onnx
import pytest
from _serving_models import make_encoder, make_gather_proto, make_pair


@pytest.fixture
def encoder():
    return make_encoder()


@pytest.fixture
def pair():
    return make_pair()


@pytest.fixture
def gather_path(tmp_path):
    path = tmp_path / "lookup.onnx"
    onnx.save(make_gather_proto(), path)
    return path
