"""Parallel optimize with real worker processes (executors/process.py)."""

from __future__ import annotations

import os
import threading
import warnings

import pytest

import tunesmith as ts
from tunesmith.trial import TrialState


def quadratic(trial: ts.Trial) -> float:
    x = trial.suggest_float("x", -5, 5)
    kind = trial.suggest_categorical("kind", ["a", "b"])
    if kind == "b":
        y = trial.suggest_int("y", 1, 64, log=True)
    else:
        y = 0
    trial.report(x, 0)
    trial.set_user_attr("pid", os.getpid())
    return (x - 1) ** 2 + y / 64


def declared(trial: ts.Trial) -> float:
    p = trial.params
    return (p["x"] - 1) ** 2 + (p["kind"] == "b")


def raises_value_error(trial: ts.Trial) -> float:
    x = trial.suggest_float("x", 0, 1)
    if trial.number % 2 == 1:
        raise ValueError(f"odd trial {trial.number}")
    return x


def returns_nan(trial: ts.Trial) -> float:
    trial.suggest_float("x", 0, 1)
    return float("nan")


def prunes(trial: ts.Trial) -> float:
    x = trial.suggest_float("x", 0, 1)
    trial.report(x * 10, 1)
    raise ts.TrialPruned()


class CustomError(Exception):
    pass


def raises_custom(trial: ts.Trial) -> float:
    trial.suggest_float("x", 0, 1)
    raise CustomError("boom in worker")


def test_two_workers_run_in_separate_processes_in_memory():
    study = ts.create_study(seed=3)
    study.optimize(quadratic, n_trials=16, n_workers=2)
    trials = study.trials
    assert len(trials) == 16
    assert all(t.state == TrialState.COMPLETE for t in trials)
    pids = {t.user_attrs["pid"] for t in trials}
    assert os.getpid() not in pids
    assert 1 <= len(pids) <= 2
    # intermediate reports travel back to the driver's storage
    assert all(t.intermediate[0] == (t.params["x"],) for t in trials)


def test_parallel_proposals_equal_sequential_ones_under_a_seed(tmp_path):
    seq = ts.create_study(sampler="random", seed=11)
    seq.optimize(quadratic, n_trials=12)
    par = ts.create_study(storage=tmp_path / "p.db", sampler="random", seed=11)
    par.optimize(quadratic, n_trials=12, n_workers=3)
    by_number = {t.number: dict(t.params) for t in par.trials}
    assert by_number == {t.number: dict(t.params) for t in seq.trials}


def test_declared_space_with_workers():
    space = ts.Space(
        {"x": ts.Float(-5, 5), "kind": ts.Categorical(["a", "b"])},
    )
    study = ts.create_study(space=space, sampler="sobol", seed=0)
    study.optimize(declared, n_trials=8, n_workers=2)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 8
    assert all(set(t.params) == {"x", "kind"} for t in study.trials)


def test_caught_exceptions_in_workers_fail_trials_and_study_goes_on():
    study = ts.create_study(seed=0)
    study.optimize(raises_value_error, n_trials=6, n_workers=2, catch=(ValueError,))
    states = [t.state for t in study.trials]
    assert states.count(TrialState.FAILED) == 3
    failed = [t for t in study.trials if t.state == TrialState.FAILED]
    assert all("ValueError" in (t.error or "") and "odd trial" in t.error for t in failed)


def test_uncaught_worker_exception_propagates_with_its_type():
    study = ts.create_study(seed=0)
    with pytest.raises(CustomError, match="boom in worker"):
        study.optimize(raises_custom, n_trials=4, n_workers=2)
    assert all(t.state == TrialState.FAILED for t in study.trials)
    assert not study.get_trials([TrialState.RUNNING])
    # still usable
    study.optimize(quadratic, n_trials=2)
    assert study.get_trials([TrialState.COMPLETE])


def test_nan_from_worker_fails_trial_with_a_warning():
    study = ts.create_study(seed=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study.optimize(returns_nan, n_trials=2, n_workers=2)
    assert all(t.state == TrialState.FAILED for t in study.trials)
    assert any("non-finite" in str(w.message) for w in caught)


def test_pruned_in_worker_keeps_last_report():
    study = ts.create_study(seed=0)
    study.optimize(prunes, n_trials=3, n_workers=2)
    for t in study.trials:
        assert t.state == TrialState.PRUNED
        assert t.values == (t.params["x"] * 10,)


def test_unpicklable_objective_gets_a_clear_error():
    lock = threading.Lock()

    def objective(trial: ts.Trial) -> float:
        with lock:
            return trial.suggest_float("x", 0, 1)

    study = ts.create_study(seed=0)
    with pytest.raises(ts.ObjectiveNotPicklableError, match="n_workers=1"):
        study.optimize(objective, n_trials=2, n_workers=2)
    assert study.trials == []
    study.optimize(objective, n_trials=2)  # fine in-process
    assert len(study.trials) == 2


def test_closures_from_scripts_work_through_cloudpickle():
    offset = 0.25

    def objective(trial: ts.Trial) -> float:
        return (trial.suggest_float("x", 0, 1) - offset) ** 2

    study = ts.create_study(seed=1)
    study.optimize(objective, n_trials=4, n_workers=2)
    assert len(study.get_trials([TrialState.COMPLETE])) == 4


def test_callbacks_and_stop_run_in_the_driver():
    seen: list[int] = []

    def stop_after_five(study: ts.Study, trial: ts.FrozenTrial) -> None:
        seen.append(trial.number)
        if len(seen) >= 5:
            study.stop()

    study = ts.create_study(seed=0)
    study.optimize(quadratic, n_trials=50, n_workers=2, callbacks=[stop_after_five])
    assert 5 <= len(study.trials) <= 7  # trials already running when stop() came finish
    assert sorted(seen) == sorted(t.number for t in study.trials)


def test_grid_exhaustion_stops_parallel_run():
    study = ts.create_study(sampler=ts.GridSampler({"x": [0.0, 0.5, 1.0], "kind": ["a"]}), seed=0)
    study.optimize(quadratic, n_trials=20, n_workers=2)
    xs = sorted(t.params["x"] for t in study.trials)
    assert xs == [0.0, 0.5, 1.0]


def test_more_workers_than_trials_end_quietly():
    """Workers still starting when the last trial finishes exit without a traceback."""
    import subprocess
    import sys

    code = (
        "import tunesmith as ts\n"
        "for i in range(6):\n"
        "    s = ts.create_study(seed=i, sampler='random')\n"
        "    s.optimize(lambda t: t.suggest_float('x', 0, 1), n_trials=3, n_workers=4)\n"
        "    assert len(s.trials) == 3\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr and "BrokenPipeError" not in out.stderr, out.stderr
