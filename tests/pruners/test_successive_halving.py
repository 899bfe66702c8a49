"""SuccessiveHalvingPruner (ASHA in stopping form): rungs, promotion rule, consistency."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.trial import TrialState

from ._helpers import finished, judge, start

NAN = math.nan


def _study(storage=None, direction="minimize", name=None, **kwargs) -> ts.Study:
    kwargs.setdefault("min_resource", 1)
    return ts.create_study(
        name, storage=storage, direction=direction, pruner=ts.SuccessiveHalvingPruner(**kwargs)
    )


def _asha_reference(values: list[float], eta: int) -> list[bool]:
    """For trials reaching one rung in this order: which ones ASHA stops there."""
    out = []
    for i, v in enumerate(values):
        seen = sorted(values[: i + 1])
        keep = max(1, len(seen) // eta)
        out.append(v > seen[keep - 1])
    return out


def test_promotion_follows_arrival_order_at_a_rung(storage):
    study = _study(storage)
    arrivals = [5.0, 4.0, 6.0, 3.0, 7.0, 2.0, 8.0, 1.0, 9.0]
    answers = [judge(study, {0: 0.0, 1: v}) for v in arrivals]  # rung 0 is at step 1
    assert answers == [False, False, True, False, True, False, True, False, True]
    assert answers == _asha_reference(arrivals, 3)


@pytest.mark.parametrize("eta", [2, 3, 4])
def test_matches_the_reference_rule_on_random_arrivals(eta):
    rng = np.random.default_rng(eta)
    study = _study(reduction_factor=eta)
    arrivals = [float(v) for v in rng.integers(0, 10, size=25)]  # ties included
    answers = [judge(study, {1: v}) for v in arrivals]
    assert answers == _asha_reference(arrivals, eta)


def test_maximize_keeps_the_largest_values():
    study = _study(direction="maximize")
    answers = [judge(study, {1: v}) for v in (5.0, 4.0, 6.0, 7.0)]
    assert answers == [False, True, False, False]


def test_rungs_sit_at_min_resource_times_powers_of_eta():
    study = _study(min_resource=2, reduction_factor=3, min_early_stopping_rate=1)
    # Rungs at steps 6, 18, 54: before step 6 nothing is judged.
    finished(study, {6: 0.0, 18: 0.0})
    assert judge(study, {s: 9.0 for s in range(6)}) is False
    assert judge(study, {s: 9.0 for s in range(7)}) is True


def test_a_rung_value_is_the_report_at_the_first_step_at_or_past_the_rung():
    study = _study()
    # Skips step 1 and step 3: its rung-0 value is at step 2, its rung-1 value at step 5.
    finished(study, {0: 0.0, 2: 1.0, 5: 1.0})
    assert judge(study, {1: 1.5}) is True  # 1.0 recorded at rung 0 beats it
    assert judge(study, {1: 0.5}) is False
    assert judge(study, {2: 0.5}) is False  # also its own first step past rung 0 counts


def test_a_promoted_trial_is_not_judged_again_at_that_rung():
    study = _study()
    trial = start(study, {0: 5.0, 1: 5.0})
    assert trial.should_prune() is False  # alone at rung 0
    finished(study, *({1: 0.0} for _ in range(6)))  # better trials reach rung 0 later
    trial.report(5.0, 2)
    assert trial.should_prune() is False  # step 2: no new rung, rung 0 stays passed
    trial.report(5.0, 3)
    assert trial.should_prune() is False  # rung 1 (step 3): it is the only one there
    finished(study, {3: 0.0}, {3: 0.0})
    trial.report(5.0, 4)
    assert trial.should_prune() is False  # still between rungs 1 and 2


def test_several_rungs_passed_in_one_report_are_all_judged():
    study = _study()
    finished(study, {1: 9.0, 3: 0.0})
    # Jumps from step 0 to step 4: judged at rung 0 (passes: 1.0 < 9.0), then at rung 1.
    assert judge(study, {0: 1.0, 4: 1.0}) is True


def test_running_trials_in_the_storage_count(storage):
    study = _study(storage, name="shared")
    other = ts.load_study("shared", storage)  # another process, as far as the storage goes
    first = start(other, {1: 0.0})
    second = start(study, {1: 1.0})
    assert second.should_prune() is True  # the other study's running trial is better
    assert first.should_prune() is False
    other.tell(first, 0.0)


def test_rung_values_of_pruned_and_failed_trials_count():
    study = _study()
    finished(study, {1: 0.0}, state=TrialState.PRUNED)
    assert judge(study, {1: 1.0}) is True
    study2 = _study()
    finished(study2, {1: 0.0}, state=TrialState.FAILED)
    assert judge(study2, {1: 1.0}) is True


def test_nan_at_a_rung_prunes_and_nan_rung_values_are_ignored():
    study = _study()
    assert judge(study, {1: NAN}) is True  # recorded, but NaN is not a competitor
    assert judge(study, {1: 5.0}) is False
    assert judge(study, {0: NAN, 1: 5.0}) is False  # NaN before the rung does not matter


def test_bootstrap_count_stops_the_first_trials_at_a_rung():
    study = _study(bootstrap_count=2)
    answers = [judge(study, {1: v}) for v in (3.0, 2.0, 1.0, 0.5)]
    assert answers == [True, True, False, False]


def test_auto_min_resource_is_estimated_once_and_stored(storage):
    study = _study(storage, name="auto", min_resource="auto")
    assert judge(study, {s: 9.0 for s in range(300)}) is False  # nothing completed yet
    finished(study, {0: 0.0, 250: 0.0})  # last step 250: min_resource 250 // 100 = 2
    assert judge(study, {0: 9.0, 1: 9.0}) is False  # rung 0 is at step 2
    finished(study, {2: 0.0})
    assert judge(study, {0: 9.0, 2: 9.0}) is True
    (stored,) = study.system_attrs["pruner_auto"].values()
    assert stored == 2
    # Another process loading the study uses the stored value, whatever completed since.
    finished(study, {0: 0.0, 5000: 0.0})
    again = ts.load_study("auto", storage)
    assert isinstance(again.pruner, ts.SuccessiveHalvingPruner)
    assert judge(again, {0: 9.0, 1: 9.0}) is False
    assert judge(again, {0: 9.0, 2: 9.0}) is True


def test_multi_objective_keeps_by_front_then_crowding():
    study = ts.create_study(
        directions=["minimize", "minimize"], pruner=ts.SuccessiveHalvingPruner(min_resource=1)
    )
    finished(study, *({1: v} for v in [(1.0, 5.0), (5.0, 1.0), (3.0, 3.0), (4.0, 4.0), (6.0, 6.0)]))
    # m = 6: the best two by (front, crowding) go on.
    assert judge(study, {1: (0.5, 0.5)}) is False  # dominates everything: front 0 alone
    assert judge(study, {1: (7.0, 7.0)}) is True  # dominated by everything
    assert judge(study, {1: (0.0, 10.0)}) is False  # an end of the first front
    # On the first front but between its two ends: crowding ranks it third.
    assert judge(study, {1: (2.0, 2.0)}) is True


def test_single_objective_multi_column_code_agrees_with_the_scalar_rule():
    from tunesmith.pruners._rank import in_top

    rng = np.random.default_rng(0)
    for _ in range(50):
        v = rng.integers(0, 6, size=(int(rng.integers(1, 12)), 1)).astype(float)
        keep = int(rng.integers(1, v.shape[0] + 1))
        for own in range(v.shape[0]):
            expected = v[own, 0] <= np.sort(v[:, 0])[keep - 1]
            assert in_top(v, own, keep) is bool(expected)


def test_no_reports_no_pruning():
    study = _study()
    trial = study.ask()
    assert study.pruner.should_prune(study, trial.number) is False


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"min_resource": 0}, "min_resource must be an integer >= 1 or 'auto'"),
        ({"min_resource": "automatic"}, "min_resource must be an integer >= 1 or 'auto'"),
        ({"min_resource": 2.5}, "min_resource"),
        ({"reduction_factor": 1}, "reduction_factor must be an integer >= 2"),
        ({"min_early_stopping_rate": -1}, "min_early_stopping_rate must be an integer >= 0"),
        ({"bootstrap_count": -1}, "bootstrap_count must be an integer >= 0"),
        ({"min_resource": "auto", "bootstrap_count": 2}, "needs a fixed min_resource"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ts.SuccessiveHalvingPruner(**kwargs)
