"""TPESampler: reproducibility, spaces, model quality, failures, constant liar, MOTPE."""

from __future__ import annotations

import math
import pickle
import warnings

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.history import History
from tunesmith.samplers.sobol import SobolSampler
from tunesmith.samplers.tpe import (
    TPESampler,
    _BadCache,
    _bandwidths,
    _Layout,
    _nd_select,
    _split,
)
from tunesmith.space import Categorical, Float, Int, Space
from tunesmith.trial import FrozenTrial, TrialState

MIXED = Space(
    {
        "x": Float(-5.0, 5.0),
        "lr": Float(1e-5, 1e-1, log=True),
        "q": Float(0.0, 1.0, step=0.25),
        "n": Int(1, 6),
        "width": Int(8, 1024, log=True),
        "every": Int(0, 100, step=10),
        "opt": Categorical(["sgd", "adam", None, True, 3]),
    }
)


def mixed_objective(trial: ts.Trial) -> float:
    p = trial.params
    return (
        (p["x"] - 1) ** 2
        + (math.log10(p["lr"]) + 3) ** 2
        + (p["q"] - 0.5) ** 2
        + (p["n"] - 4) ** 2
        + (math.log2(p["width"]) - 6) ** 2 / 10
        + (p["every"] - 30) ** 2 / 100
        + (0.0 if p["opt"] == "adam" else 1.0)
    )


def quad4(trial: ts.Trial) -> float:
    """4-D quadratic with one int and one categorical (define-by-run)."""
    x = trial.suggest_float("x", -5, 5)
    y = trial.suggest_float("y", -5, 5)
    k = trial.suggest_int("k", -5, 5)
    c = trial.suggest_categorical("c", ["a", "b", "c", "d"])
    return (x - 1.5) ** 2 + (y + 0.5) ** 2 + (k - 2) ** 2 + {"a": 3, "b": 0, "c": 2, "d": 4}[c]


def groups_of(sampler: TPESampler, study: ts.Study, space: Space) -> list[tuple[str, ...]]:
    """The parameter groups the sampler would model now."""
    h = study._history
    fin, _ = sampler._masks(h, -1)
    return sorted(sampler._groups(h, space, sampler._state(h), fin))


def params_by_number(study: ts.Study) -> dict[int, dict]:
    return {t.number: t.params for t in study.trials}


# -- construction, description, pickling -------------------------------------------------
def test_describe_rebuilds_the_same_sampler_and_pickles():
    s = TPESampler(n_startup_trials=5, gamma=0.2, multivariate=False, constant_liar=False, seed=7)
    d = s.describe()
    assert d["name"] == "TPESampler"
    import json

    json.dumps(d)
    rebuilt = TPESampler(**{k: v for k, v in d.items() if k != "name"})
    assert rebuilt.describe() == d
    s2 = pickle.loads(pickle.dumps(s))
    assert s2.describe() == d
    assert "TPESampler(" in repr(s)


def test_registry_builds_it_from_a_name_or_its_description():
    from tunesmith.samplers import _REGISTRY, make_sampler

    if "tpe" not in _REGISTRY:
        pytest.skip("TPESampler is not registered in tunesmith.samplers yet")
    assert isinstance(make_sampler("tpe"), TPESampler)
    s = TPESampler(gamma=0.25, constant_liar=False, seed=3)
    rebuilt = make_sampler(s.describe())
    assert isinstance(rebuilt, TPESampler) and rebuilt.describe() == s.describe()
    study = ts.create_study(sampler="tpe", seed=0)
    study.optimize(quad4, n_trials=12)
    assert isinstance(study.sampler, TPESampler)


def test_pickled_sampler_keeps_working_and_gives_the_same_proposals():
    a = ts.create_study(sampler=TPESampler(seed=1), space=MIXED)
    a.optimize(mixed_objective, n_trials=15)
    b = ts.create_study(sampler=pickle.loads(pickle.dumps(a.sampler)), space=MIXED)
    b.optimize(mixed_objective, n_trials=15)
    assert params_by_number(a) == params_by_number(b)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_startup_trials": -1},
        {"n_ei_candidates": 0},
        {"gamma": 0.0},
        {"gamma": 1.5},
        {"gamma": "x"},
        {"prior_weight": 0.0},
        {"min_bandwidth_factor": 1.0},
        {"magic_clip_exponent": -1},
    ],
)
def test_bad_arguments_are_rejected(kwargs):
    with pytest.raises((TypeError, ValueError)):
        TPESampler(**kwargs)


def test_callable_gamma_is_used_and_not_described():
    calls = []

    def gamma(n: int) -> int:
        calls.append(n)
        return 3

    s = TPESampler(gamma=gamma, n_startup_trials=4, seed=0)
    assert "gamma" not in s.describe()
    study = ts.create_study(sampler=s)
    study.optimize(quad4, n_trials=8)
    assert calls and max(calls) >= 4


# -- reproducibility ----------------------------------------------------------------------
def test_same_seed_same_sequence_and_other_seed_differs():
    runs = []
    for seed in (3, 3, 4):
        study = ts.create_study(sampler=TPESampler(seed=seed))
        study.optimize(quad4, n_trials=25)
        runs.append(params_by_number(study))
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_study_seed_is_used_when_the_sampler_has_none():
    a = ts.create_study(sampler=TPESampler(), seed=11)
    b = ts.create_study(sampler=TPESampler(), seed=11)
    for s in (a, b):
        s.optimize(quad4, n_trials=15)
    assert params_by_number(a) == params_by_number(b)


def test_startup_proposals_are_the_sobol_sequence():
    tpe = ts.create_study(sampler=TPESampler(seed=5), space=MIXED)
    sob = ts.create_study(sampler=SobolSampler(seed=5), space=MIXED)
    for s in (tpe, sob):
        s.optimize(mixed_objective, n_trials=10)
    assert params_by_number(tpe) == params_by_number(sob)


def test_proposal_depends_only_on_seed_number_and_history():
    """A fresh study holding the same first 20 trials proposes the same trial 20:
    the incremental caches of a long-lived sampler change nothing."""
    a = ts.create_study(sampler=TPESampler(seed=2))
    a.optimize(quad4, n_trials=21)
    b = ts.create_study(sampler=TPESampler(seed=2))
    for t in a.trials[:20]:
        b.add_trial(t.params, t.values, distributions=t.distributions)
    b.optimize(quad4, n_trials=1)
    assert b.trials[20].params == a.trials[20].params


def test_two_workers_give_the_sequential_startup_and_valid_model_proposals():
    seq = ts.create_study(sampler=TPESampler(seed=9), space=MIXED)
    seq.optimize(mixed_objective, n_trials=14)
    par = ts.create_study(sampler=TPESampler(seed=9), space=MIXED)
    par.optimize(mixed_objective, n_trials=14, n_workers=2)
    trials = par.trials
    assert len(trials) == 14
    assert all(t.state == TrialState.COMPLETE for t in trials)
    sp, pp = params_by_number(seq), params_by_number(par)
    # Trials 0-9 are the Sobol' start in both; later ones depend on what had finished.
    assert all(sp[i] == pp[i] for i in range(10))
    for t in trials:
        MIXED.validate(t.params)


def test_two_workers_define_by_run():
    study = ts.create_study(sampler=TPESampler(seed=2, n_startup_trials=4))
    study.optimize(quad4, n_trials=12, n_workers=2)
    trials = study.trials
    assert len(trials) == 12 and all(t.state == TrialState.COMPLETE for t in trials)
    for t in trials:
        assert -5 <= t.params["x"] <= 5 and t.params["k"] in range(-5, 6)
    assert len({(t.params["x"], t.params["y"]) for t in trials}) == 12


# -- spaces ------------------------------------------------------------------------------
def test_respects_bounds_types_log_step_and_categorical():
    study = ts.create_study(sampler=TPESampler(seed=0, n_startup_trials=5), space=MIXED)
    study.optimize(mixed_objective, n_trials=40)
    for t in study.trials:
        MIXED.validate(t.params)
        p = t.params
        assert type(p["x"]) is float and type(p["lr"]) is float and type(p["q"]) is float
        assert type(p["n"]) is int and type(p["width"]) is int and type(p["every"]) is int
        assert p["every"] % 10 == 0 and p["q"] in (0.0, 0.25, 0.5, 0.75, 1.0)
    # It models, not just samples: the late trials are near the optimum (random
    # search's late trials have a median of 18 to 35 on this function).
    late = [t.value for t in study.trials[-10:]]
    assert np.median(late) < 8.0


def test_declared_conditional_space():
    space = Space(
        {
            "kind": Categorical(["lin", "rbf", "poly"]),
            "gamma": Float(1e-3, 10.0, log=True),
            "degree": Int(2, 5),
            "c": Float(0.0, 1.0),
        },
        conditions={"gamma": {"kind": "rbf"}, "degree": {"kind": "poly"}},
    )

    def objective(trial: ts.Trial) -> float:
        p = trial.params
        base = (p["c"] - 0.3) ** 2
        if p["kind"] == "rbf":
            return base + (math.log10(p["gamma"]) - 0.5) ** 2
        if p["kind"] == "poly":
            return base + 0.5 + (p["degree"] - 3) ** 2
        return base + 2.0

    sampler = TPESampler(seed=4, n_startup_trials=8)
    study = ts.create_study(sampler=sampler, space=space)
    study.optimize(objective, n_trials=40)
    for t in study.trials:
        space.validate(t.params)
    groups = groups_of(sampler, study, space)
    assert groups == [("degree",), ("gamma",), ("kind", "c")]
    assert study.best_value < 0.05
    assert study.best_params["kind"] == "rbf"


def test_define_by_run_conditional_and_late_parameters():
    def objective(trial: ts.Trial) -> float:
        kind = trial.suggest_categorical("kind", ["a", "b"])
        x = trial.suggest_float("x", -3, 3)
        if kind == "a":
            y = trial.suggest_int("ya", 0, 10)
        else:
            y = trial.suggest_float("yb", 1e-2, 1e2, log=True)
        if trial.number >= 20:
            x += trial.suggest_float("late", 0, 1)  # first seen after the start
        return x**2 + (y - 3) ** 2

    sampler = TPESampler(seed=1, n_startup_trials=6)
    study = ts.create_study(sampler=sampler)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no proposal outside a distribution
        study.optimize(objective, n_trials=35)
    trials = study.trials
    assert all(t.state == TrialState.COMPLETE for t in trials)
    for t in trials:
        assert ("ya" in t.params) == (t.params["kind"] == "a")
        assert ("yb" in t.params) == (t.params["kind"] == "b")
        assert ("late" in t.params) == (t.number >= 20)
        assert 0 <= t.params.get("late", 0) <= 1
    space = sampler.relative_space(study._ctx())
    assert space is not None
    groups = groups_of(sampler, study, space)
    assert groups == [("kind", "x"), ("late",), ("ya",), ("yb",)]


def sphere2(trial: ts.Trial) -> float:
    x = trial.suggest_float("x", -5, 5)
    y = trial.suggest_float("y", -5, 5)
    return (x - 1) ** 2 + (y + 0.5) ** 2


@pytest.mark.parametrize(
    "kwargs", [{"multivariate": False}, {"group": False}, {"consider_endpoints": True}]
)
def test_other_modes_run_and_optimize(kwargs):
    for seed in (0, 1):
        study = ts.create_study(sampler=TPESampler(seed=seed, **kwargs))
        study.optimize(sphere2, n_trials=40)
        assert study.best_value < 0.5  # random search: 2.6 on average
    study = ts.create_study(sampler=TPESampler(seed=0, **kwargs))
    study.optimize(quad4, n_trials=20)
    space = TPESampler().relative_space(study._ctx())
    assert space is not None
    groups = groups_of(study.sampler, study, space)  # type: ignore[arg-type]
    if kwargs.get("multivariate") is False:
        assert groups == [("c",), ("k",), ("x",), ("y",)]
    else:
        assert groups == [("c", "k", "x", "y")]


# -- model quality -----------------------------------------------------------------------
def test_improves_over_random_search():
    def mean_best(make) -> float:
        bests = []
        for seed in range(5):
            study = ts.create_study(sampler=make(seed))
            study.optimize(quad4, n_trials=40)
            bests.append(study.best_value)
        return float(np.mean(bests))

    tpe = mean_best(lambda s: TPESampler(seed=s))
    rnd = mean_best(lambda s: ts.RandomSampler(seed=s))
    assert tpe < 0.5 * rnd, (tpe, rnd)


def test_maximize_direction():
    study = ts.create_study(direction="maximize", sampler=TPESampler(seed=3))
    study.optimize(lambda t: -quad4(t), n_trials=40)
    assert study.best_value > -4.0


# -- failed, pruned, running trials ------------------------------------------------------
def test_failed_and_pruned_trials():
    def objective(trial: ts.Trial) -> float:
        x = trial.suggest_float("x", -4, 4)
        y = trial.suggest_float("y", -4, 4)
        if x > 2.5:
            raise ValueError("diverged")
        value = (x - 1) ** 2 + y**2
        trial.report(value + 1.0, 1)
        if y < -2:
            raise ts.TrialPruned()
        return value

    study = ts.create_study(sampler=TPESampler(seed=0))
    study.optimize(objective, n_trials=50, catch=(ValueError,))
    states = [t.state for t in study.trials]
    assert TrialState.FAILED in states and TrialState.PRUNED in states
    assert study.best_value < 0.5


def test_split_ranks_complete_before_pruned():
    h = History(None, 0, ["minimize"])
    dist = {"x": Float(0, 1)}
    values = [5.0, 3.0, None, None, None, 4.0]
    pruned = [None, None, 0.1, 9.0, None, None]  # pruned values better than complete ones
    for i, (v, pv) in enumerate(zip(values, pruned)):
        state = TrialState.COMPLETE if v is not None else TrialState.PRUNED
        h.apply(
            FrozenTrial(
                number=i,
                trial_id=i,
                state=state,
                values=(v,) if v is not None else None,
                params={"x": i / 10},
                distributions=dist,
                intermediate={1: (pv,)} if pv is not None else {},
            )
        )
    fin = np.arange(6)
    good, w = _split(h, fin, 2, ei_weights=True)
    assert sorted(good.tolist()) == [1, 5]
    # EI weights: improvement over the threshold (5.0), mean 1.
    assert np.allclose(w[np.argsort(good)], [2 / 1.5, 1 / 1.5])
    good, _ = _split(h, fin, 5, ei_weights=True)
    assert good.tolist()[:3] == [1, 5, 0] or sorted(good[:3].tolist()) == [0, 1, 5]
    assert good.tolist()[3:] == [2, 3]  # pruned by last value; the silent one last
    good, _ = _split(h, fin, 6, ei_weights=True)
    assert good.tolist()[-1] == 4


def _min_dist_to_earlier(points: np.ndarray) -> float:
    """Mean distance of each point to the nearest earlier one."""
    d = [np.min(np.linalg.norm(points[:i] - points[i], axis=1)) for i in range(1, len(points))]
    return float(np.mean(d))


@pytest.mark.parametrize("declared", [True, False])
def test_constant_liar_spreads_pending_proposals(declared):
    space = Space({"x": Float(0, 1), "y": Float(0, 1)})

    def value(p: dict) -> float:
        return (p["x"] - 0.3) ** 2 + (p["y"] - 0.7) ** 2

    spread = {}
    for liar in (True, False):
        dists = []
        for seed in range(3):
            study = ts.create_study(
                sampler=TPESampler(seed=seed, constant_liar=liar), space=space if declared else None
            )
            for _ in range(25):
                t = study.ask()
                p = t.params if declared else {k: t.suggest_float(k, 0, 1) for k in ("x", "y")}
                study.tell(t, value(p))
            pending = []
            for _ in range(8):  # asked, never told
                t = study.ask()
                if declared:
                    p = t.params
                else:
                    p = dict(t._backend.relative)  # what the objective would get
                pending.append([p["x"], p["y"]])
            dists.append(_min_dist_to_earlier(np.array(pending)))
        spread[liar] = float(np.mean(dists))
    assert spread[True] > 2 * spread[False], spread


def _discrete_objective(t: ts.Trial) -> float:
    a = t.suggest_int("a", 0, 4)
    b = t.suggest_int("b", 1, 64, log=True)
    c = t.suggest_categorical("c", ["x", "y", "z"])
    s = t.suggest_float("s", 0.0, 1.0, step=0.25)
    return (a - 2) ** 2 + abs(b - 8) / 8 + (c == "y") + s


def test_discrete_space_gets_no_repeated_configurations():
    counts = {}
    for avoid in (True, False):
        study = ts.create_study(sampler=TPESampler(seed=1, avoid_duplicates=avoid))
        study.optimize(_discrete_objective, n_trials=80)
        counts[avoid] = len({tuple(sorted(t.params.items())) for t in study.trials})
        assert study.best_value <= 0.25
    assert counts[True] == 80 and counts[False] < 60, counts


def test_exhausted_discrete_space_repeats_without_error():
    study = ts.create_study(sampler=TPESampler(seed=0, n_startup_trials=2))
    study.optimize(
        lambda t: t.suggest_int("a", 0, 2) + (t.suggest_categorical("b", [0, 1]) == 1), n_trials=10
    )
    seen = [tuple(sorted(t.params.items())) for t in study.trials]
    assert len(set(seen)) == 6 and len(set(seen[:6])) == 6  # every value first, then repeats


def test_pending_discrete_configurations_are_not_proposed_twice():
    space = Space({"a": Int(0, 9), "b": Categorical(["u", "v", "w"])})
    study = ts.create_study(sampler=TPESampler(seed=3, n_startup_trials=5), space=space)
    for _ in range(10):
        t = study.ask()
        study.tell(t, t.params["a"] + (t.params["b"] == "v"))
    pending = [tuple(sorted(study.ask().params.items())) for _ in range(12)]
    done = {tuple(sorted(t.params.items())) for t in study.trials if t.state.is_finished()}
    assert len(set(pending)) == 12 and not set(pending) & done


# -- multi-objective ---------------------------------------------------------------------
def _hypervolume_2d(points: np.ndarray, ref: np.ndarray) -> float:
    pts = points[np.all(points < ref, axis=1)]
    pts = pts[np.argsort(pts[:, 0])]
    hv, best_y = 0.0, ref[1]
    for x, y in pts:
        if y < best_y:
            hv += (ref[0] - x) * (best_y - y)
            best_y = y
    return hv


def test_multi_objective_finds_a_front():
    def objective(trial: ts.Trial) -> tuple[float, float]:
        x = trial.suggest_float("x", 0, 1)
        z = [trial.suggest_float(f"z{i}", 0, 1) for i in range(3)]
        g = 1 + 3 * sum(z) / 3
        f1 = x
        f2 = g * (1 - math.sqrt(x / g))
        return f1, f2

    hv = {}
    for name, make in (("tpe", TPESampler), ("random", ts.RandomSampler)):
        vals = []
        for seed in range(3):
            study = ts.create_study(directions=["minimize", "minimize"], sampler=make(seed=seed))
            study.optimize(objective, n_trials=60)
            front = np.array([t.values for t in study.best_trials])
            vals.append(_hypervolume_2d(front, np.array([1.1, 5.0])))
        hv[name] = float(np.mean(vals))
    assert hv["tpe"] > hv["random"], hv
    # A maximize/minimize mix runs too.
    study = ts.create_study(directions=["maximize", "minimize"], sampler=TPESampler(seed=0))
    study.optimize(lambda t: (-objective(t)[0], objective(t)[1]), n_trials=20)
    assert len(study.best_trials) >= 1


@pytest.mark.parametrize("n_obj", [2, 3])
def test_nondominated_selection_matches_brute_force(n_obj):
    rng = np.random.default_rng(n_obj)
    v = np.round(rng.random((80, n_obj)), 1)  # many ties and duplicates
    # Brute-force non-domination ranks.
    rank = np.full(len(v), -1)
    r, left = 0, set(range(len(v)))
    while left:
        front = [
            i
            for i in left
            if not any(np.all(v[j] <= v[i]) and np.any(v[j] < v[i]) for j in left if j != i)
        ]
        for i in front:
            rank[i] = r
        left -= set(front)
        r += 1
    for k in (1, 7, 20, 80):
        sel = _nd_select(v, k)
        assert len(sel) == k == len(set(sel.tolist()))
        worst = rank[sel].max()
        # Every row of a better rank than the worst selected one is selected.
        assert set(np.flatnonzero(rank < worst)) <= set(sel.tolist())


# -- kernels and incremental caches --------------------------------------------------------
def _hyperopt_bandwidths(s: np.ndarray, consider_endpoints: bool) -> np.ndarray:
    """Reference: Optuna/hyperopt's rule on one sorted row (no tie handling)."""
    ext = np.concatenate([[0.0], s, [1.0]])
    sig = np.maximum(ext[1:-1] - ext[:-2], ext[2:] - ext[1:-1])
    if not consider_endpoints and s.size >= 2:
        sig[0] = ext[2] - ext[1]
        sig[-1] = ext[-2] - ext[-3]
    return sig


@pytest.mark.parametrize("ce", [False, True])
def test_bandwidths_match_hyperopt_with_ties_averaged(ce):
    rng = np.random.default_rng(0)
    for size in (1, 2, 3, 5, 12):
        for _ in range(20):
            s = np.sort(rng.integers(0, 6, size) / 5.0)
            ref = _hyperopt_bandwidths(s, ce)
            for v in np.unique(s):  # the order-independent tie rule: the group's mean
                ref[s == v] = ref[s == v].mean()
            got = _bandwidths(s[None, :], 0.0, ce)[0]
            assert np.allclose(got, np.clip(ref, 0.0, 1.0)), (s, got, ref)
            cont = np.sort(rng.random(size))
            assert np.allclose(
                _bandwidths(cont[None, :], 0.0, ce)[0], _hyperopt_bandwidths(cont, ce)
            )
    # Several rows at once, clipping to [sigma_min, 1].
    rows = np.array([[0.1, 0.1, 0.5, 0.9], [0.0, 0.2, 0.2, 0.2]])
    got = _bandwidths(rows, 0.05, False)
    assert np.allclose(got, [[0.2, 0.2, 0.4, 0.4], [0.2, 0.2 / 3, 0.2 / 3, 0.2 / 3]])
    assert np.allclose(_bandwidths(np.array([[0.3]]), 0.05, False), [[0.7]])


def test_incremental_bad_cache_matches_a_fresh_one():
    lay = _Layout(
        ("a", "b", "k", "c"),
        (Float(0, 1), Float(1e-3, 1, log=True), Int(0, 3), Categorical(["u", "v", "w"])),
        0.03,
    )
    rng = np.random.default_rng(0)
    n = 300
    raw = np.column_stack(
        [
            rng.random(n),
            10 ** rng.uniform(-3, 0, n),
            rng.integers(0, 4, n).astype(float),
            rng.integers(0, 3, n).astype(float),
        ]
    )
    cache = _BadCache(lay)
    member = np.zeros(n, dtype=bool)
    for step in range(60):
        m = min(n, 5 * (step + 1))
        member = (
            member[:m].copy()
            if len(member) >= m
            else np.append(member, np.zeros(m - len(member), bool))
        )
        member[rng.integers(0, m, 6)] = True
        member[rng.integers(0, m, 2)] = False  # removals
        liars = member & (rng.random(m) < 0.1)
        view = raw[:m].copy()
        if step % 7 == 3:  # a running trial's value changes
            rows = np.flatnonzero(cache.liar[:m] & member)
            if rows.size:
                view[rows[0], 0] = rng.random()
                raw[rows[0], 0] = view[rows[0], 0]
        sigma_min = 0.03 + (0.02 if step % 11 == 5 else 0.0)
        cache.update(lambda r, v=view: v[r], member, liars, sigma_min, False)
        fresh = _BadCache(lay).update(lambda r, v=view: v[r], member, liars, sigma_min, False)
        rows = np.flatnonzero(member)
        assert np.array_equal(cache.sig[rows], fresh.sig[rows])
        assert np.allclose(cache.w[rows], fresh.w[rows], rtol=0, atol=1e-12)
        assert np.all(cache.w[np.flatnonzero(~member), -1] < -1e100)
        mc, mf = cache.mixture(m, 1.0, 16), fresh.mixture(m, 1.0, 16)
        u = rng.random((16, 3))
        u[:, 2] = Int(0, 3).to_unit(Int(0, 3).from_unit(u[:, 2]))
        feats = lay.features(u, rng.integers(0, 3, (16, 1)))
        prior = feats.prior_log_pdf(lay.n_choices)
        assert np.allclose(mc.log_pdf(feats, prior), mf.log_pdf(feats, prior), atol=1e-9)


def test_mixture_density_integrates_to_one():
    """The product-kernel mixture (continuous + coarse discrete + categorical) is a
    normalized density over unit space x choices."""
    lay = _Layout(("x", "k", "c"), (Float(0, 1), Int(0, 2), Categorical(["a", "b"])), 0.03)
    rng = np.random.default_rng(1)
    raw = np.column_stack([rng.random(7), rng.integers(0, 3, 7), rng.integers(0, 2, 7)])
    cache = _BadCache(lay).update(lambda r: raw[r], np.ones(7, bool), np.zeros(7, bool), 0.1, False)
    mix = cache.mixture(7, 1.0, 8)
    grid = (np.arange(4000) + 0.5) / 4000
    total = 0.0
    for k in range(3):
        for c in range(2):
            u = np.column_stack([grid, np.full(grid.size, (k + 0.5) / 3)])
            feats = lay.features(u, np.full((grid.size, 1), c))
            lp = mix.log_pdf(feats, feats.prior_log_pdf(lay.n_choices))
            total += float(np.exp(lp).mean())  # integral over x in [0, 1]
    assert total == pytest.approx(1.0, abs=1e-3)
