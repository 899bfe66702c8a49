"""AutoSampler: the default sampler's choices, their record, and their effect."""

from __future__ import annotations

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.history import History
from tunesmith.samplers.auto import AutoSampler
from tunesmith.samplers.base import SamplerContext
from tunesmith.storage import InMemoryStorage
from tunesmith.trial import TrialState


def _ctx(space=None, directions=("minimize",), history=None) -> SamplerContext:
    if history is None:
        storage = InMemoryStorage()
        rec = storage.create_study("s", list(directions))
        history = History(storage, rec.study_id, directions)
    return SamplerContext(history, space, 0, tuple(directions))


def test_default_sampler_of_create_study_is_auto():
    study = ts.create_study(seed=0)
    assert isinstance(study.sampler, AutoSampler)
    assert study.system_attrs["sampler"] == {"name": "AutoSampler"}


@pytest.mark.parametrize(
    ("space", "directions", "expected", "reason"),
    [
        ({"x": ts.Float(0, 1), "y": ts.Int(1, 9)}, ("minimize",), "GPSampler", "small budget"),
        ({"x": ts.Float(0, 1)}, ("minimize", "maximize"), "TPESampler", "several objectives"),
        (
            {f"x{i}": ts.Float(0, 1) for i in range(50)},
            ("minimize",),
            "CmaEsSampler",
            "50 numeric",
        ),
        (
            {f"x{i}": ts.Float(0, 1) for i in range(25)} | {"c": ts.Categorical(["a", "b"])},
            ("minimize",),
            "TPESampler",
            "26 parameters",
        ),
        (
            {"a": ts.Categorical([1, 2]), "b": ts.Categorical(["x", "y"]), "z": ts.Float(0, 1)},
            ("minimize",),
            "GPSampler",
            "3 parameters",
        ),
        (
            {"a": ts.Categorical(list(range(30))), "b": ts.Categorical(list(range(11)))},
            ("minimize",),
            "TPESampler",
            "41 categorical choices",
        ),
    ],
)
def test_choice_by_space_and_objectives(space, directions, expected, reason):
    choice = AutoSampler().choose(_ctx(ts.Space(space), directions))
    assert choice.sampler == expected
    assert reason in choice.reason


def test_conditional_spaces_go_to_tpe():
    space = ts.Space(
        {"k": ts.Categorical(["a", "b"]), "x": ts.Float(0, 1)}, conditions={"x": {"k": "a"}}
    )
    assert AutoSampler().choose(_ctx(space)).sampler == "TPESampler"


def test_gp_hands_over_to_tpe_after_its_budget():
    study = ts.create_study(sampler=AutoSampler(gp_max_trials=12), seed=0)
    study.optimize(lambda t: (t.suggest_float("x", -2, 2) - 0.5) ** 2, n_trials=16)
    log = study.system_attrs["auto_sampler_log"]
    used = [entry["sampler"] for entry in log]
    assert used[-2:] == ["GPSampler", "TPESampler"]
    switch = log[-1]
    assert switch["trial"] == 12
    assert "12 trials completed" in switch["reason"]
    assert study.system_attrs["auto_sampler"]["sampler"] == "TPESampler"


def test_many_running_trials_prefer_tpe():
    study = ts.create_study(sampler=AutoSampler(many_workers=3), seed=0)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=11)
    pending = [study.ask() for _ in range(3)]
    for t in pending:
        t.suggest_float("x", 0, 1)
    study.ask()
    assert study.system_attrs["auto_sampler"]["sampler"] == "TPESampler"
    assert "3 trials running" in study.system_attrs["auto_sampler"]["reason"]


def test_define_by_run_conditionals_detected_from_history():
    def objective(trial: ts.Trial) -> float:
        kind = trial.suggest_categorical("kind", ["a", "b"])
        x = trial.suggest_float("x", 0, 1)
        if kind == "a":
            return x + trial.suggest_float("extra", 0, 1)
        return x

    study = ts.create_study(seed=3)
    study.optimize(objective, n_trials=14)
    assert study.system_attrs["auto_sampler"]["sampler"] == "TPESampler"
    assert all(t.state == TrialState.COMPLETE for t in study.trials)


def test_auto_beats_random_on_a_small_smooth_problem():
    def objective(trial: ts.Trial) -> float:
        x = trial.suggest_float("x", -5, 5)
        y = trial.suggest_float("y", -5, 5)
        return (x - 1.3) ** 2 + (y + 0.7) ** 2

    auto, rand = [], []
    for seed in range(3):
        a = ts.create_study(seed=seed)
        a.optimize(objective, n_trials=25)
        r = ts.create_study(sampler="random", seed=seed)
        r.optimize(objective, n_trials=25)
        auto.append(a.best_value)
        rand.append(r.best_value)
    assert np.mean(auto) < np.mean(rand) / 5


def test_auto_is_reproducible_and_rebuilt_from_the_study(tmp_path):
    def objective(trial: ts.Trial) -> float:
        return (trial.suggest_float("x", -3, 3) - 1) ** 2

    runs = []
    for _ in range(2):
        s = ts.create_study(seed=5)
        s.optimize(objective, n_trials=14)
        runs.append([t.params["x"] for t in s.trials])
    assert runs[0] == runs[1]
    db = tmp_path / "a.db"
    ts.create_study("a", storage=db, sampler=AutoSampler(gp_max_trials=50), seed=1)
    loaded = ts.load_study("a", db)
    assert isinstance(loaded.sampler, AutoSampler)
    assert loaded.sampler.gp_max_trials == 50


def test_invalid_arguments():
    with pytest.raises(ValueError, match="gp_max_trials"):
        AutoSampler(gp_max_trials=0)
