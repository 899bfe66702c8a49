"""The official CEC2017 bound-constrained suite (F1..F30) in NumPy, batched.

Numbering follows the official C code (``cec17_test_func.cpp``), not the
definitions PDF: the C code keeps F2 (shifted and rotated sum of different
powers, dropped from the competition as numerically unstable), so C's F3..F30
are the PDF's F2..F29. Every function adds its bias ``100 * func``.

The implementation reproduces what the official C code computes, including its
quirks, because that is what published CEC2017 numbers were measured on:

* F6 ("Schaffer F7") evaluates on the shifted but *unrotated* vector (the C
  code reads its global ``y`` buffer instead of the rotated ``z``); inside the
  hybrids F14 and F20 the same bug makes the Schaffer part read the *first*
  ``n_k`` entries of the shuffled vector instead of its own group.
* F8 ("non-continuous Rastrigin") rounds a stale buffer that is overwritten
  right after, so it is the plain shifted and rotated Rastrigin function.
* F9 (Levy) uses ``sin(pi * w_i + 1)`` and ``w = 1 + (z - 1) / 4`` without a
  shift by one, so its minimum is at ``z = 1`` (``x = o + M^-1 1``), not at the
  shift vector ``o``.
* The Lunacek bi-Rastrigin part of hybrid F13 flips signs with the first
  entries of the function's shift vector and is not rotated.
* Hybrid group sizes are ``ceil(p_k * D)`` for all but the last group.

Data: the official ``input_data`` files (``shift_data_N.txt``, ``M_N_DD.txt``,
``shuffle_data_N_DD.txt``). The folder is found from the ``data_dir`` argument,
else the ``TUNESMITH_CEC2017_DATA`` environment variable, else
``<repo>/../shared/data/cec2017``; either the folder holding ``input_data`` or
``input_data`` itself may be given. Parsed arrays are cached per
``(func, dim, folder)``.

Which dimensions exist is decided by the official data files: F1..F10 and
F21..F28 for D in {2, 10, 20, 30, 50, 100}; F11..F19, F29, F30 for D in
{10, 30, 50, 100}; F20 for D in {10, 20, 30, 50, 100}. Anything else raises
``ValueError``.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "DATA_ENV",
    "DIMS",
    "FUNCTION_NAMES",
    "LOWER",
    "UPPER",
    "CEC2017Function",
    "available",
    "cec2017",
    "default_data_dir",
]

DATA_ENV = "TUNESMITH_CEC2017_DATA"
DIMS: tuple[int, ...] = (2, 10, 20, 30, 50, 100)
LOWER, UPPER = -100.0, 100.0

FUNCTION_NAMES: dict[int, str] = {
    1: "Shifted and Rotated Bent Cigar",
    2: "Shifted and Rotated Sum of Different Power",
    3: "Shifted and Rotated Zakharov",
    4: "Shifted and Rotated Rosenbrock",
    5: "Shifted and Rotated Rastrigin",
    6: "Shifted and Rotated Schaffer F7 (as in the C code)",
    7: "Shifted and Rotated Lunacek Bi-Rastrigin",
    8: "Shifted and Rotated Non-Continuous Rastrigin (as in the C code)",
    9: "Shifted and Rotated Levy",
    10: "Shifted and Rotated Schwefel",
    **{10 + k: f"Hybrid Function {k}" for k in range(1, 11)},
    **{20 + k: f"Composition Function {k}" for k in range(1, 11)},
}

# Dimensions the official input_data supports (see the module docstring).
_HYBRID_DIMS = (10, 30, 50, 100)


def available(func: int, dim: int) -> bool:
    """Whether the official data define function ``func`` in dimension ``dim``."""
    if isinstance(func, bool) or not isinstance(func, int | np.integer):
        return False
    if not 1 <= func <= 30 or dim not in DIMS:
        return False
    if 11 <= func <= 19 or func in (29, 30):
        return dim in _HYBRID_DIMS
    if func == 20:
        return dim != 2
    return True


def _check(func: int, dim: int) -> None:
    if isinstance(func, bool) or not isinstance(func, int | np.integer) or not 1 <= func <= 30:
        raise ValueError(f"CEC2017 has functions 1..30 (C numbering); got func={func!r}")
    if isinstance(dim, bool) or not isinstance(dim, int | np.integer) or dim not in DIMS:
        raise ValueError(f"CEC2017 is defined for D in {DIMS}; got dim={dim!r}")
    if not available(int(func), int(dim)):
        kind = "hybrid" if 11 <= func <= 20 else "composition (built on hybrids)"
        dims = _HYBRID_DIMS if func != 20 else tuple(d for d in DIMS if d != 2)
        raise ValueError(
            f"CEC2017 F{func} ({kind} function) is not defined for D={dim}: the official "
            f"input_data has no shuffle/rotation data for it; use D in {dims}"
        )


# ----------------------------------------------------------------------------- data


def default_data_dir() -> Path:
    """The CEC2017 data folder: ``$TUNESMITH_CEC2017_DATA``, else ``<repo>/../shared/data/cec2017``."""
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "data" / "cec2017"


def _input_dir(data_dir: str | os.PathLike[str] | None) -> Path:
    base = Path(data_dir) if data_dir is not None else default_data_dir()
    for cand in (base / "input_data", base):
        if (cand / "shift_data_1.txt").is_file():
            return cand.resolve()
    raise FileNotFoundError(
        f"CEC2017 input data not found under {base} (expected shift_data_1.txt there or in "
        f"its input_data/ folder); pass data_dir= or set {DATA_ENV}"
    )


def _read_rows(path: Path) -> list[np.ndarray]:
    if not path.is_file():
        raise FileNotFoundError(f"CEC2017 data file missing: {path}")
    rows = []
    with open(path) as fh:
        for line in fh:
            parts = line.split()
            if parts:
                rows.append(np.array(parts, dtype=np.float64))
    return rows


@dataclass(frozen=True)
class _Data:
    shift: np.ndarray  # (k, D): one row per component (k = 1 for F1..F20)
    rot: np.ndarray  # (k, D, D)
    perm: np.ndarray | None  # (k, D) zero-based shuffles, hybrids only


@functools.cache
def _load(func: int, dim: int, folder: str) -> _Data:
    """Parse the official files exactly as the C code reads them."""
    base = Path(folder)
    n_comp = _N_COMPONENTS.get(func, 1)
    shift_rows = _read_rows(base / f"shift_data_{func}.txt")
    if func < 20:  # C reads the first D numbers of the file
        flat = np.concatenate(shift_rows)
        shift = flat[:dim][None, :]
    else:  # C reads the first D numbers of each line
        shift = np.stack([r[:dim] for r in shift_rows[:n_comp]])
    if shift.shape != (n_comp, dim):
        raise ValueError(f"shift_data_{func}.txt is too short for D={dim}")

    mat = np.concatenate(_read_rows(base / f"M_{func}_D{dim}.txt"))
    if mat.size < n_comp * dim * dim:
        raise ValueError(f"M_{func}_D{dim}.txt holds fewer than {n_comp} {dim}x{dim} matrices")
    rot = np.ascontiguousarray(mat[: n_comp * dim * dim].reshape(n_comp, dim, dim))

    perm = None
    if 11 <= func <= 20 or func in (29, 30):
        flat = np.concatenate(_read_rows(base / f"shuffle_data_{func}_D{dim}.txt"))
        n_perm = 1 if func <= 20 else n_comp
        if flat.size < n_perm * dim:
            raise ValueError(f"shuffle_data_{func}_D{dim}.txt is too short")
        perm = flat[: n_perm * dim].astype(np.int64).reshape(n_perm, dim) - 1
        for row in perm:
            if not np.array_equal(np.sort(row), np.arange(dim)):
                raise ValueError(f"shuffle_data_{func}_D{dim}.txt is not a permutation")
    for arr in (shift, rot, perm):
        if arr is not None:
            arr.setflags(write=False)
    return _Data(shift=shift, rot=rot, perm=perm)


# ------------------------------------------------------------------ basic functions
# Each takes z of shape (n, m), already shifted, scaled and rotated, and returns (n,).

_PI = 3.1415926535897932384626433832795029
_E = 2.7182818284590452353602874713526625


def _bent_cigar(z: np.ndarray) -> np.ndarray:
    return z[:, 0] ** 2 + np.sum(1e6 * z[:, 1:] ** 2, axis=1)


def _discus(z: np.ndarray) -> np.ndarray:
    return 1e6 * z[:, 0] ** 2 + np.sum(z[:, 1:] ** 2, axis=1)


def _ellips(z: np.ndarray) -> np.ndarray:
    m = z.shape[1]
    weights = 10.0 ** (6.0 * np.arange(m) / (m - 1)) if m > 1 else np.full(1, np.nan)
    return (z * z) @ weights


def _sum_diff_pow(z: np.ndarray) -> np.ndarray:
    return np.sum(np.abs(z) ** np.arange(1, z.shape[1] + 1, dtype=np.float64), axis=1)


def _zakharov(z: np.ndarray) -> np.ndarray:
    s1 = np.sum(z * z, axis=1)
    s2 = z @ (0.5 * np.arange(1, z.shape[1] + 1))
    return s1 + s2**2 + s2**4


def _rosenbrock(z: np.ndarray) -> np.ndarray:
    z = z + 1.0
    t1 = z[:, :-1] ** 2 - z[:, 1:]
    t2 = z[:, :-1] - 1.0
    return np.sum(100.0 * t1 * t1 + t2 * t2, axis=1)


def _rastrigin(z: np.ndarray) -> np.ndarray:
    return np.sum(z * z - 10.0 * np.cos(2.0 * _PI * z) + 10.0, axis=1)


def _levy(z: np.ndarray) -> np.ndarray:
    w = 1.0 + (z - 1.0) / 4.0
    term1 = np.sin(_PI * w[:, 0]) ** 2
    wl = w[:, -1]
    term3 = (wl - 1.0) ** 2 * (1.0 + np.sin(2.0 * _PI * wl) ** 2)
    wi = w[:, :-1]
    # sin(pi * w_i + 1), as in the official code
    mid = np.sum((wi - 1.0) ** 2 * (1.0 + 10.0 * np.sin(_PI * wi + 1.0) ** 2), axis=1)
    return term1 + mid + term3


def _fmod500(a: np.ndarray) -> np.ndarray:
    """``fmod(a, 500)`` for ``a >= 0``, bit-identical and ~5x faster than ``np.fmod``.

    ``a - 500 q`` with ``q = floor(a / 500)`` is exact (Sterbenz); ``a / 500`` can only
    round *up* to an integer, which the correction step undoes.
    """
    q = np.floor(a / 500.0)
    r = a - 500.0 * q
    neg = r < 0.0
    if np.any(neg):
        r = np.where(neg, a - 500.0 * (q - 1.0), r)
    return r


def _schwefel(z: np.ndarray) -> np.ndarray:
    # Per coordinate (C code), with z' = z + 420.97 and e = 500 - fmod(|z'|, 500):
    #   z' >  500: -e sin(sqrt(e)) + ((z' - 500) / 100)^2 / m
    #   z' < -500: +e sin(sqrt(e)) + ((z' + 500) / 100)^2 / m
    #   otherwise: -z' sin(sqrt(|z'|))
    # Written with one sin and one sqrt per coordinate (they dominate the cost).
    m = z.shape[1]
    z = z + 4.209687462275036e002
    az = np.abs(z)
    out = az > 500.0
    edge = 500.0 - _fmod500(az)
    root_arg = np.where(out, edge, az)
    coef = np.where(out, np.where(z > 0.0, -edge, edge), -z)
    terms = coef * np.sin(np.sqrt(root_arg))
    penalty = np.where(out, ((az - 500.0) / 100.0) ** 2, 0.0)
    return np.sum(terms, axis=1) + np.sum(penalty, axis=1) / m + 4.189828872724338e002 * m


def _ackley(z: np.ndarray) -> np.ndarray:
    m = z.shape[1]
    s1 = -0.2 * np.sqrt(np.sum(z * z, axis=1) / m)
    s2 = np.sum(np.cos(2.0 * _PI * z), axis=1) / m
    return _E - 20.0 * np.exp(s1) - np.exp(s2) + 20.0


_W_K = np.arange(21, dtype=np.float64)
_W_AK = 0.5**_W_K
_W_CK = 2.0 * _PI * 3.0**_W_K
_W_CONST = float(np.sum(_W_AK * np.cos(_W_CK * 0.5)))


def _weierstrass(z: np.ndarray) -> np.ndarray:
    total = np.sum(np.cos((z + 0.5)[:, :, None] * _W_CK) @ _W_AK, axis=1)
    return total - z.shape[1] * _W_CONST


def _griewank(z: np.ndarray) -> np.ndarray:
    s = np.sum(z * z, axis=1)
    p = np.prod(np.cos(z / np.sqrt(1.0 + np.arange(z.shape[1]))), axis=1)
    return 1.0 + s / 4000.0 - p


_K_POW = 2.0 ** np.arange(1, 33, dtype=np.float64)


def _katsuura(z: np.ndarray) -> np.ndarray:
    m = z.shape[1]
    t = z[:, :, None] * _K_POW
    temp = np.sum(np.abs(t - np.floor(t + 0.5)) / _K_POW, axis=2)
    factors = (1.0 + np.arange(1, m + 1) * temp) ** (10.0 / (1.0 * m) ** 1.2)
    c = 10.0 / m / m
    return np.prod(factors, axis=1) * c - c


def _grie_rosen(z: np.ndarray) -> np.ndarray:
    z = z + 1.0
    nxt = np.roll(z, -1, axis=1)
    t1 = z * z - nxt
    t2 = z - 1.0
    temp = 100.0 * t1 * t1 + t2 * t2
    return np.sum(temp * temp / 4000.0 - np.cos(temp) + 1.0, axis=1)


def _escaffer6(z: np.ndarray) -> np.ndarray:
    nxt = np.roll(z, -1, axis=1)
    r2 = z * z + nxt * nxt
    t1 = np.sin(np.sqrt(r2)) ** 2
    t2 = 1.0 + 0.001 * r2
    return np.sum(0.5 + (t1 - 0.5) / (t2 * t2), axis=1)


def _happycat(z: np.ndarray) -> np.ndarray:
    m = z.shape[1]
    z = z - 1.0
    r2 = np.sum(z * z, axis=1)
    sz = np.sum(z, axis=1)
    return np.abs(r2 - m) ** 0.25 + (0.5 * r2 + sz) / m + 0.5


def _hgbat(z: np.ndarray) -> np.ndarray:
    m = z.shape[1]
    z = z - 1.0
    r2 = np.sum(z * z, axis=1)
    sz = np.sum(z, axis=1)
    return np.abs(r2**2 - sz**2) ** 0.5 + (0.5 * r2 + sz) / m + 0.5


def _schaffer_f7(y: np.ndarray) -> np.ndarray:
    m = y.shape[1]
    s = np.sqrt(y[:, :-1] ** 2 + y[:, 1:] ** 2)
    sq = s**0.5
    tmp = np.sin(50.0 * s**0.2)
    f = np.sum(sq + sq * tmp * tmp, axis=1)
    return f * f / (m - 1) / (m - 1)


def _bi_rastrigin_core(zz: np.ndarray, rot: np.ndarray | None) -> np.ndarray:
    """Lunacek bi-Rastrigin after the sign flip: ``zz = 2 * y * sign(o)``."""
    m = zz.shape[1]
    mu0, d = 2.5, 1.0
    s = 1.0 - 1.0 / (2.0 * math.sqrt(m + 20.0) - 8.2)
    mu1 = -math.sqrt((mu0 * mu0 - d) / s)
    t = zz + mu0
    tmp1 = np.sum((t - mu0) ** 2, axis=1)
    tmp2 = np.sum((t - mu1) ** 2, axis=1) * s + d * m
    c = zz @ rot.T if rot is not None else zz
    tmp = np.sum(np.cos(2.0 * _PI * c), axis=1)
    return np.minimum(tmp1, tmp2) + 10.0 * (m - tmp)


_Kernel = Callable[[np.ndarray], np.ndarray]

# name -> (kernel, shrink rate applied to the shifted vector before rotation)
_BASIC: dict[str, tuple[_Kernel, float]] = {
    "bent_cigar": (_bent_cigar, 1.0),
    "discus": (_discus, 1.0),
    "ellips": (_ellips, 1.0),
    "sum_diff_pow": (_sum_diff_pow, 1.0),
    "zakharov": (_zakharov, 1.0),
    "rosenbrock": (_rosenbrock, 2.048 / 100.0),
    "rastrigin": (_rastrigin, 5.12 / 100.0),
    "levy": (_levy, 1.0),
    "schwefel": (_schwefel, 1000.0 / 100.0),
    "ackley": (_ackley, 1.0),
    "weierstrass": (_weierstrass, 0.5 / 100.0),
    "griewank": (_griewank, 600.0 / 100.0),
    "katsuura": (_katsuura, 5.0 / 100.0),
    "grie_rosen": (_grie_rosen, 5.0 / 100.0),
    "escaffer6": (_escaffer6, 1.0),
    "happycat": (_happycat, 5.0 / 100.0),
    "hgbat": (_hgbat, 5.0 / 100.0),
}

# ------------------------------------------------------------------- function table

_SIMPLE: dict[int, str] = {
    1: "bent_cigar",
    2: "sum_diff_pow",
    3: "zakharov",
    4: "rosenbrock",
    5: "rastrigin",
    8: "rastrigin",  # the C code's step rounding has no effect (see module docstring)
    9: "levy",
    10: "schwefel",
}

# hybrid number k (F10+k) -> (group proportions, basic functions)
_HYBRID: dict[int, tuple[tuple[float, ...], tuple[str, ...]]] = {
    1: ((0.2, 0.4, 0.4), ("zakharov", "rosenbrock", "rastrigin")),
    2: ((0.3, 0.3, 0.4), ("ellips", "schwefel", "bent_cigar")),
    3: ((0.3, 0.3, 0.4), ("bent_cigar", "rosenbrock", "bi_rastrigin")),
    4: ((0.2, 0.2, 0.2, 0.4), ("ellips", "ackley", "schaffer_f7", "rastrigin")),
    5: ((0.2, 0.2, 0.3, 0.3), ("bent_cigar", "hgbat", "rastrigin", "rosenbrock")),
    6: ((0.2, 0.2, 0.3, 0.3), ("escaffer6", "hgbat", "rosenbrock", "schwefel")),
    7: ((0.1, 0.2, 0.2, 0.2, 0.3), ("katsuura", "ackley", "grie_rosen", "schwefel", "rastrigin")),
    8: ((0.2, 0.2, 0.2, 0.2, 0.2), ("ellips", "ackley", "rastrigin", "hgbat", "discus")),
    9: (
        (0.2, 0.2, 0.2, 0.2, 0.2),
        ("bent_cigar", "rastrigin", "grie_rosen", "weierstrass", "escaffer6"),
    ),
    10: (
        (0.1, 0.1, 0.2, 0.2, 0.2, 0.2),
        ("hgbat", "katsuura", "ackley", "rastrigin", "schwefel", "schaffer_f7"),
    ),
}

# composition F20+k -> (components as (basic name or "hfK", multiplier, divisor), deltas)
_Component = tuple[str, float, float]
_COMPOSITION: dict[int, tuple[tuple[_Component, ...], tuple[float, ...]]] = {
    1: (
        (("rosenbrock", 1, 1), ("ellips", 1e4, 1e10), ("rastrigin", 1, 1)),
        (10, 20, 30),
    ),
    2: (
        (("rastrigin", 1, 1), ("griewank", 1000, 100), ("schwefel", 1, 1)),
        (10, 20, 30),
    ),
    3: (
        (("rosenbrock", 1, 1), ("ackley", 1000, 100), ("schwefel", 1, 1), ("rastrigin", 1, 1)),
        (10, 20, 30, 40),
    ),
    4: (
        (
            ("ackley", 1000, 100),
            ("ellips", 1e4, 1e10),
            ("griewank", 1000, 100),
            ("rastrigin", 1, 1),
        ),
        (10, 20, 30, 40),
    ),
    5: (
        (
            ("rastrigin", 1e4, 1e3),
            ("happycat", 1000, 1e3),
            ("ackley", 1000, 100),
            ("discus", 1e4, 1e10),
            ("rosenbrock", 1, 1),
        ),
        (10, 20, 30, 40, 50),
    ),
    6: (
        (
            ("escaffer6", 1e4, 2e7),
            ("schwefel", 1, 1),
            ("griewank", 1000, 100),
            ("rosenbrock", 1, 1),
            ("rastrigin", 1e4, 1e3),
        ),
        (10, 20, 20, 30, 40),
    ),
    7: (
        (
            ("hgbat", 1e4, 1000),
            ("rastrigin", 1e4, 1e3),
            ("schwefel", 1e4, 4e3),
            ("bent_cigar", 1e4, 1e30),
            ("ellips", 1e4, 1e10),
            ("escaffer6", 1e4, 2e7),
        ),
        (10, 20, 30, 40, 50, 60),
    ),
    8: (
        (
            ("ackley", 1000, 100),
            ("griewank", 1000, 100),
            ("discus", 1e4, 1e10),
            ("rosenbrock", 1, 1),
            ("happycat", 1000, 1e3),
            ("escaffer6", 1e4, 2e7),
        ),
        (10, 20, 30, 40, 50, 60),
    ),
    9: ((("hf5", 1, 1), ("hf6", 1, 1), ("hf7", 1, 1)), (10, 30, 50)),
    10: ((("hf5", 1, 1), ("hf8", 1, 1), ("hf9", 1, 1)), (10, 30, 50)),
}

_N_COMPONENTS: dict[int, int] = {20 + k: len(v[0]) for k, v in _COMPOSITION.items()}


def _group_bounds(props: Sequence[float], dim: int) -> list[tuple[int, int]]:
    sizes = [math.ceil(p * dim) for p in props[:-1]]
    sizes.append(dim - sum(sizes))
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int)
    return [(int(s), int(n)) for s, n in zip(starts, sizes)]


def _part_basic(y: np.ndarray, a: int, n: int, kern: _Kernel, rate: float) -> np.ndarray:
    """One hybrid group: the C code calls the basic function unshifted, unrotated."""
    seg = y[:, a : a + n]
    return kern(seg if rate == 1.0 else seg * rate)


def _part_schaffer_f7(y: np.ndarray, n: int) -> np.ndarray:
    """Schaffer F7 group; the C code reads the shuffled vector from index 0 (its bug)."""
    return _schaffer_f7(y[:, :n])


def _part_bi_rastrigin(y: np.ndarray, a: int, n: int, sign: np.ndarray) -> np.ndarray:
    """Bi-Rastrigin group: shrink by 0.1, signs of the first shift entries, no rotation."""
    return _bi_rastrigin_core(2.0 * (y[:, a : a + n] * 0.1) * sign, None)


def _make_hybrid(
    k: int, shift: np.ndarray, rot: np.ndarray, perm: np.ndarray
) -> Callable[[np.ndarray], np.ndarray]:
    """Hybrid function k on raw x: shift, rotate, shuffle, then one basic function per group."""
    props, names = _HYBRID[k]
    dim = shift.shape[0]
    groups = _group_bounds(props, dim)
    rot_t = np.ascontiguousarray(rot.T)
    # The rotation and the shuffle are both linear: fold them into one matrix.
    rot_perm_t = np.ascontiguousarray(rot_t[:, perm])
    parts: list[Callable[[np.ndarray], np.ndarray]] = []
    for name, (start, size) in zip(names, groups):
        if name == "schaffer_f7":
            parts.append(functools.partial(_part_schaffer_f7, n=size))
        elif name == "bi_rastrigin":
            sign = np.where(shift[:size] < 0.0, -1.0, 1.0)
            parts.append(functools.partial(_part_bi_rastrigin, a=start, n=size, sign=sign))
        else:
            kern, rate = _BASIC[name]
            parts.append(functools.partial(_part_basic, a=start, n=size, kern=kern, rate=rate))

    def hybrid(x: np.ndarray) -> np.ndarray:
        y = (x - shift) @ rot_perm_t
        total = parts[0](y)
        for part in parts[1:]:
            total = total + part(y)
        return total

    return hybrid


def _make_composition(k: int, data: _Data) -> Callable[[np.ndarray], np.ndarray]:
    comps, deltas = _COMPOSITION[k]
    n_comp = len(comps)
    shift, rot = data.shift, data.rot
    dim = shift.shape[1]
    delta2 = np.array(deltas, dtype=np.float64) ** 2
    bias = 100.0 * np.arange(n_comp)
    scales = [(mult, div) for _, mult, div in comps]

    if comps[0][0].startswith("hf"):  # F29, F30: compositions of hybrid functions
        perm = data.perm
        assert perm is not None
        hybrids = [
            _make_hybrid(int(name[2:]), shift[i], rot[i], perm[i])
            for i, (name, _, _) in enumerate(comps)
        ]

        def fitness(x: np.ndarray, diff: np.ndarray) -> np.ndarray:
            return np.stack([h(x) for h in hybrids])

    else:
        rates = np.array([_BASIC[name][1] for name, _, _ in comps])[:, None, None]
        rot_t = np.ascontiguousarray(rot.transpose(0, 2, 1))
        kernels = [_BASIC[name][0] for name, _, _ in comps]

        def fitness(x: np.ndarray, diff: np.ndarray) -> np.ndarray:
            z = np.matmul(diff * rates, rot_t)  # (k, n, D): all components in one product
            return np.stack([kern(z[i]) for i, kern in enumerate(kernels)])

    def composition(x: np.ndarray) -> np.ndarray:
        diff = x[None, :, :] - shift[:, None, :]  # (k, n, D)
        fit = fitness(x, diff)
        for i, (mult, div) in enumerate(scales):
            if mult != 1 or div != 1:
                fit[i] = mult * fit[i] / div
        fit += bias[:, None]
        d2 = np.einsum("knd,knd->kn", diff, diff)
        zero = d2 == 0.0
        safe = np.where(zero, 1.0, d2)
        w = np.where(zero, 1e99, (1.0 / safe) ** 0.5 * np.exp(-safe / 2.0 / dim / delta2[:, None]))
        dead = np.max(w, axis=0) == 0.0
        if np.any(dead):
            w[:, dead] = 1.0
        return np.sum(w / np.sum(w, axis=0) * fit, axis=0)

    return composition


def _build(func: int, dim: int, data: _Data) -> Callable[[np.ndarray], np.ndarray]:
    """The raw evaluator of F``func`` (without bias) for (n, D) float arrays."""
    shift, rot = data.shift[0], data.rot[0]
    rot_t = np.ascontiguousarray(rot.T)
    if func in _SIMPLE:
        kern, rate = _BASIC[_SIMPLE[func]]
        if rate == 1.0:
            return lambda x: kern((x - shift) @ rot_t)
        return lambda x: kern(((x - shift) * rate) @ rot_t)
    if func == 6:  # C bug: evaluated on the shifted, unrotated vector
        return lambda x: _schaffer_f7(x - shift)
    if func == 7:
        sign = np.where(shift < 0.0, -1.0, 1.0)
        return lambda x: _bi_rastrigin_core(2.0 * ((x - shift) * 0.1) * sign, rot)
    if func <= 20:
        assert data.perm is not None
        return _make_hybrid(func - 10, shift, rot, data.perm[0])
    return _make_composition(func - 20, data)


# ------------------------------------------------------------------------ public API


class CEC2017Function:
    """One CEC2017 function in one dimension; call it on ``(n, D)`` or ``(D,)`` arrays.

    Attributes:
        func: function number 1..30 (official C numbering).
        dim: dimension D.
        name: human-readable name.
        bounds: the search box ``(-100.0, 100.0)`` in every coordinate.
        optimum: the optimal value, ``100 * func``.
        shift: the shift vector ``o`` (first component's for compositions); the
            minimizer for every function except F9 (see the module docstring).
    """

    bounds: tuple[float, float] = (LOWER, UPPER)

    def __init__(self, func: int, dim: int, data_dir: str | os.PathLike[str] | None = None) -> None:
        _check(func, dim)
        self.func = int(func)
        self.dim = int(dim)
        self.name = f"F{self.func}: {FUNCTION_NAMES[self.func]}"
        self.optimum = 100.0 * self.func
        self._folder = str(_input_dir(data_dir))
        data = _load(self.func, self.dim, self._folder)
        self.shift: np.ndarray = data.shift[0]
        self._raw = _build(self.func, self.dim, data)

    @property
    def lower(self) -> np.ndarray:
        """Lower bounds, shape ``(D,)``."""
        return np.full(self.dim, LOWER)

    @property
    def upper(self) -> np.ndarray:
        """Upper bounds, shape ``(D,)``."""
        return np.full(self.dim, UPPER)

    def __call__(self, x: np.ndarray | Sequence[float]) -> np.ndarray:
        """Evaluate: ``(n, D) -> (n,)``; a single point ``(D,)`` gives a 0-d array."""
        arr = np.asarray(x, dtype=np.float64)
        single = arr.ndim == 1
        if single:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != self.dim:
            raise ValueError(
                f"F{self.func} (D={self.dim}) takes arrays of shape (n, {self.dim}) or "
                f"({self.dim},); got {np.shape(x)}"
            )
        out = self._raw(arr) + self.optimum
        return out[0] if single else out

    def __repr__(self) -> str:
        return f"CEC2017Function(func={self.func}, dim={self.dim})"

    def __reduce__(self) -> tuple[type[CEC2017Function], tuple[int, int, str]]:
        # Pickle by reference (the evaluator holds closures); rebuilt from the cache.
        return (CEC2017Function, (self.func, self.dim, self._folder))


def cec2017(func: int, dim: int, data_dir: str | os.PathLike[str] | None = None) -> CEC2017Function:
    """The official CEC2017 function F``func`` in dimension ``dim`` as a batch callable.

    Args:
        func: 1..30, official C numbering (F2 is the excluded sum of different powers).
        dim: one of 2, 10, 20, 30, 50, 100 (hybrids and F29/F30 only 10, 30, 50, 100).
        data_dir: the CEC2017 data folder (defaults: see :func:`default_data_dir`).

    Returns:
        A :class:`CEC2017Function`; ``f(X)`` maps ``(n, D)`` to ``(n,)`` values
        including the bias ``100 * func``.

    Raises:
        ValueError: unknown function, unsupported dimension, or a (func, dim) pair
            the official data do not define.
        FileNotFoundError: the data folder is missing.
    """
    return CEC2017Function(func, dim, data_dir)
