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


@pytest.mark.slow
def test_compare_samplers_example_runs():
    pytest.importorskip("sklearn")
    cmd = [
        sys.executable,
        str(ROOT / "examples" / "compare_samplers.py"),
        "--n-trials",
        "11",
        "--seeds",
        "1",
        "--samplers",
        "auto",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    lines = {line.split()[0]: line for line in out.stdout.splitlines() if line.strip()}
    assert "GPSampler (5 parameters" in lines["auto"]  # the 11th trial was the GP's
    best = float(lines["auto"].split()[1])
    assert 0.0 < best < 0.3  # log loss; a constant predictor scores about 0.66


@pytest.mark.slow
@pytest.mark.parametrize(
    ("pruner", "sampler"),
    [
        ("median", "auto"),
        ("sh", "auto"),
        ("hyperband", "auto"),
        ("none", "auto"),
        ("hyperband", "bohb"),
        ("hyperband", "dehb"),
    ],
)
def test_prune_mlp_example_runs(pruner, sampler):
    pytest.importorskip("sklearn")
    cmd = [
        sys.executable,
        str(ROOT / "examples" / "prune_mlp.py"),
        "--n-trials",
        "8",
        "--epochs",
        "6",
        "--pruner",
        pruner,
        "--sampler",
        sampler,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    pruned = next(line for line in lines if line.startswith("Trials pruned:"))
    epochs = next(line for line in lines if line.startswith("Epochs trained:"))
    n_pruned = int(pruned.split()[2])
    spent = int(epochs.split()[2])
    assert epochs.split()[4] == "48"  # 8 trials x 6 epochs without pruning
    if pruner == "none":
        assert (n_pruned, spent) == (0, 48)
    elif pruner == "median":  # waits for 5 finished trials: it may prune none of 8
        assert spent <= 48
    else:  # rungs at epochs 1 and 3 (and 3 only for Hyperband's second bracket)
        assert n_pruned > 0 and spent < 48
    assert "Best validation accuracy" in out.stdout


@pytest.mark.slow
def test_simulate_pruners_example_runs():
    cmd = [
        sys.executable,
        str(ROOT / "examples" / "simulate_pruners.py"),
        "--seeds",
        "2",
        "--budget",
        "3",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    rows = {line.split()[0]: line.split() for line in out.stdout.splitlines()[2:]}
    assert set(rows) == {"none", "median", "sh", "hyperband"}
    assert rows["none"][2] == "0%" and rows["none"][-1] == "1.00x"
    epochs = {name: int(row[3]) for name, row in rows.items()}
    trials = {name: int(row[1]) for name, row in rows.items()}
    for name in ("sh", "hyperband"):  # same simulated time, many more (shorter) trials
        assert trials[name] > 2 * trials["none"]
        assert row_speedup(rows[name]) > 1.0
    assert all(e > 0 for e in epochs.values())


def row_speedup(row: list[str]) -> float:
    return float(row[-1].lstrip("<").rstrip("x"))


def test_pbt_toy_example_runs(tmp_path):
    cmd = [
        sys.executable,
        str(ROOT / "examples" / "pbt_toy.py"),
        "--workers",
        "4",
        "--steps",
        "16",
        "--seconds-per-step",
        "0.005",
        "--storage",
        str(tmp_path / "pbt.db"),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "random search" in out.stdout and "PBT" in out.stdout
    pb = ts.load_study("pbt-0", str(tmp_path / "pbt.db"))
    assert isinstance(pb.pruner, ts.PBT)
    assert not pb.get_trials([TrialState.FAILED])


@pytest.mark.slow
def test_population_search_example_runs():
    pytest.importorskip("sklearn")
    cmd = [
        sys.executable,
        str(ROOT / "examples" / "population_search.py"),
        "--n-trials",
        "16",
        "--popsize",
        "4",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    rows = {line.split()[0]: line.split() for line in out.stdout.splitlines() if line.strip()}
    for name in ("GEGO", "GA"):
        assert rows[name][2] == "16"  # an equal number of evaluations
        assert 0.5 < float(rows[name][1]) <= 1.0  # accuracy; chance is 0.1


@pytest.mark.slow
@pytest.mark.parametrize(("engine", "module"), [("dask", "distributed"), ("ray", "ray")])
def test_dask_ray_example_runs(engine, module):
    pytest.importorskip("sklearn")
    pytest.importorskip(module, reason=f'pip install "tunesmith[{engine}]"')
    cmd = [
        sys.executable,
        str(ROOT / "examples" / "dask_ray.py"),
        "--engine",
        engine,
        "--n-trials",
        "8",
        "--workers",
        "2",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    counts = next(line for line in lines if line.startswith("Trials:")).split()
    complete, pruned, total = int(counts[1]), int(counts[3]), int(counts[5])
    assert total == 8 and complete + pruned == 8
    assert pruned > 0  # ASHA decided in the driver from the workers' reports
    best = next(line for line in lines if line.startswith("Best validation accuracy:"))
    assert float(best.split()[3]) > 0.8
