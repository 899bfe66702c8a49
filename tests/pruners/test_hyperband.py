"""HyperbandPruner: Li et al.'s bracket schedule, bracket assignment, per-bracket halving."""

from __future__ import annotations

from collections import Counter

import pytest

import tunesmith as ts
from tunesmith.pruners import Bracket, hyperband_brackets
from tunesmith.pruners.hyperband import bracket_of

from ._helpers import finished, judge


def test_brackets_for_r81_eta3_match_the_published_table():
    brackets = hyperband_brackets(1, 81, 3)
    table = {b.halvings: list(b.rungs) for b in brackets}
    assert table == {
        4: [(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)],
        3: [(34, 3), (11, 9), (3, 27), (1, 81)],
        2: [(15, 9), (5, 27), (1, 81)],
        1: [(8, 27), (2, 81)],
        0: [(5, 81)],
    }
    assert [b.n_trials for b in brackets] == [81, 34, 15, 8, 5]
    assert [b.index for b in brackets] == [0, 1, 2, 3, 4]
    assert sum(n * r for b in brackets for n, r in b.rungs) == 1902


def test_brackets_scale_with_min_resource_and_other_factors():
    assert hyperband_brackets(10, 810, 3) == [
        Bracket(b.index, b.halvings, b.n_trials, tuple((n, 10 * r) for n, r in b.rungs))
        for b in hyperband_brackets(1, 81, 3)
    ]
    # R = 100 is not a power of 3: s_max = 4 all the same (3**4 = 81 <= 100 < 243).
    assert len(hyperband_brackets(1, 100, 3)) == 5
    two = hyperband_brackets(1, 8, 2)
    assert [b.n_trials for b in two] == [8, 6, 4, 4]  # ceil(4 * 2**s / (s + 1))
    assert len(hyperband_brackets(1, 2, 3)) == 1


def test_bracket_assignment_is_stable_and_proportional_to_bracket_sizes():
    sizes = (81, 34, 15, 8, 5)
    first = [bracket_of("study", n, sizes) for n in range(20000)]
    bracket_of.cache_clear()
    assert [bracket_of("study", n, sizes) for n in range(20000)] == first
    counts = Counter(first)
    for b, size in enumerate(sizes):
        assert counts[b] / 20000 == pytest.approx(size / sum(sizes), rel=0.1)
    # Another study name shuffles the assignment.
    assert [bracket_of("other", n, sizes) for n in range(200)] != first[:200]


def _fill_until(study: ts.Study, sizes: tuple[int, ...], bracket: int, mates: int) -> None:
    """Add finished trials until the next trial number falls in ``bracket`` and at least
    ``mates`` finished trials share it: bracket mates report 0 at every rung step, the
    others 100 (better and much worse than the trial judged next)."""
    n_mates = 0
    while True:
        number = len(study.trials)
        if bracket_of(study.name, number, sizes) == bracket and n_mates >= mates:
            return
        mate = bracket_of(study.name, number, sizes) == bracket
        n_mates += mate
        finished(study, {s: 0.0 if mate else 100.0 for s in (1, 3, 9, 27, 80)})


def test_a_trial_is_compared_only_within_its_bracket():
    study = ts.create_study("hb", pruner=ts.HyperbandPruner(1, 81, 3))
    sizes = (81, 34, 15, 8, 5)
    _fill_until(study, sizes, bracket=0, mates=2)
    # The other brackets' trials (100) are far worse, its bracket mates (0) better: pruned
    # at its bracket's first rung (step 1) although it beats most of the study.
    assert judge(study, {0: 50.0, 1: 50.0}) is True


def test_each_bracket_starts_judging_at_its_own_first_rung():
    study = ts.create_study("hb2", pruner=ts.HyperbandPruner(1, 81, 3))
    sizes = (81, 34, 15, 8, 5)
    _fill_until(study, sizes, bracket=1, mates=1)
    assert judge(study, {s: 50.0 for s in range(3)}) is False  # bracket 1: first rung at 3
    _fill_until(study, sizes, bracket=1, mates=2)
    assert judge(study, {s: 50.0 for s in range(4)}) is True


def test_the_last_bracket_never_prunes():
    study = ts.create_study("hb3", pruner=ts.HyperbandPruner(1, 81, 3))
    sizes = (81, 34, 15, 8, 5)
    _fill_until(study, sizes, bracket=4, mates=3)
    assert judge(study, {s: 1e9 for s in range(81)}) is False


def test_auto_max_resource_waits_for_a_completed_trial(storage):
    study = ts.create_study("hb-auto", storage=storage, pruner="hyperband")
    assert study.pruner == ts.HyperbandPruner(min_resource=1, max_resource="auto")
    assert judge(study, {s: 1e9 for s in range(50)}) is False
    finished(study, {s: 0.0 for s in range(81)})  # last step 80: max_resource 81
    assert "pruner_auto" not in study.system_attrs  # estimated on first use
    judge(study, {1: 0.0})
    (stored,) = study.system_attrs["pruner_auto"].values()
    assert stored == 81
    assert study.pruner.brackets(stored) == hyperband_brackets(1, 81, 3)


def test_brackets_need_a_max_resource():
    with pytest.raises(ValueError, match="known only once a trial completed"):
        ts.HyperbandPruner().brackets()
    assert len(ts.HyperbandPruner(max_resource=27).brackets()) == 4


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"min_resource": 0}, "min_resource must be an integer >= 1"),
        ({"min_resource": "auto"}, "min_resource must be an integer >= 1"),
        ({"max_resource": "max"}, "max_resource must be an integer >= 1 or 'auto'"),
        ({"max_resource": 0}, "max_resource must be an integer >= 1 or 'auto'"),
        (
            {"min_resource": 10, "max_resource": 10},
            "max_resource must be greater than min_resource",
        ),
        ({"min_resource": 10, "max_resource": 5}, "max_resource must be greater than min_resource"),
        ({"reduction_factor": 1}, "reduction_factor must be an integer >= 2"),
        ({"bootstrap_count": -2}, "bootstrap_count"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ts.HyperbandPruner(**kwargs)


def test_hyperband_brackets_rejects_bad_resources():
    with pytest.raises(ValueError, match="greater than min_resource"):
        hyperband_brackets(5, 5)
    with pytest.raises(ValueError, match="reduction_factor"):
        hyperband_brackets(1, 81, 1)
