#!/usr/bin/env bash
# Create the benchmarks' own virtualenv at <repo>/.bench-venv (git-ignored).
#
# It holds tunesmith (editable, from this checkout), the latest Optuna from PyPI and
# psycopg 3 (for the PostgreSQL runs), so Optuna never has to be a project dependency.
# opfunu 1.0.4 (pinned) is there only for the GEGO paper's CEC2017 protocol
# (benchmarks/cec2017/opfunu_suite.py); the official suite needs numpy only.
#
# Usage:  bash benchmarks/setup_env.sh            # create or update
#         FRESH=1 bash benchmarks/setup_env.sh    # delete and recreate
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.bench-venv"
PYTHON="${PYTHON:-python3}"

if [[ "${FRESH:-0}" == "1" && -d "$VENV" ]]; then
    rm -rf "$VENV"
fi
if [[ ! -x "$VENV/bin/python" ]]; then
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet --upgrade -e "$ROOT" optuna "psycopg[binary]" \
    "opfunu==1.0.4"
"$VENV/bin/python" - <<'PY'
import sys

import optuna
import psycopg
import sqlalchemy

import tunesmith

print(f"python {sys.version.split()[0]}  tunesmith {tunesmith.__version__}  "
      f"optuna {optuna.__version__}  sqlalchemy {sqlalchemy.__version__}  "
      f"psycopg {psycopg.__version__}")
PY
