"""Population samplers (GA, PSO, DE, GEO, GEGO): engine operators and the study replay."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.samplers import make_sampler
from tunesmith.samplers.population import DE, GA, GEGO, GEO, PSO, minimize
from tunesmith.samplers.population._engines import (
    bit_flip_mutation,
    blx_alpha,
    cruise_vectors,
    gray_bits,
    gray_decode,
    gray_encode,
    polynomial_mutation,
    propensities,
    sbx,
    two_point_crossover,
)
from tunesmith.storage import forget_cached, normalize_url
from tunesmith.trial import TrialState

SHIFT = np.array([1.3, -2.1, 0.7, 3.0])
CUBE4 = ts.Space({f"x{i}": ts.Float(-5.0, 5.0) for i in range(4)})
MIXED = ts.Space(
    {
        "x": ts.Float(-3.0, 3.0),
        "lr": ts.Float(1e-4, 1.0, log=True),
        "n": ts.Int(1, 9),
        "kind": ts.Categorical(["a", "b", "c"]),
    }
)

# every sampler (and mode) runs the shared checks below
SAMPLERS = {
    "ga": lambda **kw: ts.GASampler(popsize=10, **kw),
    "ga-blx": lambda **kw: ts.GASampler(popsize=10, crossover="blx", **kw),
    "pso": lambda **kw: ts.PSOSampler(popsize=10, **kw),
    "de": lambda **kw: ts.DESampler(popsize=10, **kw),
    "de-pbest": lambda **kw: ts.DESampler(popsize=10, strategy="current_to_pbest1bin", **kw),
    "de-jade": lambda **kw: ts.DESampler(
        popsize=10, strategy="current_to_pbest1bin", adaptive=True, **kw
    ),
    "geo": lambda **kw: ts.GEOSampler(popsize=10, n_generations=20, **kw),
    "gego": lambda **kw: ts.GEGOSampler(popsize=10, n_generations=20, **kw),
    "gego-paper": lambda **kw: ts.GEGOSampler(popsize=10, n_generations=20, paper_exact=True, **kw),
}


def sphere(trial: ts.Trial) -> float:
    x = np.array([trial.params[f"x{i}"] for i in range(4)])
    return float(np.sum((x - SHIFT) ** 2))


def mixed(trial: ts.Trial) -> float:
    p = trial.params
    return (
        (p["x"] - 1.0) ** 2
        + (np.log10(p["lr"]) + 2.0) ** 2
        + (p["n"] - 4) ** 2
        + (p["kind"] != "b")
    )


def _run(sampler, n, space=CUBE4, objective=sphere, seed=0, storage=None, name=None):
    study = ts.create_study(name, space=space, sampler=sampler, seed=seed, storage=storage)
    for _ in range(n):
        t = study.ask()
        study.tell(t, objective(t))
    return study


def _params(study):
    return [dict(t.params) for t in study.trials]


# -- GA operators -------------------------------------------------------------------------------


def test_gray_code_round_trip_and_bit_lengths():
    assert gray_bits(np.array([200.0, 20.0, 1.0]), 1e-7).tolist() == [31, 28, 24]
    bits = np.array([31, 28, 24, 3])
    rng = np.random.default_rng(0)
    u = rng.random((50, 4))
    chrom = gray_encode(u, bits)
    assert chrom.shape == (50, bits.sum()) and set(np.unique(chrom)) <= {0, 1}
    v = gray_decode(chrom, bits)
    assert np.all(np.abs(v - u) <= 1.0 / (2.0**bits - 1))  # quantized to the grid
    assert np.array_equal(gray_encode(v, bits), chrom)  # grid points encode to themselves
    assert np.array_equal(
        gray_decode(gray_encode(np.array([[0, 1, 0, 1]]), bits), bits), [[0, 1, 0, 1]]
    )
    # neighbouring grid values differ in exactly one bit (the point of Gray coding)
    one = np.array([3])
    grid = gray_encode(np.arange(8)[:, None] / 7.0, one)
    assert np.all(np.abs(np.diff(grid.astype(int), axis=0)).sum(axis=1) == 1)


def test_sbx_keeps_the_parents_mean_and_spreads_more_with_smaller_eta():
    rng = np.random.default_rng(1)
    p1, p2 = np.full((20000, 1), 0.3), np.full((20000, 1), 0.6)
    spread = {}
    for eta in (2.0, 20.0):
        c1, c2 = sbx(p1, p2, eta, rng, prob_var=1.0)
        np.testing.assert_allclose(c1 + c2, p1 + p2, atol=1e-12)
        spread[eta] = float(np.std(c1))
    assert spread[2.0] > 2 * spread[20.0]


def test_polynomial_mutation_stays_in_the_box_and_spreads_more_with_smaller_eta():
    rng = np.random.default_rng(2)
    x = np.full((20000, 3), [0.02, 0.5, 0.97])
    wide = polynomial_mutation(x, 2.0, 1.0, rng)
    narrow = polynomial_mutation(x, 50.0, 1.0, rng)
    assert wide.min() >= 0.0 and wide.max() <= 1.0
    assert np.std(wide[:, 1]) > 3 * np.std(narrow[:, 1])
    assert abs(np.mean(wide[:, 1]) - 0.5) < 0.01  # symmetric in the interior
    untouched = polynomial_mutation(x, 20.0, 0.0, rng)
    assert np.array_equal(untouched, x)


def test_blx_alpha_children_fill_the_extended_range():
    rng = np.random.default_rng(3)
    p1, p2 = np.full((20000, 1), 0.4), np.full((20000, 1), 0.6)
    c1, c2 = blx_alpha(p1, p2, 0.5, rng)
    both = np.concatenate([c1, c2])
    assert both.min() >= 0.3 and both.max() <= 0.7
    assert both.min() < 0.301 and both.max() > 0.699


def test_two_point_crossover_preserves_each_pairs_genes():
    rng = np.random.default_rng(4)
    chrom = rng.integers(0, 2, size=(40, 300), dtype=np.uint8)
    out = two_point_crossover(chrom, rng)
    a, b, oa, ob = chrom[:20], chrom[20:], out[:20], out[20:]
    # per pair and position, the two children hold the two parents' genes
    assert np.array_equal(np.minimum(oa, ob), np.minimum(a, b))
    assert np.array_equal(np.maximum(oa, ob), np.maximum(a, b))
    assert out.sum() == chrom.sum()
    changed = (oa != a).any(axis=1)
    assert changed.sum() > 10  # most pairs swapped a segment
    # the swapped part is one contiguous segment: inside it every differing gene moved
    for i in np.flatnonzero(changed):
        moved = np.flatnonzero(oa[i] != a[i])
        inside = slice(moved.min(), moved.max() + 1)
        assert np.array_equal(oa[i][inside], b[i][inside])


def test_bit_flip_mutation_rate():
    rng = np.random.default_rng(5)
    chrom = np.zeros((200, 5000), dtype=np.uint8)
    rate = bit_flip_mutation(chrom, 0.001, rng).mean()
    assert 0.0008 < rate < 0.0012  # 1e6 bits: std of the rate is 3e-5


# -- GEO ----------------------------------------------------------------------------------------


def test_cruise_vectors_are_unit_and_orthogonal_to_the_attack_vectors():
    rng = np.random.default_rng(6)
    a = rng.normal(size=(500, 7))
    a[::3, :4] = 0.0  # some coordinates are zero: they are never the solved one
    a[5] = 0.0  # a converged eagle gets no cruise vector
    c = cruise_vectors(a, rng)
    dots = np.einsum("ij,ij->i", a, c) / np.linalg.norm(a, axis=1).clip(1e-300)
    assert np.max(np.abs(dots)) < 1e-9
    norms = np.linalg.norm(c, axis=1)
    assert np.allclose(np.delete(norms, 5), 1.0) and norms[5] == 0.0


def test_propensity_schedule_endpoints():
    assert propensities(0.0) == (0.5, 1.0)
    assert propensities(1.0) == (2.0, 0.5)
    assert propensities(0.5) == (1.25, 0.75)
    assert propensities(3.0) == (2.0, 0.5)  # beyond T: the end values
    geo, gego = GEO(3, 4, 0, n_iter=10), GEGO(3, 4, 0, n_iter=10)
    assert geo.schedule_fraction(1) == 0.0 and geo.schedule_fraction(10) == 1.0  # linspace
    assert gego.schedule_fraction(0) == 0.0 and gego.schedule_fraction(10) == 1.0  # t / T
    assert GEO(3, 4, 0, n_iter=10, paper_exact=True).schedule_fraction(1) == 0.1


def _stuck(engine):
    """All eagles on one point with their memories there: every attack vector is zero."""
    engine.tell(engine.ask(), np.arange(engine.n_pop, dtype=float))
    p = np.full(engine.dim, 0.8)
    engine.X[:] = p
    engine.M[:] = p
    return p


@pytest.mark.parametrize("cls", [GEO, GEGO])
def test_an_eagle_on_its_prey_stays_put_unless_paper_exact(cls):
    eng = cls(3, 4, 0, n_iter=10, bounds=(-5.0, 5.0))
    p = _stuck(eng)
    assert np.allclose(eng.ask(), p)
    assert eng.n_stays == 4
    paper = cls(3, 4, 0, n_iter=10, bounds=(-5.0, 5.0), paper_exact=True)
    _stuck(paper)
    assert np.allclose(paper.ask(), 0.5)  # the origin of [-5, 5]^3
    assert paper.n_resets == 4


def test_gego_evaluation_counts_per_generation_in_both_modes():
    n, t_max = 6, 10
    for paper, per_ga in (
        (False, [("ga", n)]),
        (True, [("reevaluate_population", n), ("reevaluate_best", 1), ("ga", n)]),
    ):
        eng = GEGO(2, n, 0, n_iter=t_max, paper_exact=paper)
        kinds = []
        f = lambda x: (x**2).sum(1)  # noqa: E731
        while eng.iteration < t_max:
            x = eng.ask()
            kinds.append((eng.batch_kind, len(x)))
            if eng.batch_kind == "reevaluate_population":
                assert np.array_equal(x, eng.X)  # the current positions, again
            eng.tell(x, f(x))
        expected = [("init", n)]
        for t in range(1, t_max + 1):
            expected += (per_ga if t % 5 == 0 else []) + [("move", n)]
        assert kinds == expected
        total = n + t_max * n + (t_max // 5) * ((2 * n + 1) if paper else n)
        assert eng.n_evals == total == eng.budget(t_max)
    # the CEC setting of the paper: 70,250 evaluations with the re-evaluations
    assert GEGO(2, 50, 0, n_iter=1000, paper_exact=True).budget(1000) == 70250
    assert GEGO(2, 50, 0, n_iter=1000).budget(1000) == 60050
    assert GEO(2, 50, 0, n_iter=1000).budget(1000) == 50050


def test_gego_default_selects_on_stored_values_without_reevaluating():
    eng = GEGO(2, 4, 0, n_iter=10, ga_every=1)
    eng.tell(eng.ask(), [3.0, 1.0, 2.0, 0.0])
    x = eng.ask()
    assert eng.batch_kind == "ga" and len(x) == 4


@pytest.mark.parametrize(
    "make",
    [
        lambda: GA(5, 20, 0),
        lambda: GA(5, 20, 0, crossover="blx"),
        lambda: PSO(5, 20, 0),
        lambda: DE(5, 20, 0),
        lambda: DE(5, 20, 0, strategy="current_to_pbest1bin"),
        lambda: DE(5, 20, 0, strategy="current_to_pbest1bin", adaptive=True),
        lambda: GEO(5, 20, 0, n_iter=60),
        lambda: GEO(5, 20, 0, n_iter=60, paper_exact=True),
        lambda: GEGO(5, 20, 0, n_iter=50),
        lambda: GEGO(5, 20, 0, n_iter=50, paper_exact=True),
    ],
    ids=[
        "ga",
        "ga-blx",
        "pso",
        "de",
        "de-pbest",
        "de-jade",
        "geo",
        "geo-paper",
        "gego",
        "gego-paper",
    ],
)
def test_engines_solve_a_shifted_sphere_and_are_reproducible(make):
    f = lambda x: ((x - 1.234) ** 2).sum(1)  # noqa: E731
    x, y, n = minimize(make(), f, max_evals=1200, lower=-5, upper=5)
    assert n <= 1200 and y < 0.05
    x2, y2, _ = minimize(make(), f, max_evals=1200, lower=-5, upper=5)
    assert np.array_equal(x, x2) and y == y2
    random = np.random.default_rng(0).uniform(-5, 5, (1200, 5))
    assert y < f(random).min() / 20


def test_engines_read_nan_as_the_worst_value():
    eng = GEO(2, 4, 0)
    eng.tell(eng.ask(), [np.nan, 1.0, np.nan, 2.0])
    assert np.isinf(eng.MY[[0, 2]]).all() and eng.best_y == 1.0


# -- the samplers on a study ---------------------------------------------------------------------


@pytest.mark.parametrize("key", list(SAMPLERS))
def test_a_seed_fixes_every_proposal(key):
    a = _params(_run(SAMPLERS[key](), 35, seed=4))
    assert a == _params(_run(SAMPLERS[key](), 35, seed=4))
    assert a != _params(_run(SAMPLERS[key](), 35, seed=5))


@pytest.fixture(scope="module")
def random_median() -> float:
    return float(np.median([_run(ts.RandomSampler(), 300, seed=s).best_value for s in range(5)]))


@pytest.mark.parametrize("key", list(SAMPLERS))
def test_beats_random_search_on_a_shifted_sphere(key, random_median):
    # medians over seeds, and a margin of 5x (the samplers' medians are 10-500x better)
    best = np.median([_run(SAMPLERS[key](), 300, seed=s).best_value for s in range(3)])
    assert best < random_median / 5


@pytest.mark.parametrize("key", list(SAMPLERS))
def test_a_reloaded_sqlite_study_continues_mid_generation_exactly(key, tmp_path):
    path = str(tmp_path / "pop.db")
    straight = _run(SAMPLERS[key](), 47, seed=7)
    first = _run(SAMPLERS[key](), 25, seed=7, storage=path, name="pop")  # mid-generation
    first.close()
    forget_cached(normalize_url(path))  # as in a new process
    # the stored description rebuilds the sampler
    resumed = ts.load_study("pop", path)
    assert type(resumed.sampler) is type(first.sampler)
    assert resumed.sampler.describe() == first.sampler.describe()
    for _ in range(22):
        t = resumed.ask()
        resumed.tell(t, sphere(t))
    assert _params(resumed) == _params(straight)


@pytest.mark.parametrize("key", list(SAMPLERS))
def test_mixed_space_values_are_valid_and_improve(key):
    study = _run(SAMPLERS[key](), 120, space=MIXED, objective=mixed, seed=2)
    for t in study.trials:
        MIXED.validate(t.params)
    assert {t.params["kind"] for t in study.trials} == {"a", "b", "c"}
    assert study.best_value < min(mixed(t) for t in study.trials[:10])


@pytest.mark.parametrize("key", list(SAMPLERS))
def test_describe_is_json_rebuilds_the_sampler_and_pickles(key):
    s = SAMPLERS[key](seed=3)
    d = s.describe()
    assert json.loads(json.dumps(d)) == d
    rebuilt = make_sampler(d)
    assert type(rebuilt) is type(s) and rebuilt.describe() == d
    assert pickle.loads(pickle.dumps(s)).describe() == d


def test_names_build_the_samplers_and_defaults_describe_briefly():
    for name, cls in [
        ("ga", ts.GASampler),
        ("pso", ts.PSOSampler),
        ("de", ts.DESampler),
        ("geo", ts.GEOSampler),
        ("gego", ts.GEGOSampler),
    ]:
        s = make_sampler(name)
        assert type(s) is cls and s.describe() == {"name": cls.__name__}
    study = ts.create_study(sampler={"name": "gego", "paper_exact": True, "popsize": 8}, seed=0)
    assert study.system_attrs["sampler"] == {
        "name": "GEGOSampler",
        "popsize": 8,
        "paper_exact": True,
    }


@pytest.mark.parametrize(
    ("cls", "kw", "message"),
    [
        (ts.GASampler, {"popsize": 1}, "popsize"),
        (ts.GASampler, {"crossover": "uniform"}, "crossover"),
        (ts.DESampler, {"popsize": 3}, "popsize >= 4"),
        (ts.DESampler, {"strategy": "best2"}, "strategy"),
        (ts.PSOSampler, {"v_max": 0}, "v_max"),
        (ts.GEOSampler, {"attack": 3}, "attack"),
        (ts.GEGOSampler, {"popsize": 11}, "even"),
        (ts.GEGOSampler, {"ga_every": 0}, "ga_every"),
    ],
)
def test_invalid_arguments_raise_value_errors(cls, kw, message):
    with pytest.raises(ValueError, match=message):
        cls(**kw)


def test_multi_objective_studies_get_a_clear_error():
    study = ts.create_study(directions=["minimize", "minimize"], space=CUBE4, sampler="gego")
    with pytest.raises(ts.TunesmithError, match=r"TPESampler.*GPSampler"):
        study.ask()


def test_maximize_is_handled():
    study = ts.create_study(space=CUBE4, sampler=SAMPLERS["gego"](), direction="maximize", seed=0)
    for _ in range(150):
        t = study.ask()
        study.tell(t, -sphere(t))
    assert study.best_value > -1.0


def test_failed_and_pruned_members_count_as_worst_and_generations_advance():
    sampler = ts.GEOSampler(popsize=10, n_generations=10)
    study = ts.create_study(space=CUBE4, sampler=sampler, seed=0)
    for i in range(60):
        t = study.ask()
        if i % 4 == 1:
            study.tell(t, state=TrialState.FAILED)
        elif i % 4 == 2:
            t.report(-1e9, step=0)  # a pruned value is not used either
            study.tell(t, state=TrialState.PRUNED)
        else:
            study.tell(t, sphere(t))
    state = sampler.state(study)
    assert state["n_evals"] == 60 and state["batch_start"] == 60 and state["iteration"] == 5
    assert state["best_value"] == study.best_value  # failures never become memories


def test_trials_asked_ahead_of_a_generation_are_valid_and_replay_exactly():
    """Workers asking while members still run get a deterministic speculative batch; a fresh
    sampler (no cache) always proposes what the incremental one proposes."""
    study = ts.create_study(space=CUBE4, sampler=SAMPLERS["gego-paper"](), seed=3)
    running: list[ts.Trial] = []
    for step in range(90):
        while len(running) < 4:
            running.append(study.ask())
        done = running.pop(0) if step % 5 == 0 else running.pop()
        study.tell(done, sphere(done))
        if step % 7 == 3:
            ctx = study._ctx()
            space = study.sampler.relative_space(ctx)
            for number in (study._history.n, study._history.n + 12):
                warm = study.sampler.sample_relative(ctx, number, space)
                cold = SAMPLERS["gego-paper"]().sample_relative(ctx, number, space)
                assert warm == cold, (step, number)
    for t in study.trials:
        CUBE4.validate(t.params)
    assert study.best_value < 2.0


def test_paper_exact_gego_reevaluates_positions_and_best_as_trials():
    study = _run(ts.GEGOSampler(popsize=4, n_generations=10, paper_exact=True), 40, seed=0)
    p = _params(study)
    # init 0-3, moves 1-4: 4-19, then the GA block: re-evaluate positions (trials 20-23 =
    # the positions after move 4, trials 16-19) and the best position seen there (trial 24)
    assert p[20:24] == p[16:20]
    values = [t.value for t in study.trials]
    assert p[24] == p[20 + int(np.argmin(values[20:24]))]
    assert study.sampler.state(study)["batch_kind"] == "move"
    # eagles that sat on their prey were reset to the origin (0 is in every range here)
    assert {"x0": 0.0, "x1": 0.0, "x2": 0.0, "x3": 0.0} in p[4:20]
    default = _run(ts.GEGOSampler(popsize=4, n_generations=10), 40, seed=0)
    assert {"x0": 0.0, "x1": 0.0, "x2": 0.0, "x3": 0.0} not in _params(default)
    assert _params(default)[20:24] != _params(default)[16:20]  # offspring at once


def test_define_by_run_objective():
    def objective(trial: ts.Trial) -> float:
        x = trial.suggest_float("x", -3.0, 3.0)
        n = trial.suggest_int("n", 1, 9)
        return (x - 1.0) ** 2 + (n - 4) ** 2

    study = ts.create_study(sampler=ts.GEGOSampler(popsize=10, n_generations=8), seed=0)
    study.optimize(objective, n_trials=80)
    assert study.best_value < 0.5


def _worker_sphere(trial: ts.Trial) -> float:
    return sphere(trial)


@pytest.mark.parametrize("key", ["gego", "pso"])
def test_two_workers_finish(key):
    study = ts.create_study(space=CUBE4, sampler=SAMPLERS[key](), seed=0)
    study.optimize(_worker_sphere, n_trials=40, n_workers=2)
    assert len(study.trials) == 40
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    for t in study.trials:
        CUBE4.validate(t.params)


def test_docstring_examples_run():
    import doctest

    import tunesmith.samplers.population._engines as engines_mod
    import tunesmith.samplers.population._sampler as sampler_mod

    for mod in (engines_mod, sampler_mod):
        failed, attempted = doctest.testmod(mod, verbose=False)
        assert failed == 0 and attempted > 0, mod.__name__


def test_enqueued_trials_take_a_slot_and_are_told_with_their_stored_values():
    study = _run(SAMPLERS["gego"](), 23, seed=6)
    study.enqueue({f"x{i}": float(v) for i, v in enumerate(SHIFT)})
    study.enqueue({f"x{i}": 0.0 for i in range(4)})
    for _ in range(20):
        t = study.ask()
        study.tell(t, sphere(t))
    assert study.trials[23].value == 0.0
    warm = study.sampler.state(study)
    assert warm == SAMPLERS["gego"]().state(study)  # a fresh replay agrees
    assert warm["best_value"] == 0.0 and warm["n_evals"] == 40  # 4 full batches of 10


def test_jade_adaptation_moves_the_means_of_f_and_cr():
    eng = DE(10, 20, 0, strategy="current_to_pbest1bin", adaptive=True)
    f = lambda x: ((x - 0.3) ** 2).sum(1)  # noqa: E731
    minimize(eng, f, n_iter=30)
    assert (eng.mu_F, eng.mu_CR) != (0.5, 0.9)
    assert 0.0 < eng.mu_F <= 1.0 and 0.0 <= eng.mu_CR <= 1.0
    assert eng._F.min() > 0.0 and eng._F.max() <= 1.0 and np.ptp(eng._F) > 0.0
