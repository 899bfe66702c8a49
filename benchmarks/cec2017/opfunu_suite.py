"""opfunu 1.0.4's CEC2017 classes as batch callables, for reproducing the GEGO paper.

The GEGO authors ran their CEC2017 table on ``opfunu==1.0.4``
(``opfunu.get_functions_based_classname("2017")``), D = 100, and reported opfunu's
F2 and F20..F29. This module exposes exactly those classes, with *opfunu's*
numbering and *opfunu's* optimum value ``100 * index``, so that a reproduction
evaluates the same objective the paper did. opfunu is imported lazily: it is
installed only in the benchmark venv (``bash benchmarks/setup_env.sh`` pins
``opfunu==1.0.4`` in ``.bench-venv``), never as a project dependency.

**These are not the official CEC2017 functions.** For anything other than
reproducing the paper use :func:`benchmarks.cec2017.cec2017`, which is validated
against the official C code. opfunu numbers the suite without the official F2
(opfunu F2..F29 are meant to be official F3..F30) but, for F2..F19, loads the
data files of its *own* index (e.g. opfunu F2, "Zakharov", reads
``shift_data_2``/``M_2_D*``, official F2's data), and several formulas deviate
from the C code (see opfunu issues #39 and #47). We checked this against the
validated implementation (:func:`compare_with_official`; run
``.bench-venv/bin/python -m benchmarks.cec2017.opfunu_suite``: 5 random points in
[-100, 100]^D plus the official shift vector, D = 10, 30, 50, 100):

* only opfunu F1 (Bent Cigar) agrees with its official counterpart (relative
  difference <= 4e-16);
* every other opfunu function F2..F29 differs from the official function it
  stands for, by a maximum relative difference of at least 9e-2 (F9 vs official
  F10) and up to 1e14 (F28 vs official F29); that includes all eleven
  functions of the GEGO table (opfunu F2, F20..F29);
* opfunu's bundled data files hold the same numbers as the official ones, so
  the differences come from the off-by-one data files of F2..F19 (which are
  therefore not even minimal at the official shift vector) and from the
  formulas: fed with opfunu's data, the official formulas reproduce opfunu F3
  (Rosenbrock) and F9 (Schwefel) to 1e-15, F11 to 1e-7 and F13, F17 to 2e-3,
  and none of the others. The compositions F20..F29 read the right data and
  equal their bias at the official first shift vector, but differ elsewhere.

The paper's CEC2017 numbers are therefore numbers on opfunu's variants, not on
CEC2017 as defined by its authors.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "GEGO_FUNCTIONS",
    "OFFICIAL_EQUIVALENT",
    "OPFUNU_VERSION",
    "OpfunuFunction",
    "compare_with_official",
    "gego_suite",
    "opfunu_cec2017",
]

OPFUNU_VERSION = "1.0.4"
#: opfunu indices the GEGO paper reported (opfunu numbering).
GEGO_FUNCTIONS: tuple[int, ...] = (2, *range(20, 30))
#: opfunu index -> the official (C-code) function it is meant to be.
OFFICIAL_EQUIVALENT: dict[int, int] = {k: (1 if k == 1 else k + 1) for k in range(1, 30)}


def _import_opfunu() -> Any:
    try:
        opfunu = importlib.import_module("opfunu")
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"opfunu is not installed; it lives in the benchmark venv only: run "
            f"`bash benchmarks/setup_env.sh` (or `.bench-venv/bin/pip install "
            f"opfunu=={OPFUNU_VERSION}`) and use .bench-venv/bin/python"
        ) from exc
    version = getattr(opfunu, "__version__", "unknown")
    if version != OPFUNU_VERSION:
        warnings.warn(
            f"opfunu {version} is installed; the GEGO protocol used opfunu {OPFUNU_VERSION}",
            stacklevel=3,
        )
    return opfunu


class OpfunuFunction:
    """opfunu's ``F{index}2017`` in dimension ``dim``, evaluated on batches.

    Attributes:
        func: opfunu's index (1..29).
        official: the official function it is meant to be (``OFFICIAL_EQUIVALENT``).
        dim: dimension D.
        name: opfunu's name for it.
        bounds: ``(-100.0, 100.0)`` in every coordinate.
        optimum: opfunu's optimal value, ``100 * func``.
    """

    bounds: tuple[float, float] = (-100.0, 100.0)

    def __init__(self, index: int, dim: int) -> None:
        if isinstance(index, bool) or not isinstance(index, int) or not 1 <= index <= 29:
            raise ValueError(f"opfunu's CEC2017 has F1..F29; got {index!r}")
        opfunu = _import_opfunu()
        cls = getattr(opfunu.cec_based.cec2017, f"F{index}2017")
        self._problem = cls(ndim=dim)
        self.func = index
        self.official = OFFICIAL_EQUIVALENT[index]
        self.dim = int(dim)
        self.name = f"opfunu F{index}: {self._problem.name.split(': ', 1)[-1]}"
        self.optimum = 100.0 * index

    def __call__(self, x: np.ndarray | Sequence[float]) -> np.ndarray:
        """Evaluate: ``(n, D) -> (n,)``; a single point ``(D,)`` gives a 0-d array.

        opfunu evaluates one point at a time, so this loops over the rows.
        """
        arr = np.asarray(x, dtype=np.float64)
        single = arr.ndim == 1
        if single:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != self.dim:
            raise ValueError(
                f"opfunu F{self.func} (D={self.dim}) takes arrays of shape (n, {self.dim}); "
                f"got {np.shape(x)}"
            )
        evaluate = self._problem.evaluate
        out = np.fromiter((evaluate(row) for row in arr), dtype=np.float64, count=len(arr))
        return out[0] if single else out

    def __repr__(self) -> str:
        return f"OpfunuFunction(index={self.func}, dim={self.dim})"


def opfunu_cec2017(index: int, dim: int) -> OpfunuFunction:
    """opfunu 1.0.4's ``F{index}2017`` (opfunu numbering, bias ``100 * index``) as a batch callable."""
    return OpfunuFunction(index, dim)


def gego_suite(dim: int = 100) -> dict[str, OpfunuFunction]:
    """The eleven functions of the GEGO paper's CEC2017 table: opfunu F2 and F20..F29."""
    return {f"F{k}": OpfunuFunction(k, dim) for k in GEGO_FUNCTIONS}


def compare_with_official(
    dims: Sequence[int] = (10, 30, 50, 100),
    n_points: int = 5,
    seed: int = 0,
    data_dir: str | None = None,
) -> list[dict[str, Any]]:
    """Compare every opfunu F1..F29 with its intended official counterpart.

    Evaluates both on ``n_points`` uniform random points of [-100, 100]^D (the same
    points for both) and at the official shift vector.

    Returns:
        One dict per (opfunu index, dim): ``opfunu``, ``official``, ``dim``,
        ``max_rel_diff`` (max over the points of |opfunu - official| / |official|),
        ``agrees`` (``max_rel_diff < 1e-8``), ``opfunu_at_official_shift`` (opfunu's
        value minus its optimum at the official shift vector).
    """
    from .functions import available, cec2017

    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    for dim in dims:
        x = rng.uniform(-100.0, 100.0, size=(n_points, dim))
        for index in range(1, 30):
            official = OFFICIAL_EQUIVALENT[index]
            if not available(official, dim):
                continue
            ref = cec2017(official, dim, data_dir)
            mine = OpfunuFunction(index, dim)
            rel = float(np.max(np.abs(mine(x) - ref(x)) / np.abs(ref(x))))
            rows.append(
                {
                    "opfunu": index,
                    "official": official,
                    "dim": dim,
                    "max_rel_diff": rel,
                    "agrees": rel < 1e-8,
                    "opfunu_at_official_shift": float(mine(ref.shift)) - mine.optimum,
                }
            )
    return rows


if __name__ == "__main__":  # .bench-venv/bin/python -m benchmarks.cec2017.opfunu_suite
    table = compare_with_official()
    print(f"{'opfunu':>7} {'official':>8} {'D':>4} {'max rel diff':>13} {'f(o)-f*':>10}  agrees")
    for r in table:
        print(
            f"{'F' + str(r['opfunu']):>7} {'F' + str(r['official']):>8} {r['dim']:>4} "
            f"{r['max_rel_diff']:>13.2e} {r['opfunu_at_official_shift']:>10.3g}  {r['agrees']}"
        )
    agree = sorted({r["opfunu"] for r in table if r["agrees"]})
    always = [k for k in agree if all(r["agrees"] for r in table if r["opfunu"] == k)]
    print(f"opfunu functions that agree with the official ones in every D: {always}")
