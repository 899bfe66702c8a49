"""SobolSampler: even coverage, bounds and conditions, seeding, define-by-run fallback."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import qmc

import tunesmith as ts
from tunesmith.samplers import SobolSampler, make_sampler
from tunesmith.space import Categorical, Float, Int, Space

CUBE = Space({"a": Float(0.0, 1.0), "b": Float(0.0, 1.0), "c": Float(0.0, 1.0)})


def _ask_points(space: Space, n: int, seed: int, **kw) -> list[dict]:
    study = ts.create_study(space=space, sampler=SobolSampler(**kw), seed=seed)
    points = []
    for _ in range(n):
        trial = study.ask()
        points.append(trial.params)
        study.tell(trial, 0.0)
    return points


def _as_array(points: list[dict]) -> np.ndarray:
    return np.array([[p[n] for n in CUBE] for p in points])


@pytest.mark.parametrize("k", [4, 6])
def test_every_one_dimensional_stratum_is_hit_exactly_once(k):
    n = 2**k
    x = _as_array(_ask_points(CUBE, n, seed=3))
    for j in range(x.shape[1]):
        strata = np.floor(x[:, j] * n).astype(int)
        assert sorted(strata.tolist()) == list(range(n)), f"dimension {j}"


def test_sobol_points_are_more_uniform_than_random_points():
    n = 64
    for seed in range(3):
        sobol = qmc.discrepancy(_as_array(_ask_points(CUBE, n, seed=seed)))
        random = qmc.discrepancy(np.random.default_rng(seed).random((n, 3)))
        assert sobol < random / 3, (seed, sobol, random)


def test_points_respect_types_scales_steps_and_conditions():
    space = Space(
        {
            "kernel": Categorical(["rbf", "linear"]),
            "gamma": Float(1e-5, 1.0, log=True),
            "depth": Int(1, 6),
            "width": Int(16, 1024, log=True),
            "frac": Float(0.0, 1.0, step=0.1),
        },
        conditions={"gamma": {"kernel": "rbf"}},
    )
    points = _ask_points(space, 64, seed=1)
    for p in points:
        space.validate(p)
        assert type(p["depth"]) is int and type(p["width"]) is int
    assert {p["kernel"] for p in points} == {"rbf", "linear"}
    assert sum(p["kernel"] == "rbf" for p in points) == 32  # a balanced net
    assert sorted({p["depth"] for p in points}) == [1, 2, 3, 4, 5, 6]
    # log scale: as many gammas below 10**-2.5 (the log midpoint) as above.
    gammas = [p["gamma"] for p in points if "gamma" in p]
    assert abs(sum(g < 10**-2.5 for g in gammas) - len(gammas) / 2) <= 2


def test_a_seed_fixes_the_sequence():
    assert _ask_points(CUBE, 8, seed=5) == _ask_points(CUBE, 8, seed=5)
    assert _ask_points(CUBE, 8, seed=5) != _ask_points(CUBE, 8, seed=6)
    a = ts.create_study(space=CUBE, sampler=SobolSampler(seed=9), seed=1)
    b = ts.create_study(space=CUBE, sampler=SobolSampler(seed=9), seed=2)
    assert [a.ask().params for _ in range(4)] == [b.ask().params for _ in range(4)]


def test_trial_n_gets_point_n_whatever_the_order_of_requests():
    sampler = SobolSampler()
    forward = [sampler._point(11, 3, i) for i in range(8)]
    fresh = SobolSampler()
    shuffled = {i: fresh._point(11, 3, i) for i in (5, 2, 7, 0, 1, 6, 3, 4)}
    for i in range(8):
        np.testing.assert_array_equal(forward[i], shuffled[i])
    skipped = SobolSampler()._point(11, 3, 6)
    np.testing.assert_array_equal(skipped, forward[6])


def test_unscrambled_sequence_starts_at_the_lower_corner():
    first = _ask_points(CUBE, 1, seed=0, scramble=False)[0]
    assert first == {"a": 0.0, "b": 0.0, "c": 0.0}


def test_define_by_run_uses_the_first_completed_trials_parameters():
    def objective(trial: ts.Trial) -> float:
        trial.suggest_float("x", 0.0, 1.0)
        trial.suggest_int("n", 0, 7)
        return 0.0

    study = ts.create_study(sampler=SobolSampler(), seed=4)
    study.optimize(objective, n_trials=33)
    sampler = study.sampler
    assert sampler.relative_space(study._ctx()) == Space({"x": Float(0, 1), "n": Int(0, 7)})
    xs = np.array([t.params["x"] for t in study.trials[1:]])
    # Trials 1..32 are Sobol points 1..32 (point 0 went unused by trial 0): two
    # consecutive halves of the sequence, so every one of 16 strata holds 2 points.
    counts = np.bincount(np.floor(xs * 16).astype(int), minlength=16)
    assert counts.tolist() == [2] * 16


def test_parameters_outside_the_sobol_space_are_drawn_at_random():
    def objective(trial: ts.Trial) -> float:
        trial.suggest_float("x", 0.0, 1.0)
        if trial.number > 0:
            trial.suggest_categorical("late", ["a", "b"])
        return 0.0

    study = ts.create_study(sampler=SobolSampler(), seed=4)
    study.optimize(objective, n_trials=20)
    late = [t.params["late"] for t in study.trials[1:]]
    assert set(late) == {"a", "b"}


def test_description_round_trips():
    s = make_sampler(SobolSampler(seed=3, scramble=False).describe())
    assert isinstance(s, SobolSampler)
    assert (s.seed, s.scramble) == (3, False)
    assert SobolSampler().describe() == {"name": "SobolSampler"}
    assert isinstance(make_sampler("qmc"), SobolSampler)
