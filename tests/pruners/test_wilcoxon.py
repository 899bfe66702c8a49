"""WilcoxonPruner: paired signed-rank test against the best trial on shared instances."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tunesmith as ts

from ._helpers import finished, judge

NAN = math.nan


def _study(direction="maximize", **kwargs) -> ts.Study:
    return ts.create_study(direction=direction, pruner=ts.WilcoxonPruner(**kwargs))


def _scores(values, first: int = 0) -> dict[int, float]:
    return {first + i: float(v) for i, v in enumerate(values)}


def test_prunes_once_the_evidence_is_significant():
    study = _study()
    finished(study, _scores([0.9] * 10))
    # Worse on every instance: one-sided exact p = 1 / 2**n.
    answers = [judge(study, _scores([0.7] * n)) for n in range(1, 7)]
    assert answers == [False, False, False, True, True, True]  # p: -, .25, .125, .0625, ...


def test_compares_with_the_best_complete_trial_only():
    study = _study()
    finished(study, _scores([0.5] * 10))
    assert judge(study, _scores([0.6] * 6)) is False  # better than the only complete trial
    finished(study, _scores([0.9] * 10))  # a better trial completes
    assert judge(study, _scores([0.6] * 6)) is True


def test_only_shared_instances_are_paired():
    study = _study()
    finished(study, _scores([0.9] * 5))
    assert judge(study, _scores([0.1] * 6, first=5)) is False  # instances 5..10: none shared
    assert judge(study, {**_scores([0.1] * 6, first=5), 0: 0.1, 1: 0.1}) is False  # 2 pairs
    assert judge(study, {**_scores([0.1] * 6, first=5), **_scores([0.1] * 4)}) is True


def test_a_trial_ahead_on_average_is_never_pruned():
    study = _study(direction="minimize", p_threshold=0.2)
    finished(study, _scores([1.0] * 10))
    # Slightly worse on nine instances, far better on one: the signed-rank test alone
    # would say "worse" (p about 0.04), the mean says "better".
    mine = _scores([1.01] * 9 + [0.0])
    from scipy.stats import wilcoxon

    p = wilcoxon(np.array(list(mine.values())) - 1.0, alternative="greater").pvalue
    assert p < 0.2
    assert judge(study, mine) is False


def test_n_startup_steps_and_p_threshold():
    study = _study(n_startup_steps=6, p_threshold=0.05)
    finished(study, _scores([0.9] * 10))
    assert judge(study, _scores([0.1] * 5)) is False  # p = 1/32 but only 5 pairs
    assert judge(study, _scores([0.1] * 6)) is True  # p = 1/64
    strict = _study(p_threshold=0.01)
    finished(strict, _scores([0.9] * 10))
    assert judge(strict, _scores([0.1] * 6)) is False  # 1/64 > 0.01
    assert judge(strict, _scores([0.1] * 7)) is True  # 1/128


def test_nan_scores_count_as_worse_and_equal_scores_never_prune():
    study = _study()
    finished(study, _scores([0.9] * 10))
    assert judge(study, _scores([NAN] * 5)) is True
    assert judge(study, _scores([0.9] * 10)) is False  # all differences zero


def test_no_complete_trial_or_no_reports_means_no_pruning():
    study = _study()
    finished(study, _scores([0.9] * 10), state=ts.TrialState.PRUNED)
    assert judge(study, _scores([0.1] * 8)) is False
    study.add_trial({}, 0.95)  # the best complete trial reported nothing
    assert judge(study, _scores([0.1] * 8)) is False


def test_matches_scipy_on_random_scores():
    from scipy.stats import wilcoxon

    rng = np.random.default_rng(3)
    study = _study(direction="minimize", p_threshold=0.1)
    best = rng.normal(size=30)
    finished(study, _scores(best))
    for _ in range(15):
        n = int(rng.integers(2, 30))
        mine = best[:n] + rng.normal(0.3, 1.0, size=n)
        p = wilcoxon(mine - best[:n], alternative="greater", zero_method="zsplit").pvalue
        expected = bool(p < 0.1 and mine.mean() > best[:n].mean())
        assert judge(study, _scores(mine)) is expected


def test_multi_objective_needs_one_front_trial_better_in_every_objective():
    study = ts.create_study(
        directions=["maximize", "minimize"], pruner=ts.WilcoxonPruner(p_threshold=0.1)
    )
    # A Pareto front of two trials: A is good in the first objective, B in the second.
    finished(study, {i: (0.9, 5.0) for i in range(8)}, {i: (0.5, 1.0) for i in range(8)})
    assert judge(study, {i: (0.4, 6.0) for i in range(6)}) is True  # A beats it in both
    assert judge(study, {i: (0.7, 3.0) for i in range(6)}) is False  # neither does


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"p_threshold": 1.5}, "p_threshold must be a number in \\[0, 1\\]"),
        ({"n_startup_steps": 0}, "n_startup_steps must be an integer >= 1"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ts.WilcoxonPruner(**kwargs)
