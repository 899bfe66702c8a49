"""The examples a user copies must keep working (run briefly, for real)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import tunesmith as ts
from tunesmith.trial import TrialState

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_readme_main_job_runs_and_resumes(tmp_path):
    pytest.importorskip("sklearn")
    db = tmp_path / "studies.db"
    cmd = [
        sys.executable,
        str(ROOT / "examples" / "tune_digits.py"),
        "--timeout",
        "120",
        "--n-trials",
        "6",
        "--storage",
        str(db),
    ]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert first.returncode == 0, first.stderr
    assert "Best CV accuracy" in first.stdout
    assert "tunesmith show svm-digits --storage" in first.stdout
    n_first = len(ts.load_study("svm-digits", str(db)).trials)
    assert n_first == 6
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert second.returncode == 0, second.stderr
    trials = ts.load_study("svm-digits", str(db)).trials
    assert len(trials) == 12
    assert all(t.state == TrialState.COMPLETE for t in trials)
    assert max(t.value for t in trials) > 0.9
