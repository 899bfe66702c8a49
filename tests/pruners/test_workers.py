"""Pruning with real worker processes: decisions are taken by the driver, from storage."""

from __future__ import annotations

import time

import tunesmith as ts
from tunesmith.trial import TrialState


def good_or_bad(trial: ts.Trial) -> float:
    """Good trials report 0 for 5 steps; bad ones report 1 at step 0 until pruned."""
    kind = trial.suggest_categorical("kind", ["good", "bad"])
    if kind == "good":
        for step in range(5):
            trial.report(0.0, step)
            trial.should_prune()
        return 0.0
    trial.report(1.0, 0)
    deadline = time.monotonic() + 60.0  # a bound, not a timing assertion
    while time.monotonic() < deadline:
        if trial.should_prune():
            raise ts.TrialPruned()
        time.sleep(0.01)
    return 1.0


def test_median_pruning_with_two_worker_processes_on_sqlite(tmp_path):
    storage = str(tmp_path / "prune.db")
    study = ts.create_study(
        "workers", storage=storage, pruner=ts.MedianPruner(n_startup_trials=2), seed=0
    )
    for kind in ["good"] * 3 + ["bad"] * 3:
        study.enqueue({"kind": kind})
    study.optimize(good_or_bad, n_trials=6, n_workers=2)

    trials = ts.load_study("workers", storage).trials
    states = {t.number: t.state for t in trials}
    kinds = {t.number: t.params["kind"] for t in trials}
    assert sorted(kinds.values()) == ["bad"] * 3 + ["good"] * 3
    for n, kind in kinds.items():
        # Good trials are never pruned; every bad one is, once two good ones completed.
        assert states[n] == (TrialState.COMPLETE if kind == "good" else TrialState.PRUNED)
    for t in trials:
        if t.state == TrialState.PRUNED:
            assert dict(t.intermediate) == {0: (1.0,)}
            assert t.values == (1.0,)


def curve(trial: ts.Trial) -> float:
    x = trial.suggest_float("x", 0.0, 1.0)
    value = x
    for step in range(12):
        value = x + 1.0 / (step + 1)
        trial.report(value, step)
        if trial.should_prune():
            raise ts.TrialPruned()
    return value


def test_successive_halving_and_hyperband_run_in_workers(tmp_path):
    for name, pruner in [
        ("sh", ts.SuccessiveHalvingPruner(min_resource=1)),
        ("hb", ts.HyperbandPruner(min_resource=1, max_resource=12)),
    ]:
        storage = str(tmp_path / f"{name}.db")
        study = ts.create_study(name, storage=storage, pruner=pruner, seed=1, sampler="random")
        study.optimize(curve, n_trials=12, n_workers=2)
        trials = study.trials
        assert len(trials) == 12
        assert {t.state for t in trials} <= {TrialState.COMPLETE, TrialState.PRUNED}
        assert any(t.state == TrialState.PRUNED for t in trials)
