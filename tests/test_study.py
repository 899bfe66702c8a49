"""Studies: lifecycle, suggestions, declared spaces, ask/tell, optimize, results."""

from __future__ import annotations

import itertools
import math
import time
import warnings
from typing import Any

import numpy as np
import pytest

import tunesmith as ts
from tunesmith import (
    Categorical,
    DuplicatedStudyError,
    Float,
    Int,
    SobolSampler,
    Space,
    SpaceError,
    StudyNotFoundError,
    TrialFinishedError,
    TrialNotFoundError,
    TrialPruned,
    TrialState,
)
from tunesmith.storage import InMemoryStorage, forget_cached

C, P, F, R, W = (
    TrialState.COMPLETE,
    TrialState.PRUNED,
    TrialState.FAILED,
    TrialState.RUNNING,
    TrialState.WAITING,
)


@pytest.fixture(params=["memory", "sqlite"])
def where(request, tmp_path) -> Any:
    """Where studies live: one shared in-memory storage, or a SQLite file path."""
    if request.param == "memory":
        return InMemoryStorage()
    return str(tmp_path / "studies.db")


def _quadratic(trial: ts.Trial) -> float:
    x = trial.suggest_float("x", -5.0, 5.0)
    return (x - 1.0) ** 2


def _states(study: ts.Study) -> list[TrialState]:
    return [t.state for t in study.trials]


# -- creating, loading, deleting, listing -------------------------------------------------------


def test_create_study_defaults():
    study = ts.create_study()
    assert study.name.startswith("study-")
    assert study.direction == "minimize"
    assert study.directions == ("minimize",)
    assert not study.is_multi_objective
    assert isinstance(study.storage, InMemoryStorage)
    assert isinstance(study.sampler, ts.AutoSampler)
    assert study.space is None
    assert study.trials == []
    assert isinstance(study.seed, int)
    assert study.system_attrs["seed"] == study.seed
    assert "Study(name=" in repr(study)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"direction": "maximize"}, ("maximize",)),
        ({"direction": "MAX"}, ("maximize",)),
        ({"direction": "min"}, ("minimize",)),
        ({"direction": "maximise"}, ("maximize",)),
        ({"directions": ["minimize", "max"]}, ("minimize", "maximize")),
    ],
)
def test_directions_are_normalized(kwargs, expected):
    assert ts.create_study(**kwargs).directions == expected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"direction": "up"}, "direction must be 'minimize' or 'maximize', got 'up'"),
        ({"directions": ["minimize", "sideways"]}, "got 'sideways'"),
        ({"direction": "minimize", "directions": ["minimize"]}, "not both"),
        ({"directions": []}, "non-empty list"),
        ({"directions": "minimize"}, "non-empty list"),
        ({"name": ""}, "non-empty string"),
        ({"name": "   "}, "non-empty string"),
        ({"max_retries": -1}, "max_retries"),
        ({"heartbeat_interval": 0}, "heartbeat_interval"),
    ],
)
def test_invalid_study_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ts.create_study(**kwargs)


def test_direction_of_a_multi_objective_study_points_to_directions():
    study = ts.create_study(directions=["minimize", "maximize"])
    assert study.is_multi_objective
    with pytest.raises(ValueError, match=r"use \.directions"):
        _ = study.direction


def test_create_load_and_delete(where):
    created = ts.create_study("exp", storage=where, direction="maximize", seed=3)
    created.optimize(_quadratic, n_trials=2)

    loaded = ts.load_study("exp", where)
    assert loaded.study_id == created.study_id
    assert loaded.directions == ("maximize",)
    assert loaded.seed == 3
    assert [t.number for t in loaded.trials] == [0, 1]

    with pytest.raises(DuplicatedStudyError, match="load_if_exists=True"):
        ts.create_study("exp", storage=where)
    again = ts.create_study("exp", storage=where, load_if_exists=True)
    assert again.study_id == created.study_id
    assert again.directions == ("maximize",)  # kept: no direction was given
    with pytest.raises(ValueError, match="exists with directions"):
        ts.create_study("exp", storage=where, direction="minimize", load_if_exists=True)

    ts.create_study("other", storage=where)
    summaries = {s.name: s for s in ts.list_studies(where)}
    assert set(summaries) == {"exp", "other"}
    assert summaries["exp"].n_trials == 2 and summaries["exp"].n_complete == 2
    assert summaries["exp"].best_values == (max(t.value for t in loaded.trials),)

    ts.delete_study("exp", where)
    with pytest.raises(StudyNotFoundError, match="existing studies: 'other'"):
        ts.load_study("exp", where)
    assert [s.name for s in ts.list_studies(where)] == ["other"]
    fresh = ts.create_study("exp", storage=where)
    assert fresh.trials == []
    created.close()
    loaded.close()
    again.close()


def test_load_if_exists_creates_a_missing_study(where):
    study = ts.create_study("new", storage=where, load_if_exists=True)
    assert [s.name for s in ts.list_studies(where)] == ["new"]
    study.close()


def test_study_user_attrs():
    study = ts.create_study()
    study.set_user_attr("dataset", "iris")
    study.set_user_attr("folds", [1, 2, 3])
    assert study.user_attrs == {"dataset": "iris", "folds": [1, 2, 3]}
    assert "dataset" not in study.system_attrs
    with pytest.raises(ts.TunesmithError, match="JSON"):
        study.set_user_attr("bad", object())


# -- define-by-run suggestions ---------------------------------------------------------------


def test_every_suggest_variant_respects_its_distribution():
    seen: list[dict[str, Any]] = []

    def objective(trial: ts.Trial) -> float:
        p = {
            "f": trial.suggest_float("f", -2.0, 3.0),
            "f_log": trial.suggest_float("f_log", 1e-5, 1e-1, log=True),
            "f_step": trial.suggest_float("f_step", 0.0, 1.0, step=0.25),
            "i": trial.suggest_int("i", -3, 3),
            "i_log": trial.suggest_int("i_log", 1, 512, log=True),
            "i_step": trial.suggest_int("i_step", 0, 30, step=10),
            "c": trial.suggest_categorical("c", [None, True, 2, 3.5, "s"]),
            "d": trial.suggest("d", Int(5, 6)),
        }
        assert trial.params == p
        seen.append(p)
        return 0.0

    study = ts.create_study(seed=11)
    study.optimize(objective, n_trials=60)
    assert all(-2.0 <= p["f"] <= 3.0 and type(p["f"]) is float for p in seen)
    assert all(1e-5 <= p["f_log"] <= 1e-1 for p in seen)
    assert {p["f_step"] for p in seen} <= {0.0, 0.25, 0.5, 0.75, 1.0}
    assert all(type(p["i"]) is int and -3 <= p["i"] <= 3 for p in seen)
    assert all(type(p["i_log"]) is int and 1 <= p["i_log"] <= 512 for p in seen)
    assert {p["i_step"] for p in seen} <= {0, 10, 20, 30}
    assert {p["d"] for p in seen} <= {5, 6}
    choices = [p["c"] for p in seen]
    assert set(map(repr, choices)) == {"None", "True", "2", "3.5", "'s'"}  # all drawn
    # The log scale favours small values: about half below the geometric midpoint.
    below = np.mean([p["f_log"] < 10**-3 for p in seen])
    assert 0.25 < below < 0.75
    stored = study.trials[0]
    assert stored.distributions["f_step"] == Float(0.0, 1.0, step=0.25)
    assert dict(stored.params) == seen[0]


def test_conditional_parameters_exist_only_when_suggested():
    def objective(trial: ts.Trial) -> float:
        kernel = trial.suggest_categorical("kernel", ["rbf", "linear"])
        if kernel == "rbf":
            trial.suggest_float("gamma", 1e-3, 1.0, log=True)
        return 0.0

    study = ts.create_study(seed=5)
    study.optimize(objective, n_trials=30)
    kernels = {t.params["kernel"] for t in study.trials}
    assert kernels == {"rbf", "linear"}
    for t in study.trials:
        assert ("gamma" in t.params) == (t.params["kernel"] == "rbf")
        assert set(t.distributions) == set(t.params)


def test_suggesting_a_name_twice_returns_the_same_value():
    study = ts.create_study(seed=0)
    trial = study.ask()
    first = trial.suggest_float("x", 0, 1)
    assert trial.suggest_float("x", 0, 1) == first
    assert trial.suggest("x", Float(0, 1)) == first


def test_suggesting_a_name_again_with_another_distribution_in_one_trial_fails():
    study = ts.create_study(seed=0)
    trial = study.ask()
    trial.suggest_float("x", 0, 1)
    with pytest.raises(SpaceError, match="'x' was already suggested in trial 0"):
        trial.suggest_float("x", 0, 2)
    with pytest.raises(SpaceError):
        trial.suggest_int("x", 0, 1)
    study.tell(trial, 1.0)
    assert study.trials[0].distributions["x"] == Float(0, 1)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (lambda t: t.suggest_float("p", 0, 1), lambda t: t.suggest_int("p", 0, 1)),
        (
            lambda t: t.suggest_float("p", 0.1, 1),
            lambda t: t.suggest_float("p", 0.1, 1, log=True),
        ),
        (lambda t: t.suggest_int("p", 0, 10), lambda t: t.suggest_int("p", 0, 10, step=2)),
        (
            lambda t: t.suggest_categorical("p", ["a", "b"]),
            lambda t: t.suggest_categorical("p", ["a", "b", "c"]),
        ),
        (
            lambda t: t.suggest_categorical("p", ["a", "b"]),
            lambda t: t.suggest_float("p", 0, 1),
        ),
    ],
)
def test_a_parameter_keeps_its_kind_across_trials(first, second):
    def objective(trial: ts.Trial) -> float:
        first(trial)
        return 0.0

    study = ts.create_study(seed=0)
    study.optimize(objective, n_trials=1)
    trial = study.ask()
    with pytest.raises(SpaceError, match=r"'p' was suggested as .* in earlier trials"):
        second(trial)
    study.tell(trial, state=F)


def test_other_bounds_for_the_same_kind_of_parameter_are_fine():
    study = ts.create_study(seed=0)
    study.optimize(lambda t: t.suggest_float("p", 0, 1), n_trials=1)
    study.optimize(lambda t: t.suggest_float("p", 5, 6), n_trials=1)
    assert 5 <= study.trials[1].params["p"] <= 6


def test_finished_trial_handle_cannot_be_used():
    study = ts.create_study(seed=0)
    trial = study.ask()
    trial.suggest_float("x", 0, 1)
    study.tell(trial, 1.0)
    with pytest.raises(TrialFinishedError):
        trial.suggest_float("y", 0, 1)
    with pytest.raises(TrialFinishedError):
        trial.report(1.0, 0)
    with pytest.raises(TrialFinishedError):
        trial.set_user_attr("a", 1)
    with pytest.raises(TrialFinishedError, match="already"):
        study.tell(trial, 2.0)


# -- declared spaces ----------------------------------------------------------------------------

SVM = Space(
    {
        "kernel": Categorical(["rbf", "linear"]),
        "gamma": Float(1e-4, 1.0, log=True),
        "C": Float(0.1, 10.0, log=True),
        "depth": Int(1, 5),
    },
    conditions={"gamma": {"kernel": "rbf"}},
)


def test_declared_space_fills_params_when_asked():
    study = ts.create_study(space=SVM, seed=1)
    kernels = set()
    for _ in range(20):
        trial = study.ask()
        params = trial.params
        SVM.validate(params)
        kernels.add(params["kernel"])
        assert ("gamma" in params) == (params["kernel"] == "rbf")
        # Suggesting a declared parameter returns the proposed value.
        assert trial.suggest_float("C", 0.1, 10.0, log=True) == params["C"]
        assert trial.suggest_int("depth", 1, 5) == params["depth"]
        study.tell(trial, params["C"])
    assert kernels == {"rbf", "linear"}
    # The proposals were stored at ask time, with their distributions.
    first = study.trials[0]
    assert set(first.distributions) == set(first.params)


def test_declared_parameter_suggested_with_another_distribution_fails():
    study = ts.create_study(space=SVM, seed=1)
    trial = study.ask()
    with pytest.raises(SpaceError, match="'C'"):
        trial.suggest_float("C", 0.1, 10.0)
    study.tell(trial, state=F)
    # An inactive declared parameter is checked against the declaration too.
    while True:
        trial = study.ask()
        if trial.params["kernel"] == "linear":
            break
        study.tell(trial, 0.0)
    with pytest.raises(SpaceError, match="declared in the study's space"):
        trial.suggest_float("gamma", 0.0, 1.0)
    study.tell(trial, 0.0)


def test_declared_space_accepts_extra_define_by_run_parameters():
    study = ts.create_study(space={"x": {"type": "float", "low": 0, "high": 1}}, seed=2)
    assert study.space == Space({"x": Float(0, 1)})

    def objective(trial: ts.Trial) -> float:
        extra = trial.suggest_int("extra", 0, 3)
        return trial.params["x"] + extra

    study.optimize(objective, n_trials=5)
    assert all(set(t.params) == {"x", "extra"} for t in study.trials)


def test_declared_space_is_stored_with_the_study(tmp_path):
    path = str(tmp_path / "s.db")
    ts.create_study("s", storage=path, space=SVM, seed=1).close()
    forget_cached(ts.storage.normalize_url(path))
    loaded = ts.load_study("s", path)
    assert loaded.space == SVM
    trial = loaded.ask()
    SVM.validate(trial.params)
    loaded.tell(trial, 1.0)
    loaded.close()


def test_ask_with_fixed_params():
    study = ts.create_study(space=SVM, seed=1)
    trial = study.ask(fixed_params={"kernel": "rbf", "gamma": 0.5})
    assert trial.params["kernel"] == "rbf" and trial.params["gamma"] == 0.5
    study.tell(trial, 1.0)
    with pytest.raises(SpaceError, match=r"\['nope'\] are not in the study's space"):
        study.ask(fixed_params={"nope": 1})
    assert study.trials[-1].state == F
    with pytest.raises(SpaceError, match="outside"):
        study.ask(fixed_params={"kernel": "linear", "C": 100.0})
    assert study.trials[-1].state == F  # not left RUNNING
    assert "outside" in study.trials[-1].error

    free = ts.create_study(seed=1)
    trial = free.ask(fixed_params={"x": 0.25})
    assert trial.suggest_float("x", 0, 1) == 0.25
    free.tell(trial, 0.0)


# -- ask and tell -----------------------------------------------------------------------------


def test_ask_and_tell():
    study = ts.create_study(seed=0)
    trial = study.ask()
    assert trial.number == 0
    assert study.trials[0].state == R
    x = trial.suggest_float("x", 0, 1)
    trial.set_user_attr("note", "hello")
    trial.report(0.9, 1)
    ft = study.tell(trial, x, cpu_time=0.5)
    assert ft.state == C
    assert ft.values == (x,)
    assert dict(ft.params) == {"x": x}
    assert dict(ft.user_attrs) == {"note": "hello"}
    assert dict(ft.intermediate) == {1: (0.9,)}
    assert ft.cpu_time == 0.5
    assert ft.datetime_complete >= ft.datetime_start
    assert study.trials == [ft]

    second = study.ask()
    assert second.number == 1
    assert study.tell(1, 0.5).values == (0.5,)  # by number


def test_tell_with_a_state():
    study = ts.create_study(seed=0)
    study.tell(study.ask(), state=F, error="gave up")
    assert study.trials[0].state == F and study.trials[0].error == "gave up"
    study.tell(study.ask(), 0.3, state=P)
    assert study.trials[1].state == P and study.trials[1].values == (0.3,)
    with pytest.raises(ValueError, match="COMPLETE, PRUNED or FAILED"):
        study.tell(study.ask(), 1.0, state=R)


def test_tell_unknown_or_finished_trial_numbers():
    study = ts.create_study(seed=0)
    with pytest.raises(TrialNotFoundError, match="no trial number 5"):
        study.tell(5, 1.0)
    study.tell(study.ask(), 1.0)
    with pytest.raises(TrialFinishedError, match="already COMPLETE"):
        study.tell(0, 2.0)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (float("nan"), "non-finite value nan"),
        (float("inf"), "non-finite value inf"),
        (None, "returned None"),
        ([1.0, 2.0], "returned 2 value(s) but the study has 1 direction(s)"),
        ("0.5", "must be a number"),
    ],
)
def test_tell_with_invalid_values_fails_the_trial_with_a_warning(value, fragment):
    study = ts.create_study(seed=0)
    study.tell(study.ask(), 3.0)
    trial = study.ask()
    with pytest.warns(RuntimeWarning) as record:
        ft = study.tell(trial, value)
    assert any(fragment in str(w.message) for w in record)
    assert ft.state == F
    assert fragment in ft.error
    assert ft.values is None
    # The study goes on, and the failure does not count as a result.
    study.tell(study.ask(), 2.0)
    assert study.best_value == 2.0
    assert _states(study) == [C, F, C]


def test_multi_objective_tell_checks_arity():
    study = ts.create_study(directions=["minimize", "maximize"], seed=0)
    with pytest.warns(RuntimeWarning, match="returned 1 value"):
        assert study.tell(study.ask(), 1.0).state == F
    assert study.tell(study.ask(), [1.0, 2.0]).values == (1.0, 2.0)
    with pytest.raises(ValueError, match="report one value per direction"):
        study.ask().report(1.0, 0)


# -- optimize -----------------------------------------------------------------------------------


def test_optimize_runs_n_trials_and_finds_a_good_value():
    study = ts.create_study(seed=0)
    study.optimize(_quadratic, n_trials=40)
    assert len(study.trials) == 40
    assert all(s == C for s in _states(study))
    assert study.best_value < 0.5
    study.optimize(_quadratic, n_trials=5)
    assert [t.number for t in study.trials] == list(range(45))


def test_objective_exception_fails_the_trial_and_propagates():
    calls = []

    def objective(trial: ts.Trial) -> float:
        calls.append(trial.number)
        trial.suggest_float("x", 0, 1)
        raise ZeroDivisionError("boom")

    study = ts.create_study(seed=0)
    with pytest.raises(ZeroDivisionError, match="boom"):
        study.optimize(objective, n_trials=5)
    assert calls == [0]  # the study stopped
    (ft,) = study.trials
    assert ft.state == F
    assert "ZeroDivisionError: boom" in ft.error
    assert "Traceback" in ft.error
    assert "x" in ft.params  # what was suggested is kept


def test_caught_exceptions_let_the_study_continue():
    def objective(trial: ts.Trial) -> float:
        x = trial.suggest_int("x", 0, 9)
        if trial.number % 2:
            raise ValueError(f"odd trial {trial.number}")
        return float(x)

    study = ts.create_study(seed=0)
    study.optimize(objective, n_trials=6, catch=(ValueError,))
    assert _states(study) == [C, F] * 3
    assert "odd trial 1" in study.trials[1].error

    study2 = ts.create_study(seed=0)
    study2.optimize(objective, n_trials=4, catch=ValueError)  # a single type works too
    assert len(study2.trials) == 4
    with pytest.raises(ValueError, match="odd trial 1"):
        ts.create_study(seed=0).optimize(objective, n_trials=4, catch=(KeyError,))


def test_pruned_trial_keeps_its_last_reported_value():
    def objective(trial: ts.Trial) -> float:
        for step in range(5):
            trial.report(1.0 / (step + 1), step)
            if step == 2 and trial.number == 1:
                raise TrialPruned()
        return 0.0

    study = ts.create_study(seed=0)
    study.optimize(objective, n_trials=3)
    assert _states(study) == [C, P, C]
    pruned = study.trials[1]
    assert pruned.values == (1.0 / 3,)
    assert dict(pruned.intermediate) == {0: (1.0,), 1: (0.5,), 2: (1.0 / 3,)}
    assert study.best_trial.number == 0


def test_pruned_trial_without_reports_has_no_value():
    def objective(trial: ts.Trial) -> float:
        raise TrialPruned()

    study = ts.create_study(seed=0)
    study.optimize(objective, n_trials=2)
    assert _states(study) == [P, P]
    assert study.trials[0].values is None


def test_callbacks_see_every_finished_trial_and_can_stop_the_study():
    seen = []

    def callback(study: ts.Study, trial: ts.FrozenTrial) -> None:
        seen.append((trial.number, trial.state))
        if trial.number == 3:
            study.stop()

    study = ts.create_study(seed=0)
    study.optimize(_quadratic, n_trials=100, callbacks=[callback])
    assert seen == [(i, C) for i in range(4)]
    assert study.stopped
    # A new optimize call starts again.
    study.optimize(_quadratic, n_trials=2)
    assert len(study.trials) == 6


def test_timeout_stops_starting_new_trials():
    def slow(trial: ts.Trial) -> float:
        time.sleep(0.02)
        return _quadratic(trial)

    study = ts.create_study(seed=0)
    t0 = time.monotonic()
    study.optimize(slow, timeout=0.2)
    elapsed = time.monotonic() - t0
    # A trial takes at least 0.02 s, and none starts after 0.2 s.
    assert 1 <= len(study.trials) <= 11
    assert elapsed < 5
    assert all(s == C for s in _states(study))


def test_zero_trials_does_nothing():
    study = ts.create_study(seed=0)
    study.optimize(_quadratic, n_trials=0)
    assert study.trials == []


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"n_trials": -1}, ValueError),
        ({"n_trials": 1.5}, ValueError),
        ({"timeout": 0}, ValueError),
        ({"n_workers": 0}, ValueError),
    ],
)
def test_optimize_argument_checks(kwargs, error):
    with pytest.raises(error):
        ts.create_study().optimize(_quadratic, **kwargs)


def test_optimize_needs_a_callable():
    with pytest.raises(TypeError, match="callable"):
        ts.create_study().optimize("not a function", n_trials=1)  # type: ignore[arg-type]


# -- enqueue and add_trial ---------------------------------------------------------------------


def test_enqueued_params_are_used_first():
    study = ts.create_study(seed=0)
    assert study.enqueue({"x": 0.5, "n": 3, "k": "b"}, user_attrs={"source": "manual"}) == 0
    assert study.enqueue({"x": -0.25}) == 1  # partial: the rest is sampled

    def objective(trial: ts.Trial) -> float:
        x = trial.suggest_float("x", -1.0, 1.0)
        n = trial.suggest_int("n", 1, 5)
        trial.suggest_categorical("k", ["a", "b"])
        return x + n

    study.optimize(objective, n_trials=3)
    t0, t1, t2 = study.trials
    assert dict(t0.params) == {"x": 0.5, "n": 3, "k": "b"}
    assert dict(t0.user_attrs) == {"source": "manual"}
    assert t0.system_attrs["enqueued"] is True
    assert t0.distributions["x"] == Float(-1.0, 1.0)  # the objective's distributions
    assert t1.params["x"] == -0.25 and 1 <= t1.params["n"] <= 5
    assert "enqueued" not in t2.system_attrs
    assert all(t.state == C for t in (t0, t1, t2))


def test_enqueue_skip_if_exists():
    study = ts.create_study(seed=0)
    assert study.enqueue({"x": 0.5}) == 0
    assert study.enqueue({"x": 0.5}, skip_if_exists=True) is None
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    assert study.enqueue({"x": 0.5}, skip_if_exists=True) is None
    assert study.enqueue({"x": 0.75}, skip_if_exists=True) == 1


def test_enqueued_value_outside_the_suggested_range_is_an_error():
    study = ts.create_study(seed=0)
    study.enqueue({"x": 7.0})
    with pytest.raises(SpaceError, match=r"enqueued value 7\.0 for 'x' is outside"):
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    assert study.trials[0].state == F


def test_enqueue_into_a_declared_space_is_validated():
    study = ts.create_study(space=SVM, seed=0)
    with pytest.raises(SpaceError, match="outside"):
        study.enqueue({"C": 100.0})
    study.enqueue({"kernel": "linear", "C": 1.0, "depth": 2})
    trial = study.ask()
    assert trial.params == {"kernel": "linear", "C": 1.0, "depth": 2}
    study.tell(trial, 0.0)


def test_add_trial():
    study = ts.create_study(seed=0)
    ft = study.add_trial({"x": 0.25, "k": "a"}, 1.5, user_attrs={"from": "paper"})
    assert ft.state == C and ft.values == (1.5,) and ft.number == 0
    assert dict(ft.params) == {"x": 0.25, "k": "a"}
    assert study.best_value == 1.5
    explicit = study.add_trial(
        {"x": 0.5}, 0.5, distributions={"x": Float(0.0, 1.0)}, intermediate={1: 0.9, 2: 0.5}
    )
    assert explicit.distributions["x"] == Float(0.0, 1.0)
    assert dict(explicit.intermediate) == {1: (0.9,), 2: (0.5,)}
    assert study.best_trial.number == 1
    pruned = study.add_trial({"x": 0.1}, None, state=P, distributions={"x": Float(0.0, 1.0)})
    assert pruned.state == P

    with pytest.raises(ValueError, match="non-finite"):
        study.add_trial({"x": 0.5}, float("nan"), distributions={"x": Float(0.0, 1.0)})
    with pytest.raises(ValueError, match="enqueue"):
        study.add_trial({"x": 0.5}, 1.0, state=W)
    with pytest.raises(SpaceError, match="outside"):
        study.add_trial({"x": 5.0}, 1.0, distributions={"x": Float(0.0, 1.0)})
    with pytest.raises(SpaceError, match="earlier trials"):
        study.add_trial({"x": 1}, 1.0, distributions={"x": Int(0, 3)})
    with pytest.raises(ValueError, match="one value per direction"):
        study.add_trial({}, 1.0, intermediate={0: (1.0, 2.0)})
    assert len(study.trials) == 3


# -- results -------------------------------------------------------------------------------


@pytest.mark.parametrize(("direction", "best"), [("minimize", -2.0), ("maximize", 7.0)])
def test_best_trial_value_and_params(direction, best):
    study = ts.create_study(direction=direction, seed=0)
    with pytest.raises(ValueError, match="no COMPLETE trial yet"):
        _ = study.best_trial
    values = [3.0, -2.0, 7.0, 0.0]
    for i, v in enumerate(values):
        study.add_trial({"i": i}, v, distributions={"i": Int(0, 10)})
    study.tell(study.ask(), state=F)
    assert study.best_value == best
    assert study.best_trial.number == values.index(best)
    assert study.best_params == {"i": values.index(best)}
    assert [t.number for t in study.best_trials] == [values.index(best)]


def test_best_trials_of_single_objective_study_are_the_ties():
    study = ts.create_study(seed=0)
    for v in (2.0, 1.0, 3.0, 1.0):
        study.add_trial({}, v)
    assert [t.number for t in study.best_trials] == [1, 3]


def test_best_trial_of_multi_objective_study_is_refused():
    study = ts.create_study(directions=["minimize", "minimize"])
    study.add_trial({}, [1.0, 2.0])
    with pytest.raises(ValueError, match="best_trials"):
        _ = study.best_trial


def _brute_force_front(values: np.ndarray) -> set[int]:
    front = set()
    for i, vi in enumerate(values):
        dominated = any(
            np.all(vj <= vi) and np.any(vj < vi) for j, vj in enumerate(values) if j != i
        )
        if not dominated:
            front.add(i)
    return front


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_best_trials_is_the_pareto_front(seed):
    rng = np.random.default_rng(seed)
    directions = ["minimize", "maximize"]
    study = ts.create_study(directions=directions)
    raw = np.round(rng.random((80, 2)) * 10, 0)  # rounding creates ties and duplicates
    raw = np.concatenate([raw, raw[:5]])
    for v in raw:
        study.add_trial({}, v.tolist())
    study.tell(study.ask(), state=F)
    signed = raw * np.array([1.0, -1.0])
    expected = _brute_force_front(signed)
    got = {t.number for t in study.best_trials}
    assert got == expected
    assert len(got) >= 1
    assert all(t.state == C for t in study.best_trials)


def test_best_trials_empty_without_complete_trials():
    study = ts.create_study(directions=["minimize", "maximize"])
    assert study.best_trials == []


def test_trials_dataframe_columns():
    pd = pytest.importorskip("pandas")
    study = ts.create_study(seed=0)

    def objective(trial: ts.Trial) -> float:
        trial.set_user_attr("note", "n")
        if trial.number == 1:
            raise ValueError("bad")
        return trial.suggest_float("x", 0, 1)

    study.optimize(objective, n_trials=3, catch=(ValueError,))
    df = study.trials_dataframe()
    assert list(df.columns) == [
        "number",
        "state",
        "value",
        "params_x",
        "user_attrs_note",
        "datetime_start",
        "datetime_complete",
        "duration",
        "cpu_time",
        "worker",
        "retries",
        "error",
    ]
    assert df["state"].tolist() == ["COMPLETE", "FAILED", "COMPLETE"]
    assert math.isnan(df["value"][1])
    assert df["number"].tolist() == [0, 1, 2]
    assert pd.api.types.is_datetime64_any_dtype(df["datetime_start"])
    assert "bad" in df["error"][1]

    multi = ts.create_study(directions=["minimize", "maximize"])
    multi.add_trial({"a": 1}, [1.0, 2.0])
    cols = list(multi.trials_dataframe().columns)
    assert cols[:5] == ["number", "state", "values_0", "values_1", "params_a"]


# -- seeds and resuming ---------------------------------------------------------------------------


def _param_sequence(study: ts.Study, n: int = 12) -> list[dict[str, Any]]:
    def objective(trial: ts.Trial) -> float:
        trial.suggest_float("x", -1, 1)
        trial.suggest_int("n", 0, 100)
        if trial.suggest_categorical("c", ["a", "b"]) == "a":
            trial.suggest_float("lr", 1e-5, 1, log=True)
        return 0.0

    study.optimize(objective, n_trials=n)
    return [dict(t.params) for t in study.trials]


def test_same_seed_gives_the_same_proposals():
    assert _param_sequence(ts.create_study(seed=42)) == _param_sequence(ts.create_study(seed=42))
    assert _param_sequence(ts.create_study(seed=42)) != _param_sequence(ts.create_study(seed=43))
    declared = [ts.create_study(space=SVM, seed=9) for _ in range(2)]
    asks = [[s.ask().params for _ in range(10)] for s in declared]
    assert asks[0] == asks[1]


def test_unseeded_studies_differ_and_store_their_seed():
    a, b = ts.create_study(), ts.create_study()
    assert a.seed != b.seed
    assert _param_sequence(ts.create_study(seed=a.seed)) == _param_sequence(a)


def test_resume_from_sqlite_continues_numbering_with_the_same_seed_and_sampler(tmp_path):
    path = str(tmp_path / "resume.db")
    url = ts.storage.normalize_url(path)
    first = ts.create_study("r", storage=path, seed=7, sampler=SobolSampler(), space=SVM)
    first.optimize(lambda t: t.params["C"], n_trials=4)
    first.close()
    forget_cached(url)  # as if in a new process

    resumed = ts.create_study("r", storage=path, load_if_exists=True)
    assert resumed.seed == 7
    assert isinstance(resumed.sampler, SobolSampler)
    assert resumed.space == SVM
    resumed.optimize(lambda t: t.params["C"], n_trials=3)
    resumed.close()
    numbers = [t.number for t in resumed.trials]
    assert numbers == list(range(7))

    # The resumed run proposes exactly what one uninterrupted run would have.
    straight = ts.create_study(seed=7, sampler=SobolSampler(), space=SVM)
    straight.optimize(lambda t: t.params["C"], n_trials=7)
    assert [dict(t.params) for t in resumed.trials] == [dict(t.params) for t in straight.trials]


def test_sampler_given_by_name_is_stored():
    study = ts.create_study(sampler="sobol", seed=1)
    assert isinstance(study.sampler, SobolSampler)
    assert study.system_attrs["sampler"] == {"name": "SobolSampler"}
    with pytest.raises(ts.TunesmithError, match="unknown sampler 'annealing'"):
        ts.create_study(sampler="annealing")


# -- lost workers ---------------------------------------------------------------------------------


def test_stale_trial_of_a_dead_worker_is_failed_and_retried(tmp_path):
    study = ts.create_study(storage=str(tmp_path / "s.db"), max_retries=1, seed=0)
    st = study.storage
    dead = st.create_trial(
        study.study_id,
        R,
        params={"x": 0.125},
        distributions={"x": Float(0, 1)},
        worker="elsewhere:1",
    )
    st.heartbeat([dead.trial_id], time.time() - 10 * study.heartbeat_interval)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        failed = study.fail_stale_trials()
    assert [f.number for f in failed] == [0]
    assert study.trials[0].state == F
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    retry = study.trials[1]
    assert retry.params["x"] == 0.125
    assert retry.retries == 1 and retry.system_attrs["retry_of"] == 0
    assert retry.state == C
    study.close()


def test_numbering_is_shared_by_studies_on_one_file(tmp_path):
    path = str(tmp_path / "s.db")
    a = ts.create_study("a", storage=path, seed=0)
    b = ts.create_study("a", storage=path, load_if_exists=True)
    numbers = []
    for study in itertools.islice(itertools.cycle([a, b]), 6):
        trial = study.ask()
        numbers.append(trial.number)
        study.tell(trial, 1.0)
    assert numbers == list(range(6))
    a.close()
    b.close()
