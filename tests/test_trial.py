"""Trials: the immutable record, the objective's handle, and objective value checks."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from tunesmith.exceptions import SpaceError
from tunesmith.space import Categorical, Distribution, Float, Int
from tunesmith.trial import FrozenTrial, Trial, TrialState, check_objective_values

NAN = float("nan")
INF = float("inf")


# -- FrozenTrial ------------------------------------------------------------------------


def _frozen(**kw: Any) -> FrozenTrial:
    base: dict[str, Any] = {
        "number": 3,
        "trial_id": 7,
        "state": TrialState.COMPLETE,
        "values": (1.5,),
    }
    base.update(kw)
    return FrozenTrial(**base)


def test_frozen_trial_attributes_cannot_be_set():
    ft = _frozen()
    with pytest.raises(dataclasses.FrozenInstanceError):
        ft.state = TrialState.FAILED  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        ft.values = (0.0,)  # type: ignore[misc]
    with pytest.raises((AttributeError, TypeError)):
        ft.extra = 1  # type: ignore[attr-defined]


def test_frozen_trial_default_mappings_are_read_only():
    ft = _frozen()
    for mapping in (ft.params, ft.distributions, ft.intermediate, ft.user_attrs, ft.system_attrs):
        assert len(mapping) == 0
        with pytest.raises(TypeError):
            mapping["x"] = 1  # type: ignore[index]


def test_value_of_single_objective_trial():
    assert _frozen().value == 1.5
    assert _frozen().values == (1.5,)
    assert _frozen(values=None, state=TrialState.FAILED).value is None


def test_value_of_multi_objective_trial_points_to_values():
    ft = _frozen(values=(1.0, 2.0))
    assert ft.values == (1.0, 2.0)
    with pytest.raises(ValueError, match=r"2 objective values; use \.values"):
        _ = ft.value


def test_duration_and_last_step():
    assert _frozen(datetime_start=10.0, datetime_complete=12.5).duration == 2.5
    assert _frozen(datetime_start=10.0).duration is None
    assert _frozen().last_step is None
    assert _frozen(intermediate={0: (1.0,), 7: (0.5,), 3: (0.7,)}).last_step == 7


def test_frozen_trial_repr_is_short_and_readable():
    text = repr(_frozen(params={"x": 1}))
    assert text == "FrozenTrial(number=3, state=COMPLETE, values=[1.5], params={'x': 1})"


def test_trial_states():
    assert [s.name for s in TrialState] == ["WAITING", "RUNNING", "COMPLETE", "PRUNED", "FAILED"]
    assert [s.is_finished() for s in TrialState] == [False, False, True, True, True]


# -- check_objective_values -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "n", "expected"),
    [
        (1, 1, (1.0,)),
        (-2.5, 1, (-2.5,)),
        (np.float64(0.5), 1, (0.5,)),
        (np.float32(0.25), 1, (0.25,)),
        (np.int64(3), 1, (3.0,)),
        (np.array(4.0), 1, (4.0,)),
        (np.array([5.0]), 1, (5.0,)),
        ([6], 1, (6.0,)),
        ((1, 2), 2, (1.0, 2.0)),
        ([np.float32(1.5), np.int8(2)], 2, (1.5, 2.0)),
        (np.array([1.0, 2.0, 3.0]), 3, (1.0, 2.0, 3.0)),
    ],
    ids=repr,
)
def test_valid_objective_values(value, n, expected):
    values, problem = check_objective_values(value, n)
    assert problem is None
    assert values == expected
    assert all(type(v) is float for v in values)


@pytest.mark.parametrize(
    ("value", "n", "fragment"),
    [
        (None, 1, "returned None"),
        (NAN, 1, "non-finite value nan"),
        (INF, 1, "non-finite value inf"),
        (-INF, 1, "non-finite value -inf"),
        (np.float64("nan"), 1, "non-finite"),
        ([1.0, NAN], 2, "non-finite"),
        ([1.0, 2.0], 1, "returned 2 value(s) but the study has 1 direction(s)"),
        (1.0, 2, "returned 1 value(s) but the study has 2 direction(s)"),
        ([], 1, "returned 0 value(s)"),
        ("1.5", 1, "must be a number"),
        (b"1.5", 1, "must be a number"),
        (["1", 2.0], 2, "must be a number"),
        (True, 1, "must be a number"),
        ([False], 1, "must be a number"),
        ([None], 1, "must be a number"),
        ({"loss": 1.0}, 1, "must be a number"),
        ([[1.0]], 1, "must be a number"),
        (object(), 1, "must be a number"),
        (1 + 2j, 1, "must be a number"),
    ],
    ids=repr,
)
def test_invalid_objective_values_are_named(value, n, fragment):
    values, problem = check_objective_values(value, n)
    assert values is None
    assert fragment in problem


def test_non_finite_message_suggests_what_to_do():
    _, problem = check_objective_values(NAN, 1)
    assert "TrialPruned" in problem


# -- the Trial handle -----------------------------------------------------------------------


class _RecordingBackend:
    def __init__(self) -> None:
        self.suggested: list[tuple[str, Distribution]] = []
        self.reports: list[tuple[int, tuple[float, ...]]] = []
        self.attrs: dict[str, Any] = {}

    def suggest(self, name: str, dist: Distribution) -> Any:
        self.suggested.append((name, dist))
        return dist.to_external(float(dist.from_unit(0.5)))

    def report(self, step: int, values: tuple[float, ...]) -> None:
        self.reports.append((step, values))

    def should_prune(self) -> bool:
        return True

    def set_user_attr(self, key: str, value: Any) -> None:
        self.attrs[key] = value

    def params(self) -> dict[str, Any]:
        return {n: 0 for n, _ in self.suggested}

    def get_user_attrs(self) -> dict[str, Any]:
        return dict(self.attrs)


@pytest.fixture
def handle() -> tuple[Trial, _RecordingBackend]:
    backend = _RecordingBackend()
    return Trial(backend, number=4, trial_id=9, study_name="s"), backend


def test_suggest_methods_build_the_distributions(handle):
    trial, backend = handle
    trial.suggest_float("a", 0.0, 1.0)
    trial.suggest_float("b", 1e-3, 1.0, log=True)
    trial.suggest_float("c", 0.0, 1.0, step=0.25)
    trial.suggest_int("d", 1, 9)
    trial.suggest_int("e", 1, 64, log=True)
    trial.suggest_int("f", 0, 10, step=5)
    trial.suggest_categorical("g", ["x", "y"])
    trial.suggest("h", Int(0, 3))
    assert backend.suggested == [
        ("a", Float(0.0, 1.0)),
        ("b", Float(1e-3, 1.0, log=True)),
        ("c", Float(0.0, 1.0, step=0.25)),
        ("d", Int(1, 9)),
        ("e", Int(1, 64, log=True)),
        ("f", Int(0, 10, step=5)),
        ("g", Categorical(["x", "y"])),
        ("h", Int(0, 3)),
    ]
    assert (trial.number, trial.trial_id, trial.study_name) == (4, 9, "s")


def test_invalid_suggestions_fail_before_reaching_the_backend(handle):
    trial, backend = handle
    with pytest.raises(SpaceError, match="greater than"):
        trial.suggest_float("a", 1.0, 0.0)
    with pytest.raises(SpaceError):
        trial.suggest_categorical("g", [])
    with pytest.raises(SpaceError, match="expected a Float, Int or Categorical"):
        trial.suggest("h", {"type": "float", "low": 0, "high": 1})  # type: ignore[arg-type]
    assert backend.suggested == []


def test_report_normalizes_values_and_steps(handle):
    trial, backend = handle
    trial.report(0.5, 0)
    trial.report(np.float32(0.25), np.int64(3))  # type: ignore[arg-type]
    trial.report([1.0, 2.0], 4.0)  # type: ignore[arg-type]
    assert backend.reports == [(0, (0.5,)), (3, (0.25,)), (4, (1.0, 2.0))]


@pytest.mark.parametrize(
    ("value", "step", "error"),
    [
        (0.5, -1, ValueError),
        (0.5, 1.5, TypeError),
        (0.5, True, TypeError),
        (0.5, "3", TypeError),
        (0.5, None, TypeError),
        ("0.5", 1, TypeError),
        (None, 1, TypeError),
        (True, 1, TypeError),
    ],
)
def test_report_rejects_bad_steps_and_values(handle, value, step, error):
    trial, backend = handle
    with pytest.raises(error):
        trial.report(value, step)
    assert backend.reports == []


def test_user_attrs_and_params_go_through_the_backend(handle):
    trial, _ = handle
    trial.set_user_attr("note", [1, 2])
    with pytest.raises(TypeError, match="strings"):
        trial.set_user_attr(1, "x")  # type: ignore[arg-type]
    assert trial.user_attrs == {"note": [1, 2]}
    trial.suggest_int("d", 1, 9)
    assert trial.params == {"d": 0}
    assert trial.should_prune() is True
    assert repr(trial) == "Trial(number=4, params={'d': 0})"


def test_frozen_trial_pickles_and_stays_read_only():
    import copy
    import pickle
    from types import MappingProxyType

    import tunesmith as ts

    study = ts.create_study(seed=0)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    trial = study.trials[0]
    back = pickle.loads(pickle.dumps(trial))
    assert back == trial
    assert isinstance(back.params, MappingProxyType)
    assert copy.deepcopy(trial) == trial
