"""GPSampler: kernel/likelihood/acquisition derivatives, stable LogEI, proposals, parallelism."""

from __future__ import annotations

import logging
import math
import pickle
import time

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import ndtr

import tunesmith as ts
from tunesmith.samplers._gp.acquisition import LogEI, dlog_h, log_h
from tunesmith.samplers._gp.batched_lbfgsb import batched_lbfgsb
from tunesmith.samplers._gp.kernel import FeatureMap, matern52, matern52_grad
from tunesmith.samplers._gp.model import (
    GPPosterior,
    KernelParams,
    MAPObjective,
    fit_kernel_params,
)
from tunesmith.samplers._gp.targets import parego_scalarize, warp
from tunesmith.samplers.gp import GPSampler
from tunesmith.space import Categorical, Float, Int, Space
from tunesmith.trial import TrialState

# -- helpers ----------------------------------------------------------------------------


def _fd_grad(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    g = np.empty_like(x)
    for i in range(len(x)):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def _mixed_data(n: int = 25, seed: int = 0) -> tuple[FeatureMap, np.ndarray, np.ndarray]:
    """Two numeric parameters and a 3-choice categorical."""
    rng = np.random.default_rng(seed)
    fmap = FeatureMap((0, 3, 0))
    Z = np.column_stack([rng.random(n), rng.integers(0, 3, n), rng.random(n)])
    y = np.sin(6 * Z[:, 0]) + 0.5 * Z[:, 1] + Z[:, 2] ** 2 + 0.05 * rng.normal(size=n)
    return fmap, fmap.features(Z), (y - y.mean()) / y.std()


def branin(x: float, y: float) -> float:
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (y - b * x**2 + c * x - 6) ** 2 + 10 * (1 - t) * math.cos(x) + 10


def branin_objective(trial: ts.Trial) -> float:
    return branin(trial.suggest_float("x", -5, 10), trial.suggest_float("y", 0, 15))


def sphere_objective(trial: ts.Trial) -> float:
    time.sleep(0.02)  # long enough for the other worker's trial to be running at each ask
    return sum((trial.suggest_float(f"x{i}", -1, 1) - 0.3) ** 2 for i in range(2))


BRANIN_SPACE = Space({"x": Float(-5, 10), "y": Float(0, 15)})


# -- kernel and model -------------------------------------------------------------------


def test_matern_derivative_matches_finite_differences():
    r2 = np.array([0.0, 1e-4, 0.3, 1.0, 4.0, 25.0])
    k, dk = matern52_grad(r2)
    assert np.allclose(k, matern52(r2))
    assert k[0] == 1.0 and dk[0] == pytest.approx(-5.0 / 6.0)
    h = 1e-7
    fd = (matern52(r2[1:] + h) - matern52(r2[1:] - h)) / (2 * h)
    assert np.allclose(dk[1:], fd, rtol=1e-5, atol=1e-9)


def test_categorical_features_give_hamming_distance():
    fmap = FeatureMap((0, 3))
    F = fmap.features(np.array([[0.2, 0], [0.2, 2], [0.2, 2]]))
    d2 = ((F[:, None, :] - F[None, :, :]) ** 2).sum(-1)
    assert d2[0, 1] == pytest.approx(1.0) and d2[1, 2] == 0.0


@pytest.mark.parametrize("deterministic", [False, True])
def test_log_posterior_gradient_matches_finite_differences(deterministic):
    fmap, F, y = _mixed_data()
    obj = MAPObjective(F, y, fmap.group, fmap.d, deterministic=deterministic)
    rng = np.random.default_rng(1)
    for _ in range(3):
        raw = rng.normal(scale=0.7, size=fmap.d + (1 if deterministic else 2))
        if not deterministic:
            raw[-1] = -3.0
        f, g = obj(raw)
        fd = _fd_grad(lambda r: obj(r)[0], raw, h=1e-5)
        assert np.isfinite(f)
        assert np.allclose(g, fd, rtol=1e-4, atol=1e-5), (g, fd)


def test_fit_is_map_and_recovers_an_irrelevant_dimension():
    rng = np.random.default_rng(3)
    Z = rng.random((40, 3))
    y = np.sin(5 * Z[:, 0]) + Z[:, 1]  # the third dimension does not matter
    y = (y - y.mean()) / y.std()
    fmap = FeatureMap((0, 0, 0))
    fit = fit_kernel_params(Z, y, fmap.group, 3, gtol=1e-6, gtol_per_observation=1e-8)
    obj = MAPObjective(Z, y, fmap.group, 3)
    assert np.linalg.norm(obj(fit.raw)[1]) < 1e-2
    lam = np.exp(fit.raw[:3])
    assert lam[2] < lam[0] / 10
    # A failing warm start (NaN) falls back to the default start.
    again = fit_kernel_params(Z, y, fmap.group, 3, init=np.full(5, np.nan))
    assert np.all(np.isfinite(again.raw))


def test_posterior_interpolates_and_gradients_match_finite_differences():
    fmap, F, y = _mixed_data()
    params = KernelParams(np.array([2.0, 0.5, 3.0]), 1.3, 1e-4)
    post = GPPosterior(F, y, params, fmap.group)
    mean, var = post.predict(F[:5])
    assert np.allclose(mean, y[:5], atol=0.05) and np.all(var < 1e-2)
    Fq = fmap.features(np.array([[0.3, 1, 0.6], [0.9, 0, 0.1]]))
    m, v, dm, dv = post.predict_with_grad(Fq)
    m2, v2 = post.predict(Fq)
    assert np.allclose(m, m2) and np.allclose(v, v2)
    for i in range(2):
        for c in (0, 1):  # numeric feature columns
            e = np.zeros_like(Fq)
            e[i, c] = 1e-6
            mp, vp = post.predict(Fq + e)
            mm, vm = post.predict(Fq - e)
            assert dm[i, c] == pytest.approx((mp[i] - mm[i]) / 2e-6, rel=1e-4, abs=1e-6)
            assert dv[i, c] == pytest.approx((vp[i] - vm[i]) / 2e-6, rel=1e-4, abs=1e-6)


# -- LogEI ------------------------------------------------------------------------------


def test_log_h_equals_log_of_ei_where_ei_is_representable():
    z = np.linspace(-5, 30, 701)
    direct = np.log(np.exp(-0.5 * z**2) / math.sqrt(2 * math.pi) + z * ndtr(z))
    assert np.allclose(log_h(z), direct, rtol=1e-9, atol=1e-9)


def test_log_h_matches_high_precision_reference_in_the_tail():
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 60
    for z in [-0.5, -1.0, -1.0001, -3.0, -8.0, -20.0, -40.0, -300.0, -1e3, -1e5]:
        zz = mpmath.mpf(z)
        ref = mpmath.log(mpmath.npdf(zz) + zz * mpmath.ncdf(zz))
        assert float(log_h(np.array([z]))[0]) == pytest.approx(float(ref), rel=1e-10), z


def test_log_h_is_finite_and_monotone_far_in_the_tail():
    z = -np.logspace(-3, 9, 2000)[::-1]  # -1e9 ... -1e-3, increasing
    v = log_h(z)
    assert np.all(np.isfinite(v))
    assert np.all(np.diff(v) > 0)
    for zz in (-40.0, -1e3, -1e7):
        asym = -0.5 * zz * zz - 0.5 * math.log(2 * math.pi) - 2 * math.log(-zz)
        assert float(log_h(np.array([zz]))[0]) == pytest.approx(asym, rel=1e-3)
    # Continuous across the branch points.
    for b in (-1.0, -1e6):
        lo, hi = log_h(np.array([b * (1 + 1e-12), b * (1 - 1e-12)]))
        assert lo == pytest.approx(hi, rel=1e-9)
    g = dlog_h(np.array([-1e3, -40.0, 0.0, 40.0]))
    assert np.all(np.isfinite(g)) and np.all(g > 0)
    assert g[0] == pytest.approx(1e3, rel=1e-2)  # d log h / dz ~ -z in the tail


def test_logei_gradient_matches_finite_differences_including_the_tail():
    fmap, F, y = _mixed_data()
    post = GPPosterior(F, y, KernelParams(np.array([20.0, 0.5, 15.0]), 1.0, 1e-4), fmap.group)
    for best in (float(y.min()), float(y.min()) - 30.0):  # the second is deep in the tail
        acq = LogEI(post, best)
        Fq = fmap.features(np.array([[0.31, 1, 0.62], [0.85, 2, 0.12]]))
        v, g = acq.value_and_grad(Fq)
        assert np.all(np.isfinite(v)) and np.allclose(v, acq(Fq))
        for i in range(2):
            for c in (0, 1):
                e = np.zeros_like(Fq)
                e[i, c] = 1e-6
                fd = (acq(Fq + e)[i] - acq(Fq - e)[i]) / 2e-6
                assert g[i, c] == pytest.approx(fd, rel=1e-4, abs=1e-5)


def test_batched_lbfgsb_runs_are_independent_and_reach_scipy_optima():
    rng = np.random.default_rng(0)
    centers = rng.random((6, 3))
    x0 = rng.random((6, 3))
    bounds = np.array([[0.0, 1.0]] * 3)
    batches: list[int] = []

    def fun(idx: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        batches.append(len(idx))
        d = X - centers[idx]
        return (d**2).sum(1) + 0.1 * np.cos(9 * X).sum(1), 2 * d - 0.9 * np.sin(9 * X)

    xs, fs = batched_lbfgsb(fun, x0, bounds, {"maxiter": 100})
    assert max(batches) == 6 and len(batches) < 60  # one call per round, all runs batched
    for i in range(6):

        def one(x: np.ndarray, i: int = i) -> tuple[float, np.ndarray]:
            v, g = fun(np.array([i]), x[None])
            return float(v[0]), g[0]

        # Alone, a run takes exactly the steps it takes in the batch.
        alone_x, alone_f = batched_lbfgsb(
            lambda idx, X, i=i: fun(np.full(len(idx), i), X), x0[i : i + 1], bounds
        )
        assert np.array_equal(alone_x[0], xs[i]) and alone_f[0] == fs[i]
        # Each run ends at a local minimum at least as good as SciPy's from the same start
        # (or at another local minimum of this multimodal function: check stationarity).
        ref = minimize(one, x0[i], jac=True, method="L-BFGS-B", bounds=[(0.0, 1.0)] * 3)
        _, g = one(xs[i])
        pg = np.clip(xs[i] - g, 0.0, 1.0) - xs[i]
        assert np.max(np.abs(pg)) < 1e-4
        if np.allclose(xs[i], ref.x, atol=1e-3):
            assert fs[i] <= ref.fun + 1e-8
    again = batched_lbfgsb(fun, x0, bounds, {"maxiter": 100})
    assert np.array_equal(again[0], xs)

    def broken(idx: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise FloatingPointError("boom")

    with pytest.raises(FloatingPointError):
        batched_lbfgsb(broken, x0, bounds)
    with pytest.raises(ValueError, match="unknown options"):
        batched_lbfgsb(fun, x0, bounds, {"max_iter": 3})


def test_batched_lbfgsb_handles_active_bounds_and_bad_values():
    """Bounded Rosenbrock (the optimum on the boundary) and a region of NaN values."""

    def rosen(idx: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a = X[:, 1:] - X[:, :-1] ** 2
        b = 1 - X[:, :-1]
        g = np.zeros_like(X)
        g[:, :-1] += -400 * X[:, :-1] * a - 2 * b
        g[:, 1:] += 200 * a
        return (100 * a**2 + b**2).sum(1), g

    rng = np.random.default_rng(1)
    x0 = rng.uniform(-2, 0.5, (4, 6))
    bounds = np.array([[-2.0, 0.5]] * 6)
    xs, fs = batched_lbfgsb(rosen, x0, bounds, {"maxiter": 1000})
    ref = minimize(
        lambda x: tuple(a[0] for a in rosen(np.zeros(1, dtype=int), x[None])),
        x0[0],
        jac=True,
        method="L-BFGS-B",
        bounds=[(-2.0, 0.5)] * 6,
    )
    assert np.all(fs <= ref.fun + 1e-6) and np.all(xs[:, 0] == 0.5)

    def holes(idx: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        v, g = (X - 0.8) ** 2, 2 * (X - 0.8)
        v = v.sum(1)
        v[X[:, 0] > 0.9] = np.nan  # a step too far lands in a hole: back off
        return v, g

    xs, fs = batched_lbfgsb(holes, np.array([[0.0, 0.0]]), np.array([[0.0, 2.0]] * 2))
    assert np.allclose(xs, 0.8, atol=1e-4) and np.isfinite(fs).all()


# -- targets ----------------------------------------------------------------------------


def test_robust_warp_compresses_outliers_and_keeps_order():
    rng = np.random.default_rng(0)
    y = np.concatenate([rng.normal(size=50), [1e10, -1e3]])
    w = warp(y, "robust")
    assert np.array_equal(np.argsort(w), np.argsort(y))
    assert w[50] < 50  # a diverged value is compressed...
    assert w[51] == -1e3  # ...but the good tail keeps its resolution
    core = np.abs(y) < 2
    assert np.allclose(w[core], y[core])
    import tunesmith.samplers.gp as gp_module
    from tunesmith.samplers._gp.targets import WARPS

    assert gp_module._WARPS == WARPS
    r = warp(y, "rank")
    assert np.array_equal(np.argsort(r), np.argsort(y)) and abs(r.mean()) < 1e-9
    with pytest.raises(ValueError):
        warp(y, "nope")


def test_parego_scalarization_prefers_pareto_points():
    Y = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.5, 0.5]])
    s = parego_scalarize(Y, np.array([0.5, 0.5]))
    assert s[2] == s.max() and s[3] == s.min()


# -- the sampler ------------------------------------------------------------------------


def _run(objective, seed, n_trials, space=None, **kw):
    study = ts.create_study(sampler=GPSampler(seed=seed, **kw), seed=seed, space=space)
    study.optimize(objective, n_trials=n_trials)
    return study


def test_same_seed_same_proposals_and_picklable():
    a = _run(branin_objective, 5, 14, n_startup_trials=5)
    b = _run(branin_objective, 5, 14, n_startup_trials=5)
    assert [t.params for t in a.trials] == [t.params for t in b.trials]
    c = _run(branin_objective, 6, 14, n_startup_trials=5)
    assert [t.params for t in a.trials] != [t.params for t in c.trials]
    s = pickle.loads(pickle.dumps(a.sampler))
    assert isinstance(s, GPSampler) and s.describe() == a.sampler.describe()
    assert s._fit is None and not s._proposals


def test_describe_round_trips_and_arguments_are_checked():
    s = GPSampler(seed=1, n_startup_trials=4, warp="rank", pending="liar", incumbent="observed")
    d = s.describe()
    assert d == {
        "name": "GPSampler",
        "seed": 1,
        "n_startup_trials": 4,
        "pending": "liar",
        "warp": "rank",
        "incumbent": "observed",
    }
    args = {k: v for k, v in d.items() if k != "name"}
    assert GPSampler(**args).describe() == d
    for bad in (
        {"n_startup_trials": -1},
        {"pending": "x"},
        {"warp": "log"},
        {"n_candidates": 0},
        {"n_local_search": 0},
        {"incumbent": "best"},
    ):
        with pytest.raises(ValueError):
            GPSampler(**bad)


def test_beats_random_search_on_branin():
    gp, rnd = [], []
    for seed in range(3):
        gp.append(_run(branin_objective, seed, 30, n_startup_trials=10).best_value)
        r = ts.create_study(sampler=ts.RandomSampler(seed=seed), seed=seed)
        r.optimize(branin_objective, n_trials=30)
        rnd.append(r.best_value)
    # The optimum is 0.3979; 30 random points typically get within 1-3 of it.
    assert np.mean(gp) < 0.6, gp
    assert np.mean(gp) < np.mean(rnd) - 0.3, (gp, rnd)


def test_respects_bounds_types_scales_and_steps():
    space = Space(
        {
            "lr": Float(1e-5, 1e-1, log=True),
            "units": Int(8, 512, log=True),
            "layers": Int(1, 6),
            "batch": Int(16, 256, step=16),
            "drop": Float(0.0, 0.5, step=0.05),
            "big": Int(0, 10_000, step=5),
            "act": Categorical(["relu", "tanh", "gelu"]),
            "flag": Categorical([True, False]),
        }
    )

    def objective(trial: ts.Trial) -> float:
        p = trial.params
        return (
            (math.log10(p["lr"]) + 3) ** 2
            + (math.log2(p["units"]) - 6) ** 2 / 4
            + (p["layers"] - 3) ** 2
            + (p["batch"] - 64) ** 2 / 1e4
            + (p["drop"] - 0.2) ** 2
            + (p["big"] - 7000) ** 2 / 1e7
            + (p["act"] != "gelu")
            + p["flag"]
        )

    study = _run(objective, 2, 25, space=space, n_startup_trials=8)
    for t in study.trials:
        space.validate(t.params)
        assert isinstance(t.params["units"], int) and isinstance(t.params["big"], int)
        assert isinstance(t.params["lr"], float) and isinstance(t.params["flag"], bool)
    assert study.best_value < 3.0


def test_pending_trials_get_distinct_proposals_declared_and_define_by_run():
    study = _run(branin_objective, 0, 10, space=BRANIN_SPACE, n_startup_trials=6)
    trials = [study.ask() for _ in range(4)]
    pts = np.array([[t.params["x"], t.params["y"]] for t in trials])
    dist = np.sqrt(((pts[:, None] - pts[None]) ** 2).sum(-1))[np.triu_indices(4, 1)]
    assert dist.min() > 0.1, pts

    dbr = _run(branin_objective, 0, 10, n_startup_trials=6)
    pts = []
    for _ in range(4):
        t = dbr.ask()  # parameters reach the storage only at tell; the sampler remembers
        pts.append([t.suggest_float("x", -5, 10), t.suggest_float("y", 0, 15)])
    pts_a = np.array(pts)
    dist = np.sqrt(((pts_a[:, None] - pts_a[None]) ** 2).sum(-1))[np.triu_indices(4, 1)]
    assert dist.min() > 0.1, pts_a


def test_constant_liar_and_ignore_modes():
    for mode in ("liar", "ignore"):
        study = _run(branin_objective, 1, 9, space=BRANIN_SPACE, n_startup_trials=6, pending=mode)
        a, b = study.ask(), study.ask()
        if mode == "ignore":  # same history -> same model -> (nearly) the same point
            assert abs(a.params["x"] - b.params["x"]) < 0.5
        else:
            assert a.params != b.params


def test_failed_and_pruned_trials_are_ignored_or_used():
    def objective(trial: ts.Trial) -> float:
        x = trial.suggest_float("x", -3, 3)
        if trial.number % 3 == 1:
            raise RuntimeError("diverged")
        if trial.number % 3 == 2:
            trial.report((x - 1) ** 2, 0)
            raise ts.TrialPruned()
        return (x - 1) ** 2

    for consider in (False, True):
        study = ts.create_study(
            sampler=GPSampler(seed=0, n_startup_trials=4, consider_pruned_trials=consider), seed=0
        )
        study.optimize(objective, n_trials=24, catch=RuntimeError)
        states = [t.state for t in study.trials]
        assert states.count(TrialState.FAILED) == 8 and states.count(TrialState.PRUNED) == 8
        assert study.best_value < 0.05
        assert study.sampler.last_info["n_observations"] >= 4


def test_conditional_space_and_define_by_run_branches():
    space = Space(
        {
            "kind": Categorical(["a", "b"]),
            "x": Float(-2, 2),
            "gamma": {"type": "float", "low": 1e-3, "high": 1.0, "log": True},
        },
        conditions={"gamma": {"kind": "b"}},
    )
    gp = GPSampler(seed=0, n_startup_trials=4)
    study = ts.create_study(sampler=gp, seed=0, space=space)
    assert list(gp.relative_space(study._ctx())) == ["kind", "x"]

    def declared(trial: ts.Trial) -> float:
        p = trial.params
        return p["x"] ** 2 + (math.log10(p["gamma"]) + 2) ** 2 if p["kind"] == "b" else 1 + p["x"]

    study.optimize(declared, n_trials=15)
    for t in study.trials:
        space.validate(t.params)
    assert "n_observations" in gp.last_info

    def branching(trial: ts.Trial) -> float:
        x = trial.suggest_float("x", -2, 2)
        if trial.suggest_categorical("kind", ["a", "b"]) == "b":
            return x**2 + trial.suggest_int("k", 1, 5)
        return x**2 + 0.5

    dbr = _run(branching, 0, 15, n_startup_trials=4)
    assert set(dbr.sampler.relative_space(dbr._ctx())) == {"x", "kind"}
    assert dbr.best_value < 0.6


def test_multi_objective_uses_parego():
    def objective(trial: ts.Trial) -> tuple[float, float]:
        x, y = trial.suggest_float("x", 0, 1), trial.suggest_float("y", 0, 1)
        return x**2 + y, (1 - x) ** 2 + y

    study = ts.create_study(
        directions=["minimize", "minimize"], sampler=GPSampler(seed=0, n_startup_trials=5), seed=0
    )
    study.optimize(objective, n_trials=16)
    gp_trials = study.trials[5:]
    assert np.mean([t.params["y"] for t in gp_trials]) < 0.3  # y only hurts both
    assert np.std([t.params["x"] for t in gp_trials]) > 0.05  # spread along the front


def test_deterministic_objective_pins_noise_and_cache_is_reused():
    gp = GPSampler(seed=0, n_startup_trials=5, deterministic_objective=True)
    study = ts.create_study(sampler=gp, seed=0, space=BRANIN_SPACE)
    study.optimize(lambda t: branin(t.params["x"], t.params["y"]), n_trials=8)
    assert gp._fit is not None and gp._fit.posterior.params.noise == pytest.approx(1e-6)
    ctx = study._ctx()
    space = gp.relative_space(ctx)
    study._sync()
    first = gp.sample_relative(ctx, 100, space)
    assert gp.last_info["fit_evaluations"] > 0  # a new observation since the last fit
    assert gp.sample_relative(ctx, 100, space) == first
    assert gp.last_info["fit_evaluations"] == 0  # same data: the fit is reused


def test_kernel_parameters_are_refitted_as_observations_grow():
    import tunesmith.samplers.gp as gp_module

    gp = GPSampler(seed=0)
    study = ts.create_study(sampler=gp, seed=0, space=BRANIN_SPACE)
    rng = np.random.default_rng(0)
    for x, y in zip(rng.uniform(-5, 10, 120), rng.uniform(0, 15, 120)):
        study.add_trial({"x": float(x), "y": float(y)}, branin(x, y))
    fits = []
    for _ in range(10):
        t = study.ask()
        study.tell(t, branin(t.params["x"], t.params["y"]))
        fits.append(gp.last_info["fit_evaluations"])
        # Every proposal models every completed trial, refitted or not.
        assert gp._fit.posterior.F.shape[0] == gp.last_info["n_observations"]
    assert fits[0] > 0  # the first GP step fits
    growth = gp_module._REFIT_GROWTH
    # Then it refits when the observations have grown by 5 %: once in 10 steps from 120.
    assert sum(f > 0 for f in fits[1:]) == 1 and 120 * growth <= 130
    # Below 100 observations every step refits.
    small = GPSampler(seed=0, n_startup_trials=5)
    s2 = ts.create_study(sampler=small, seed=0, space=BRANIN_SPACE)
    s2.optimize(lambda t: branin(t.params["x"], t.params["y"]), n_trials=9)
    for _ in range(3):
        t = s2.ask()
        s2.tell(t, branin(t.params["x"], t.params["y"]))
        assert small.last_info["fit_evaluations"] > 0


def test_discrete_space_gets_no_repeated_configurations():
    def objective(t: ts.Trial) -> float:
        a = t.suggest_int("a", 0, 4)
        b = t.suggest_int("b", 1, 64, log=True)
        c = t.suggest_categorical("c", ["x", "y", "z"])
        s = t.suggest_float("s", 0.0, 1.0, step=0.25)
        return (a - 2) ** 2 + abs(b - 8) / 8 + (c == "y") + s

    study = ts.create_study(sampler=GPSampler(seed=1))
    study.optimize(objective, n_trials=40)
    configs = [tuple(sorted(t.params.items())) for t in study.trials]
    assert len(set(configs)) == 40 and study.best_value <= 0.25
    # Asked and not told: pending configurations are not proposed again either.
    space = Space({"a": Int(0, 9), "b": Categorical(["u", "v", "w"])})
    declared = ts.create_study(sampler=GPSampler(seed=3, n_startup_trials=5), space=space)
    for _ in range(10):
        t = declared.ask()
        declared.tell(t, t.params["a"] + (t.params["b"] == "v"))
    done = {tuple(sorted(t.params.items())) for t in declared.trials}
    pending = [tuple(sorted(declared.ask().params.items())) for _ in range(8)]
    assert len(set(pending)) == 8 and not set(pending) & done


def test_exhausted_discrete_space_repeats_without_error():
    study = ts.create_study(sampler=GPSampler(seed=0, n_startup_trials=2))
    study.optimize(
        lambda t: t.suggest_int("a", 0, 2) + (t.suggest_categorical("b", [0, 1]) == 1), n_trials=9
    )
    configs = [tuple(sorted(t.params.items())) for t in study.trials]
    assert len(set(configs[:6])) == 6 and study.best_value == 0


def test_gp_failure_falls_back_to_random(monkeypatch, caplog):
    import tunesmith.samplers._gp.model as model_module

    def broken(*args, **kwargs):
        raise np.linalg.LinAlgError("boom")

    monkeypatch.setattr(model_module, "fit_kernel_params", broken)
    with caplog.at_level(logging.WARNING, logger="tunesmith"):
        study = _run(branin_objective, 0, 8, n_startup_trials=3)
    assert len(study.trials) == 8 and all(t.state == TrialState.COMPLETE for t in study.trials)
    assert "sampling it at random" in caplog.text


def test_optimize_with_two_worker_processes():
    study = ts.create_study(sampler=GPSampler(seed=0, n_startup_trials=4), seed=0)
    pending: list[float] = []

    def record(study: ts.Study, _ft: object) -> None:
        pending.append(study.sampler.last_info.get("n_pending", 0.0))

    study.optimize(sphere_objective, n_trials=12, n_workers=2, callbacks=[record])
    assert max(pending) >= 1  # the other worker's trial was modelled as pending
    trials = study.trials
    assert len(trials) == 12 and all(t.state == TrialState.COMPLETE for t in trials)
    pts = {tuple(sorted(t.params.items())) for t in trials}
    assert len(pts) == 12
