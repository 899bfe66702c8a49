"""RandomSampler: bounds, types, scales, conditions, seeding, order independence."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy import stats

import tunesmith as ts
from tunesmith.history import History
from tunesmith.samplers import RandomSampler, SamplerContext, make_sampler
from tunesmith.space import Categorical, Float, Int, Space

DISTS = [
    Float(-3.0, 5.0),
    Float(1e-6, 1.0, log=True),
    Float(0.0, 1.0, step=0.125),
    Int(-4, 4),
    Int(1, 4096, log=True),
    Int(0, 90, step=15),
    Categorical([None, False, 3, 0.5, "x"]),
]


def _ctx(seed: int = 0, space: Space | None = None) -> SamplerContext:
    return SamplerContext(History(None, 0, ["minimize"]), space, seed, ("minimize",))


@pytest.mark.parametrize("dist", DISTS, ids=repr)
def test_independent_samples_fit_the_distribution(dist):
    sampler, ctx = RandomSampler(), _ctx(1)
    values = [sampler.sample_independent(ctx, n, "p", dist, {}) for n in range(2000)]
    assert all(dist.contains(v) for v in values)
    if isinstance(dist, Int):
        assert all(type(v) is int for v in values)
    elif isinstance(dist, Float):
        assert all(type(v) is float for v in values)
    # Every value of a small discrete distribution shows up.
    if isinstance(dist, Categorical):
        assert {repr(v) for v in values} == {repr(c) for c in dist.choices}
    elif dist.step is not None and (dist.high - dist.low) / dist.step < 20:
        assert len(set(values)) == round((dist.high - dist.low) / dist.step) + 1


@pytest.mark.parametrize("dist", [Float(-3.0, 5.0), Float(1e-6, 1.0, log=True)], ids=repr)
def test_continuous_samples_are_uniform_on_their_scale(dist):
    sampler, ctx = RandomSampler(), _ctx(2)
    x = np.array([sampler.sample_independent(ctx, n, "p", dist, {}) for n in range(3000)])
    u = dist.to_unit(x)
    assert stats.kstest(u, "uniform").pvalue > 1e-3


def test_categorical_choices_are_equally_likely():
    sampler, ctx = RandomSampler(), _ctx(3)
    dist = Categorical(["a", "b", "c", "d"])
    draws = [sampler.sample_independent(ctx, n, "c", dist, {}) for n in range(4000)]
    counts = [draws.count(c) for c in "abcd"]
    assert stats.chisquare(counts).pvalue > 1e-3


def test_relative_samples_of_a_conditional_space_are_valid():
    space = Space(
        {
            "kernel": Categorical(["rbf", "poly", "linear"]),
            "gamma": Float(1e-4, 1.0, log=True),
            "degree": Int(2, 5),
            "C": Float(0.0, 10.0, step=0.5),
        },
        conditions={"gamma": {"kernel": ["rbf", "poly"]}, "degree": {"kernel": "poly"}},
    )
    sampler, ctx = RandomSampler(), _ctx(4, space)
    assert sampler.relative_space(ctx) is space
    samples = [sampler.sample_relative(ctx, n, space) for n in range(500)]
    for p in samples:
        space.validate(p)
    assert {p["kernel"] for p in samples} == {"rbf", "poly", "linear"}
    assert {len(p) for p in samples} == {2, 3, 4}


def test_without_a_declared_space_nothing_is_sampled_jointly():
    assert RandomSampler().relative_space(_ctx()) is None


def test_proposals_depend_only_on_seed_trial_number_and_name():
    sampler = RandomSampler()
    dist = Float(0.0, 1.0)
    a = [sampler.sample_independent(_ctx(7), n, "x", dist, {}) for n in range(20)]
    b = [RandomSampler().sample_independent(_ctx(7), n, "x", dist, {}) for n in reversed(range(20))]
    assert a == b[::-1]
    assert a != [sampler.sample_independent(_ctx(8), n, "x", dist, {}) for n in range(20)]
    y = [sampler.sample_independent(_ctx(7), n, "y", dist, {}) for n in range(20)]
    assert a != y  # each name gets its own stream
    assert len(set(a)) == 20


def _run(seed: int, order: str, sampler_seed: int | None = None) -> list[dict[str, Any]]:
    def objective(trial: ts.Trial) -> float:
        names = "xyz" if order == "forward" else "zyx"
        for name in names:
            if name == "x":
                trial.suggest_float("x", -1.0, 1.0)
            elif name == "y":
                trial.suggest_int("y", 0, 1000)
            else:
                trial.suggest_categorical("z", ["a", "b", "c"])
        return 0.0

    study = ts.create_study(seed=seed, sampler=RandomSampler(sampler_seed))
    study.optimize(objective, n_trials=15)
    return [dict(t.params) for t in study.trials]


def test_value_of_a_parameter_does_not_depend_on_the_order_of_suggest_calls():
    assert _run(3, "forward") == _run(3, "backward")


def test_a_seed_reproduces_the_whole_sequence():
    assert _run(3, "forward") == _run(3, "forward")
    assert _run(3, "forward") != _run(4, "forward")


def test_the_samplers_own_seed_overrides_the_study_seed():
    assert _run(1, "forward", sampler_seed=99) == _run(2, "forward", sampler_seed=99)


def test_description_round_trips():
    assert RandomSampler().describe() == {"name": "RandomSampler"}
    s = make_sampler(RandomSampler(seed=5).describe())
    assert isinstance(s, RandomSampler) and s.seed == 5
    assert repr(RandomSampler(seed=5)) == "RandomSampler(seed=5)"
    assert isinstance(make_sampler("random"), RandomSampler)
    with pytest.raises(ts.TunesmithError, match="bad arguments"):
        make_sampler({"name": "random", "colour": "blue"})
