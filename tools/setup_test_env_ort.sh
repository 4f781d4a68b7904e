#!/usr/bin/env bash
# Second test environment (CI runs the whole suite in it after the README's test command): the
# current onnxruntime release from the `cpu` extra -- no onnxruntime-training -- in a virtualenv,
# with the same test tools, serving and Ray extras. Training there runs on the "onnx" engine.
# Usage: bash tools/setup_test_env_ort.sh && .venv-ort/bin/python -m pytest -q
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${ORT_TEST_VENV:-.venv-ort}"
[ -x "$venv/bin/python" ] || python -m venv "$venv"
"$venv/bin/python" -m pip install -q -e ".[cpu,dev,serve,ray]"
# The point of this environment: make sure the training build did not come in as a dependency.
if "$venv/bin/python" -c "import onnxruntime.training.api" >/dev/null 2>&1; then
    echo "setup_test_env_ort.sh: onnxruntime-training is installed in $venv; this environment must not have it." >&2
    exit 1
fi
"$venv/bin/python" -c "import onnxruntime; print('test env 2: onnxruntime', onnxruntime.__version__)"
