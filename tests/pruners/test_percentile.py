"""MedianPruner and PercentilePruner: what is compared, when, and on which trials."""

from __future__ import annotations

import math

import pytest

import tunesmith as ts
from tunesmith.trial import TrialState

from ._helpers import finished, flat, judge, start

NAN = math.nan


def _study(storage=None, direction="minimize", **kwargs) -> ts.Study:
    pruner = kwargs.pop("pruner", None) or ts.MedianPruner(**kwargs)
    return ts.create_study(storage=storage, direction=direction, pruner=pruner, seed=0)


def test_median_compares_best_so_far_with_median_at_the_same_step(storage):
    study = _study(storage, n_startup_trials=0)
    # At step 2 the finished trials reported 1, 2, 3, 10: median 2.5.
    finished(study, {0: 9.0, 2: 1.0}, {0: 9.0, 2: 2.0}, {0: 9.0, 2: 3.0}, {2: 10.0, 3: 0.0})
    assert judge(study, {0: 5.0, 1: 4.0, 2: 3.0}) is True  # best so far 3 > 2.5
    assert judge(study, {0: 5.0, 1: 2.4, 2: 3.0}) is False  # best so far 2.4 (an earlier step)
    assert judge(study, {0: 5.0, 2: 2.5}) is False  # equal to the median: not worse


def test_maximize_mirrors_the_comparison():
    study = _study(direction="maximize", n_startup_trials=0)
    finished(study, {1: 1.0}, {1: 2.0}, {1: 3.0})
    assert judge(study, {0: 0.0, 1: 1.5}) is True
    assert judge(study, {0: 2.5, 1: 1.5}) is False  # its best so far (2.5) beats the median


@pytest.mark.parametrize(
    ("direction", "percentile", "best", "expected"),
    [
        # Values at step 0: 0, 10, 20, 30, 40.
        ("minimize", 25.0, 10.0, False),  # 25th percentile = 10
        ("minimize", 25.0, 10.5, True),
        ("minimize", 75.0, 30.5, True),
        ("minimize", 75.0, 29.0, False),
        ("maximize", 25.0, 30.0, False),  # the best quarter of a maximization: >= 75th pct
        ("maximize", 25.0, 29.5, True),
        ("minimize", 0.0, 0.0, False),  # only the best value itself survives
        ("minimize", 0.0, 0.1, True),
        ("minimize", 100.0, 40.0, False),  # 100: only worse than everything prunes
        ("minimize", 100.0, 40.1, True),
    ],
)
def test_percentile_is_taken_on_the_good_side(direction, percentile, best, expected):
    study = _study(direction=direction, pruner=ts.PercentilePruner(percentile, n_startup_trials=0))
    finished(study, *({0: v} for v in (0.0, 10.0, 20.0, 30.0, 40.0)))
    assert judge(study, {0: best}) is expected


def test_interpolates_between_values_like_numpy():
    study = _study(pruner=ts.PercentilePruner(50.0, n_startup_trials=0))
    finished(study, {0: 1.0}, {0: 2.0})
    assert judge(study, {0: 1.6}) is True  # median 1.5
    assert judge(study, {0: 1.5}) is False


def test_no_pruning_before_n_startup_trials_complete():
    study = _study(n_startup_trials=3)
    finished(study, {0: 1.0}, {0: 1.0})
    finished(study, {0: 1.0}, state=TrialState.PRUNED)  # pruned trials do not count here
    assert judge(study, {0: 5.0}) is False
    finished(study, {0: 1.0})
    assert judge(study, {0: 5.0}) is True


def test_pool_is_complete_and_pruned_trials_not_failed_or_running():
    study = _study(n_startup_trials=0)
    finished(study, {0: 1.0})
    finished(study, {0: 9.0}, {0: 9.0}, state=TrialState.PRUNED)
    finished(study, *({0: 0.0} for _ in range(5)), state=TrialState.FAILED)
    running = start(study, {0: 0.0})
    # Pool {1, 9, 9}: median 9.
    assert judge(study, {0: 8.0}) is False
    assert judge(study, {0: 9.5}) is True
    study.tell(running, 0.0)  # now complete: pool {1, 9, 9, 0}, median 5
    assert judge(study, {0: 8.0}) is True


def test_n_min_trials_counts_trials_that_reported_that_step():
    study = _study(n_startup_trials=0, n_min_trials=2)
    finished(study, {0: 1.0, 1: 1.0}, {0: 1.0})
    assert judge(study, {0: 5.0}) is True  # two trials at step 0
    assert judge(study, {1: 5.0}) is False  # one trial at step 1
    assert judge(study, {7: 5.0}) is False  # none at step 7


def test_warmup_and_interval_decide_when_to_check():
    study = _study(n_startup_trials=0, n_warmup_steps=2, interval_steps=3)
    finished(study, flat(0.0, 20))
    bad = {s: 1.0 for s in range(20)}
    # Pruning points 2, 5, 8, ...: checked at the first report at or past each.
    checked = [s for s in range(20) if judge(study, {k: bad[k] for k in range(s + 1)})]
    assert checked == [2, 5, 8, 11, 14, 17]
    # A trial reporting every other step is checked at its first step past each point.
    sparse = [s for s in range(0, 20, 2) if judge(study, {k: 1.0 for k in range(0, s + 1, 2)})]
    assert sparse == [2, 6, 8, 12, 14, 18]


def test_nan_best_prunes_and_nan_pool_values_are_ignored():
    study = _study(n_startup_trials=0)
    finished(study, {0: 1.0})
    finished(study, {0: NAN}, state=TrialState.PRUNED)
    assert judge(study, {0: NAN}) is True
    assert judge(study, {0: 1.0}) is False  # median over {1} (the NaN left out)


def test_a_trial_without_reports_is_not_pruned():
    study = _study(n_startup_trials=0)
    finished(study, {0: 0.0})
    trial = study.ask()
    assert trial.should_prune() is False
    assert study.pruner.should_prune(study, trial.number) is False


def test_multi_objective_prunes_only_when_worse_in_every_objective():
    study = ts.create_study(
        directions=["minimize", "maximize"], pruner=ts.MedianPruner(n_startup_trials=0)
    )
    # Medians at step 0: 2.0 (minimized) and 20.0 (maximized).
    finished(study, {0: (1.0, 10.0)}, {0: (2.0, 20.0)}, {0: (3.0, 30.0)})
    assert judge(study, {0: (2.5, 15.0)}) is True  # worse in both
    assert judge(study, {0: (2.5, 25.0)}) is False  # better in the second
    assert judge(study, {0: (1.5, 15.0)}) is False  # better in the first
    assert judge(study, {0: (NAN, 15.0)}) is True  # NaN counts as worse
    # Best so far is taken per objective, from different steps if need be.
    finished(study, {1: (2.0, 20.0)})
    assert judge(study, {0: (1.0, 0.0), 1: (9.0, 0.0)}) is False


def test_single_objective_matches_the_classic_rule_on_random_curves():
    import numpy as np

    rng = np.random.default_rng(0)
    study = _study(n_startup_trials=0)
    curves = [dict(enumerate(rng.normal(size=6).cumsum())) for _ in range(15)]
    finished(study, *curves)
    for _ in range(20):
        mine = dict(enumerate(rng.normal(size=int(rng.integers(1, 7))).cumsum()))
        step = max(mine)
        others = [c[step] for c in curves if step in c]
        expected = bool(min(mine.values()) > float(np.median(others)))
        assert judge(study, mine) is expected


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"percentile": 101.0}, "percentile must be a number in \\[0, 100\\]"),
        ({"percentile": -1}, "percentile"),
        ({"percentile": "50"}, "percentile"),
        ({"percentile": 50, "n_startup_trials": -1}, "n_startup_trials must be an integer >= 0"),
        ({"percentile": 50, "n_warmup_steps": 1.5}, "n_warmup_steps"),
        ({"percentile": 50, "interval_steps": 0}, "interval_steps must be an integer >= 1"),
        ({"percentile": 50, "n_min_trials": 0}, "n_min_trials must be an integer >= 1"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ts.PercentilePruner(**kwargs)
