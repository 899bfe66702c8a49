"""Turning objective values into GP targets: scalarization, warping, standardization.

All functions take signed values (lower is better) and keep their order, so the
best trial stays the best target.

Warping choices (``warp=``):

* ``"robust"`` (default): the identity, except for values more than 3 robust
  standard deviations (``IQR / 1.349``) *worse* than the median, which are
  compressed logarithmically (``t + s log1p((y - t) / s)``, slope 1 at the
  threshold ``t``). A diverged run (``1e10``) then counts as "much worse", not as
  the point that defines the scale of every other value, and ordinary objectives
  are left untouched. The good tail is never compressed: there the best values
  often lie far from the bulk of a random start (Ackley, or a loss that a few
  configurations drive near zero), and the model needs their differences at full
  resolution;
* ``"rank"``: rank-Gaussianization ``Phi^-1((rank - 1/2) / n)``; invariant to any
  monotone transform of the objective, at the price of discarding magnitudes;
* ``"none"``: plain standardization.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

__all__ = ["WARPS", "parego_scalarize", "standardize", "warp"]

WARPS = ("robust", "rank", "none")
_ROBUST_K = 3.0


def _robust_compress(y: np.ndarray) -> np.ndarray:
    q1, med, q3 = np.percentile(y, [25.0, 50.0, 75.0])
    s = (q3 - q1) / 1.349
    if not s > 0:
        s = float(np.std(y))
        if not s > 0:
            return y.copy()
    hi = med + _ROBUST_K * s
    out = y.copy()
    up = y > hi
    out[up] = hi + s * np.log1p((y[up] - hi) / s)
    return out


def warp(y: np.ndarray, method: str) -> np.ndarray:
    """Monotone transform of ``(n,)`` values (see the module docstring)."""
    if method == "robust":
        return _robust_compress(y)
    if method == "rank":
        from scipy.stats import rankdata  # deferred: scipy.stats is slow to import

        return np.asarray(ndtri((rankdata(y) - 0.5) / len(y)), dtype=float)
    if method == "none":
        return y.copy()
    raise ValueError(f"unknown warp {method!r}; use one of {WARPS}")


def standardize(y: np.ndarray) -> np.ndarray:
    """Zero mean, unit standard deviation (a constant vector becomes zeros)."""
    sd = float(np.std(y))
    return (y - float(np.mean(y))) / (sd if sd > 0 else 1.0)


def parego_scalarize(Y: np.ndarray, weights: np.ndarray, rho: float = 0.05) -> np.ndarray:
    """ParEGO's augmented Chebyshev scalarization (Knowles, 2006).

    Args:
        Y: ``(n, k)`` signed objective values.
        weights: ``(k,)`` non-negative weights summing to 1.
        rho: weight of the linear term that breaks ties along the Chebyshev contours.

    Returns:
        ``(n,)`` values, lower is better, after normalizing every objective to [0, 1].
    """
    lo = Y.min(axis=0)
    span = Y.max(axis=0) - lo
    span[~(span > 0)] = 1.0
    Yn = (Y - lo) / span
    wy = Yn * weights
    return np.max(wy, axis=1) + rho * wy.sum(axis=1)
