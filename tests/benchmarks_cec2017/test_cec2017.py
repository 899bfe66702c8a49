"""The NumPy CEC2017 suite against the official C code's values, and its API.

Needs the official data (``../shared/data/cec2017`` or ``$TUNESMITH_CEC2017_DATA``);
skipped with a message when it is absent.
"""

from __future__ import annotations

import json
import pickle
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from benchmarks.cec2017 import DIMS, CEC2017Function, available, cec2017, default_data_dir
from benchmarks.cec2017 import functions as F

DATA = default_data_dir()
NAME = "reference_values_official_C.json"
REFERENCE = DATA / NAME if (DATA / NAME).is_file() else DATA.parent / NAME
try:
    INPUT_DIR: Path | None = F._input_dir(None)
except FileNotFoundError:
    INPUT_DIR = None

pytestmark = pytest.mark.skipif(
    INPUT_DIR is None or not REFERENCE.is_file(),
    reason=f"CEC2017 data not found at {DATA} (set TUNESMITH_CEC2017_DATA)",
)

# The reference file prints 13 significant digits; we observe <= 5e-13 relative error.
RTOL = 1e-10


def _reference() -> dict[tuple[int, int], tuple[np.ndarray, np.ndarray]]:
    rows = json.loads(REFERENCE.read_text())["rows"]
    grouped: dict[tuple[int, int], list[dict]] = defaultdict(list)
    for row in rows:
        grouped[(row["func"], row["D"])].append(row)
    return {
        key: (np.array([r["x"] for r in rs]), np.array([r["f"] for r in rs]))
        for key, rs in grouped.items()
    }


@pytest.fixture(scope="module")
def reference() -> dict[tuple[int, int], tuple[np.ndarray, np.ndarray]]:
    return _reference()


def test_reference_file_covers_the_suite(reference) -> None:
    assert sum(len(f) for _, f in reference.values()) == 600
    assert {func for func, _ in reference} == set(range(1, 31))
    assert {dim for _, dim in reference} == {10, 30, 50, 100}


@pytest.mark.parametrize("func", range(1, 31))
def test_matches_official_c_code(reference, func: int) -> None:
    checked = 0
    for dim in (10, 30, 50, 100):
        x, expected = reference[(func, dim)]
        got = cec2017(func, dim)(x)
        np.testing.assert_allclose(got, expected, rtol=RTOL, err_msg=f"F{func} D={dim}")
        checked += len(expected)
    assert checked == 20


@pytest.mark.parametrize("dim", [10, 100])
def test_batch_equals_single_points(dim: int) -> None:
    rng = np.random.default_rng(dim)
    x = rng.uniform(-100.0, 100.0, size=(7, dim))
    for func in range(1, 31):
        f = cec2017(func, dim)
        batch = f(x)
        assert batch.shape == (7,)
        singles = np.array([f(row) for row in x])
        one_row = np.concatenate([f(row[None, :]) for row in x])
        np.testing.assert_allclose(singles, batch, rtol=1e-12, err_msg=f"F{func}")
        np.testing.assert_allclose(one_row, batch, rtol=1e-12, err_msg=f"F{func}")
        assert np.ndim(f(x[0])) == 0


@pytest.mark.parametrize("dim", DIMS)
def test_value_at_shift_vector_is_the_bias(dim: int) -> None:
    # F9 (Levy as coded officially) has its minimum at z = 1, not at the shift: below.
    for func in range(1, 31):
        if func == 9 or not available(func, dim):
            continue
        f = cec2017(func, dim)
        assert float(f(f.shift)) == pytest.approx(100.0 * func, abs=1e-8), f"F{func}"


@pytest.mark.parametrize("dim", DIMS)
def test_f9_minimum(dim: int) -> None:
    f = cec2017(9, dim)
    rot = F._load(9, dim, str(INPUT_DIR)).rot[0]
    x_star = f.shift + np.linalg.solve(rot, np.ones(dim))  # rotated z = 1
    assert float(f(x_star)) == pytest.approx(900.0, abs=1e-8)
    assert float(f(f.shift)) > 900.5


def test_composition_far_outside_the_box() -> None:
    # All weights underflow to 0 there; the C code then weighs the components equally.
    f = cec2017(22, 10)
    value = float(f(np.full(10, 1e4)))
    assert np.isfinite(value) and value > 2200.0


def test_attributes() -> None:
    f = cec2017(23, 30)
    assert isinstance(f, CEC2017Function)
    assert (f.func, f.dim, f.optimum, f.bounds) == (23, 30, 2300.0, (-100.0, 100.0))
    assert f.shift.shape == (30,)
    assert np.all(np.abs(f.shift) <= 100.0)
    np.testing.assert_array_equal(f.lower, np.full(30, -100.0))
    np.testing.assert_array_equal(f.upper, np.full(30, 100.0))
    assert "Composition Function 3" in f.name
    assert repr(f) == "CEC2017Function(func=23, dim=30)"


def test_data_is_cached() -> None:
    cec2017(12, 10)
    before = F._load.cache_info().hits
    cec2017(12, 10)
    assert F._load.cache_info().hits == before + 1


def test_availability() -> None:
    for dim in DIMS:
        for func in range(1, 11):
            assert available(func, dim)
    for func in [*range(11, 20), 29, 30]:
        assert not available(func, 2)
        assert not available(func, 20)
        assert available(func, 10)
    assert available(20, 20) and not available(20, 2)
    assert available(21, 2) and available(28, 20)
    assert not available(True, 10) and not available(0, 10) and not available(1, 3)


@pytest.mark.parametrize(
    ("func", "dim", "match"),
    [
        (0, 10, "functions 1..30"),
        (31, 10, "functions 1..30"),
        (2.0, 10, "functions 1..30"),
        (True, 10, "functions 1..30"),
        (1, 3, "defined for D in"),
        (1, 0, "defined for D in"),
        (11, 2, "not defined for D=2"),
        (20, 2, "not defined for D=2"),
        (29, 2, "not defined for D=2"),
        (15, 20, "not defined for D=20"),
        (30, 20, "not defined for D=20"),
    ],
)
def test_bad_func_or_dim(func, dim, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        cec2017(func, dim)


def test_bad_input_shape() -> None:
    f = cec2017(1, 10)
    with pytest.raises(ValueError, match=r"shape \(n, 10\)"):
        f(np.zeros((3, 11)))
    with pytest.raises(ValueError, match=r"shape \(n, 10\)"):
        f(np.zeros((2, 3, 10)))


def test_missing_data_dir(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="CEC2017 input data not found"):
        cec2017(1, 10, data_dir=tmp_path)


def test_data_dir_may_be_input_data_itself() -> None:
    assert INPUT_DIR is not None
    f = cec2017(5, 10, data_dir=INPUT_DIR)
    g = cec2017(5, 10, data_dir=INPUT_DIR.parent)
    x = np.linspace(-50.0, 50.0, 10)
    assert float(f(x)) == float(g(x))


def test_opfunu_suite_without_opfunu_is_importable() -> None:
    from benchmarks.cec2017 import opfunu_suite

    assert (2, *range(20, 30)) == opfunu_suite.GEGO_FUNCTIONS
    assert opfunu_suite.OFFICIAL_EQUIVALENT[1] == 1
    assert opfunu_suite.OFFICIAL_EQUIVALENT[2] == 3
    assert opfunu_suite.OFFICIAL_EQUIVALENT[29] == 30


def test_opfunu_deviates_from_official() -> None:
    pytest.importorskip("opfunu")
    from benchmarks.cec2017.opfunu_suite import gego_suite, opfunu_cec2017

    x = np.random.default_rng(0).uniform(-100.0, 100.0, size=(3, 10))
    np.testing.assert_allclose(opfunu_cec2017(1, 10)(x), cec2017(1, 10)(x), rtol=1e-12)
    suite = gego_suite(10)
    assert list(suite) == ["F2", *(f"F{k}" for k in range(20, 30))]
    for f in suite.values():
        assert f.optimum == 100.0 * f.func
        official = cec2017(f.official, 10)(x)
        assert not np.allclose(f(x), official, rtol=1e-3), f.name


def test_pickles() -> None:
    f = cec2017(29, 10)
    g = pickle.loads(pickle.dumps(f))
    x = np.random.default_rng(3).uniform(-100.0, 100.0, size=(4, 10))
    np.testing.assert_array_equal(g(x), f(x))
