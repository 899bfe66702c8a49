"""BOHBSampler (TPE per budget) and DEHBSampler (DE per budget)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.pruners.hyperband import bracket_of
from tunesmith.samplers import make_sampler
from tunesmith.samplers.bohb import budget_observations
from tunesmith.simulate import HartmannCurves, simulate
from tunesmith.trial import TrialState

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


def _add(study: ts.Study, x: float, curve: dict[int, float], complete: bool) -> None:
    state = TrialState.COMPLETE if complete else TrialState.PRUNED
    values = curve[max(curve)] if complete else None
    study.add_trial({"x": x}, values, state=state, intermediate=curve)


def _crossing_study(sampler: ts.Sampler, n_low: int = 30, n_top: int = 8) -> ts.Study:
    """Small x is best after one step, large x after nine: the budgets disagree.

    ``n_low`` trials stopped at step 1 with value ``x``; ``n_top`` trials ran to step 9,
    with value ``x`` at step 1 and ``1 - x`` at steps 3 and 9.
    """
    study = ts.create_study(space=SPACE, sampler=sampler, seed=3)
    rng = np.random.default_rng(0)
    for x in rng.random(n_low):
        _add(study, float(x), {1: float(x)}, complete=False)
    for x in rng.random(n_top):
        _add(study, float(x), {1: float(x), 3: 1.0 - x, 9: 1.0 - x}, complete=True)
    return study


# ---------------------------------------------------------------------------------
# BOHB
# ---------------------------------------------------------------------------------
def test_budget_observations_take_the_first_report_at_or_past_each_rung():
    study = ts.create_study(space=SPACE)
    _add(study, 0.1, {1: 5.0, 2: 4.0, 4: 3.0}, complete=False)
    _add(study, 0.2, {2: 6.0, 9: 1.0}, complete=True)
    _add(study, 0.3, {1: np.nan}, complete=False)
    obs = budget_observations(study._sync(), 1, 3)
    budgets = [b for b, _, _ in obs]
    assert budgets == [1.0, 3.0, 9.0, float("inf")]
    got = {b: dict(zip(n.tolist(), v[:, 0].tolist())) for b, n, v in obs}
    assert got[1.0] == {0: 5.0, 1: 6.0}  # the NaN of trial 2 is left out
    assert got[3.0] == {0: 3.0, 1: 1.0}  # trial 0 at step 4, trial 1 at step 9
    assert got[9.0] == {1: 1.0}
    assert got[float("inf")] == {1: 1.0}


def test_models_the_largest_budget_with_enough_observations():
    sampler = ts.BOHBSampler(min_points_in_model=2, random_fraction=0.0)
    study = _crossing_study(sampler, n_top=4)  # 4 = 2 + 2 complete: the top budget
    study.ask()
    assert sampler.last_budget == float("inf")
    sampler = ts.BOHBSampler(min_points_in_model=3, random_fraction=0.0)
    study = _crossing_study(sampler, n_top=4)  # too few at the top: step 1 (34 trials)
    study.ask()
    assert sampler.last_budget == 1.0
    sampler = ts.BOHBSampler(min_points_in_model=50, random_fraction=0.0)
    study = _crossing_study(sampler, n_top=4)  # no budget has 52: a uniform draw
    study.ask()
    assert sampler.last_budget is None


def test_proposals_follow_the_top_budget_not_the_early_values():
    sampler = ts.BOHBSampler(min_points_in_model=2, random_fraction=0.0)
    study = _crossing_study(sampler)
    xs = []
    for _ in range(20):
        trial = study.ask()
        xs.append(trial.params["x"])
        study.tell(trial, state=TrialState.FAILED)  # keep the model as it is
    assert np.mean(xs) > 0.6  # the top budget's good region; step 1's is near 0
    # A plain TPE ranks the many early stops by their value and goes the other way.
    tpe = _crossing_study(ts.TPESampler(seed=3, n_startup_trials=0))
    xs_tpe = []
    for _ in range(20):
        trial = tpe.ask()
        xs_tpe.append(trial.params["x"])
        tpe.tell(trial, state=TrialState.FAILED)
    assert np.mean(xs_tpe) < np.mean(xs)


def test_random_fraction_one_is_random_search():
    a = ts.create_study(space=SPACE, sampler=ts.BOHBSampler(random_fraction=1.0), seed=5)
    b = ts.create_study(space=SPACE, sampler="random", seed=5)
    for _ in range(5):
        ta, tb = a.ask(), b.ask()
        assert ta.params == tb.params
        a.tell(ta, 1.0)
        b.tell(tb, 1.0)


def _simulated(sampler: ts.Sampler, pruner: ts.Pruner, seed: int, budget: float = 12.0):
    study = ts.create_study(f"sim-{seed}", sampler=sampler, pruner=pruner, seed=seed)
    result = simulate(study, HartmannCurves(max_step=27), n_workers=4, max_time=budget * 27)
    return study, result


def test_bohb_is_reproducible_and_beats_random_under_hyperband():
    def run(sampler_name: str, seed: int) -> float:
        sampler = ts.BOHBSampler(1, 3) if sampler_name == "bohb" else ts.RandomSampler()
        _, result = _simulated(sampler, ts.HyperbandPruner(1, 27, 3), seed)
        return result.best_value

    assert run("bohb", 0) == run("bohb", 0)
    bohb = np.mean([run("bohb", s) for s in range(3)])
    rand = np.mean([run("random", s) for s in range(3)])
    assert bohb < rand


def test_bohb_describe_registry_and_pickle():
    sampler = ts.BOHBSampler(2, 4, min_points_in_model=5, random_fraction=0.2, seed=7, gamma=0.2)
    d = sampler.describe()
    assert d["name"] == "BOHBSampler" and d["gamma"] == 0.2
    rebuilt = make_sampler(d)
    assert rebuilt.describe() == d
    assert make_sampler("bohb").describe()["min_resource"] == 1
    clone = pickle.loads(pickle.dumps(sampler))
    assert clone.describe() == d


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"min_resource": 0}, "min_resource"),
        ({"reduction_factor": 1}, "reduction_factor"),
        ({"random_fraction": 1.5}, "random_fraction"),
        ({"min_points_in_model": 0}, "min_points_in_model"),
        ({"n_startup_trials": 3}, "min_points_in_model"),
    ],
)
def test_bohb_bad_arguments(kwargs, word):
    with pytest.raises(ValueError, match=word):
        ts.BOHBSampler(**kwargs)


def test_bohb_models_several_objectives_per_budget():
    study = ts.create_study(
        directions=["minimize", "minimize"],
        space=SPACE,
        sampler=ts.BOHBSampler(min_points_in_model=2, random_fraction=0.0),
        pruner=ts.SuccessiveHalvingPruner(1, 3),
        seed=1,
    )

    def objective(trial: ts.Trial) -> tuple[float, float]:
        x = trial.params["x"]
        for step in range(1, 10):
            trial.report((x + 1.0 / step, 1.0 - x + 1.0 / step), step)
            if trial.should_prune():
                raise ts.TrialPruned()
        return x, 1.0 - x

    study.optimize(objective, n_trials=30)
    states = [t.state for t in study.trials]
    assert TrialState.PRUNED in states and TrialState.COMPLETE in states
    assert len(study.best_trials) >= 1


def test_bohb_with_two_worker_processes(tmp_path):
    url = f"sqlite:///{tmp_path / 'bohb.db'}"
    study = ts.create_study(
        "bohb2",
        storage=url,
        space=SPACE,
        sampler=ts.BOHBSampler(min_points_in_model=1),
        pruner=ts.SuccessiveHalvingPruner(1, 3),
        seed=2,
    )
    study.optimize(_pruned_quadratic, n_trials=16, n_workers=2)
    assert len(study.trials) == 16
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in study.trials)


def _pruned_quadratic(trial: ts.Trial) -> float:
    x = trial.params["x"]
    for step in range(1, 10):
        trial.report((x - 0.3) ** 2 + 1.0 / step, step)
        if trial.should_prune():
            raise ts.TrialPruned()
    return (x - 0.3) ** 2


# ---------------------------------------------------------------------------------
# DEHB
# ---------------------------------------------------------------------------------
def test_dehb_levels_follow_the_hyperband_brackets():
    sampler = ts.DEHBSampler(1, 27, 3)
    sizes = tuple(b.n_trials for b in ts.HyperbandPruner(1, 27, 3).brackets())
    for number in range(50):
        assert sampler.level_of("s", number) == bracket_of("s", number, sizes)
    assert ts.DEHBSampler(1, None, 3).level_of("s", 7) == 0
    # Population sizes: Hyperband's rung sizes, at least min_population.
    assert [sampler.population_size(j) for j in range(4)] == [27, 10, 10, 10]
    assert ts.DEHBSampler(1, 27, 3, min_population=4).population_size(2) == 4


def test_dehb_offspring_are_mutants_of_the_population():
    """Once level 0 is full, proposals come from rand/1 + binomial crossover: with F = 0
    and CR = 1 a proposal is exactly one of the parents (a)."""
    space = ts.Space({"x": ts.Float(0.0, 1.0), "y": ts.Float(0.0, 1.0)})
    sampler = ts.DEHBSampler(1, None, 3, mutation_factor=0.0, crossover_prob=1.0, min_population=4)
    study = ts.create_study(space=space, sampler=sampler, seed=0)
    rng = np.random.default_rng(1)
    pts = rng.random((12, 2))
    for x, y in pts:
        study.add_trial({"x": x, "y": y}, None, state=TrialState.PRUNED, intermediate={1: x + y})
    # Level 0 keeps the population_size(0) = 81 best, here all 12.
    for _ in range(5):
        trial = study.ask()
        p = np.array([trial.params["x"], trial.params["y"]])
        assert np.min(np.abs(pts - p).max(axis=1)) < 1e-9
        study.tell(trial, state=TrialState.FAILED)


def test_dehb_is_reproducible_and_beats_random_under_hyperband():
    def run(sampler_name: str, seed: int) -> float:
        sampler = ts.DEHBSampler(1, 27, 3) if sampler_name == "dehb" else ts.RandomSampler()
        _, result = _simulated(sampler, ts.HyperbandPruner(1, 27, 3), seed, budget=20.0)
        return result.best_value

    assert run("dehb", 1) == run("dehb", 1)
    dehb = np.mean([run("dehb", s) for s in range(3)])
    rand = np.mean([run("random", s) for s in range(3)])
    assert dehb < rand


def test_dehb_handles_int_log_and_categorical_parameters():
    space = ts.Space(
        {
            "lr": ts.Float(1e-4, 1e-1, log=True),
            "units": ts.Int(8, 256, log=True),
            "act": ts.Categorical(["relu", "tanh", "gelu"]),
        }
    )
    study = ts.create_study(space=space, sampler=ts.DEHBSampler(1, 9, 3, min_population=4), seed=0)
    study.optimize(_mixed, n_trials=40)
    for t in study.trials:
        assert 1e-4 <= t.params["lr"] <= 1e-1
        assert isinstance(t.params["units"], int) and 8 <= t.params["units"] <= 256
        assert t.params["act"] in ("relu", "tanh", "gelu")


def _mixed(trial: ts.Trial) -> float:
    p = trial.params
    base = abs(np.log10(p["lr"]) + 2.5) + abs(np.log2(p["units"]) - 6) / 4
    base += {"relu": 0.0, "tanh": 0.3, "gelu": 0.1}[p["act"]]
    for step in range(1, 10):
        trial.report(base + 1.0 / step, step)
    return base


def test_dehb_describe_registry_pickle_and_errors():
    sampler = ts.DEHBSampler(1, 81, 3, mutation_factor=0.7, crossover_prob=0.9, seed=3)
    d = sampler.describe()
    assert make_sampler(d).describe() == d
    assert pickle.loads(pickle.dumps(sampler)).describe() == d
    with pytest.raises(ValueError, match="max_resource"):
        ts.DEHBSampler(9, 3)
    with pytest.raises(ValueError, match="min_population"):
        ts.DEHBSampler(min_population=3)
    study = ts.create_study(directions=["minimize", "minimize"], space=SPACE, sampler=sampler)
    with pytest.raises(ValueError, match="BOHBSampler"):
        study.ask()
