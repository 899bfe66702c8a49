"""PatientPruner: wait for a stall, then let the wrapped pruner decide."""

from __future__ import annotations

import math

import pytest

import tunesmith as ts
from tunesmith.pruners import NopPruner

from ._helpers import finished, judge

NAN = math.nan


class _Always(ts.Pruner):
    def should_prune(self, study, trial_number):
        return True

    def describe(self):
        return {"name": "Always"}


def _study(pruner: ts.Pruner, direction="minimize") -> ts.Study:
    return ts.create_study(direction=direction, pruner=pruner)


def test_prunes_only_after_patience_reports_without_improvement():
    study = _study(ts.PatientPruner(None, patience=2))
    assert judge(study, {0: 1.0, 1: 1.0}) is False  # two reports: nothing to compare yet
    assert judge(study, {0: 1.0, 1: 1.0, 2: 1.0}) is True  # steps 1 and 2 did not beat 1.0
    assert judge(study, {0: 1.0, 1: 2.0, 2: 0.9}) is False  # step 2 improved
    assert judge(study, {0: 1.0, 1: 0.9, 2: 2.0}) is False  # step 1 is recent and improved
    assert judge(study, {0: 1.0, 1: 0.9, 2: 2.0, 3: 2.0}) is True  # 0.9 not beaten since


def test_min_delta_is_the_smallest_improvement_that_counts():
    study = _study(ts.PatientPruner(None, patience=1, min_delta=0.1))
    assert judge(study, {0: 1.0, 1: 0.95}) is True
    assert judge(study, {0: 1.0, 1: 0.85}) is False


def test_direction_is_respected():
    study = _study(ts.PatientPruner(None, patience=1), direction="maximize")
    assert judge(study, {0: 1.0, 1: 2.0}) is False
    assert judge(study, {0: 2.0, 1: 1.0}) is True


def test_a_stalled_trial_is_pruned_only_if_the_wrapped_pruner_agrees():
    median = ts.PatientPruner(ts.MedianPruner(n_startup_trials=0), patience=1)
    study = _study(median)
    finished(study, {0: 0.0, 1: 5.0})  # median at step 1: 5
    assert judge(study, {0: 9.0, 1: 9.0}) is True  # stalled and worse than the median
    assert judge(study, {0: 4.0, 1: 4.0}) is False  # stalled but better than the median
    assert judge(study, {0: 9.5, 1: 9.0}) is False  # worse than the median but improving
    never = _study(ts.PatientPruner(NopPruner(), patience=1))
    assert judge(never, {0: 1.0, 1: 5.0}) is False


def test_nan_never_counts_as_an_improvement():
    study = _study(ts.PatientPruner(_Always(), patience=1))
    assert judge(study, {0: 1.0, 1: NAN}) is True
    assert judge(study, {0: NAN, 1: 1.0}) is False  # a number improves on NaN
    assert judge(study, {0: NAN, 1: NAN}) is True


def test_multi_objective_stalls_only_when_every_objective_stalls():
    study = ts.create_study(
        directions=["minimize", "maximize"], pruner=ts.PatientPruner(None, patience=1)
    )
    assert judge(study, {0: (1.0, 1.0), 1: (2.0, 0.0)}) is True
    assert judge(study, {0: (1.0, 1.0), 1: (2.0, 2.0)}) is False


def test_accepts_a_wrapped_pruner_by_name_and_describes_it():
    p = ts.PatientPruner("median", patience=3, min_delta=0.5)
    assert isinstance(p.wrapped, ts.MedianPruner)
    assert p.describe()["wrapped"]["name"] == "MedianPruner"
    assert repr(p).startswith("PatientPruner(MedianPruner(")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"patience": 0}, "patience must be an integer >= 1"),
        ({"patience": 1.5}, "patience"),
        ({"patience": 2, "min_delta": -0.1}, "min_delta must be a number >= 0"),
        ({"patience": 2, "wrapped": "nonsense"}, "unknown pruner 'nonsense'"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    kwargs.setdefault("wrapped", None)
    with pytest.raises((ValueError, ts.TunesmithError), match=match):
        ts.PatientPruner(**kwargs)
