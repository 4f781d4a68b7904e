#!/usr/bin/env bash
# The README's test command: install onnxgraph with the training runtime and test tools, run the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -e ".[train,dev]"
export KERAS_BACKEND=torch
python -m pytest -q
