"""CmaEsSampler: determinism and replay, types and bounds, convergence, restarts, fallbacks."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

pytest.importorskip("cmaes")

import tunesmith as ts
from tunesmith.samplers.cmaes import CmaEsSampler
from tunesmith.trial import TrialState

SHIFT = np.array([1.3, -2.1, 0.7, 3.0, -1.4])
CUBE5 = ts.Space({f"x{i}": ts.Float(-5.0, 5.0) for i in range(5)})


def _vec(trial: ts.Trial, d: int) -> np.ndarray:
    return np.array([trial.params[f"x{i}"] for i in range(d)], dtype=float)


def sphere(trial: ts.Trial) -> float:
    return float(np.sum((_vec(trial, 5) - SHIFT) ** 2))


def ellipsoid(trial: ts.Trial) -> float:
    z = _vec(trial, 5) - SHIFT
    return float(np.sum(10.0 ** (3.0 * np.arange(5) / 4) * z * z))


def rosenbrock(trial: ts.Trial) -> float:
    x = _vec(trial, 4)
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (x[:-1] - 1.0) ** 2))


def rastrigin(trial: ts.Trial) -> float:
    x = _vec(trial, 2)
    return float(10 * x.size + np.sum(x * x - 10.0 * np.cos(2 * np.pi * x)))


def define_by_run(trial: ts.Trial) -> float:
    x = trial.suggest_float("x", -3.0, 3.0)
    lr = trial.suggest_float("lr", 1e-4, 1.0, log=True)
    n = trial.suggest_int("n", 1, 9)
    return (x - 1.0) ** 2 + (np.log10(lr) + 2.0) ** 2 + (n - 4) ** 2


def _run(space, objective, n, seed=0, storage=None, **kw) -> ts.Study:
    study = ts.create_study(space=space, sampler=CmaEsSampler(**kw), seed=seed, storage=storage)
    for _ in range(n):
        trial = study.ask()
        study.tell(trial, objective(trial))
    return study


def _params(study: ts.Study) -> list[dict]:
    return [dict(t.params) for t in study.trials]


# -- determinism and replay ----------------------------------------------------------------------
def test_a_seed_fixes_every_proposal_and_another_seed_changes_them():
    a = _params(_run(CUBE5, sphere, 60, seed=4))
    assert a == _params(_run(CUBE5, sphere, 60, seed=4))
    assert a != _params(_run(CUBE5, sphere, 60, seed=5))


def test_the_samplers_seed_overrides_the_studys():
    def run(study_seed: int) -> list[dict]:
        study = ts.create_study(space=CUBE5, sampler=CmaEsSampler(seed=9), seed=study_seed)
        for _ in range(30):
            t = study.ask()
            study.tell(t, sphere(t))
        return _params(study)

    assert run(0) == run(1)


def test_two_workers_start_like_a_sequential_run_and_stay_valid():
    """Trials asked before the first generation is told do not depend on timing."""
    seq = _run(CUBE5, sphere, 40, seed=11)
    par = ts.create_study(space=CUBE5, sampler=CmaEsSampler(), seed=11)
    par.optimize(sphere, n_trials=40, n_workers=2)
    popsize = 4 + int(3 * np.log(5))  # cmaes' default population for d = 5
    first = 1 + popsize  # the startup trial and the first generation
    by_number = {t.number: dict(t.params) for t in par.trials}
    assert [by_number[i] for i in range(first)] == _params(seq)[:first]
    assert all(t.state == TrialState.COMPLETE for t in par.trials)
    for p in by_number.values():
        CUBE5.validate(p)
    assert par.best_value < sphere_value_at_centre()


def sphere_value_at_centre() -> float:
    return float(np.sum(SHIFT**2))


def test_interleaved_workers_replay_exactly_with_running_trials_in_between():
    """A fresh sampler (no cache) proposes what the incremental one proposes, also while
    older trials are still running and newer ones finished (the 'tail' of the replay)."""
    study = ts.create_study(space=CUBE5, sampler=CmaEsSampler(), seed=3)
    running: list[ts.Trial] = []
    saw_tail = False
    for step in range(120):
        while len(running) < 3:
            running.append(study.ask())
        # three workers; the oldest trial is a straggler that finishes only every 7th step
        done = running.pop(0) if step % 7 == 0 else running.pop()
        study.tell(done, sphere(done))
        if step % 6 == 5:
            ctx = study._ctx()
            space = study.sampler.relative_space(ctx)
            number = study._history.n
            warm = study.sampler.sample_relative(ctx, number, space)
            saw_tail |= study.sampler._caches[study._history].tail is not None
            cold = CmaEsSampler().sample_relative(ctx, number, space)
            assert warm == cold, step
    assert saw_tail
    assert study.sampler.state(study)["n_told"] > 60


def test_enqueued_trials_are_told_with_their_stored_values():
    study = _run(CUBE5, sphere, 30, seed=6)
    study.enqueue({f"x{i}": float(v) for i, v in enumerate(SHIFT)})
    study.enqueue({f"x{i}": 0.0 for i in range(5)})
    for _ in range(30):
        t = study.ask()
        study.tell(t, sphere(t))
    assert study.trials[30].value == 0.0
    warm = study.sampler.state(study)
    cold = CmaEsSampler().state(study)
    assert warm == cold
    # trials 1..59 are all usable (0 is the random startup trial); a partial batch waits
    assert 59 - warm["popsize"] < warm["n_told"] <= 59


def test_a_new_process_continues_a_sqlite_study_exactly(tmp_path):
    url = f"sqlite:///{tmp_path / 'cma.db'}"
    full = _run(CUBE5, sphere, 120, seed=7, storage=f"sqlite:///{tmp_path / 'ref.db'}")
    first = _run(CUBE5, sphere, 100, seed=7, storage=url)
    script = textwrap.dedent(
        f"""
        import numpy as np
        import tunesmith as ts
        from tunesmith.samplers.cmaes import CmaEsSampler
        shift = np.array({SHIFT.tolist()!r})
        study = ts.load_study({first.name!r}, {url!r}, sampler=CmaEsSampler())
        for _ in range(20):
            t = study.ask()
            x = np.array([t.params[f"x{{i}}"] for i in range(5)])
            study.tell(t, float(np.sum((x - shift) ** 2)))
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    resumed = ts.load_study(first.name, url, sampler=CmaEsSampler())
    assert len(resumed.trials) == 120
    assert _params(resumed) == _params(full)


def test_reloading_in_process_replays_mixed_spaces_failures_and_define_by_run():
    space = ts.Space(
        {
            "x": ts.Float(-3.0, 3.0),
            "k": ts.Int(0, 6),
            "lr": ts.Float(1e-4, 1.0, log=True),
            "units": ts.Int(1, 512, log=True),
            "kind": ts.Categorical(["a", "b"]),
        }
    )

    def objective(trial: ts.Trial) -> float:
        p = trial.params
        if trial.number % 9 == 5:
            raise ValueError("flaky")
        penalty = (np.log10(p["lr"]) + 2) ** 2 + (np.log2(p["units"]) - 5) ** 2
        return (p["x"] - 0.5) ** 2 + (p["k"] - 2) ** 2 + penalty + (p["kind"] == "b")

    def run(n: int, study: ts.Study | None = None) -> ts.Study:
        if study is None:
            study = ts.create_study(space=space, sampler=CmaEsSampler(), seed=2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            study.optimize(objective, n_trials=n, catch=(ValueError,))
        return study

    full = run(80)
    half = run(50)
    resumed = run(30, ts.load_study(half.name, half.storage, sampler=CmaEsSampler()))
    assert _params(resumed) == _params(full)

    dbr = ts.create_study(sampler=CmaEsSampler(), seed=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dbr.optimize(define_by_run, n_trials=60)
    again = ts.create_study(sampler=CmaEsSampler(), seed=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again.optimize(define_by_run, n_trials=30)
        again = ts.load_study(again.name, again.storage, sampler=CmaEsSampler())
        again.optimize(define_by_run, n_trials=30)
    assert _params(again) == _params(dbr)
    assert CmaEsSampler().state(dbr)["params"] == ["x", "lr", "n"]


# -- bounds, types and variants -----------------------------------------------------------------
MIXED = ts.Space(
    {
        "lr": ts.Float(1e-5, 1.0, log=True),
        "depth": ts.Int(1, 8),
        "width": ts.Int(16, 256, step=16),
        "units": ts.Int(1, 1000, log=True),
        "frac": ts.Float(0.0, 1.0, step=0.1),
        "fixed": ts.Int(3, 3),
        "x": ts.Float(-2.0, 2.0),
    }
)


def mixed_objective(trial: ts.Trial) -> float:
    p = trial.params
    return (
        (np.log10(p["lr"]) + 3) ** 2
        + (p["depth"] - 8) ** 2
        + ((p["width"] - 16) / 16) ** 2
        + (np.log10(p["units"]) - 2) ** 2
        + (p["frac"] - 0.3) ** 2
        + p["x"] ** 2
    )


@pytest.mark.parametrize(
    ("kw", "variant"),
    [({}, "CMAwM"), ({"use_margin": False}, "CMA"), ({"use_separable_cma": True}, "SepCMA")],
)
def test_proposals_respect_bounds_types_steps_and_log_scales(kw, variant):
    study = _run(MIXED, mixed_objective, 150, seed=0, **kw)
    for t in study.trials:
        MIXED.validate(t.params)
        for name in ("depth", "width", "units", "fixed"):
            assert type(t.params[name]) is int
        assert t.params["fixed"] == 3
    state = study.sampler.state(study)
    assert state["variant"] == variant
    assert "fixed" not in state["params"]  # single-valued parameters are not modelled
    if variant == "CMAwM":
        # the margin keeps integers moving: both edges of 'depth' are found
        best = study.best_params
        assert best["depth"] == 8 and best["width"] == 16


def test_automatic_separable_choice_in_high_dimension():
    small = ts.Space({f"x{i}": ts.Float(0, 1) for i in range(40)})
    big = ts.Space({f"x{i}": ts.Float(0, 1) for i in range(41)})
    for space, variant in ((small, "CMA"), (big, "SepCMA")):
        study = ts.create_study(space=space, sampler=CmaEsSampler(), seed=0)
        study.tell(study.ask(), 1.0)
        assert study.sampler.state(study)["variant"] == variant


def test_one_dimensional_space():
    study = _run(ts.Space({"x": ts.Float(-4, 4)}), lambda t: (t.params["x"] - 1.7) ** 2, 80)
    assert abs(study.best_params["x"] - 1.7) < 1e-3


# -- optimization quality --------------------------------------------------------------------------
def test_converges_on_a_shifted_sphere_and_an_ellipsoid_in_5d():
    assert _run(CUBE5, sphere, 600, seed=0).best_value < 1e-3
    assert _run(CUBE5, ellipsoid, 900, seed=1).best_value < 1e-3


def test_beats_random_search_on_rosenbrock_4d():
    space = ts.Space({f"x{i}": ts.Float(-2.0, 2.0) for i in range(4)})
    for seed in range(2):
        cma = _run(space, rosenbrock, 300, seed=seed).best_value
        rnd = ts.create_study(space=space, sampler="random", seed=seed)
        rnd.optimize(rosenbrock, n_trials=300)
        assert cma < rnd.best_value / 3, (seed, cma, rnd.best_value)


@pytest.mark.parametrize("strategy", ["ipop", "bipop"])
def test_restarts_with_a_larger_population_when_stuck_on_rastrigin(strategy):
    space = ts.Space({f"x{i}": ts.Float(-5.12, 5.12) for i in range(2)})
    study = _run(space, rastrigin, 750, seed=1, restart_strategy=strategy)
    state = study.sampler.state(study)
    assert state["n_restarts"] >= 1
    assert state["popsizes"][:2] == [6, 12]  # the first restart doubles the population
    if strategy == "ipop":
        no_restart = _run(space, rastrigin, 750, seed=1, restart_strategy=None)
        assert no_restart.sampler.state(no_restart)["popsizes"] == [6]


# -- fallbacks and trial states --------------------------------------------------------------------
def test_categorical_parameters_fall_back_to_random_with_one_warning():
    space = ts.Space({"kind": ts.Categorical(["a", "b", "c"]), **dict(CUBE5)})

    def objective(trial: ts.Trial) -> float:
        return sphere(trial) + {"a": 0.0, "b": 1.0, "c": 2.0}[trial.params["kind"]]

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study = _run(space, objective, 120, seed=0)
    mine = [w for w in caught if "CmaEsSampler" in str(w.message)]
    assert len(mine) == 1 and "'kind'" in str(mine[0].message)
    assert {t.params["kind"] for t in study.trials} == {"a", "b", "c"}
    assert study.sampler.state(study)["params"] == [f"x{i}" for i in range(5)]
    assert study.best_value < 0.5


def test_failed_and_pruned_trials_are_skipped_unless_pruned_ones_are_considered():
    def objective(trial: ts.Trial) -> float:
        value = sphere(trial)
        trial.report(value, 0)
        if trial.number % 5 == 2:
            raise ValueError("failed")
        if trial.number % 5 == 4:
            raise ts.TrialPruned()
        return value

    counts = {}
    for consider in (False, True):
        study = ts.create_study(
            space=CUBE5, sampler=CmaEsSampler(consider_pruned_trials=consider), seed=0
        )
        study.optimize(objective, n_trials=100, catch=(ValueError,))
        state = study.sampler.state(study)
        numbers = {
            s: [t.number for t in study.trials if t.state == s]
            for s in (TrialState.COMPLETE, TrialState.PRUNED)
        }
        usable = numbers[TrialState.COMPLETE] + (numbers[TrialState.PRUNED] if consider else [])
        usable = [n for n in usable if n >= 1]  # trial 0 is the random startup trial
        told = state["n_told"]
        assert told <= len(usable) < told + state["popsize"]
        counts[consider] = told
    assert counts[True] > counts[False]


def test_multi_objective_studies_get_a_clear_error():
    study = ts.create_study(
        directions=["minimize", "minimize"], space=CUBE5, sampler=CmaEsSampler(), seed=0
    )
    with pytest.raises(ts.TunesmithError, match=r"single objective.*TPESampler"):
        study.ask()


def test_maximize_is_handled():
    study = ts.create_study(space=CUBE5, sampler=CmaEsSampler(), seed=0, direction="maximize")
    study.optimize(lambda t: -sphere(t), n_trials=300)
    assert study.best_value > -1e-2


# -- initialization --------------------------------------------------------------------------------
def test_x0_and_sigma0_set_the_initial_distribution():
    x0 = {f"x{i}": float(v) for i, v in enumerate(SHIFT)}
    study = _run(CUBE5, sphere, 10, x0=x0, sigma0=0.01)
    for t in study.trials[1:]:
        assert np.max(np.abs(_vec_params(t.params) - SHIFT)) < 0.6


def _vec_params(params: dict) -> np.ndarray:
    return np.array([params[f"x{i}"] for i in range(5)])


def test_x0_best_starts_at_the_best_startup_trial():
    study = _run(CUBE5, sphere, 30, x0="best", n_startup_trials=20, sigma0=1e-3)
    startup = study.trials[:20]
    best = min(startup, key=lambda t: t.value)
    for t in study.trials[20:]:
        assert np.max(np.abs(_vec_params(t.params) - _vec_params(best.params))) < 0.1


def test_warm_start_from_source_trials():
    source = _run(CUBE5, sphere, 200, seed=3).trials
    warm = _run(CUBE5, sphere, 40, seed=4, source_trials=source)
    cold = _run(CUBE5, sphere, 40, seed=4)
    assert warm.best_value < cold.best_value
    clone = pickle.loads(pickle.dumps(warm.sampler))  # FrozenTrials are not kept
    ctx = warm._ctx()
    space = clone.relative_space(ctx)
    assert clone.sample_relative(ctx, 40, space) == warm.sampler.sample_relative(ctx, 40, space)
    with pytest.raises(ts.TunesmithError, match="at least 10"):
        _run(CUBE5, sphere, 3, source_trials=source[:5])


# -- API -------------------------------------------------------------------------------------------
def test_describe_is_json_and_rebuilds_the_sampler_and_pickling_drops_caches():
    sampler = CmaEsSampler(
        sigma0=0.2, popsize=10, restart_strategy=None, use_margin=False, x0="best", seed=3
    )
    desc = json.loads(json.dumps(sampler.describe()))
    assert desc["name"] == "CmaEsSampler"
    args = {k: v for k, v in desc.items() if k != "name"}
    assert CmaEsSampler(**args).describe() == desc
    assert CmaEsSampler().describe() == {"name": "CmaEsSampler"}

    study = _run(CUBE5, sphere, 40, seed=1)
    assert len(study.sampler._caches) == 1
    clone = pickle.loads(pickle.dumps(study.sampler))
    assert len(clone._caches) == 0 and clone.describe() == study.sampler.describe()
    ctx = study._ctx()
    space = study.sampler.relative_space(ctx)
    assert clone.sample_relative(ctx, 40, space) == study.sampler.sample_relative(ctx, 40, space)


@pytest.mark.parametrize(
    "kw",
    [
        {"sigma0": 0},
        {"n_startup_trials": -1},
        {"popsize": 1},
        {"restart_strategy": "lipop"},
        {"inc_popsize": 1},
        {"use_margin": "yes"},
        {"use_margin": True, "use_separable_cma": True},
        {"x0": "middle"},
    ],
)
def test_invalid_arguments_raise_value_errors(kw):
    with pytest.raises(ValueError):
        CmaEsSampler(**kw)


def test_a_missing_cmaes_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "cmaes", None)
    study = ts.create_study(space=CUBE5, sampler=CmaEsSampler(), seed=0)
    with pytest.raises(ImportError, match=r'pip install "tunesmith\[cmaes\]"'):
        study.ask()
