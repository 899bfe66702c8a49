"""Independent box-constrained L-BFGS runs whose function evaluations are batched.

Multi-start acquisition optimization wants (a) one quasi-Newton run per start, with
its own curvature memory, line search and stopping test, and (b) one vectorized
evaluation of the acquisition per iteration for all starts (a single point costs
almost as much as ten in NumPy). Minimizing the *sum* over starts with one
optimizer run gives (b) but not (a): the starts share a line search and a stopping
test, and a start near the incumbent, where LogEI is steep and narrow, can stop long
before its own optimum.

This module runs every start's iteration in lock step, as arrays with one row per
start, in the calling thread (driving SciPy's L-BFGS-B once per start from worker
threads would do the same, but a thread hand-off costs up to the interpreter's
switch interval, which was most of the time of a GP step at a few hundred trials).

The method per start is projected L-BFGS:

* direction: the two-loop recursion over the last ``maxcor`` curvature pairs,
  restricted to the *free* variables (those not held at a bound by the gradient);
  steepest descent when that is not a descent direction;
* step: backtracking along the projected path ``clip(x + t d)`` until the Armijo
  condition holds (the first step of a run is scaled to unit length), with a
  safeguarded quadratic interpolation for the next trial step;
* memory: a pair ``(s, y)`` is kept only when ``s.y`` is clearly positive;
* stopping: projected gradient below ``gtol`` (max norm), relative decrease below
  ``ftol``, ``maxiter`` iterations, or a failed line search; each run stops on its
  own and the remaining runs go on.

Every run's steps depend only on its own function values, so the result of a run
does not depend on which other runs share the batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["batched_lbfgsb"]

BatchFun = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

_ARMIJO = 1e-4
_KNOWN = {"maxiter", "maxcor", "gtol", "ftol", "maxls"}


def batched_lbfgsb(
    fun: BatchFun,
    x0: np.ndarray,
    bounds: np.ndarray,
    options: dict[str, Any] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Minimize ``fun`` from every row of ``x0`` with independent box-constrained runs.

    Args:
        fun: ``(idx (b,), X (b, k))`` -> ``((b,) values, (b, k) gradients)``: called
            with the indices and current points of the unfinished runs, in start order.
        x0: ``(s, k)`` starting points (clipped to the bounds).
        bounds: ``(k, 2)`` lower and upper bounds, shared by all runs.
        options: ``maxiter`` (100), ``maxcor`` (10), ``gtol`` (1e-5), ``ftol``
            (2.2e-9), ``maxls`` (20): the meanings of SciPy's L-BFGS-B options.

    Returns:
        ``(x (s, k), f (s,))``: every run's final point and value.

    Raises:
        ValueError: on an unknown option or bounds of the wrong shape.
    """
    opts = dict(options or {})
    unknown = set(opts) - _KNOWN
    if unknown:
        raise ValueError(f"unknown options {sorted(unknown)}; known: {sorted(_KNOWN)}")
    maxiter = int(opts.get("maxiter", 100))
    m = max(1, int(opts.get("maxcor", 10)))
    gtol = float(opts.get("gtol", 1e-5))
    ftol = float(opts.get("ftol", 2.2204460492503131e-09))
    maxls = max(1, int(opts.get("maxls", 20)))

    x = np.array(x0, dtype=float, copy=True, ndmin=2)
    s, k = x.shape
    b = np.asarray(bounds, dtype=float)
    if b.shape != (k, 2):
        raise ValueError(f"bounds must have shape ({k}, 2), got {b.shape}")
    lo, hi = b[:, 0], b[:, 1]
    x = np.clip(x, lo, hi)
    f, g = _call(fun, np.arange(s), x)

    S = np.zeros((s, m, k))  # newest pair last; empty slots are zero with rho = 0
    Y = np.zeros((s, m, k))
    rho = np.zeros((s, m))
    used = np.zeros(s, dtype=np.intp)
    active = np.isfinite(f)
    for _ in range(maxiter):
        pg = np.clip(x - g, lo, hi) - x
        active &= np.max(np.abs(pg), axis=1) > gtol
        rows = np.flatnonzero(active)
        if not len(rows):
            break
        xr, gr = x[rows], g[rows]
        free = ~(((xr <= lo) & (gr > 0)) | ((xr >= hi) & (gr < 0)))
        d = -_two_loop(np.where(free, gr, 0.0), S[rows], Y[rows], rho[rows], free)
        d = np.where(free, d, 0.0)
        slope = np.einsum("ij,ij->i", gr, d)
        steep = ~(slope < 0)
        if steep.any():  # not a descent direction: forget the memory, go downhill
            d[steep] = np.where(free[steep], -gr[steep], 0.0)
            used[rows[steep]] = 0
            rho[rows[steep]] = 0.0
            S[rows[steep]] = 0.0
            Y[rows[steep]] = 0.0
        norm = np.linalg.norm(d, axis=1)
        t = np.where(used[rows] == 0, 1.0 / np.maximum(norm, 1e-300), 1.0)
        t = np.minimum(t, 1.0)
        xn, fn, gn, ok = _line_search(fun, rows, xr, f[rows], gr, d, t, lo, hi, maxls, ftol)

        done = rows[~ok]  # line search failed: keep the current point, stop the run
        active[done] = False
        acc = rows[ok]
        if not len(acc):
            continue
        sv = xn[ok] - x[acc]
        yv = gn[ok] - g[acc]
        sy = np.einsum("ij,ij->i", sv, yv)
        yy = np.einsum("ij,ij->i", yv, yv)
        keep = sy > 1e-10 * np.maximum(yy, 1e-300)
        upd = acc[keep]
        if len(upd):
            S[upd, :-1] = S[upd, 1:]
            Y[upd, :-1] = Y[upd, 1:]
            rho[upd, :-1] = rho[upd, 1:]
            S[upd, -1] = sv[keep]
            Y[upd, -1] = yv[keep]
            rho[upd, -1] = 1.0 / sy[keep]
            used[upd] = np.minimum(used[upd] + 1, m)
        f_old = f[acc]
        x[acc], f[acc], g[acc] = xn[ok], fn[ok], gn[ok]
        small = (f_old - f[acc]) <= ftol * np.maximum(
            np.maximum(np.abs(f_old), np.abs(f[acc])), 1.0
        )
        active[acc[small]] = False
    return x, f


def _call(fun: BatchFun, idx: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    v, gr = fun(idx, X)
    v = np.asarray(v, dtype=float).reshape(len(idx))
    gr = np.asarray(gr, dtype=float).reshape(X.shape)
    return v, gr


def _two_loop(
    q: np.ndarray, S: np.ndarray, Y: np.ndarray, rho: np.ndarray, free: np.ndarray
) -> np.ndarray:
    """``H q`` for every row: the L-BFGS inverse-Hessian product on the free variables.

    ``S``/``Y``: ``(b, m, k)`` pairs, newest last (restricted to ``free`` here);
    ``rho``: ``(b, m)`` with 0 for empty slots (which then change nothing).
    """
    b, m, _ = S.shape
    Sf = S * free[:, None, :]
    Yf = Y * free[:, None, :]
    alpha = np.empty((b, m))
    q = q.copy()
    for i in range(m - 1, -1, -1):
        alpha[:, i] = rho[:, i] * np.einsum("ij,ij->i", Sf[:, i], q)
        q -= alpha[:, i, None] * Yf[:, i]
    sy = np.einsum("ij,ij->i", Sf[:, -1], Yf[:, -1])
    yy = np.einsum("ij,ij->i", Yf[:, -1], Yf[:, -1])
    gamma = np.where((rho[:, -1] > 0) & (sy > 0) & (yy > 0), sy / np.maximum(yy, 1e-300), 1.0)
    r = q * gamma[:, None]
    for i in range(m):
        beta = rho[:, i] * np.einsum("ij,ij->i", Yf[:, i], r)
        r += (alpha[:, i] - beta)[:, None] * Sf[:, i]
    return r


def _line_search(
    fun: BatchFun,
    rows: np.ndarray,
    x: np.ndarray,
    f: np.ndarray,
    g: np.ndarray,
    d: np.ndarray,
    t: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    maxls: int,
    ftol: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Backtracking (Armijo) along the projected path, for all rows at once.

    A row gives up once the decrease its next step predicts falls below ``ftol``
    (relative): at that point the run has converged in the sense of the ``ftol``
    test, and further halvings only chase rounding noise.

    Returns the new points, values and gradients, and which rows found a step.
    """
    n = len(rows)
    slope = np.einsum("ij,ij->i", g, d)
    xn, fn, gn = x.copy(), f.copy(), g.copy()
    ok = np.zeros(n, dtype=bool)
    todo = np.arange(n)
    t = t.copy()
    for _ in range(maxls):
        xt = np.clip(x[todo] + t[todo, None] * d[todo], lo, hi)
        step = xt - x[todo]
        moved = np.any(step != 0.0, axis=1)
        if not moved.all():  # the step underflowed: nothing left to gain on these rows
            todo = todo[moved]
            xt, step = xt[moved], step[moved]
            if not len(todo):
                break
        ft, gt = _call(fun, rows[todo], xt)
        decrease = np.einsum("ij,ij->i", g[todo], step)
        good = (
            np.isfinite(ft) & (ft <= f[todo] + _ARMIJO * decrease) & np.all(np.isfinite(gt), axis=1)
        )
        hit = todo[good]
        xn[hit], fn[hit], gn[hit] = xt[good], ft[good], gt[good]
        ok[hit] = True
        todo, ft, dec, tt = todo[~good], ft[~good], decrease[~good], t[todo[~good]]
        if not len(todo):
            break
        # Minimizer of the quadratic through f(0), the slope and f(t), kept in
        # [0.1 t, 0.5 t]; halving when the value is not finite.
        curv = ft - f[todo] - dec
        with np.errstate(divide="ignore", invalid="ignore"):
            tq = np.where(
                np.isfinite(ft) & (curv > 0),
                -0.5 * dec * tt / np.where(curv > 0, curv, 1.0),
                0.5 * tt,
            )
        t[todo] = np.clip(tq, 0.1 * tt, 0.5 * tt)
        # Give up where even the unprojected step now promises less than ftol.
        hope = -t[todo] * slope[todo] > ftol * np.maximum(np.abs(f[todo]), 1.0)
        todo = todo[hope]
        if not len(todo):
            break
    return xn, fn, gn, ok
