"""The vectorized port of opfunu 1.0.4's CEC2017 F2, F20..F29 against opfunu itself.

The comparisons need opfunu (installed only in ``.bench-venv``) and are skipped
without it; the API checks need only the data files (opfunu's or the official ones)
and are skipped when neither is there.
"""

from __future__ import annotations

import importlib.util
import warnings

import numpy as np
import pytest

from benchmarks.cec2017.opfunu_fast import FUNCTIONS, OpfunuFast, gego_suite_fast

DIMS = (10, 30, 50, 100)
RTOL = 1e-10

HAS_OPFUNU = importlib.util.find_spec("opfunu") is not None


def _data_available() -> bool:
    try:
        OpfunuFast(2, 10)
    except FileNotFoundError:
        return False
    return True


needs_opfunu = pytest.mark.skipif(not HAS_OPFUNU, reason="opfunu not installed (.bench-venv only)")
needs_data = pytest.mark.skipif(not _data_available(), reason="CEC2017 data files not found")


def _reference(index: int, dim: int):  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from benchmarks.cec2017.opfunu_suite import OpfunuFunction

        return OpfunuFunction(index, dim)


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


@needs_opfunu
@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("index", FUNCTIONS)
def test_matches_opfunu_on_random_points(index: int, dim: int) -> None:
    rng = np.random.default_rng(1000 * index + dim)
    x = rng.uniform(-100.0, 100.0, size=(8, dim))
    assert _rel(OpfunuFast(index, dim)(x), _reference(index, dim)(x)) <= RTOL


@needs_opfunu
@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("index", FUNCTIONS)
def test_matches_opfunu_near_the_shift_vectors(index: int, dim: int) -> None:
    """Where optimizers end up: at and around every component's shift vector (this
    also covers opfunu's ``1e99`` weight at ``x = o_i``)."""
    f = OpfunuFast(index, dim)
    rng = np.random.default_rng(index + dim)
    o = f.shift[None, :] if index == 2 else f.shifts[:6]
    x = np.clip(
        np.concatenate([o, o + rng.normal(0.0, 1.0, o.shape), o + rng.normal(0.0, 10.0, o.shape)]),
        -100.0,
        100.0,
    )
    assert _rel(f(x), _reference(index, dim)(x)) <= RTOL


@needs_data
def test_api() -> None:
    suite = gego_suite_fast(10)
    assert list(suite) == [f"F{k}" for k in FUNCTIONS]
    f = suite["F20"]
    assert (f.func, f.dim, f.optimum, f.bounds) == (20, 10, 2000.0, (-100.0, 100.0))
    x = np.random.default_rng(0).uniform(-100, 100, size=(5, 10))
    y = f(x)
    assert y.shape == (5,)
    assert np.ndim(f(x[0])) == 0 and float(f(x[0])) == pytest.approx(y[0], rel=1e-12)
    # a composition equals its bias at its first shift vector (weight 1e99 there)
    assert float(f(f.shifts[0])) == pytest.approx(2000.0)
    with pytest.raises(ValueError):
        f(np.zeros((2, 11)))
    with pytest.raises(ValueError):
        OpfunuFast(3, 10)
    with pytest.raises(ValueError):
        OpfunuFast(28, 20)
