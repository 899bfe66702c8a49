"""ThresholdPruner: fixed bounds on the latest report; NaN prunes."""

from __future__ import annotations

import math

import pytest

import tunesmith as ts

from ._helpers import judge


def _study(pruner: ts.Pruner, directions=("minimize",)) -> ts.Study:
    return ts.create_study(directions=list(directions), pruner=pruner)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.0, True), (0.5, False), (1.0, False), (3.0, False), (3.5, True), (math.nan, True)],
)
def test_prunes_outside_the_bounds_and_on_nan(value, expected):
    study = _study(ts.ThresholdPruner(lower=0.5, upper=3.0))
    assert judge(study, {0: 1.0, 4: value}) is expected


def test_only_the_latest_report_counts():
    study = _study(ts.ThresholdPruner(upper=1.0))
    assert judge(study, {0: 5.0, 1: 0.5}) is False
    assert judge(study, {1: 0.5, 0: 5.0}) is False  # latest = highest step, not last call
    assert judge(study, {0: 0.5, 1: 5.0}) is True


def test_one_side_only_and_direction_plays_no_part():
    study = _study(ts.ThresholdPruner(lower=0.9), directions=("maximize",))
    assert judge(study, {0: 0.8}) is True
    assert judge(study, {0: 1e9}) is False


def test_warmup_and_interval():
    study = _study(ts.ThresholdPruner(upper=0.0, n_warmup_steps=3, interval_steps=2))
    checked = [s for s in range(8) if judge(study, {k: 1.0 for k in range(s + 1)})]
    assert checked == [3, 5, 7]


def test_multi_objective_prunes_when_any_objective_is_out_of_bounds():
    study = _study(ts.ThresholdPruner(upper=[1.0, None]), directions=("minimize", "minimize"))
    assert judge(study, {0: (2.0, 0.0)}) is True
    assert judge(study, {0: (0.0, 1e9)}) is False
    assert judge(study, {0: (0.0, math.nan)}) is True
    both = _study(ts.ThresholdPruner(lower=0.0), directions=("minimize", "maximize"))
    assert judge(both, {0: (1.0, -1.0)}) is True


def test_bounds_must_fit_the_number_of_objectives():
    study = _study(ts.ThresholdPruner(upper=[1.0, 2.0, 3.0]), directions=("minimize", "minimize"))
    with pytest.raises(ValueError, match="3 entries but the study has 2 objective"):
        judge(study, {0: (0.0, 0.0)})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "needs lower=, upper= or both"),
        ({"lower": 2.0, "upper": 1.0}, "lower must not exceed upper"),
        ({"lower": math.nan}, "lower must be a number"),
        ({"upper": "1"}, "upper must be a number"),
        ({"lower": [0.0], "upper": [1.0, 2.0]}, "one entry per objective"),
        ({"upper": 1.0, "n_warmup_steps": -1}, "n_warmup_steps"),
        ({"upper": 1.0, "interval_steps": 0}, "interval_steps"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ts.ThresholdPruner(**kwargs)
