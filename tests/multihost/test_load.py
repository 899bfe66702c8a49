"""Load: 8 ``tunesmith worker`` processes share one study of 1,000 trials with a
trivial objective, on PostgreSQL and on a SQLite file. No errors, and exact
accounting: trial numbers 0..N-1, each once, all COMPLETE, each run by one worker."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import tunesmith as ts
from tunesmith.storage import forget_cached
from tunesmith.trial import TrialState

N_WORKERS = 8
N_TRIALS = 1000

OBJECTIVE = """
import os


def objective(trial):
    trial.set_user_attr("pid", os.getpid())
    return (trial.params["x"] - 0.3) ** 2 + trial.params["k"]
"""


def _load(tmp_path: Path, url: str) -> float:
    (tmp_path / "load_objective.py").write_text(textwrap.dedent(OBJECTIVE))
    study = ts.create_study(
        "load",
        storage=url,
        seed=0,
        space={
            "x": {"type": "float", "low": 0.0, "high": 1.0},
            "k": {"type": "int", "low": 0, "high": 3},
        },
    )
    study.close()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
    }
    per_worker = N_TRIALS // N_WORKERS
    t0 = time.monotonic()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tunesmith.cli",
                "worker",
                "--study",
                "load",
                "--storage",
                url,
                "--objective",
                "load_objective:objective",
                "--n-trials",
                str(per_worker),
                "--no-progress",
            ],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(N_WORKERS)
    ]
    results = [p.communicate(timeout=240) for p in procs]
    elapsed = time.monotonic() - t0
    errors = [err for _, err in results if err.strip()]
    assert [p.returncode for p in procs] == [0] * N_WORKERS, errors
    assert errors == []  # not one warning or error line
    forget_cached(url)
    trials = ts.load_study("load", url).trials
    assert [t.number for t in trials] == list(range(N_TRIALS))
    assert all(t.state == TrialState.COMPLETE for t in trials)
    assert all(t.values is not None and len(t.values) == 1 for t in trials)
    pids = [t.user_attrs["pid"] for t in trials]
    assert len(set(pids)) == N_WORKERS
    assert all(pids.count(p) == per_worker for p in set(pids))
    return elapsed


@pytest.mark.slow
@pytest.mark.postgres
def test_eight_workers_thousand_trials_postgres(tmp_path: Path, pg_url: str) -> None:
    elapsed = _load(tmp_path, pg_url)
    print(f"postgres: {N_TRIALS} trials by {N_WORKERS} workers in {elapsed:.1f}s")


@pytest.mark.slow
def test_eight_workers_thousand_trials_sqlite(tmp_path: Path) -> None:
    elapsed = _load(tmp_path, f"sqlite:///{tmp_path / 'load.db'}")
    print(f"sqlite: {N_TRIALS} trials by {N_WORKERS} workers in {elapsed:.1f}s")
