#!/usr/bin/env bash
# Create .bench-yahpo (git-ignored): yahpo-gym + onnxruntime for the lcbench problems of
# benchmarks/multifidelity. yahpo-gym 1.0.2 pins numpy 1.26 and ConfigSpace 0.6.1, so it
# cannot share .bench-venv; the benchmark talks to it through yahpo_server.py.
# FRESH=1 recreates it. The surrogate model is read from ../shared/data/yahpo (or
# $TUNESMITH_BENCH_DATA/yahpo) at run time; nothing is downloaded but the packages.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=.bench-yahpo
if [[ "${FRESH:-0}" == 1 ]]; then
    rm -rf "$VENV"
fi
if [[ ! -x "$VENV/bin/python" ]]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q "yahpo-gym==1.0.2" "onnxruntime==1.32.0"
"$VENV/bin/python" - <<'PY'
from importlib import metadata
for pkg in ("yahpo-gym", "onnxruntime", "numpy", "ConfigSpace"):
    print(f"{pkg} {metadata.version(pkg)}")
PY
