"""GridSampler: every point exactly once, then stop; explicit grids, declared spaces,
conditions, seeded order, failures, exhaustion."""

from __future__ import annotations

import itertools
import json
from typing import Any

import numpy as np
import pytest

import tunesmith as ts
from tunesmith import GridSampler, SamplerExhausted, SpaceError, TrialState
from tunesmith.samplers import make_sampler
from tunesmith.space import Categorical, Float, Int, Space

GRID = {"x": [0.5, 1.0, 2.0], "kernel": ["rbf", "linear"], "flag": [True, False]}


def _grid_objective(trial: ts.Trial) -> float:
    x = trial.suggest_float("x", 0.0, 5.0)
    kernel = trial.suggest_categorical("kernel", ["rbf", "linear", "poly"])
    flag = trial.suggest_categorical("flag", [True, False])
    return x + (kernel == "rbf") + flag


def _key(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True)


def _product(grid: dict[str, list[Any]]) -> set[str]:
    names = list(grid)
    return {_key(dict(zip(names, combo))) for combo in itertools.product(*grid.values())}


def test_explicit_grid_visits_every_point_once_then_stops():
    study = ts.create_study(sampler=GridSampler(GRID), seed=0)
    study.optimize(_grid_objective, n_trials=100)
    trials = study.trials
    assert len(trials) == 12
    assert all(t.state == TrialState.COMPLETE for t in trials)
    assert [_key(dict(t.params)) for t in trials].count(_key(dict(trials[0].params))) == 1
    assert {_key(dict(t.params)) for t in trials} == _product(GRID)
    # The objective's own distributions were stored (the grid only picks the values).
    assert trials[0].distributions["x"] == Float(0.0, 5.0)
    # Asking again: nothing is left.
    with pytest.raises(SamplerExhausted, match="no more points"):
        study.ask()
    study.optimize(_grid_objective, n_trials=5)  # returns at once
    assert len(study.trials) == 12


def test_grid_of_numpy_values_is_stored_as_plain_numbers(tmp_path):
    grid = {"x": np.arange(3), "y": np.linspace(0.0, 1.0, 3)}
    study = ts.create_study(storage=str(tmp_path / "g.db"), sampler=GridSampler(grid), seed=0)
    assert study.system_attrs["sampler"]["grid"] == {"x": [0, 1, 2], "y": [0.0, 0.5, 1.0]}
    study.optimize(lambda t: t.suggest_int("x", 0, 2) + t.suggest_float("y", 0, 1), n_trials=20)
    study.close()
    assert len(study.trials) == 9
    assert all(type(t.params["x"]) is int for t in study.trials)


def test_grid_from_a_declared_space():
    space = Space({"n": Int(1, 3), "c": Categorical(["a", "b"]), "s": Float(0.0, 1.0, step=0.5)})
    study = ts.create_study(sampler=GridSampler(), space=space, seed=1)
    study.optimize(lambda t: float(t.params["n"]), n_trials=50)
    assert len(study.trials) == 18
    assert {_key(dict(t.params)) for t in study.trials} == {_key(p) for p in space.grid()}


def test_grid_from_a_declared_space_with_continuous_floats_needs_n_points():
    space = Space({"lr": Float(1e-4, 1e-1, log=True), "n": Int(0, 1)})
    study = ts.create_study(sampler=GridSampler(n_points=4), space=space, seed=1)
    study.optimize(lambda t: t.params["lr"], n_trials=50)
    lrs = sorted({t.params["lr"] for t in study.trials})
    assert len(study.trials) == 8
    assert lrs == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1])

    without = ts.create_study(sampler=GridSampler(), space=space, seed=1)
    with pytest.raises(SpaceError, match="'lr' is a continuous Float"):
        without.ask()


def test_grid_of_a_conditional_space_visits_each_active_combination_once():
    space = Space(
        {
            "kernel": Categorical(["rbf", "poly", "linear"]),
            "gamma": Float(0.1, 1.0, step=0.45),
            "degree": Int(2, 3),
        },
        conditions={"gamma": {"kernel": ["rbf", "poly"]}, "degree": {"kernel": "poly"}},
    )
    expected = {_key(p) for p in space.grid()}
    assert len(expected) == 3 + 3 * 2 + 1
    for seed in range(3):  # whichever point comes first
        study = ts.create_study(sampler=GridSampler(), space=space, seed=seed)
        study.optimize(lambda t: 0.0, n_trials=50)
        keys = [_key(dict(t.params)) for t in study.trials]
        assert sorted(keys) == sorted(expected), seed


def test_order_is_shuffled_by_the_seed():
    def order(study_seed: int, **kw: Any) -> list[str]:
        study = ts.create_study(sampler=GridSampler(GRID, **kw), seed=study_seed)
        study.optimize(_grid_objective, n_trials=12)
        return [_key(dict(t.params)) for t in study.trials]

    assert order(1) == order(1)
    assert order(1) != order(2)
    assert sorted(order(1)) == sorted(order(2))
    # The sampler's own seed wins over the study's.
    assert order(1, seed=5) == order(2, seed=5)
    # Without shuffling: row-major order of the grid.
    names = list(GRID)
    row_major = [_key(dict(zip(names, c))) for c in itertools.product(*GRID.values())]
    assert order(1, shuffle=False) == row_major


def test_failed_points_are_not_retried():
    def objective(trial: ts.Trial) -> float:
        v = trial.suggest_int("v", 0, 9)
        if v % 3 == 0:
            raise RuntimeError(f"bad point {v}")
        return float(v)

    study = ts.create_study(sampler=GridSampler({"v": list(range(10))}), seed=0)
    study.optimize(objective, n_trials=100, catch=(RuntimeError,))
    values = [t.params["v"] for t in study.trials]
    assert sorted(values) == list(range(10))
    failed = sorted(t.params["v"] for t in study.trials if t.state == TrialState.FAILED)
    assert failed == [0, 3, 6, 9]


def test_ask_raises_sampler_exhausted_when_the_grid_is_done():
    study = ts.create_study(sampler=GridSampler({"v": [1, 2]}), seed=0)
    for _ in range(2):
        trial = study.ask()
        study.tell(trial, float(trial.suggest_int("v", 0, 5)))
    with pytest.raises(SamplerExhausted):
        study.ask()
    assert len(study.trials) == 2  # no trial was created for the failed ask


def test_running_trials_never_share_a_point():
    # Several trials asked before any is told, as a parallel driver does.
    study = ts.create_study(sampler=GridSampler({"v": [0, 1, 2, 3]}), seed=0)
    trials = [study.ask() for _ in range(4)]
    values = [t.suggest_int("v", 0, 3) for t in trials]
    assert sorted(values) == [0, 1, 2, 3]
    with pytest.raises(SamplerExhausted):
        study.ask()
    for t, v in zip(trials, values):
        study.tell(t, float(v))
    assert sorted(t.params["v"] for t in study.trials) == [0, 1, 2, 3]


def test_running_trials_of_a_declared_space_never_share_a_point():
    space = Space({"v": Int(0, 5)})
    study = ts.create_study(sampler=GridSampler(), space=space, seed=0)
    trials = [study.ask() for _ in range(6)]
    assert sorted(t.params["v"] for t in trials) == list(range(6))
    with pytest.raises(SamplerExhausted):
        study.ask()


def test_a_point_handed_out_but_never_used_is_offered_again():
    study = ts.create_study(sampler=GridSampler({"v": [0, 1]}), seed=0)
    lost = study.ask()
    study.tell(lost, state=TrialState.FAILED)  # failed before suggesting anything
    study.optimize(lambda t: float(t.suggest_int("v", 0, 1)), n_trials=10)
    assert sorted(t.params["v"] for t in study.trials[1:]) == [0, 1]


def test_enqueued_points_count_as_visited():
    study = ts.create_study(sampler=GridSampler({"v": [0, 1, 2]}), seed=0)
    study.enqueue({"v": 1})
    study.optimize(lambda t: float(t.suggest_int("v", 0, 2)), n_trials=10)
    values = [t.params["v"] for t in study.trials]
    assert values[0] == 1
    assert sorted(values) == [0, 1, 2]


def test_grid_resumes_where_it_stopped(tmp_path):
    path = str(tmp_path / "grid.db")
    first = ts.create_study("g", storage=path, sampler=GridSampler(GRID), seed=3)
    first.optimize(_grid_objective, n_trials=5)
    first.close()
    again = ts.create_study("g", storage=path, load_if_exists=True)
    assert isinstance(again.sampler, GridSampler)
    assert again.sampler.grid == GRID
    again.optimize(_grid_objective, n_trials=100)
    again.close()
    assert len(again.trials) == 12
    assert {_key(dict(t.params)) for t in again.trials} == _product(GRID)


def test_parameter_outside_the_grid_is_an_error_naming_the_grid():
    study = ts.create_study(sampler=GridSampler({"v": [0, 1]}), seed=0)
    trial = study.ask()
    with pytest.raises(SpaceError, match=r"'w' is not in the grid.*\['v'\]"):
        trial.suggest_float("w", 0, 1)
    study.tell(trial, state=TrialState.FAILED)


def test_grid_needs_a_grid_or_a_declared_space():
    study = ts.create_study(sampler=GridSampler(), seed=0)
    with pytest.raises(SpaceError, match="needs a grid"):
        study.ask()


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ({}, "non-empty mapping"),
        ([("x", [1])], "non-empty mapping"),
        ({"x": "abc"}, "must be a list"),
        ({"x": 3}, "must be a list"),
        ({"x": []}, "has no values"),
        ({"x": [1, 1]}, "distinct"),
        ({"x": [object()]}, "has type object"),
    ],
)
def test_invalid_grids_are_refused(grid, message):
    with pytest.raises(SpaceError, match=message):
        GridSampler(grid)


def test_description_and_pickle_round_trip():
    import pickle

    sampler = GridSampler({"v": [1, 2]}, n_points=3, seed=4, shuffle=False)
    desc = sampler.describe()
    assert desc == {
        "name": "GridSampler",
        "seed": 4,
        "grid": {"v": [1, 2]},
        "n_points": 3,
        "shuffle": False,
    }
    rebuilt = make_sampler(desc)
    assert isinstance(rebuilt, GridSampler)
    assert (rebuilt.grid, rebuilt.n_points, rebuilt.seed, rebuilt.shuffle) == (
        {"v": [1, 2]},
        3,
        4,
        False,
    )
    copy = pickle.loads(pickle.dumps(sampler))
    assert copy.describe() == desc
