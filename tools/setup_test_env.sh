#!/usr/bin/env bash
# Test environment for the README's test command (`bash tools/setup_test_env.sh && python -m pytest -q`):
# onnxgraph with the training runtime, test tools, serving and Ray extras, plus the system tools below.
set -euo pipefail
cd "$(dirname "$0")/.."
# System tools for the plot tests (graphviz `dot`) and the Netron browser test (headless
# Chromium, its WebDriver, and a font with the glyphs Netron draws); installed only if missing.
need=()
command -v dot >/dev/null 2>&1 || need+=(graphviz)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need+=(fonts-wqy-microhei)
if [ ${#need[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
python -m pip install -q -e ".[train,dev,serve,ray]"
