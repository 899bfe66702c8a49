"""The multi-fidelity simulator: event order, workers, determinism, pruning, errors."""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.simulate import (
    AskTellAdapter,
    CurveBenchmark,
    CurveFunction,
    HartmannCurves,
    SimulationResult,
    hartmann6,
    simulate,
)
from tunesmith.trial import TrialState

K_SPACE = ts.Space({"k": ts.Int(1, 9)})


def k_bench(max_step: int = 3, direction: str = "minimize") -> CurveFunction:
    """Configuration k: every step takes k seconds; the value after step s is k + 1/s."""
    return CurveFunction(
        K_SPACE,
        max_step,
        lambda p: ([p["k"] + 1.0 / s for s in range(1, max_step + 1)], float(p["k"])),
        direction,
    )


class Scripted:
    """An AskTellAdapter that proposes given configurations and logs every call."""

    def __init__(self, ks: list[int], prune: set[tuple[int, int]] | None = None) -> None:
        self.direction = "minimize"
        self.ks = list(ks)
        self.prune = prune or set()
        self.log: list[tuple[Any, ...]] = []
        self.n = 0

    def ask(self, space: ts.Space) -> tuple[int, dict[str, Any]]:
        number = self.n
        self.n += 1
        self.log.append(("ask", number))
        return number, {"k": self.ks[number % len(self.ks)]}

    def report(self, number: int, value: float, step: int) -> None:
        self.log.append(("report", number, step))

    def should_prune(self, number: int) -> bool:
        return (number, self.log[-1][2]) in self.prune

    def tell(
        self, number: int, state: TrialState, value: float | None, reason: str | None = None
    ) -> None:
        self.log.append(("tell", number, state, reason))


def overlap(result: SimulationResult) -> int:
    """The largest number of trials running at once."""
    events = sorted(
        [(t.start, 1) for t in result.trials] + [(t.end, -1) for t in result.trials],
        key=lambda e: (e[0], e[1]),  # ends before starts at equal times
    )
    running = peak = 0
    for _, d in events:
        running += d
        peak = max(peak, running)
    return peak


# -- the event loop -------------------------------------------------------------------
def test_events_follow_the_simulated_clock():
    adapter = Scripted([1, 3])
    res = simulate(adapter, k_bench(), n_workers=2, max_trials=3)
    reports = [e[1:] for e in adapter.log if e[0] == "report"]
    # trial 0 steps end at 1, 2, 3; trial 1 at 3, 6, 9; trial 2 (k=1) at 4, 5, 6. Ties
    # go to the step scheduled first: at t=3 trial 1's (scheduled at t=0) before trial
    # 0's (at t=2); at t=6 trial 1's (at t=3) before trial 2's (at t=5).
    assert reports == [(0, 1), (0, 2), (1, 1), (0, 3), (2, 1), (2, 2), (1, 2), (2, 3), (1, 3)]
    assert res.time.tolist() == [1, 2, 3, 3, 4, 5, 6, 6, 9]
    assert np.all(np.diff(res.time) >= 0)
    starts = {t.number: (t.start, t.end, t.worker) for t in res.trials}
    assert starts == {0: (0.0, 3.0, 0), 1: (0.0, 9.0, 1), 2: (3.0, 6.0, 0)}
    assert res.end_time == 9.0
    # the trial is told right after its last report, and the next one asked at once
    i = adapter.log.index(("report", 0, 3))
    assert adapter.log[i + 1] == ("tell", 0, TrialState.COMPLETE, None)
    assert adapter.log[i + 2] == ("ask", 2)


def test_should_prune_after_every_step_but_the_last():
    adapter = Scripted([2], prune={(0, 2)})
    res = simulate(adapter, k_bench(), n_workers=1, max_trials=2)
    t0, t1 = res.trials
    assert (t0.state, t0.steps, t0.end, t0.value) == (TrialState.PRUNED, 2, 4.0, 2.5)
    assert (t1.state, t1.steps, t1.start) == (TrialState.COMPLETE, 3, 4.0)
    assert res.total_resource == 5
    assert res.busy_seconds[-1] == 10.0
    assert res.n_pruned[-1] == 1 and res.n_completed[-1] == 1


@pytest.mark.parametrize("n_workers", [1, 3, 8])
def test_n_workers_run_side_by_side(n_workers):
    study = ts.create_study("w", sampler="random", seed=1)
    res = simulate(study, k_bench(max_step=4), n_workers=n_workers, max_trials=24)
    assert len(res.trials) == 24
    assert overlap(res) == n_workers
    assert {t.worker for t in res.trials} == set(range(n_workers))
    for w in range(n_workers):  # a worker runs one trial at a time, back to back
        mine = sorted((t for t in res.trials if t.worker == w), key=lambda t: t.start)
        assert mine[0].start == 0.0
        assert all(a.end == b.start for a, b in itertools.pairwise(mine))
    assert res.total_resource == 24 * 4
    assert math.isclose(res.busy_seconds[-1], sum(t.seconds for t in res.trials))


def test_more_workers_finish_sooner():
    ends = []
    for n in (1, 2, 4):
        study = ts.create_study("sooner", sampler="random", seed=3)
        ends.append(simulate(study, k_bench(), n_workers=n, max_trials=16).end_time)
    assert ends[0] > ends[1] > ends[2]


def test_max_time_stops_steps_and_fails_running_trials():
    adapter = Scripted([1, 4])
    res = simulate(adapter, k_bench(), n_workers=2, max_time=7.5)
    assert res.time[-1] <= 7.5 and res.end_time == 7.5
    last = {t.number: t for t in res.trials}
    assert last[1].state == TrialState.FAILED and last[1].steps == 1 and last[1].end == 7.5
    assert ("tell", 1, TrialState.FAILED, "the simulation ended") in adapter.log
    assert all(t.start < 7.5 for t in res.trials)
    # trial 3 (k=4) started at t=6 and ran no step before 7.5
    assert (last[3].start, last[3].steps, last[3].state) == (6.0, 0, TrialState.FAILED)
    assert math.isnan(last[3].value) and last[3].seconds == 0.0
    assert sum(e[0] == "ask" for e in adapter.log) == len(res.trials) == 4


def test_no_trial_starts_at_max_time():
    adapter = Scripted([1])
    res = simulate(adapter, k_bench(), n_workers=1, max_time=6.0)
    assert [t.state for t in res.trials] == [TrialState.COMPLETE, TrialState.COMPLETE]
    assert res.end_time == 6.0


def test_best_values_and_queries():
    study = ts.create_study("best", sampler="random", seed=0)
    res = simulate(study, k_bench(), n_workers=2, max_trials=12)
    complete = [t for t in res.trials if t.state == TrialState.COMPLETE]
    assert res.best_value == min(t.value for t in complete) == study.best_value
    finite = res.best_final[~np.isnan(res.best_final)]
    assert np.all(np.diff(finite) <= 0)
    assert np.all(res.best_any[~np.isnan(res.best_final)] <= finite)
    assert np.isnan(res.best_final_at(0.5))
    first_done = min(t.end for t in complete)
    assert res.time_to_reach(res.best_value) <= res.end_time
    assert res.time_to_reach(-1.0) == math.inf
    assert res.best_final_at([first_done, res.end_time])[1] == res.best_value
    assert json.loads(json.dumps(res.to_dict()))["trials"][0]["number"] == 0


def test_maximize_direction():
    bench = k_bench(direction="maximize")
    study = ts.create_study("max", direction="maximize", sampler="random", seed=0)
    res = simulate(study, bench, n_workers=2, max_trials=10)
    assert res.best_value == max(t.value for t in res.trials)
    assert res.time_to_reach(res.best_value) < math.inf


def test_short_curves_and_non_finite_final_values():
    def fn(p):
        if p["k"] % 2:
            return [1.0, float("nan")], 1.0
        return [1.0], [0.5]

    bench = CurveFunction(K_SPACE, 5, fn)
    adapter = Scripted([1, 2])
    res = simulate(adapter, bench, n_workers=1, max_trials=2)
    assert (res.trials[0].state, res.trials[0].steps) == (TrialState.FAILED, 2)
    assert (res.trials[1].state, res.trials[1].steps) == (TrialState.COMPLETE, 1)
    assert res.best_value == 1.0
    assert res.end_time == 2.5


def test_same_seed_same_result_other_seed_another():
    bench = HartmannCurves(max_step=9)

    def run(seed):
        study = ts.create_study("det", sampler="tpe", pruner="hyperband", seed=seed)
        return simulate(study, bench, n_workers=3, max_time=150.0)

    a, b, c = run(0), run(0), run(1)
    assert a.trials == b.trials
    for name in ("time", "best_final", "best_any", "resource", "n_pruned"):
        assert np.array_equal(getattr(a, name), getattr(b, name), equal_nan=True)
    assert a.trials != c.trials


def test_pruning_spends_less_for_the_same_trials():
    bench = HartmannCurves(max_step=27)
    used = {}
    for pruner in ("none", "median", "sh", "hyperband"):
        study = ts.create_study(f"r-{pruner}", sampler="random", pruner=pruner, seed=2)
        res = simulate(study, bench, n_workers=4, max_trials=60)
        assert len(res.trials) == 60
        used[pruner] = (res.total_resource, res.count(TrialState.PRUNED))
    assert used["none"] == (60 * 27, 0)
    for pruner in ("median", "sh", "hyperband"):
        assert used[pruner][0] < 0.8 * used["none"][0], used
        assert used[pruner][1] > 10


def test_pruning_finds_more_in_the_same_time():
    bench = HartmannCurves(max_step=27)
    out = {}
    for pruner in ("none", "sh"):
        study = ts.create_study(f"t-{pruner}", sampler="random", pruner=pruner, seed=5)
        out[pruner] = simulate(study, bench, n_workers=4, max_time=1500.0)
    assert len(out["sh"].trials) > 3 * len(out["none"].trials)
    for res in out.values():  # 4 workers never work more than 4 x the clock
        assert res.busy_seconds[-1] <= 4 * 1500.0


def test_declared_space_study_and_conditional_benchmark():
    space = ts.Space(
        {"kind": ts.Categorical(["a", "b"]), "x": ts.Float(0.0, 1.0)},
        conditions={"x": {"kind": "b"}},
    )
    seen = []

    def fn(p):
        seen.append(dict(p))
        return [p.get("x", 0.5)] * 2, 1.0

    study = ts.create_study("decl", sampler="random", seed=0, space=space)
    simulate(study, CurveFunction(space, 2, fn), n_workers=2, max_trials=10)
    assert all(("x" in p) == (p["kind"] == "b") for p in seen)
    assert {p["kind"] for p in seen} == {"a", "b"}


def test_a_finished_grid_ends_the_simulation():
    study = ts.create_study("grid", sampler=ts.GridSampler({"k": [1, 2, 3]}), seed=0)
    res = simulate(study, k_bench(), n_workers=2, max_trials=10)
    assert sorted(t.params["k"] for t in res.trials) == [1, 2, 3]
    assert all(t.state == TrialState.COMPLETE for t in res.trials)


def test_protocols():
    assert isinstance(HartmannCurves(), CurveBenchmark)
    assert isinstance(k_bench(), CurveBenchmark)
    assert isinstance(Scripted([1]), AskTellAdapter)


# -- errors ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_workers": 0, "max_trials": 1}, "n_workers"),
        ({"n_workers": 1.5, "max_trials": 1}, "n_workers"),
        ({}, "max_time=, max_trials="),
        ({"max_trials": 0}, "max_trials"),
        ({"max_time": -1.0}, "max_time"),
        ({"max_time": "10"}, "max_time"),
    ],
)
def test_bad_arguments(kwargs, match):
    study = ts.create_study(sampler="random", seed=0)
    with pytest.raises(ValueError, match=match):
        simulate(study, k_bench(), **kwargs)


def test_bad_study_or_benchmark():
    study = ts.create_study(sampler="random", seed=0)
    with pytest.raises(TypeError, match="space"):
        simulate(study, object(), max_trials=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="AskTellAdapter"):
        simulate(object(), k_bench(), max_trials=1)  # type: ignore[arg-type]
    multi = ts.create_study(directions=["minimize", "maximize"], seed=0)
    with pytest.raises(ValueError, match="single-objective"):
        simulate(multi, k_bench(), max_trials=1)
    with pytest.raises(ValueError, match="direction='maximize'"):
        simulate(study, k_bench(direction="maximize"), max_trials=1)
    with pytest.raises(ValueError, match="max_step"):
        simulate(study, CurveFunction(K_SPACE, 0, lambda p: ([1.0], 1.0)), max_trials=1)


@pytest.mark.parametrize(
    ("fn", "exc", "match"),
    [
        (lambda p: ([1.0] * 4, 1.0), ValueError, "between 1 and max_step=3"),
        (lambda p: ([], 1.0), ValueError, "between 1 and max_step=3"),
        (lambda p: ([1.0, 2.0], [1.0]), ValueError, "one duration per value"),
        (lambda p: ([1.0], 0.0), ValueError, "positive"),
        (lambda p: ([1.0], float("nan")), ValueError, "positive"),
        (lambda p: 3.0, TypeError, r"\(values, seconds\)"),
    ],
)
def test_bad_curves_fail_the_trial_and_raise(fn, exc, match):
    study = ts.create_study(sampler="random", seed=0)
    with pytest.raises(exc, match=match):
        simulate(study, CurveFunction(K_SPACE, 3, fn), max_trials=2)
    assert [t.state for t in study.trials] == [TrialState.FAILED]


# -- the built-in benchmark -----------------------------------------------------------
def test_hartmann6():
    xstar = [0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573]
    assert hartmann6(xstar) == pytest.approx(-3.32237, abs=1e-5)
    with pytest.raises(ValueError, match="6 coordinates"):
        hartmann6([0.5] * 5)


def test_hartmann_curves():
    bench = HartmannCurves(max_step=81)
    p = {f"x{i}": 0.3 + 0.05 * i for i in range(6)}
    v1, s1 = bench.curve(p)
    v2, _ = bench.curve(dict(p))
    assert np.array_equal(v1, v2) and len(v1) == 81
    assert s1 == pytest.approx(10 ** (p["x4"] - 0.5))
    v3, _ = HartmannCurves(max_step=81, seed=1).curve(p)
    assert not np.array_equal(v1, v3)
    mean = bench.mean_curve(p)
    assert np.all(np.diff(mean) < 0) and mean[0] < 1.0
    assert np.abs(v1 - mean).max() < 0.05
    quiet = HartmannCurves(max_step=81, noise=0.0)
    best = {"x0": 0.20169, "x1": 0.150011, "x2": 0.476874, "x3": 0.275332, "x4": 0.311652,
            "x5": 0.6573}  # fmt: skip
    assert 0.06 < quiet.curve(best)[0][-1] < 0.08
    with pytest.raises(ValueError, match="max_step"):
        HartmannCurves(max_step=0)
    with pytest.raises(ValueError, match="noise"):
        HartmannCurves(noise=-1.0)
    with pytest.raises(ValueError, match=r"x0\.\.x5"):
        bench.curve({"x0": 0.1})


def test_docstring_examples_run():
    import doctest

    import tunesmith.simulate._benchmarks as benchmarks_mod
    import tunesmith.simulate._loop as loop_mod

    for mod in (ts.simulate, loop_mod, benchmarks_mod):
        failed, attempted = doctest.testmod(mod, verbose=False)
        assert failed == 0 and attempted > 0, mod.__name__
