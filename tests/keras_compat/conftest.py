"""Keras's own tests, run on onnxgraph: markers they use, and the expected outcome of each test.

`expectations.py` says, per test, whether it is not applicable (Keras backend internals: skipped
with the reason) or a known failure (xfail; a fix shows as XPASS, and `python -m tests.keras_compat.report
--write-expectations` drops the entry). Everything else must pass.
"""

import os

import pytest

from tests.keras_compat.expectations import EXPECTED


def pytest_configure(config):
    for name in ("requires_trainable_backend", "skip_if_backend"):
        config.addinivalue_line("markers", f"{name}: Keras test-suite marker")


def pytest_collection_modifyitems(config, items):
    if os.environ.get("KERAS_COMPAT_RAW"):  # report.py --write-expectations: the raw outcomes
        return
    for item in items:
        if "keras_compat" not in str(item.fspath):
            continue
        key = item.nodeid.split("keras_compat/", 1)[-1]
        outcome = EXPECTED.get(key) or EXPECTED.get(key.split("[")[0])
        if outcome is None:
            continue
        kind, reason = outcome.split(": ", 1)
        if kind == "n/a":
            item.add_marker(pytest.mark.skip(reason=f"not applicable: {reason}"))
        else:
            item.add_marker(pytest.mark.xfail(reason=reason, strict=False))
