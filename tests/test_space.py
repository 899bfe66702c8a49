"""Distributions and spaces: validation, encodings, conditions, grids, serialization."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tunesmith.exceptions import SpaceError
from tunesmith.space import (
    Categorical,
    Float,
    Int,
    Space,
    compatible,
    distribution_from_dict,
    distribution_from_json,
    distribution_to_json,
)

NAN = float("nan")
INF = float("inf")


# -- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Float(2.0, 1.0), "low=2.0 is greater than high=1.0"),
        (lambda: Float(0.0, 1.0, log=True), "log=True needs low > 0"),
        (lambda: Float(-1.0, 1.0, log=True), "log=True needs low > 0"),
        (lambda: Float(0.0, 1.0, step=0), "step must be > 0"),
        (lambda: Float(0.0, 1.0, step=-0.5), "step must be > 0"),
        (lambda: Float(1e-3, 1.0, log=True, step=0.1), "both log=True and a step"),
        (lambda: Float("0", 1.0), "Float low must be a number, got '0'"),
        (lambda: Float(0.0, None), "Float high must be a number"),
        (lambda: Float(True, 2.0), "Float low must be a number, got True"),
        (lambda: Float(NAN, 1.0), "Float low must be finite"),
        (lambda: Float(0.0, NAN), "Float high must be finite"),
        (lambda: Float(0.0, INF), "Float high must be finite"),
        (lambda: Float(0.0, 1.0, step=NAN), "Float step must be finite"),
        (lambda: Int(5, 1), "low=5 is greater than high=1"),
        (lambda: Int(0, 10, log=True), "log=True needs low >= 1"),
        (lambda: Int(0, 10, step=0), "step must be >= 1"),
        (lambda: Int(0, 10, step=-2), "step must be >= 1"),
        (lambda: Int(1, 10, log=True, step=2), "both log=True and step != 1"),
        (lambda: Int(0.5, 10), "Int low must be an integer, got 0.5"),
        (lambda: Int(0, "10"), "Int high must be an integer"),
        (lambda: Int(False, 10), "Int low must be an integer"),
        (lambda: Int(NAN, 10), "Int low must be an integer"),
        (lambda: Int(0, 10, step=1.5), "Int step must be an integer"),
        (lambda: Categorical([]), "at least one choice"),
        (lambda: Categorical("abc"), "must be a list"),
        (lambda: Categorical(None), "must be a list"),
        (lambda: Categorical(["a", "a"]), "distinct"),
        (lambda: Categorical([1, 1.0]), "distinct"),
        (lambda: Categorical([[1, 2], [3]]), "has type list"),
        (lambda: Categorical([{"a": 1}]), "has type dict"),
        (lambda: Categorical([object()]), "has type object"),
        (lambda: Categorical([b"bytes"]), "has type bytes"),
        (lambda: Categorical([1.0, NAN]), "cannot be NaN"),
    ],
)
def test_invalid_distributions_raise_space_error_with_a_clear_message(make, message):
    with pytest.raises(SpaceError) as info:
        make()
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)


def test_valid_edge_cases_are_accepted():
    assert Float(1.0, 1.0).single()
    assert Int(3, 3).single()
    assert Categorical(["only"]).single()
    assert Int(2.0, 6.0).low == 2 and isinstance(Int(2.0, 6.0).low, int)  # integral floats
    assert Int(np.int64(1), np.int32(9)) == Int(1, 9)
    assert Float(np.float32(0.5), np.int64(2)) == Float(0.5, 2.0)
    assert Categorical(np.array([1, 2, 3])).choices == (1, 2, 3)
    assert all(type(c) is int for c in Categorical(np.array([1, 2])).choices)
    assert Categorical((None, True, 1, 2.5, "1")).n_choices == 5  # True and 1 are distinct


def test_stepped_bounds_snap_high_to_the_last_reachable_value():
    assert Int(0, 10, step=3).high == 9
    assert Float(0.0, 1.0, step=0.3).high == pytest.approx(0.9)
    assert Float(0.0, 1.0, step=0.25).high == 1.0
    assert Float(0.1, 0.3, step=0.1).contains(0.3)  # floating error does not lose 0.3


# -- contains / internal / external ---------------------------------------------------------


def test_contains():
    f = Float(0.0, 1.0, step=0.25)
    assert f.contains(0.5) and not f.contains(0.6) and not f.contains(1.25)
    assert not f.contains("x") and not f.contains(None)
    i = Int(0, 10, step=2)
    assert i.contains(4) and i.contains(4.0) and not i.contains(3) and not i.contains(12)
    assert not i.contains(True) and not i.contains(2.5)
    c = Categorical([None, True, 1, "a"])
    assert c.contains(None) and c.contains(True) and c.contains(1) and c.contains(1.0)
    assert not c.contains(False) and not c.contains(0) and not c.contains("b")
    assert c.contains(np.int64(1))


def test_categorical_internal_is_the_index_and_keeps_bool_and_int_apart():
    c = Categorical([1, True, "1", None])
    assert [c.to_internal(v) for v in (1, True, "1", None)] == [0.0, 1.0, 2.0, 3.0]
    assert c.to_external(1.0) is True
    assert c.to_external(0.0) == 1 and type(c.to_external(0.0)) is int
    with pytest.raises(SpaceError, match="not one of the choices"):
        c.to_internal(False)


def test_int_external_values_are_python_ints():
    d = Int(0, 10)
    assert d.to_external(3.0) == 3 and type(d.to_external(3.0)) is int
    assert type(d.to_external(float(d.from_unit(0.5)))) is int


# -- the unit encoding -----------------------------------------------------------------------

NUMERIC = [
    Float(-3.0, 5.0),
    Float(1e-5, 10.0, log=True),
    Float(0.0, 1.0, step=0.1),
    Float(-1.0, 1.0, step=0.4),
    Int(-5, 5),
    Int(0, 100, step=7),
    Int(1, 1000, log=True),
    Int(3, 3),
    Float(2.0, 2.0),
    Float(2.0, 2.0, log=True),
]


@pytest.mark.parametrize("dist", NUMERIC, ids=repr)
def test_from_unit_stays_in_bounds_and_on_the_grid(dist):
    rng = np.random.default_rng(0)
    u = np.concatenate([rng.random(5000), [0.0, 1.0, 1e-12, 1 - 1e-12, -0.5, 1.5]])
    x = dist.from_unit(u)
    assert x.shape == u.shape
    assert np.all(x >= dist.low) and np.all(x <= dist.high)
    assert all(dist.contains(dist.to_external(v)) for v in x)
    if isinstance(dist, Int):
        assert np.all(x == np.round(x))


@pytest.mark.parametrize("dist", NUMERIC, ids=repr)
def test_unit_round_trip(dist):
    rng = np.random.default_rng(1)
    u = rng.random(2000)
    x = dist.from_unit(u)
    back = dist.to_unit(x)
    assert np.all((back >= 0) & (back <= 1))
    # Decoding the encoded value gives the same value back.
    np.testing.assert_allclose(dist.from_unit(back), x, rtol=1e-12, atol=1e-12)
    # For continuous parameters the encoding is also invertible the other way.
    if isinstance(dist, Float) and dist.step is None and not dist.single():
        np.testing.assert_allclose(back, u, rtol=1e-9, atol=1e-12)


def test_unit_encoding_is_monotone():
    u = np.linspace(0, 1, 1001)
    for dist in NUMERIC:
        x = dist.from_unit(u)
        assert np.all(np.diff(x) >= 0), dist


def test_log_float_is_uniform_in_log_space():
    d = Float(1e-4, 1.0, log=True)
    assert d.from_unit(0.5) == pytest.approx(1e-2)
    assert d.to_unit(1e-3) == pytest.approx(0.25)


@pytest.mark.parametrize(
    "dist",
    [
        Int(0, 9),
        Int(-3, 3),
        Int(0, 100, step=10),
        Float(0.0, 1.0, step=0.2),
        Float(-1, 1, step=0.5),
    ],
    ids=repr,
)
def test_every_stepped_value_is_reachable_with_equal_probability(dist):
    n = 100_000
    u = (np.arange(n) + 0.5) / n  # evenly spread uniform numbers
    x = dist.from_unit(u)
    values, counts = np.unique(np.round(x, 9), return_counts=True)
    n_values = round((dist.high - dist.low) / dist.step) + 1
    assert len(values) == n_values
    assert counts.max() - counts.min() <= 2
    # And with random numbers: each value gets its share within sampling noise.
    x = dist.from_unit(np.random.default_rng(2).random(n))
    _, counts = np.unique(np.round(x, 9), return_counts=True)
    expected = n / n_values
    assert np.all(np.abs(counts - expected) < 5 * math.sqrt(expected))


def test_every_log_int_value_is_reachable():
    d = Int(1, 20, log=True)
    x = d.from_unit(np.linspace(0, 1, 100_000))
    assert set(x.astype(int).tolist()) == set(range(1, 21))
    # Small values get more probability than large ones on a log scale.
    _, counts = np.unique(x, return_counts=True)
    assert counts[0] > counts[-1]


def test_stepped_value_is_the_centre_of_its_slice():
    d = Int(0, 3)
    np.testing.assert_allclose(d.to_unit(np.array([0, 1, 2, 3])), [0.125, 0.375, 0.625, 0.875])


def test_categorical_unit_encoding_is_uniform_over_choices():
    c = Categorical(["a", "b", "c"])
    u = (np.arange(30_000) + 0.5) / 30_000
    idx = c.from_unit(u)
    _, counts = np.unique(idx, return_counts=True)
    assert counts.tolist() == [10_000, 10_000, 10_000]
    assert c.from_unit(1.0) == 2 and c.from_unit(0.0) == 0
    np.testing.assert_allclose(c.from_unit(c.to_unit(np.arange(3.0))), [0, 1, 2])


# -- serialization ---------------------------------------------------------------------------

ALL_DISTS = [
    *NUMERIC,
    Categorical([None, True, False, 0, 1, 2.5, "a", ""]),
    Categorical(["x"]),
]


@pytest.mark.parametrize("dist", ALL_DISTS, ids=repr)
def test_distribution_dict_and_json_round_trip(dist):
    assert distribution_from_dict(dist.to_dict()) == dist
    assert distribution_from_json(distribution_to_json(dist)) == dist
    assert distribution_from_dict(json.loads(json.dumps(dist.to_dict()))) == dist


def test_distribution_from_dict_aliases_and_errors():
    assert distribution_from_dict({"type": "loguniform", "low": 1e-3, "high": 1}) == Float(
        1e-3, 1, log=True
    )
    assert distribution_from_dict({"type": "integer", "low": 1, "high": 3}) == Int(1, 3)
    assert distribution_from_dict({"type": "choice", "choices": [1, 2]}) == Categorical([1, 2])
    with pytest.raises(SpaceError, match="unknown parameter type 'normal'"):
        distribution_from_dict({"type": "normal", "low": 0, "high": 1})
    with pytest.raises(SpaceError, match="missing 'high'"):
        distribution_from_dict({"type": "float", "low": 0})
    with pytest.raises(SpaceError, match=r"unknown key\(s\) \['lo'\]"):
        distribution_from_dict({"type": "float", "lo": 0, "high": 1})
    with pytest.raises(SpaceError, match="must be a mapping"):
        distribution_from_dict([0, 1])  # type: ignore[arg-type]


def test_compatible_means_same_kind_and_scale():
    assert compatible(Float(0, 1), Float(-5, 5))
    assert not compatible(Float(0, 1), Float(0.1, 1, log=True))
    assert not compatible(Float(0, 1), Float(0, 1, step=0.5))
    assert not compatible(Float(0, 1), Int(0, 1))
    assert compatible(Int(0, 10), Int(2, 20))
    assert not compatible(Int(0, 10), Int(0, 10, step=2))
    assert compatible(Categorical(["a", "b"]), Categorical(["a", "b"]))
    assert not compatible(Categorical(["a", "b"]), Categorical(["b", "a"]))


# -- spaces ----------------------------------------------------------------------------------


def _svm_space() -> Space:
    return Space(
        {
            "kernel": Categorical(["rbf", "poly", "linear"]),
            "gamma": Float(1e-4, 1.0, log=True),
            "degree": Int(2, 4),
            "coef0": Float(0.0, 1.0, step=0.5),
            "C": Float(0.1, 10.0, log=True),
        },
        conditions={
            "gamma": {"kernel": ["rbf", "poly"]},
            "degree": {"kernel": "poly"},
            "coef0": {"degree": [3, 4]},
        },
    )


def test_space_is_an_ordered_mapping():
    space = _svm_space()
    assert list(space) == ["kernel", "gamma", "degree", "coef0", "C"]
    assert space.names == tuple(space)
    assert len(space) == 5
    assert space["degree"] == Int(2, 4)
    assert space.is_conditional
    assert not Space({"x": Float(0, 1)}).is_conditional
    assert space == _svm_space()
    assert hash(space) == hash(_svm_space())
    assert "kernel" in repr(space)


def test_space_accepts_dict_specs_with_conditions():
    space = Space(
        {
            "kernel": {"type": "categorical", "choices": ["rbf", "linear"]},
            "gamma": {
                "type": "float",
                "low": 1e-3,
                "high": 1,
                "log": True,
                "condition": {"kernel": "rbf"},
            },
            "tol": {"type": "float", "low": 0, "high": 1, "when": {"kernel": ["linear"]}},
        }
    )
    assert space["gamma"] == Float(1e-3, 1.0, log=True)
    assert space.conditions == {"gamma": {"kernel": ("rbf",)}, "tol": {"kernel": ("linear",)}}


@pytest.mark.parametrize(
    ("params", "conditions", "message"),
    [
        ({"x": Float(0, 1)}, {"y": {"x": 0.5}}, "condition given for unknown parameter 'y'"),
        ({"x": Float(0, 1)}, {"x": {"z": 1}}, "conditioned on 'z', which is not in the space"),
        (
            {"b": Float(0, 1), "a": Categorical(["u", "v"])},
            {"b": {"a": "u"}},
            "conditioned on 'a', which must be declared before it",
        ),
        ({"a": Categorical(["u"])}, {"a": {"a": "u"}}, "must be declared before it"),
        (
            {"a": Categorical(["u", "v"]), "b": Float(0, 1)},
            {"b": {"a": "w"}},
            "uses 'w', which 'a' can never take",
        ),
        (
            {"a": Int(0, 3), "b": Float(0, 1)},
            {"b": {"a": [1, 7]}},
            "uses 7, which 'a' can never take",
        ),
        ({"a": Int(0, 3), "b": Float(0, 1)}, {"b": {"a": []}}, "allows no value"),
        ({"a": Int(0, 3), "b": Float(0, 1)}, {"b": "a == 1"}, "must be a mapping"),
        ({"a": Int(0, 3), "b": Float(0, 1)}, {"b": {}}, "must be a mapping"),
        ({"": Float(0, 1)}, None, "non-empty strings"),
        ({"x": (0, 1)}, None, "expected Float, Int, Categorical or a dict"),
    ],
)
def test_invalid_spaces_are_refused(params, conditions, message):
    with pytest.raises(SpaceError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Space(params, conditions=conditions)


def test_space_needs_a_mapping():
    with pytest.raises(SpaceError, match="mapping of name"):
        Space([("x", Float(0, 1))])  # type: ignore[arg-type]


def test_is_active_follows_conditions_transitively():
    space = _svm_space()
    assert space.is_active("kernel", {})
    assert space.is_active("C", {})
    assert space.is_active("gamma", {"kernel": "rbf"})
    assert not space.is_active("gamma", {"kernel": "linear"})
    assert not space.is_active("gamma", {})  # parent not decided yet
    assert space.is_active("degree", {"kernel": "poly"})
    assert space.is_active("coef0", {"kernel": "poly", "degree": 3})
    assert not space.is_active("coef0", {"kernel": "poly", "degree": 2})
    # degree's own condition fails, so coef0 is inactive whatever degree says.
    assert not space.is_active("coef0", {"kernel": "rbf", "degree": 3})


def test_condition_on_a_boolean_does_not_match_an_integer():
    space = Space(
        {"flag": Categorical([True, 1]), "x": Float(0, 1)}, conditions={"x": {"flag": True}}
    )
    assert space.is_active("x", {"flag": True})
    assert not space.is_active("x", {"flag": 1})


def test_space_from_unit_drops_inactive_parameters():
    space = _svm_space()
    # kernel index: u in [0, 1/3) -> rbf, [1/3, 2/3) -> poly, [2/3, 1] -> linear
    linear = space.from_unit([0.9, 0.5, 0.5, 0.5, 0.5])
    assert set(linear) == {"kernel", "C"} and linear["kernel"] == "linear"
    rbf = space.from_unit([0.1, 0.5, 0.5, 0.5, 0.5])
    assert set(rbf) == {"kernel", "gamma", "C"}
    assert rbf["gamma"] == pytest.approx(1e-2)
    poly2 = space.from_unit([0.5, 0.5, 0.0, 0.5, 0.5])
    assert set(poly2) == {"kernel", "gamma", "degree", "C"} and poly2["degree"] == 2
    poly4 = space.from_unit([0.5, 0.5, 1.0, 1.0, 0.5])
    assert poly4["degree"] == 4 and poly4["coef0"] == 1.0
    rng = np.random.default_rng(3)
    for u in rng.random((300, 5)):
        params = space.from_unit(u)
        space.validate(params)
        assert all(space.is_active(n, params) for n in params)


def test_validate():
    space = _svm_space()
    space.validate({"kernel": "linear", "C": 1.0})
    space.validate({"kernel": "poly", "gamma": 0.1, "degree": 2, "C": 1.0})
    with pytest.raises(SpaceError, match="'gamma' is missing"):
        space.validate({"kernel": "rbf", "C": 1.0})
    with pytest.raises(SpaceError, match="'C' is missing"):
        space.validate({"kernel": "linear"})
    with pytest.raises(SpaceError, match=r"value 20\.0 for 'C' is outside"):
        space.validate({"kernel": "linear", "C": 20.0})
    with pytest.raises(SpaceError, match="value 3 for 'kernel' is outside"):
        space.validate({"kernel": 3, "C": 1.0})
    with pytest.raises(SpaceError, match=r"unknown parameter\(s\) \['nope'\]"):
        space.validate({"kernel": "linear", "C": 1.0, "nope": 1})


def test_grid_of_discrete_space_is_the_full_product():
    space = Space({"a": Int(1, 3), "b": Categorical(["x", "y"]), "c": Float(0, 1, step=0.5)})
    grid = space.grid()
    assert len(grid) == 3 * 2 * 3
    assert {tuple(p.values()) for p in grid} == {
        (a, b, c) for a in (1, 2, 3) for b in ("x", "y") for c in (0.0, 0.5, 1.0)
    }
    assert grid[0] == {"a": 1, "b": "x", "c": 0.0}  # row-major order


def test_grid_expands_conditional_parameters_only_where_active():
    space = Space(
        {"kernel": Categorical(["rbf", "linear"]), "gamma": Int(1, 3)},
        conditions={"gamma": {"kernel": "rbf"}},
    )
    assert space.grid() == [
        {"kernel": "rbf", "gamma": 1},
        {"kernel": "rbf", "gamma": 2},
        {"kernel": "rbf", "gamma": 3},
        {"kernel": "linear"},
    ]
    nested = _svm_space()
    points = nested.grid(n_points=2)
    # n_points=2 thins every axis with more values to 2: degree -> {2, 4}, coef0 -> {0, 1}.
    # rbf: gamma(2) * C(2); poly: gamma(2) * (degree 2 + degree 4 * coef0(2)) * C(2);
    # linear: C(2)
    assert {p.get("degree") for p in points} == {None, 2, 4}
    assert len(points) == 2 * 2 + 2 * (1 + 2) * 2 + 2
    for p in points:
        nested.validate(p)
    assert len({json.dumps(p, sort_keys=True) for p in points}) == len(points)


def test_grid_with_n_points():
    space = Space({"x": Float(0.0, 1.0), "y": Float(1.0, 100.0, log=True), "n": Int(0, 100)})
    with pytest.raises(SpaceError, match="'x' is a continuous Float"):
        space.grid()
    grid = space.grid(n_points=3)
    xs = sorted({p["x"] for p in grid})
    ys = sorted({p["y"] for p in grid})
    ns = sorted({p["n"] for p in grid})
    assert xs == [0.0, 0.5, 1.0]
    assert ys == pytest.approx([1.0, 10.0, 100.0])
    assert ns == [0, 50, 100]
    assert len(grid) == 27
    # Discrete axes smaller than n_points keep all their values.
    small = Space({"n": Int(0, 2), "s": Float(0, 1, step=0.5)}).grid(n_points=10)
    assert len(small) == 9


def test_space_dict_and_json_round_trip():
    space = _svm_space()
    as_dict = space.to_dict()
    assert as_dict["degree"]["condition"] == {"kernel": ["poly"]}
    assert Space.from_dict(as_dict) == space
    assert Space.from_dict(json.loads(json.dumps(as_dict))) == space
    assert Space.from_json(space.to_json()) == space
    plain = Space({"x": Float(0, 1), "c": Categorical([None, True, 2])})
    assert Space.from_json(plain.to_json()) == plain


def test_space_with_different_conditions_is_not_equal():
    a = Space({"k": Categorical(["u", "v"]), "x": Float(0, 1)})
    b = Space({"k": Categorical(["u", "v"]), "x": Float(0, 1)}, conditions={"x": {"k": "u"}})
    assert a != b
    assert a != {"k": Categorical(["u", "v"]), "x": Float(0, 1)}
