"""Maximize an acquisition function over a mixed continuous/discrete/categorical box.

Following Optuna's GPSampler and BoTorch's ``optimize_acqf``:

1. evaluate the acquisition on ``n_candidates`` scrambled Sobol' points (discrete
   coordinates snapped to allowed values, categorical ones drawn uniformly);
2. pick ``n_starts`` starting points: the best candidate, the caller's seeds (the
   best observed point) and the rest by Boltzmann/roulette sampling of the
   candidates (probability proportional to ``exp(standardized value)``);
3. from every start, alternate (a) an L-BFGS-B run over the continuous
   coordinates (one independent run per start, the evaluations of all runs
   batched: :mod:`.batched_lbfgsb`), with (b) a coordinate sweep over the discrete
   coordinates: every allowed value of small integer/stepped ranges, every choice
   of a categorical, and for large integer ranges (relaxed to continuous in step
   (a), then snapped) the neighbours at 1, 2, 4, ... steps; until a sweep changes
   nothing;
4. return the best point found.

Shapes: ``d`` model coordinates; ``s`` starts; ``m`` candidates.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from tunesmith.samplers._gp.batched_lbfgsb import batched_lbfgsb
from tunesmith.samplers._gp.kernel import FeatureMap
from tunesmith.samplers.base import rows_in
from tunesmith.space import Categorical, Distribution, Float, Int

__all__ = ["Axis", "optimize_acqf"]

#: discrete ranges with at most this many values are searched exhaustively.
MAX_LEVELS = 32
_CHUNK = 4096


@dataclass(frozen=True)
class Axis:
    """How one model coordinate may vary.

    ``kind`` is ``"continuous"`` (unit interval), ``"discrete"`` (integer or stepped
    float, in the unit encoding of its slice centres) or ``"categorical"``
    (choice index).
    """

    dist: Distribution
    kind: str
    n_values: int
    levels: np.ndarray | None = field(default=None, compare=False)

    @classmethod
    def of(cls, dist: Distribution) -> Axis:
        """The axis of a distribution."""
        if isinstance(dist, Categorical):
            return cls(dist, "categorical", dist.n_choices)
        step = dist.step
        if isinstance(dist, Float) and step is None:
            return cls(dist, "continuous", 0)
        assert step is not None
        n = int(round((dist.high - dist.low) / step)) + 1
        levels = None
        if n <= MAX_LEVELS:
            levels = np.asarray(dist.to_unit(dist.low + step * np.arange(n)), dtype=float)
        return cls(dist, "discrete", n, levels)

    @property
    def relaxed(self) -> bool:
        """Whether L-BFGS-B moves this coordinate (continuous, or a large discrete range)."""
        return self.kind == "continuous" or (self.kind == "discrete" and self.levels is None)

    def from_sobol(self, u: np.ndarray) -> np.ndarray:
        """Uniform numbers in [0, 1) -> model coordinates (snapped / choice indices)."""
        if self.kind == "continuous":
            return u
        if self.kind == "categorical":
            return np.asarray(self.dist.from_unit(u), dtype=float)
        return self.snap(u)

    def snap(self, u: np.ndarray) -> np.ndarray:
        """Move unit values of a discrete axis to the centre of the nearest allowed value."""
        if self.kind != "discrete":
            return u
        d = self.dist
        return np.asarray(d.to_unit(d.from_unit(u)), dtype=float)

    def options(self, z: np.ndarray) -> np.ndarray:
        """``(s,)`` current coordinates -> ``(s, V)`` values a coordinate sweep tries."""
        if self.kind == "categorical":
            return np.broadcast_to(np.arange(self.n_values, dtype=float), (len(z), self.n_values))
        if self.levels is not None:
            return np.broadcast_to(self.levels, (len(z), len(self.levels)))
        d = self.dist
        assert isinstance(d, Float | Int) and d.step is not None
        k = np.rint((np.asarray(d.from_unit(z)) - d.low) / d.step)
        steps = 2.0 ** np.arange(int(math.log2(max(self.n_values, 2))) + 1)
        offsets = np.concatenate([[0.0], steps, -steps])
        kk = np.clip(k[:, None] + offsets[None, :], 0, self.n_values - 1)
        return np.asarray(d.to_unit(d.low + kk * d.step), dtype=float)


AcqValue = Callable[[np.ndarray], np.ndarray]
AcqValueGrad = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def _evaluate(acq: AcqValue, fmap: FeatureMap, Z: np.ndarray) -> np.ndarray:
    out = np.empty(len(Z))
    for i in range(0, len(Z), _CHUNK):
        out[i : i + _CHUNK] = acq(fmap.features(Z[i : i + _CHUNK]))
    return np.where(np.isfinite(out), out, -np.inf)


def _sobol(d: int, n: int, rng: np.random.Generator) -> np.ndarray:
    from scipy.stats import qmc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # balance warning when n is not a power of 2
        # An integer seed: SciPy spawns from the generator's SeedSequence, which a
        # generator keyed directly (SamplerContext.rng) does not have.
        seed = int(rng.integers(2**63 - 1))
        return qmc.Sobol(d, scramble=True, seed=seed).random(n)


def _roulette(values: np.ndarray, k: int, exclude: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` distinct indices drawn with probability ~ exp(standardized value)."""
    ok = np.isfinite(values)
    ok[exclude] = False
    idx = np.flatnonzero(ok)
    if k <= 0 or not len(idx):
        return np.empty(0, dtype=np.intp)
    v = values[idx]
    sd = float(np.std(v))
    w = np.exp((v - v.max()) / (sd if sd > 0 else 1.0))
    k = min(k, len(idx))
    return rng.choice(idx, size=k, replace=False, p=w / w.sum())


def _lbfgs(
    acq_grad: AcqValueGrad,
    fmap: FeatureMap,
    S: np.ndarray,
    dims: np.ndarray,
    scale: np.ndarray,
    maxiter: int,
) -> np.ndarray:
    """L-BFGS-B over coordinates ``dims`` from every start in ``S (s, d)``, one
    independent run per start, evaluations batched (:func:`.batched_lbfgsb`).

    The search runs in ``u = z * scale`` (``scale`` = inverse lengthscales of ``dims``):
    the kernel depends on ``z`` through ``z / lengthscale`` only, so this equalizes the
    curvature across coordinates (Optuna's preconditioning) and L-BFGS-B needs fewer
    iterations.
    """
    col = np.empty(fmap.d, dtype=np.intp)
    col[fmap.numeric_dims] = np.arange(len(fmap.numeric_dims))
    fcols = col[dims]

    def fun(idx: np.ndarray, U: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        Z = S[idx].copy()
        Z[:, dims] = U / scale
        v, g = acq_grad(fmap.features(Z))
        gz = g[:, fcols] / scale
        bad = ~np.isfinite(v) | ~np.all(np.isfinite(gz), axis=1)
        if bad.any():  # stop that run without disturbing the others
            v = np.where(bad, -1e10, v)
            gz = np.where(bad[:, None], 0.0, gz)
        return -v, -gz

    bounds = np.column_stack([np.zeros(len(dims)), scale])
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        U, _ = batched_lbfgsb(fun, S[:, dims] * scale, bounds, {"maxiter": maxiter})
    out = S.copy()
    out[:, dims] = np.clip(U / scale, 0.0, 1.0)
    return out


def _sweep(
    acq: AcqValue,
    fmap: FeatureMap,
    axes: Sequence[Axis],
    dims: np.ndarray,
    S: np.ndarray,
    vals: np.ndarray,
) -> np.ndarray:
    """Coordinate search over discrete ``dims``, in place; returns which starts moved."""
    s = len(S)
    moved = np.zeros(s, dtype=bool)
    for j in dims:
        opts = axes[j].options(S[:, j])
        V = opts.shape[1]
        Zr = np.repeat(S, V, axis=0)
        Zr[:, j] = opts.ravel()
        v = _evaluate(acq, fmap, Zr).reshape(s, V)
        k = np.argmax(v, axis=1)
        bv = v[np.arange(s), k]
        better = bv > vals + 1e-10 * np.maximum(1.0, np.abs(vals))
        if better.any():
            S[better, j] = opts[better, k[better]]
            vals[better] = bv[better]
            moved |= better
    return moved


def optimize_acqf(
    acq: AcqValue,
    acq_grad: AcqValueGrad,
    fmap: FeatureMap,
    axes: Sequence[Axis],
    rng: np.random.Generator,
    *,
    n_candidates: int = 1024,
    n_starts: int = 10,
    seeds: np.ndarray | None = None,
    scale: np.ndarray | None = None,
    max_rounds: int = 4,
    maxiter: int = 100,
    exclude: np.ndarray | None = None,
) -> tuple[np.ndarray, float]:
    """Find a point of high acquisition value.

    Args:
        acq: ``(m, p)`` features -> ``(m,)`` values (higher is better).
        acq_grad: ``(m, p)`` features -> values and ``(m, p)`` gradients.
        fmap: model coordinates -> features.
        axes: one :class:`Axis` per model coordinate.
        rng: the only source of randomness.
        n_candidates: Sobol' points evaluated to choose the starts.
        n_starts: local searches.
        seeds: ``(k, d)`` extra starting points (e.g. the best observed point).
        scale: ``(d,)`` inverse lengthscale of every coordinate (for preconditioning
            the continuous search; ones if None).
        max_rounds: alternations of continuous and discrete search per start.
        maxiter: L-BFGS-B iterations per round.
        exclude: ``(k, d)`` points not to return (configurations already evaluated
            or running, for spaces without continuous coordinates): the best point
            of the local searches and candidates that is not one of them is
            returned instead, unless every one of them is.

    Returns:
        ``(z (d,), value)``: the best model coordinates found and their value.
    """
    d = len(axes)
    U = _sobol(d, n_candidates, rng)
    Z = np.empty_like(U)
    for j, ax in enumerate(axes):
        Z[:, j] = ax.from_sobol(U[:, j])
    vals = _evaluate(acq, fmap, Z)
    top = int(np.argmax(vals))
    starts = [Z[top][None, :]]
    if seeds is not None and len(seeds):
        starts.append(np.atleast_2d(np.array(seeds, dtype=float)))
    n_more = n_starts - sum(len(s) for s in starts)
    starts.append(Z[_roulette(vals, n_more, top, rng)])
    S = np.concatenate(starts)

    relaxed = np.array([j for j, a in enumerate(axes) if a.relaxed], dtype=np.intp)
    sc = np.ones(d) if scale is None else np.clip(np.asarray(scale, dtype=float), 1e-3, 1e3)
    swept = np.array([j for j, a in enumerate(axes) if a.kind != "continuous"], dtype=np.intp)
    to_snap = [j for j, a in enumerate(axes) if a.kind == "discrete" and a.relaxed]
    cur = _evaluate(acq, fmap, S)
    todo = np.arange(len(S))  # starts to (re-)optimize over the continuous coordinates
    for _ in range(max_rounds):
        if len(relaxed) and len(todo):
            S_new = _lbfgs(acq_grad, fmap, S[todo], relaxed, sc[relaxed], maxiter)
            for j in to_snap:
                S_new[:, j] = axes[j].snap(S_new[:, j])
            new = _evaluate(acq, fmap, S_new)
            # Snapping relaxed integers can lower the value: keep each start's best.
            better = new > cur[todo]
            S[todo[better]] = S_new[better]
            cur[todo[better]] = new[better]
        if not len(swept):
            break
        todo = np.flatnonzero(_sweep(acq, fmap, axes, swept, S, cur))
        if not len(todo):
            break
    pool = np.concatenate([S, Z])
    pool_vals = np.concatenate([cur, vals])
    if exclude is not None and len(exclude):
        seen = rows_in(pool, np.asarray(exclude, dtype=float), atol=1e-9)
        if not seen.all():
            pool_vals = np.where(seen, -np.inf, pool_vals)
    i = int(np.argmax(pool_vals))  # local-search results first: they win ties
    return pool[i].copy(), float(pool_vals[i])
