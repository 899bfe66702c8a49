"""A vectorized NumPy port of opfunu 1.0.4's CEC2017 F2 and F20..F29 (the GEGO table).

opfunu evaluates one point at a time (0.04-5.4 ms per point at D = 100), which makes
the GEGO paper's protocol (11 functions x 10 runs x ~120,000 evaluations) cost about
seven CPU-hours. This module computes *the same numbers opfunu computes* -- opfunu's
formulas with all their deviations from the official CEC2017 definitions (see
``opfunu_suite`` and the README) -- on whole batches ``(n, D) -> (n,)``. It is checked
against opfunu itself in ``tests/benchmarks_cec2017/test_opfunu_fast.py`` (random
points of [-100, 100]^D, D = 10, 30, 50, 100, relative agreement <= 1e-10).

It does not import opfunu. The data files are read from opfunu's installed package
(``opfunu/cec_based/data_2017``) when it is installed, else from the official CEC2017
``input_data`` folder (``benchmarks.cec2017.functions.default_data_dir()``): the two
hold the same numbers (checked for every file this module reads, see the README).

What opfunu computes, reproduced here (opfunu numbering, bias ``100 * index``):

* F2 "Zakharov": ``zakharov(M_2 (x - o_2)) + 200`` with official F2's shift/rotation.
* F20..F27: compositions ``sum_i w_i (lambda_i g_i(z_i) + bias_i) / sum_i w_i + bias``
  with ``w_i = |x - o_i|^-1 exp(-|x - o_i|^2 / (2 D sigma_i^2))`` (``1e99`` at
  ``x = o_i``), where each class picks its own (partly inconsistent) shift for
  ``z_i`` -- e.g. F24..F27 rotate ``x - o_1`` for every component but weight by
  ``x - o_i``; F21's Schwefel part is unrotated -- and its own scalings.
* F28, F29: compositions of three of opfunu's hybrid functions (F14/F15/F16 and
  F14/F17/F18 classes with bias 0), each built on the *first* shift vector, the
  i-th rotation block and the i-th shuffle row.
* Component functions as in ``opfunu.utils.operator`` (expanded Schaffer F6 over the
  cyclic pairs, Weierstrass normalised by its value at 0, Katsuura with 32 terms
  and NumPy's round-half-to-even, the CEC2021 modified Schwefel, hybrid group sizes
  ``ceil(p_k D)`` computed in floating point, ...).
"""

from __future__ import annotations

import importlib.util
import itertools
import os
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["FUNCTIONS", "OpfunuFast", "data_dir", "gego_suite_fast", "opfunu_fast"]

#: opfunu indices this module implements (the GEGO paper's CEC2017 table).
FUNCTIONS: tuple[int, ...] = (2, *range(20, 30))
_SUPPORTED_DIMS = {2: (2, 10, 20, 30, 50, 100), 28: (10, 30, 50, 100), 29: (10, 30, 50, 100)}
_DEFAULT_DIMS = (2, 10, 20, 30, 50, 100)
_TWO_PI = 2 * np.pi


# -- data ----------------------------------------------------------------------------------


def data_dir() -> Path:
    """Folder with the CEC2017 data files: opfunu's bundled copy, else the official one."""
    env = os.environ.get("TUNESMITH_OPFUNU_DATA")
    if env:
        return Path(env)
    spec = importlib.util.find_spec("opfunu")
    if spec is not None and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            cand = Path(loc) / "cec_based" / "data_2017"
            if (cand / "shift_data_1.txt").is_file():
                return cand
    from .functions import _input_dir

    return _input_dir(None)


@lru_cache(maxsize=128)
def _load(name: str) -> np.ndarray:
    """A data file as opfunu reads it (``np.genfromtxt``); cached per process."""
    path = data_dir() / f"{name}.txt"
    if not path.is_file():
        raise FileNotFoundError(f"CEC2017 data file missing: {path}")
    arr = np.genfromtxt(path, dtype=float)
    arr.setflags(write=False)
    return arr


# -- component functions on rows: (n, k) -> (n,) ---------------------------------------------


def _sum(a: np.ndarray) -> np.ndarray:
    return np.sum(a, axis=1)


def zakharov(x: np.ndarray) -> np.ndarray:
    t = _sum(0.5 * x)
    return _sum(x**2) + t**2 + t**4


def rosenbrock(x: np.ndarray, shift: float = 0.0) -> np.ndarray:
    x = x + shift
    return _sum(100 * (x[:, :-1] ** 2 - x[:, 1:]) ** 2 + (x[:, :-1] - 1) ** 2)


def elliptic(x: np.ndarray) -> np.ndarray:
    nd = x.shape[1]
    return _sum(10 ** (6.0 * np.arange(nd) / (nd - 1)) * x**2)


def rastrigin(x: np.ndarray) -> np.ndarray:
    return _sum(x**2 - 10 * np.cos(2 * np.pi * x) + 10)


def griewank(x: np.ndarray) -> np.ndarray:
    idx = np.arange(1, x.shape[1] + 1)
    return _sum(x**2) / 4000 - np.prod(np.cos(x / np.sqrt(idx)), axis=1) + 1


def ackley(x: np.ndarray) -> np.ndarray:
    nd = x.shape[1]
    t1, t2 = _sum(x**2), _sum(np.cos(2 * np.pi * x))
    return -20 * np.exp(-0.2 * np.sqrt(t1 / nd)) - np.exp(t2 / nd) + 20 + np.e


def modified_schwefel(x: np.ndarray) -> np.ndarray:
    z = x + 4.209687462275036e002
    nx = z.shape[1]
    hi, lo = z > 500, z < -500
    zm = np.fmod(z, 500)
    za = np.fmod(np.abs(z), 500)
    with np.errstate(invalid="ignore"):
        f_hi = (500.0 - zm) * np.sin(np.sqrt(500.0 - zm)) - ((z - 500.0) / 100.0) ** 2 / nx
        f_lo = (-500.0 + za) * np.sin(np.sqrt(500.0 - za)) - ((z + 500.0) / 100.0) ** 2 / nx
        f_mid = z * np.sin(np.sqrt(np.abs(z)))
    fx = -np.where(hi, f_hi, np.where(lo, f_lo, f_mid))
    return _sum(fx) + 4.189828872724338e002 * nx


def happy_cat(x: np.ndarray, shift: float = 0.0) -> np.ndarray:
    z = x + shift
    nd = z.shape[1]
    t1, t2 = _sum(z), _sum(z**2)
    return np.abs(t2 - nd) ** 0.25 + (0.5 * t2 + t1) / nd + 0.5


def hgbat(x: np.ndarray, shift: float = 0.0) -> np.ndarray:
    z = x + shift
    nd = z.shape[1]
    t1, t2 = _sum(z), _sum(z**2)
    return np.abs(t2**2 - t1**2) ** 0.5 + (0.5 * t2 + t1) / nd + 0.5


def discus(x: np.ndarray) -> np.ndarray:
    return 1e6 * x[:, 0] ** 2 + _sum(x[:, 1:] ** 2)


def bent_cigar(x: np.ndarray) -> np.ndarray:
    return x[:, 0] ** 2 + 10**6 * _sum(x[:, 1:] ** 2)


def expanded_schaffer_f6(x: np.ndarray) -> np.ndarray:
    """opfunu's ``rotated_expanded_scaffer_func``: Schaffer F6 over the cyclic pairs."""
    s = x**2 + np.roll(x, -1, axis=1) ** 2
    return _sum(0.5 + (np.sin(np.sqrt(s)) ** 2 - 0.5) / (1 + 0.001 * s) ** 2)


def expanded_griewank_rosenbrock(x: np.ndarray) -> np.ndarray:
    """opfunu's ``grie_rosen_cec_func`` (``z = x + 1``, cyclic pairs)."""
    z = x + 1.0
    zn = np.roll(z, -1, axis=1)
    t = 100.0 * (z * z - zn) ** 2 + (z - 1.0) ** 2
    return _sum(t**2 / 4000.0 - np.cos(t) + 1.0)


_WA = 0.5 ** np.arange(21)
_WB = _TWO_PI * 3.0 ** np.arange(21)  # opfunu: 2 * pi * b ** k, evaluated left to right
_WC = float(np.sum(_WA * np.cos(np.pi * 3.0 ** np.arange(21))))


def weierstrass_norm(x: np.ndarray) -> np.ndarray:
    """``W(x) - W(0)`` with ``W(x) = sum_i sum_k a^k cos(2 pi b^k (x_i + 0.5)) - D c``."""
    nd = x.shape[1]
    s = np.sum(np.sum(_WA * np.cos(_WB * (x[:, :, None] + 0.5)), axis=2), axis=1)
    s0 = nd * float(np.sum(_WA * np.cos(_WB * 0.5)))
    return (s - nd * _WC) - (s0 - nd * _WC)


_K2 = 2.0 ** np.arange(1, 33)


def katsuura(x: np.ndarray) -> np.ndarray:
    nd = x.shape[1]
    t = _K2 * x[:, :, None]
    temp = np.sum(np.abs(t - np.round(t)) / _K2, axis=2)
    terms = (1 + np.arange(1, nd + 1) * temp) ** (10.0 / nd**1.2)
    return (np.prod(terms, axis=1) - 1) * 10 / nd**2


def _weights(x: np.ndarray, shifts: np.ndarray, sigmas: Sequence[float]) -> np.ndarray:
    """opfunu's ``calculate_weight`` for each component, normalised: ``(n, k)``."""
    nd = x.shape[1]
    cols = []
    for o, sigma in zip(shifts, sigmas, strict=True):
        temp = _sum((x - o) ** 2)
        with np.errstate(divide="ignore"):
            w = np.sqrt(1.0 / temp) * np.exp(-temp / (2 * nd * sigma**2))
        cols.append(np.where(temp != 0, w, 1e99))
    w = np.stack(cols, axis=1)
    return w / np.sum(w, axis=1, keepdims=True)


# -- hybrids (opfunu F14..F18 classes with bias 0, as used inside F28/F29) ------------------


def _groups(p: Sequence[float], nd: int, shuffle: np.ndarray) -> list[np.ndarray]:
    """opfunu's hybrid groups: cut points ``ceil(p_k * D)`` cumulated, last group to D."""
    pa = np.array(p)
    cuts = [0]
    for k in range(len(p) - 1):
        cuts.append(int(np.ceil(pa[k] * nd)) + cuts[-1])
    cuts.append(nd)
    return [shuffle[a:b] for a, b in itertools.pairwise(cuts)]


_HYBRIDS: dict[int, tuple[tuple[float, ...], tuple[Callable[[np.ndarray], np.ndarray], ...]]] = {
    14: (
        (0.2, 0.2, 0.3, 0.3),
        (bent_cigar, lambda z: hgbat(z, -1.0), rastrigin, lambda z: rosenbrock(z, 1.0)),
    ),
    15: (
        (0.2, 0.2, 0.3, 0.3),
        (
            expanded_schaffer_f6,
            lambda z: hgbat(z, -1.0),
            lambda z: rosenbrock(z, 1.0),
            modified_schwefel,
        ),
    ),
    16: (
        (0.1, 0.2, 0.2, 0.2, 0.3),
        (katsuura, ackley, expanded_griewank_rosenbrock, modified_schwefel, rastrigin),
    ),
    17: (
        (0.2, 0.2, 0.2, 0.2, 0.2),
        (elliptic, ackley, rastrigin, lambda z: hgbat(z, -1.0), discus),
    ),
    18: (
        (0.2, 0.2, 0.2, 0.2, 0.2),
        (
            bent_cigar,
            rastrigin,
            expanded_griewank_rosenbrock,
            weierstrass_norm,
            expanded_schaffer_f6,
        ),
    ),
}


# -- the functions ------------------------------------------------------------------------------


class OpfunuFast:
    """opfunu 1.0.4's ``F{index}2017`` at dimension ``dim``, vectorized.

    ``f(X)`` maps ``(n, D) -> (n,)`` (a single point ``(D,)`` gives a 0-d array), bias
    included. Attributes mirror :class:`benchmarks.cec2017.opfunu_suite.OpfunuFunction`:
    ``func``, ``dim``, ``name``, ``bounds = (-100, 100)``, ``optimum = 100 * func``.
    """

    bounds: tuple[float, float] = (-100.0, 100.0)
    _NAMES = {
        2: "Shifted and Rotated Zakharov Function",
        **{k: f"Composition Function {k - 19}" for k in range(20, 30)},
    }

    def __init__(self, index: int, dim: int) -> None:
        if index not in FUNCTIONS:
            raise ValueError(f"opfunu_fast implements opfunu F{FUNCTIONS}; got {index!r}")
        dims = _SUPPORTED_DIMS.get(index, _DEFAULT_DIMS)
        if dim not in dims:
            raise ValueError(f"opfunu F{index} supports D in {dims}; got {dim!r}")
        self.func = int(index)
        self.dim = int(dim)
        self.name = f"opfunu F{index}: {self._NAMES[index]}"
        self.optimum = 100.0 * index
        nd = self.dim
        if index == 2:
            self.shift = _load("shift_data_2").reshape(-1)[:nd]
            self.matrix = _load(f"M_2_D{nd}")
            return
        self.shifts = _load(f"shift_data_{index + 1}")[:, :nd]
        self.matrix = _load(f"M_{index + 1}_D{nd}")[:, :nd]
        self.shift = self.shifts[0]
        if index in (28, 29):
            shuffle = _load(f"shuffle_data_{index + 1}_D{nd}").reshape(10, -1)
            parts = (14, 15, 16) if index == 28 else (14, 17, 18)
            self._hybrids = []
            for i, part in enumerate(parts):
                p, gs = _HYBRIDS[part]
                groups = _groups(p, nd, (np.squeeze(shuffle[i]) - 1).astype(int))
                self._hybrids.append((self.matrix[i * nd : (i + 1) * nd], groups, gs))

    def _rot(self, i: int, v: np.ndarray) -> np.ndarray:
        """Rows ``v`` rotated by the i-th ``D x D`` block: ``(M_i v^T)^T``."""
        nd = self.dim
        return v @ self.matrix[i * nd : (i + 1) * nd].T

    def _compose(
        self, x: np.ndarray, gs: list[np.ndarray], sigmas: Sequence[float], biases: Sequence[float]
    ) -> np.ndarray:
        w = _weights(x, self.shifts[: len(gs)], sigmas)
        g = np.stack([gi + bi for gi, bi in zip(gs, biases, strict=True)], axis=1)
        return np.sum(w * g, axis=1) + self.optimum

    def _evaluate(self, x: np.ndarray) -> np.ndarray:
        k, o = self.func, self.shifts if self.func != 2 else None
        if k == 2:
            return zakharov((x - self.shift) @ self.matrix.T) + self.optimum
        assert o is not None
        d0 = x - o[0]
        rot = self._rot
        if k == 20:
            gs = [
                rosenbrock(rot(0, 2.048 * d0 / 100) + 1),
                1e-6 * elliptic(rot(1, x - o[1])),
                rastrigin(rot(2, x - o[2])),
            ]
            return self._compose(x, gs, (10, 20, 30), (0, 100, 200))
        if k == 21:
            gs = [
                rastrigin(rot(0, d0)),
                10.0 * griewank(rot(1, x - o[1])),
                modified_schwefel(1000 * (x - o[2]) / 100),
            ]
            return self._compose(x, gs, (10, 20, 30), (0, 100, 200))
        if k == 22:
            gs = [
                rosenbrock(rot(0, 2.048 * d0 / 100) + 1),
                10.0 * ackley(rot(1, x - o[1])),
                modified_schwefel(rot(2, x - o[2])),
                rastrigin(rot(3, x - o[3])),
            ]
            return self._compose(x, gs, (10, 20, 30, 40), (0, 100, 200, 300))
        if k == 23:
            gs = [
                10.0 * ackley(rot(0, d0)),
                1e-6 * elliptic(rot(1, x - o[1])),
                10 * griewank(rot(2, x - o[2])),
                rastrigin(rot(3, x - o[3])),
            ]
            return self._compose(x, gs, (10, 20, 30, 40), (0, 100, 200, 300))
        if k == 24:
            gs = [
                10.0 * rastrigin(rot(0, d0)),
                happy_cat(rot(1, d0)),
                10.0 * ackley(rot(2, d0)),
                1e-6 * discus(rot(3, d0)),
                rosenbrock(rot(4, 2.048 * d0 / 100) + 1),
            ]
            return self._compose(x, gs, (10, 20, 30, 40, 50), (0, 100, 200, 300, 400))
        if k == 25:
            gs = [
                1e-26 * expanded_schaffer_f6(rot(0, d0) + 1),
                10 * modified_schwefel(rot(1, 1000 * d0 / 100)),
                1e-6 * griewank(rot(2, 600 * d0 / 100)),
                10 * rosenbrock(rot(3, 2.048 * d0 / 100) + 1),
                5e-4 * rastrigin(rot(4, d0)),
            ]
            return self._compose(x, gs, (10, 20, 20, 30, 40), (0, 100, 200, 300, 400))
        if k == 26:
            gs = [
                10 * hgbat(rot(0, 5 * d0 / 100), -1.0),
                10 * rastrigin(rot(1, 5.12 * d0 / 100)),
                2.5 * modified_schwefel(rot(2, 1000 * d0 / 100)),
                1e-26 * bent_cigar(rot(3, d0)),
                1e-6 * elliptic(rot(4, d0)),
                5e-4 * expanded_schaffer_f6(rot(5, d0) + 1),
            ]
            return self._compose(x, gs, (10, 20, 30, 40, 50, 60), (0, 100, 200, 300, 400, 500))
        if k == 27:
            gs = [
                10 * ackley(rot(0, d0)),
                10 * griewank(rot(1, 600 * d0 / 100)),
                1e-6 * discus(rot(2, d0)),
                1 * rosenbrock(rot(3, 2.048 * d0 / 100) + 1),
                1 * happy_cat(rot(4, 5 * d0 / 100)),
                5e-4 * expanded_schaffer_f6(rot(5, d0) + 1),
            ]
            return self._compose(x, gs, (10, 20, 30, 40, 50, 60), (0, 100, 200, 300, 400, 500))
        # F28, F29: compositions of hybrids, each on the first shift vector.
        gs = []
        for m, groups, funcs in self._hybrids:
            mz = d0 @ m.T
            g_sum = np.zeros(len(x))
            for fn, g in zip(funcs, groups, strict=True):
                g_sum = g_sum + fn(mz[:, g])
            gs.append(g_sum)
        return self._compose(x, gs, (10, 30, 50), (0, 100, 200))

    def __call__(self, x: np.ndarray | Sequence[float]) -> np.ndarray:
        arr = np.asarray(x, dtype=np.float64)
        single = arr.ndim == 1
        if single:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != self.dim:
            raise ValueError(
                f"opfunu F{self.func} (D={self.dim}) takes arrays of shape (n, {self.dim}); "
                f"got {np.shape(x)}"
            )
        out = self._evaluate(arr)
        return out[0] if single else out

    def __repr__(self) -> str:
        return f"OpfunuFast(index={self.func}, dim={self.dim})"


def opfunu_fast(index: int, dim: int) -> OpfunuFast:
    """opfunu 1.0.4's ``F{index}2017`` (index 2 or 20..29), vectorized."""
    return OpfunuFast(index, dim)


def gego_suite_fast(dim: int = 100) -> dict[str, OpfunuFast]:
    """The GEGO table's functions (opfunu F2, F20..F29), vectorized."""
    return {f"F{k}": OpfunuFast(k, dim) for k in FUNCTIONS}
