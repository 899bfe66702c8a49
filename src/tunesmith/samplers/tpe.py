"""Tree-structured Parzen Estimator (TPE): model good and bad trials with kernel densities.

Algorithm (Bergstra et al. 2011; defaults of Watanabe 2023, arXiv 2304.11127):

1. Split the observations of a parameter group into a *good* set (the best
   ``ceil(beta * N)``, at most 25 for one objective) and a *bad* set.
2. Fit a Parzen estimator (a weighted mixture of one kernel per observation plus
   one wide prior kernel) to each: ``l(x)`` on the good set, ``g(x)`` on the bad.
3. Draw ``n_ei_candidates`` points from ``l`` and return the one maximizing
   ``log l(x) - log g(x)`` (maximizing expected improvement).

Everything happens in the unit encoding of :mod:`tunesmith.space`: numeric
parameters map to ``[0, 1]`` (log scale, half-step padding for integer and
stepped ones), categorical parameters are modelled by their index.

Kernels (``K`` = kernels of one estimator, the prior included):

* numeric: normal truncated to ``[0, 1]``, centred on the observation; bandwidth
  from the hyperopt rule (the larger gap to the neighbouring observations; equal
  observations share the mean of what the rule gives their tie group, so the
  result does not depend on the order of trials), clipped to
  ``[max(min_bandwidth_factor, (N + 2) ** -magic_clip_exponent), 1]``. The prior
  kernel is centred at 0.5 with bandwidth 1.
* integer / stepped: the same normal *discretized* over the value's cell:
  sampling is continuous-then-snap and the probability of a value is the kernel's
  mass on its cell. Bandwidths are at least half a cell, so an ordinal integer
  keeps exploring its neighbours once the good set agrees on one value. When
  every cell is narrower than a third of the smallest bandwidth, the cell mass is
  the density at the cell centre times the cell width to well under 1 %; the
  width is the same in ``l`` and ``g`` and cancels, so such dimensions use the
  (cheaper) point density.
* categorical: Optuna's kernel, ``1 + eps`` on the observed choice and ``eps``
  on every choice, normalized, with ``eps = prior_weight / K``. Chosen over
  Aitchison-Aitken because its smoothing shrinks as data accumulates (like the
  numeric bandwidths) without a tuning constant; the prior kernel is uniform.

Multivariate mode uses product kernels (one mixture index shared by all
dimensions of a group), so the log density of ``m`` candidates against ``K``
kernels is one ``(m, 2d + 1) @ (2d + 1, K)`` matrix product plus a log-sum-exp
(in float32 for large ``K``, which is far below any difference that matters).
The bad set is cached per history row and updated incrementally: finished trials
never change, so one more trial inserts one value per dimension into sorted lists
and recomputes only the bandwidths of its neighbours and the kernel constants of
rows whose bandwidth changed. Per proposal the remaining work is a few O(n)
array passes and the O(n * m * d) product.
"""

from __future__ import annotations

import math
import threading
import weakref
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import ndtr, ndtri

from tunesmith.history import History
from tunesmith.samplers._blas import single_threaded_blas
from tunesmith.samplers.base import ObservedSpace, Sampler, SamplerContext, rows_in
from tunesmith.samplers.sobol import SobolSampler
from tunesmith.space import Categorical, Distribution, Float, Int, Space
from tunesmith.trial import TrialState

__all__ = ["TPESampler"]

_COMPLETE = int(TrialState.COMPLETE)
_PRUNED = int(TrialState.PRUNED)
_RUNNING = int(TrialState.RUNNING)
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_GOOD_CAP = 25  # single-objective good-set cap (Optuna, Watanabe)
_ARGS = (
    "n_startup_trials",
    "n_ei_candidates",
    "multivariate",
    "group",
    "gamma",
    "prior_weight",
    "consider_endpoints",
    "min_bandwidth_factor",
    "magic_clip_exponent",
    "ei_weights",
    "constant_liar",
    "avoid_duplicates",
    "seed",
)


class TPESampler(Sampler):
    """Tree-structured Parzen Estimator: sample-efficient search for mixed, conditional spaces.

    The first ``n_startup_trials`` proposals come from a scrambled Sobol' sequence;
    after that each parameter group is modelled by two kernel density estimators
    (good and bad trials) and the candidate with the best density ratio is proposed.

    Args:
        n_startup_trials: finished (complete or pruned) trials before the model is
            used; until then proposals are quasi-random (Sobol').
        n_ei_candidates: candidates drawn from the good density per proposal.
        multivariate: model the parameters of a group jointly (product kernels);
            False models every parameter on its own (classic TPE).
        group: split the parameters into groups that always occur together
            (conditional spaces); with False, the parameters every finished trial
            has form one joint group and the others are modelled one by one.
        gamma: good-set size. A float ``beta`` gives ``ceil(beta * N)`` of the
            ``N`` observations (capped at 25 with one objective); a callable
            ``N -> size`` gives it directly.
        prior_weight: weight of the prior kernel (observations weigh 1 on average).
        consider_endpoints: let the domain ends bound the bandwidth of the extreme
            observations (hyperopt's option; False uses their inner neighbour).
        min_bandwidth_factor: smallest bandwidth, as a fraction of a parameter's range
            (integer and stepped parameters also get at least half a step).
        magic_clip_exponent: the smallest bandwidth is also at least
            ``(N + 2) ** -magic_clip_exponent`` for ``N`` kernels (larger values
            narrow the kernels sooner: more exploitation with few trials).
        ei_weights: weigh good observations by their improvement over the split
            threshold (Watanabe's EI weights) instead of uniformly.
        constant_liar: count running trials as bad observations so that parallel
            workers do not propose the same point.
        avoid_duplicates: in groups whose parameters are all integer, stepped or
            categorical, never propose a configuration that a finished or running
            trial already has while an unseen one is available: the best unseen
            candidate is taken, else the best unseen of a second draw from the
            prior; a repeat is proposed only when both draws find nothing new
            (a nearly exhausted space). Set False for noisy objectives where
            re-evaluating a configuration is informative.
        seed: fixes the proposals; None uses the study's seed.

    Example:
        >>> import tunesmith as ts
        >>> from tunesmith.samplers.tpe import TPESampler
        >>> study = ts.create_study(sampler=TPESampler(seed=0))
        >>> study.optimize(lambda t: (t.suggest_float("x", -5, 5) - 1) ** 2, n_trials=30)
        >>> abs(study.best_params["x"] - 1) < 1
        True
    """

    def __init__(
        self,
        n_startup_trials: int = 10,
        n_ei_candidates: int = 24,
        multivariate: bool = True,
        group: bool = True,
        gamma: float | Callable[[int], int] = 0.15,
        prior_weight: float = 1.0,
        consider_endpoints: bool = False,
        min_bandwidth_factor: float = 0.03,
        magic_clip_exponent: float = 1.5,
        ei_weights: bool = True,
        constant_liar: bool = True,
        avoid_duplicates: bool = True,
        seed: int | None = None,
    ) -> None:
        if isinstance(n_startup_trials, bool) or not isinstance(n_startup_trials, int):
            raise TypeError(f"n_startup_trials must be an int >= 0, got {n_startup_trials!r}")
        if n_startup_trials < 0:
            raise ValueError(f"n_startup_trials must be >= 0, got {n_startup_trials}")
        if isinstance(n_ei_candidates, bool) or not isinstance(n_ei_candidates, int):
            raise TypeError(f"n_ei_candidates must be an int >= 1, got {n_ei_candidates!r}")
        if n_ei_candidates < 1:
            raise ValueError(f"n_ei_candidates must be >= 1, got {n_ei_candidates}")
        if not callable(gamma):
            if isinstance(gamma, bool) or not isinstance(gamma, int | float):
                raise TypeError(f"gamma must be a float in (0, 1] or a callable, got {gamma!r}")
            if not 0.0 < float(gamma) <= 1.0:
                raise ValueError(f"gamma (beta) must be in (0, 1], got {gamma}")
            gamma = float(gamma)
        if not (isinstance(prior_weight, int | float) and prior_weight > 0):
            raise ValueError(
                f"prior_weight must be > 0 (the prior kernel keeps the model from collapsing "
                f"onto a few points), got {prior_weight!r}"
            )
        if not (isinstance(min_bandwidth_factor, int | float) and 0 <= min_bandwidth_factor < 1):
            raise ValueError(
                f"min_bandwidth_factor must be in [0, 1), got {min_bandwidth_factor!r}"
            )
        if not (isinstance(magic_clip_exponent, int | float) and magic_clip_exponent > 0):
            raise ValueError(
                f"magic_clip_exponent must be > 0 (0 would make every kernel as wide as the "
                f"range), got {magic_clip_exponent!r}"
            )
        self.n_startup_trials = n_startup_trials
        self.n_ei_candidates = n_ei_candidates
        self.multivariate = bool(multivariate)
        self.group = bool(group)
        self.gamma = gamma
        self.prior_weight = float(prior_weight)
        self.consider_endpoints = bool(consider_endpoints)
        self.min_bandwidth_factor = float(min_bandwidth_factor)
        self.magic_clip_exponent = float(magic_clip_exponent)
        self.ei_weights = bool(ei_weights)
        self.constant_liar = bool(constant_liar)
        self.avoid_duplicates = bool(avoid_duplicates)
        self.seed = seed
        self._init_caches()

    def _init_caches(self) -> None:
        self._lock = threading.Lock()
        self._sobol = SobolSampler(self.seed)
        self._states: weakref.WeakKeyDictionary[History, _HistoryState] = (
            weakref.WeakKeyDictionary()
        )
        self._layouts: dict[tuple[tuple[str, ...], tuple[Distribution, ...]], _Layout] = {}
        self._observed = ObservedSpace()

    # -- protocol --------------------------------------------------------------
    def relative_space(self, ctx: SamplerContext) -> Space | None:
        # Define-by-run: every parameter seen so far, in name order (so the Sobol'
        # coordinates depend on the set of names, not on the order trials came in).
        return self._observed(ctx)

    def sample_relative(self, ctx: SamplerContext, number: int, space: Space) -> dict[str, Any]:
        h = ctx.history
        with self._lock, single_threaded_blas():
            st = self._state(h)
            fin, run = self._masks(h, number)
            if self._in_startup(fin):
                point = self._sobol._point(ctx.seed, len(space), number)
                out = space.from_unit(point)
                st.remember(number, {k: space[k].to_internal(v) for k, v in out.items()})
                return out
            internal: dict[str, float] = {}
            for names in self._groups(h, space, st, fin):
                dists = tuple(space[n] for n in names)
                got = self._propose(ctx, st, number, names, dists, fin, run)
                if got is not None:
                    internal.update(got)
            st.remember(number, internal)
        return {k: space[k].to_external(v) for k, v in internal.items()}

    def sample_independent(
        self,
        ctx: SamplerContext,
        number: int,
        name: str,
        dist: Distribution,
        params: Mapping[str, Any],
    ) -> Any:
        h = ctx.history
        with self._lock, single_threaded_blas():
            st = self._state(h)
            fin, run = self._masks(h, number)
            got = None
            if not self._in_startup(fin):
                got = self._propose(ctx, st, number, (name,), (dist,), fin, run)
            if got is None:
                # No model (startup, or no finished trial has this parameter): uniform,
                # salted by name so the value does not depend on the order of suggests.
                value = float(dist.from_unit(ctx.uniform(number, name)))
            else:
                value = got[name]
            st.remember(number, {name: value})
        return dist.to_external(value)

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d.update(
            n_startup_trials=self.n_startup_trials,
            n_ei_candidates=self.n_ei_candidates,
            multivariate=self.multivariate,
            group=self.group,
            prior_weight=self.prior_weight,
            consider_endpoints=self.consider_endpoints,
            min_bandwidth_factor=self.min_bandwidth_factor,
            magic_clip_exponent=self.magic_clip_exponent,
            ei_weights=self.ei_weights,
            constant_liar=self.constant_liar,
            avoid_duplicates=self.avoid_duplicates,
        )
        if not callable(self.gamma):  # a custom callable cannot be stored as JSON
            d["gamma"] = self.gamma
        return d

    def __getstate__(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in _ARGS}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_caches()

    # -- internals -------------------------------------------------------------------
    def _state(self, h: History) -> _HistoryState:
        st = self._states.get(h)
        if st is None:
            st = self._states[h] = _HistoryState()
        st.forget_finished(h)
        return st

    def _masks(self, h: History, number: int) -> tuple[np.ndarray, np.ndarray]:
        """Finished (complete or pruned) rows, and running rows other than ``number``."""
        s = h.states[: h.n]
        fin = (s == _COMPLETE) | (s == _PRUNED)
        if not self.constant_liar:
            return fin, np.empty(0, dtype=np.intp)
        run = np.flatnonzero(s == _RUNNING)
        return fin, run[run != number]

    def _in_startup(self, fin: np.ndarray) -> bool:
        return int(np.count_nonzero(fin)) < self.n_startup_trials

    def _layout(self, names: tuple[str, ...], dists: tuple[Distribution, ...]) -> _Layout:
        key = (names, dists)
        lay = self._layouts.get(key)
        if lay is None:
            if len(self._layouts) > 256:
                self._layouts.clear()
            lay = self._layouts[key] = _Layout(names, dists, self.min_bandwidth_factor)
        return lay

    def _groups(
        self, h: History, space: Space, st: _HistoryState, fin: np.ndarray
    ) -> list[tuple[str, ...]]:
        """Parameter groups to model jointly, from which finished trials have which."""
        n_fin, missing = st.missing_counts(h, space, fin)
        observed = [name for name in space if missing[name] < n_fin]
        if not self.multivariate:
            return [(name,) for name in observed]
        complete = tuple(name for name in observed if missing[name] == 0)
        if len(complete) == len(observed):  # no conditional parameter: one group
            return [complete] if complete else []
        if not self.group:
            return ([complete] if complete else []) + [
                (name,) for name in observed if missing[name] > 0
            ]
        rows = np.flatnonzero(fin)
        by_presence: dict[bytes, list[str]] = {}
        for name in observed:
            present = ~np.isnan(h.column(name)[rows])
            by_presence.setdefault(np.packbits(present).tobytes(), []).append(name)
        return [tuple(g) for g in by_presence.values()]

    def _n_below(self, n: int, n_objectives: int) -> int:
        if callable(self.gamma):
            k = int(self.gamma(n))
        else:
            k = math.ceil(self.gamma * n)
            if n_objectives == 1:
                k = min(k, _GOOD_CAP)
        return max(1, min(k, n))

    def _sigma_min(self, n_kernels: int) -> float:
        return max(self.min_bandwidth_factor, (n_kernels + 2.0) ** -self.magic_clip_exponent)

    def _propose(
        self,
        ctx: SamplerContext,
        st: _HistoryState,
        number: int,
        names: tuple[str, ...],
        dists: tuple[Distribution, ...],
        fin: np.ndarray,
        run: np.ndarray,
    ) -> dict[str, float] | None:
        """Internal values proposed for one group, or None without observations."""
        h = ctx.history
        n = h.n
        lay = self._layout(names, dists)
        cols = [h.column(name) for name in names]
        ok = st.presence(names).update(cols, fin)  # finished rows that have the group
        fin_rows = np.flatnonzero(ok)
        if fin_rows.size == 0:
            return None
        k = self._n_below(fin_rows.size, h.n_objectives)
        good_rows, good_w = _split(h, fin_rows, k, self.ei_weights)
        # Constant liar: running trials whose values for the group are known, from the
        # storage or else from what this sampler proposed for them.
        liar_rows, liar_vals = st.liars(run, names, cols)
        bad = ok.copy()
        bad[good_rows] = False
        bad[liar_rows] = True
        liars = np.zeros(n, dtype=bool)
        liars[liar_rows] = True

        def gather(rows: np.ndarray) -> np.ndarray:
            out = np.empty((rows.size, len(cols)))
            for j, col in enumerate(cols):
                out[:, j] = col[rows]
            if liar_rows.size:
                hit = np.flatnonzero(liars[rows])
                if hit.size:
                    out[hit] = liar_vals[np.searchsorted(liar_rows, rows[hit])]
            return out

        good_num, good_cat = lay.unit(gather(good_rows))
        below = _fit_good(
            lay,
            good_num,
            good_cat,
            good_w,
            self.prior_weight,
            self._sigma_min(good_rows.size),
            self.consider_endpoints,
        )
        cache = st.caches.get((names, dists))
        if cache is None:
            cache = st.caches[(names, dists)] = _BadCache(lay)
        above = cache.update(
            gather, bad, liars, self._sigma_min(int(np.count_nonzero(bad))), self.consider_endpoints
        ).mixture(n, self.prior_weight, self.n_ei_candidates)

        rng = ctx.rng(number, "tpe:" + "\x1f".join(names))
        cand_num, cand_cat = below.sample(rng, self.n_ei_candidates, lay)
        feats = lay.features(cand_num, cand_cat)
        prior_lp = feats.prior_log_pdf(lay.n_choices)
        score = below.mixture.log_pdf(feats, prior_lp) - above.log_pdf(feats, prior_lp)
        score = np.where(np.isnan(score), -np.inf, score)
        if self.avoid_duplicates and len(lay.discrete) == len(lay.num):
            seen = gather(np.concatenate([fin_rows, liar_rows]))
            dup = _repeats(lay, cand_num, cand_cat, seen)
            if dup.all():
                # The good density only proposes what was tried: widen to the prior.
                cand_num, cand_cat = lay.uniform(rng, self.n_ei_candidates)
                feats = lay.features(cand_num, cand_cat)
                prior_lp = feats.prior_log_pdf(lay.n_choices)
                score = below.mixture.log_pdf(feats, prior_lp) - above.log_pdf(feats, prior_lp)
                score = np.where(np.isnan(score), -np.inf, score)
                dup = _repeats(lay, cand_num, cand_cat, seen)
            if not dup.all():
                score = np.where(dup, -np.inf, score)
        best = int(np.argmax(score))
        return lay.to_internal(cand_num[best], cand_cat[best])


# ---------------------------------------------------------------------------------
# Splitting observations into good and bad
# ---------------------------------------------------------------------------------
def _split(
    h: History, fin_rows: np.ndarray, k: int, ei_weights: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best finished rows and their kernel weights (mean 1).

    COMPLETE trials rank first (by value; by non-domination rank and crowding with
    several objectives); PRUNED ones follow, ranked the same way by their last
    reported value (those that reported nothing last).
    """
    sign = np.array([-1.0 if d == "maximize" else 1.0 for d in h.directions])
    complete = h.states[fin_rows] == _COMPLETE
    c_rows = fin_rows[complete]
    cv = h.values[c_rows] * sign
    multi = cv.shape[1] > 1
    if c_rows.size >= k:
        if multi:
            return c_rows[_nd_select(cv, k)], np.ones(k)
        v = cv[:, 0]
        if c_rows.size == k:
            return c_rows, np.ones(k)
        part = np.argpartition(v, (k - 1, k))  # the k best, then the best bad one
        idx = part[:k]
        if not ei_weights:
            return c_rows[idx], np.ones(k)
        w = np.maximum(1e-12, v[part[k]] - v[idx])
        return c_rows[idx], w / w.mean()
    p_rows = fin_rows[~complete]
    pv = h.pruned_values[p_rows] * sign
    ok = ~np.isnan(pv).any(axis=1)
    need = k - c_rows.size
    if multi:
        ranked = p_rows[ok][_nd_select(pv[ok], min(need, int(ok.sum())))]
    else:
        ranked = p_rows[ok][np.argsort(pv[ok, 0], kind="stable")]
    ranked = np.concatenate([ranked, p_rows[~ok]])[:need]
    return np.concatenate([c_rows, ranked]), np.ones(k)


def _nd_select(v: np.ndarray, k: int) -> np.ndarray:
    """Indices of ``k`` rows of ``v`` (lower is better) by non-domination rank, the
    last front cut by crowding distance (larger first, then lower index)."""
    n = v.shape[0]
    if k >= n:
        return np.arange(n)
    remaining = np.arange(n)
    chosen: list[np.ndarray] = []
    while k > 0:
        mask = _nondominated(v[remaining])
        front = remaining[mask]
        if front.size <= k:
            chosen.append(front)
            k -= front.size
            remaining = remaining[~mask]
        else:
            cd = _crowding(v[front])
            order = np.lexsort((front, -cd))
            chosen.append(front[order[:k]])
            k = 0
    return np.concatenate(chosen)


def _nondominated(v: np.ndarray) -> np.ndarray:
    """Mask of rows no other row dominates (equal rows do not dominate each other)."""
    if v.shape[1] == 1:
        return v[:, 0] == v[:, 0].min()
    u, inv = np.unique(v, axis=0, return_inverse=True)  # lexicographically sorted
    inv = inv.reshape(-1)
    if u.shape[1] == 2:
        # A distinct point is dominated iff an earlier one (in lexicographic order)
        # has a second objective no larger.
        prefix_min = np.minimum.accumulate(u[:, 1])
        dominated = np.zeros(u.shape[0], dtype=bool)
        dominated[1:] = prefix_min[:-1] <= u[1:, 1]
        return ~dominated[inv]
    m = u.shape[0]
    dominated = np.zeros(m, dtype=bool)
    block = max(1, 4_000_000 // max(1, m * u.shape[1]))
    for start in range(0, m, block):
        blk = u[start : start + block]
        le: np.ndarray = np.all(u[None, :, :] <= blk[:, None, :], axis=2)  # u_j <= blk_i
        idx = np.arange(blk.shape[0])
        le[idx, start + idx] = False  # distinct rows: only itself is equal
        dominated[start : start + block] = le.any(axis=1)
    return ~dominated[inv]


def _crowding(v: np.ndarray) -> np.ndarray:
    n, m = v.shape
    cd = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    for j in range(m):
        order = np.argsort(v[:, j], kind="stable")
        s = v[order, j]
        cd[order[0]] = cd[order[-1]] = np.inf
        span = s[-1] - s[0]
        if span > 0:
            cd[order[1:-1]] += (s[2:] - s[:-2]) / span
    return cd


# ---------------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------------
def _bandwidths(s: np.ndarray, sigma_min: float, consider_endpoints: bool) -> np.ndarray:
    """Hyperopt bandwidths of unit-space centres, one sorted row per dimension.

    Each centre gets the larger gap to its neighbours (the domain ends count as
    neighbours); with ``consider_endpoints=False`` the extreme centres use their
    inner neighbour only. Equal centres all get the mean of what that rule gives
    the members of their tie group (the outer two get their gap to the distinct
    neighbour, the others 0), so the result depends on the set of values and not
    on the order rows were inserted in, and duplicates keep narrow kernels.

    Args:
        s: ``(d, p)`` array, each row sorted ascending.
    """
    d, p = s.shape
    if p == 0:
        return np.empty((d, 0))
    ext = np.empty((d, p + 2))
    ext[:, 0], ext[:, -1] = 0.0, 1.0
    ext[:, 1:-1] = s
    gaps = np.diff(ext, axis=1)  # gaps[:, i]: left gap of i; gaps[:, i + 1]: its right gap
    ties = gaps[:, 1:-1] == 0.0
    if not ties.any():
        sig = np.maximum(gaps[:, :-1], gaps[:, 1:])
        if not consider_endpoints and p >= 2:
            sig[:, 0] = gaps[:, 1]
            sig[:, -1] = gaps[:, -2]
    else:
        idx = np.arange(p)
        first = np.ones((d, p), dtype=bool)
        first[:, 1:] = ~ties
        last = np.ones((d, p), dtype=bool)
        last[:, :-1] = ~ties
        start = np.maximum.accumulate(np.where(first, idx, 0), axis=1)
        end = np.minimum.accumulate(np.where(last, idx, p - 1)[:, ::-1], axis=1)[:, ::-1]
        has_prev, has_next = start > 0, end < p - 1
        prev = np.where(has_prev, np.take_along_axis(s, np.maximum(start - 1, 0), 1), 0.0)
        nxt = np.where(has_next, np.take_along_axis(s, np.minimum(end + 1, p - 1), 1), 1.0)
        left, right = s - prev, nxt - s
        sig = np.maximum(left, right)
        if not consider_endpoints:
            sig = np.where(~has_prev & has_next, right, sig)
            sig = np.where(has_prev & ~has_next, left, sig)
            left = np.where(has_prev, left, 0.0)
            right = np.where(has_next, right, 0.0)
        size = end - start + 1
        sig = np.where(size > 1, (left + right) / size, sig)
    return np.clip(sig, sigma_min, 1.0, out=sig)


def _log_z(mu: np.ndarray | float, sig: np.ndarray | float) -> np.ndarray:
    """Log mass of N(mu, sig) on [0, 1] (mu in [0, 1], so at least ~0.34 for sig <= 1)."""
    return np.log1p(-(ndtr(-np.divide(mu, sig)) + ndtr(np.divide(np.subtract(mu, 1.0), sig))))


def _log_mass(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """log(Phi(hi) - Phi(lo)) for standardized bounds lo < hi (computed in the lower
    tail, where Phi has full relative precision; -inf below about 1e-300)."""
    flip = lo > 0
    a = np.where(flip, -hi, lo)
    b = np.where(flip, -lo, hi)
    with np.errstate(divide="ignore"):
        return np.log(np.maximum(ndtr(b) - ndtr(a), 0.0))


_PRIOR_LOG_Z = float(_log_z(0.5, 1.0))
_OFF = -1e200  # log weight of a row that is not a kernel (finite: no inf*0 in BLAS)
_LSE_CUT = 50.0  # log-sum-exp skips terms below max - _LSE_CUT (relative error K*e^-50)
_SCREEN_MIN = 16384  # candidates x kernels from which float32 evaluation pays off
_OFF32 = np.float32(-1e30)
_LOCAL_MAX = 16  # changes to the bad set handled one by one; more rebuild it


class _Layout:
    """How the parameters of one group map to kernel dimensions.

    ``num``/``cat``: positions (in ``names``) of numeric / categorical parameters;
    ``cont``/``coarse``: indices into ``num`` of dims evaluated by point density /
    by cell mass; ``discrete``: indices into ``num`` of Int and stepped Float dims.
    """

    __slots__ = (
        "cat",
        "coarse",
        "cont",
        "discrete",
        "dists",
        "half_cell",
        "high",
        "is_discrete",
        "low",
        "n_choices",
        "names",
        "num",
        "other",
        "plain",
        "u_log",
        "u_off",
        "u_scale",
    )

    def __init__(
        self, names: tuple[str, ...], dists: tuple[Distribution, ...], min_bw: float
    ) -> None:
        self.names, self.dists = names, dists
        self.num = [i for i, d in enumerate(dists) if not isinstance(d, Categorical)]
        self.cat = [i for i, d in enumerate(dists) if isinstance(d, Categorical)]
        self.discrete: list[int] = []
        coarse = []
        for q, i in enumerate(self.num):
            d = dists[i]
            if not isinstance(d, Categorical) and _step(d) is not None:
                self.discrete.append(q)
                # Fine cells: the cell mass is the centre density times the width.
                if 3.0 * _max_cell_width(d) > min_bw:
                    coarse.append(q)
        self.coarse = np.array(coarse, dtype=np.intp)
        self.cont = np.array([q for q in range(len(self.num)) if q not in coarse], dtype=np.intp)
        # Half a cell, the smallest bandwidth of a discrete kernel (NaN: depends on the
        # value, for log-scale integers).
        self.half_cell = np.zeros(len(self.num))
        for q in self.discrete:
            d = dists[self.num[q]]
            log = isinstance(d, Int) and d.log and not d.single()
            self.half_cell[q] = np.nan if log else 0.5 * _max_cell_width(d)  # type: ignore[arg-type]
        self.n_choices = np.array(
            [len(dists[i].choices) for i in self.cat],  # type: ignore[union-attr]
            dtype=np.intp,
        )
        # to_unit is affine in x (or log x) before clipping: read the map off two points.
        self.u_log = np.zeros(len(self.num), dtype=bool)
        self.u_off = np.zeros(len(self.num))
        self.u_scale = np.zeros(len(self.num))
        for q, i in enumerate(self.num):
            d = dists[i]
            assert not isinstance(d, Categorical)
            lo, hi = float(d.low), float(d.high)
            t_lo, t_hi = (math.log(lo), math.log(hi)) if d.log else (lo, hi)
            u_lo, u_hi = float(d.to_unit(lo)), float(d.to_unit(hi))
            self.u_log[q] = d.log
            self.u_scale[q] = (u_hi - u_lo) / (t_hi - t_lo) if t_hi > t_lo else 0.0
            self.u_off[q] = u_lo - self.u_scale[q] * t_lo
        self.low = np.array([float(dists[i].low) for i in self.num])  # type: ignore[union-attr]
        self.high = np.array([float(dists[i].high) for i in self.num])  # type: ignore[union-attr]
        self.is_discrete = [q in self.discrete for q in range(len(self.num))]
        plain = [
            q
            for q in range(len(self.num))
            if not self.is_discrete[q] and self.u_scale[q] > 0  # a Float without step
        ]
        self.plain = np.array(plain, dtype=np.intp)
        self.other = [q for q in range(len(self.num)) if q not in plain]

    def unit(self, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Internal values (rows, len(names)) -> numeric unit coordinates, choice indices."""
        t = raw[:, self.num]
        if self.u_log.any():
            t[:, self.u_log] = np.log(t[:, self.u_log])
        u = np.clip(self.u_off + self.u_scale * t, 0.0, 1.0)
        c = raw[:, self.cat].astype(np.intp) if self.cat else np.empty((raw.shape[0], 0), np.intp)
        return u, c

    def floor(self, u: np.ndarray, sig: np.ndarray) -> None:
        """Raise bandwidths of discrete kernels (centres ``u``, ``(d, p)``) to half a
        cell, in place: narrower ones would put all their mass on one value, and an
        ordinal integer would stop moving once the good set agrees on a value."""
        for q in self.discrete:
            h = self.half_cell[q]
            if np.isnan(h):
                d = self.dists[self.num[q]]
                x = d.from_unit(u[q])
                h = 0.5 * (d.to_unit(x + 0.5) - d.to_unit(x - 0.5))  # type: ignore[operator]
            np.maximum(sig[q], h, out=sig[q])

    def uniform(self, rng: np.random.Generator, m: int) -> tuple[np.ndarray, np.ndarray]:
        """``m`` points drawn uniformly (numeric unit coordinates, choice indices)."""
        u = rng.random((m, len(self.num)))
        self.snap(u)
        c = np.minimum((rng.random((m, len(self.cat))) * self.n_choices).astype(np.intp),
                       self.n_choices - 1)  # fmt: skip
        return u, c

    def internal(self, u: np.ndarray, c: np.ndarray) -> np.ndarray:
        """Internal values ``(m, len(names))`` of ``m`` candidates."""
        out = np.empty((u.shape[0], len(self.names)))
        for q, i in enumerate(self.num):
            out[:, i] = self.dists[i].from_unit(u[:, q])
        for r, i in enumerate(self.cat):
            out[:, i] = c[:, r]
        return out

    def snap(self, u: np.ndarray) -> None:
        """Move discrete coordinates to the unit position of their value (in place)."""
        for q in self.discrete:
            d = self.dists[self.num[q]]
            u[:, q] = d.to_unit(d.from_unit(u[:, q]))

    def features(self, u: np.ndarray, c: np.ndarray) -> _Features:
        cu = u[:, self.cont] - 0.5  # centred: smaller terms, less rounding in float32
        f = np.empty((u.shape[0], 2 * cu.shape[1] + 1))
        f[:, : cu.shape[1]] = cu * cu
        f[:, cu.shape[1] : -1] = cu
        f[:, -1] = 1.0
        lo = np.empty((u.shape[0], self.coarse.size))
        hi = np.empty_like(lo)
        for r, q in enumerate(self.coarse):
            d = self.dists[self.num[q]]
            half = 0.5 * _step(d)  # type: ignore[operator]
            x = d.from_unit(u[:, q])
            lo[:, r] = d.to_unit(x - half)
            hi[:, r] = d.to_unit(x + half)
        return _Features(f, lo, hi, c)

    def to_internal(self, u: np.ndarray, c: np.ndarray) -> dict[str, float]:
        """Internal values of one candidate (numeric unit coordinates, choice indices)."""
        out: dict[str, float] = {}
        plain = self.plain
        if plain.size:  # Float without step: invert the affine map, all at once
            t = (u[plain] - self.u_off[plain]) / self.u_scale[plain]
            t = np.where(self.u_log[plain], np.exp(t), t)
            x = np.clip(t, self.low[plain], self.high[plain]).tolist()
            for q, v in zip(plain.tolist(), x):
                out[self.names[self.num[q]]] = v
        for q in self.other:
            i = self.num[q]
            out[self.names[i]] = float(self.dists[i].from_unit(u[q]))
        for r, i in enumerate(self.cat):
            out[self.names[i]] = float(c[r])
        return out


def _repeats(lay: _Layout, u: np.ndarray, c: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """Which candidates have exactly the internal values of a row of ``seen``."""
    return rows_in(lay.internal(u, c), seen)


def _step(d: Distribution) -> float | None:
    if isinstance(d, Int):
        return float(d.step)
    if isinstance(d, Float):
        return d.step
    return None


def _max_cell_width(d: Float | Int) -> float:
    if d.single():
        return 1.0
    step = _step(d)
    assert step is not None
    if isinstance(d, Int) and d.log:
        return float(d.to_unit(d.low + 0.5))  # the first cell is the widest
    return float(d.to_unit(d.low + 0.5 * step))


@dataclass(slots=True)
class _Features:
    """Candidates, prepared for density evaluation."""

    f: np.ndarray  # (m, 2 * n_cont + 1): [y**2, y, 1], y = x - 0.5, of continuous dims
    lo: np.ndarray  # (m, n_coarse) unit cell bounds of coarse discrete dims
    hi: np.ndarray
    cat: np.ndarray  # (m, n_cat) choice indices

    def prior_log_pdf(self, n_choices: np.ndarray) -> np.ndarray:
        """Log density of the prior kernel (centre 0.5, bandwidth 1, uniform choices)."""
        dc = (self.f.shape[1] - 1) // 2
        lp = -0.5 * self.f[:, :dc].sum(axis=1) - dc * (_PRIOR_LOG_Z + _HALF_LOG_2PI)
        for r in range(self.lo.shape[1]):
            lp += _log_mass(self.lo[:, r] - 0.5, self.hi[:, r] - 0.5) - _PRIOR_LOG_Z
        return lp - float(np.log(n_choices).sum())


@dataclass(slots=True)
class _Mixture:
    """Observation kernels (product kernels, one row each) plus the prior kernel.

    ``w`` holds per row ``[-A, B, log weight - c]`` for the continuous dims, so that
    ``features.f @ w.T`` is the log of weight times kernel on those dims; ``shift``
    is a log weight shared by all rows. Rows whose last entry is ``_OFF`` are
    placeholders (history rows outside the set) and contribute nothing.
    """

    w: np.ndarray  # (K, 2 * n_cont + 1)
    q_mu: np.ndarray  # (K, n_coarse)
    q_sig: np.ndarray
    q_logz: np.ndarray
    cat_obs: np.ndarray  # (K, n_cat) observed choice indices
    cat_hit: np.ndarray  # (n_cat,) log probability of the observed choice
    cat_miss: np.ndarray  # (n_cat,) log probability of any other choice
    shift: float
    prior_logw: float
    w32: np.ndarray | None = None  # float32 copy of ``w``, to evaluate large sets

    def log_pdf(self, x: _Features, prior_lp: np.ndarray) -> np.ndarray:
        prior = prior_lp + self.prior_logw
        if self.w.shape[0] == 0:
            return prior
        if self.w32 is not None and x.lo.shape[1] == 0:
            return np.logaddexp(self._screened(x) + self.shift, prior)
        lp = x.f @ self.w.T  # (m, K)
        for r in range(x.lo.shape[1]):
            mu, sig = self.q_mu[:, r], self.q_sig[:, r]
            lp += _log_mass((x.lo[:, r, None] - mu) / sig, (x.hi[:, r, None] - mu) / sig)
            lp -= self.q_logz[:, r]
        for r in range(x.cat.shape[1]):
            lp += np.where(
                x.cat[:, r, None] == self.cat_obs[:, r], self.cat_hit[r], self.cat_miss[r]
            )
        return np.logaddexp(_logsumexp_rows(lp) + self.shift, prior)

    def _screened(self, x: _Features) -> np.ndarray:
        """Row-wise log-sum-exp for many kernels, in float32.

        In centred coordinates the rounding error is tiny (measured against float64:
        at most 2e-6 nats with 10 parameters, 3e-5 with 72, for bandwidths of 0.03;
        candidates differ by several nats), and float32 products and exponentials
        are several times cheaper. Only terms within ``_LSE_CUT`` of a row's maximum
        are exponentiated; sums are float64.
        """
        assert self.w32 is not None
        lp = x.f.astype(np.float32) @ self.w32.T
        for r in range(x.cat.shape[1]):
            hit = x.cat[:, r, None] == self.cat_obs[:, r]
            lp += np.where(hit, np.float32(self.cat_hit[r]), np.float32(self.cat_miss[r]))
        mx = lp.max(axis=1)
        idx = np.flatnonzero(lp > (mx - np.float32(_LSE_CUT))[:, None])
        rows = idx // lp.shape[1]
        terms = np.exp(lp.ravel()[idx] - mx[rows]).astype(np.float64)
        # Every row keeps at least its maximum, so each row has a segment.
        total = np.add.reduceat(terms, np.searchsorted(rows, np.arange(lp.shape[0])))
        return np.log(total) + mx.astype(np.float64)


def _logsumexp_rows(lp: np.ndarray) -> np.ndarray:
    """Row-wise log-sum-exp that exponentiates only the terms that matter.

    With narrow kernels, a candidate is within reach of few of thousands of
    kernels; terms more than ``_LSE_CUT`` below the row's maximum add less than
    ``K * exp(-_LSE_CUT)`` relative to the sum and are skipped (exp is the costly
    part, more so for underflowing arguments).
    """
    mx = lp.max(axis=1)
    idx = np.flatnonzero(lp > (mx - _LSE_CUT)[:, None])
    rows = idx // lp.shape[1]
    terms = np.exp(lp.ravel()[idx] - mx[rows])
    return np.log(np.add.reduceat(terms, np.searchsorted(rows, np.arange(lp.shape[0])))) + mx


@dataclass(slots=True)
class _GoodModel:
    """The good set's mixture and what sampling from it needs (the prior last)."""

    mixture: _Mixture
    logw: np.ndarray  # (K + 1,)
    mu: np.ndarray  # (K + 1, n_num)
    sig: np.ndarray
    cat_obs: np.ndarray  # (K + 1, n_cat); the prior's row is unused
    keep: np.ndarray  # (K + 1, n_cat) probability of keeping the observed choice

    def sample(
        self, rng: np.random.Generator, m: int, lay: _Layout
    ) -> tuple[np.ndarray, np.ndarray]:
        p = np.exp(self.logw - self.logw.max())
        comp = rng.choice(p.size, size=m, p=p / p.sum())
        mu, sig = self.mu[comp], self.sig[comp]
        lo = ndtr(-mu / sig)
        hi = ndtr((1.0 - mu) / sig)
        u = lo + rng.random(mu.shape) * (hi - lo)
        x = np.clip(mu + sig * ndtri(u), 0.0, 1.0)
        x = np.where(np.isnan(x), mu, x)
        lay.snap(x)
        n_cat = lay.n_choices.size
        keep = rng.random((m, n_cat)) < self.keep[comp]
        other = np.minimum(
            (rng.random((m, n_cat)) * lay.n_choices).astype(np.intp), lay.n_choices - 1
        )
        return x, np.where(keep, self.cat_obs[comp], other)


def _cat_consts(lay: _Layout, n_obs: int, prior_weight: float) -> tuple[np.ndarray, np.ndarray]:
    """Log probabilities (observed choice, other choice) of Optuna's categorical kernel."""
    eps = prior_weight / (n_obs + 1)
    nc = lay.n_choices.astype(float)
    norm = np.log1p(nc * eps)
    return np.log1p(eps) - norm, math.log(eps) - norm


def _cont_rows(mu: np.ndarray, sig: np.ndarray, logz: np.ndarray) -> np.ndarray:
    """``[-A, B, -c]`` rows of product kernels on continuous dims (centred coordinates:
    ``log N(x) = -A y**2 + B y - c`` with ``y = x - 0.5``)."""
    k, d = mu.shape
    mu = mu - 0.5
    inv = 1.0 / (sig * sig)
    out = np.empty((k, 2 * d + 1))
    out[:, :d] = -0.5 * inv
    out[:, d:-1] = mu * inv
    out[:, -1] = -(0.5 * mu * mu * inv + np.log(sig) + logz).sum(axis=1) - d * _HALF_LOG_2PI
    return out


def _fit_good(
    lay: _Layout,
    num: np.ndarray,
    cat: np.ndarray,
    weights: np.ndarray,
    prior_weight: float,
    sigma_min: float,
    consider_endpoints: bool,
) -> _GoodModel:
    """The good set's model, fitted from scratch (it has at most a few dozen rows)."""
    k, dn = num.shape
    sig = np.empty_like(num)
    if dn:
        order = np.argsort(num, axis=0, kind="stable")
        srt = np.take_along_axis(num, order, 0).T
        bw = _bandwidths(srt, sigma_min, consider_endpoints)
        lay.floor(srt, bw)
        np.put_along_axis(sig, order, bw.T, 0)
    logz = _log_z(num, sig)
    total = float(weights.sum()) + prior_weight
    cont, cq = lay.cont, lay.coarse
    w = _cont_rows(num[:, cont], sig[:, cont], logz[:, cont])
    w[:, -1] += np.log(weights / total)
    hit, miss = _cat_consts(lay, k, prior_weight)
    mix = _Mixture(
        w, num[:, cq], sig[:, cq], logz[:, cq], cat, hit, miss, 0.0, math.log(prior_weight / total)
    )
    keep = np.zeros((k + 1, hit.size))
    keep[:-1] = np.exp(hit) - np.exp(miss)
    return _GoodModel(
        mix,
        np.log(np.append(weights, prior_weight) / total),
        np.vstack([num, np.full((1, dn), 0.5)]),
        np.vstack([sig, np.ones((1, dn))]),
        np.vstack([cat, np.zeros((1, hit.size), dtype=np.intp)]),
        keep,
    )


# ---------------------------------------------------------------------------------
# Incremental state
# ---------------------------------------------------------------------------------
class _HistoryState:
    """What the sampler keeps per history: caches and its own pending proposals."""

    def __init__(self) -> None:
        self.caches: dict[tuple[tuple[str, ...], tuple[Distribution, ...]], _BadCache] = {}
        self._presence: dict[tuple[str, ...], _Presence] = {}
        #: internal values proposed for trials still running, so that the constant liar
        #: knows them before they reach the storage (define-by-run trials write their
        #: parameters at the end, or with the heartbeat).
        self.pending: dict[int, dict[str, float]] = {}
        self._known = np.zeros(0, dtype=bool)  # finished rows counted in _missing
        self._missing: dict[str, int] = {}  # finished rows without the parameter

    def remember(self, number: int, values: Mapping[str, float]) -> None:
        if values:
            self.pending.setdefault(number, {}).update(values)

    def forget_finished(self, h: History) -> None:
        if not self.pending:
            return
        n = h.n
        for number in [k for k in self.pending if k < n and h.states[k] != _RUNNING]:
            del self.pending[number]

    def presence(self, names: tuple[str, ...]) -> _Presence:
        p = self._presence.get(names)
        if p is None:
            p = self._presence[names] = _Presence()
        return p

    def missing_counts(
        self, h: History, names: Iterable[str], fin: np.ndarray
    ) -> tuple[int, dict[str, int]]:
        """Number of finished rows, and per name how many of them lack it (finished
        rows never change, so only rows finished since the last call are read)."""
        n = fin.size
        if self._known.size < n:
            self._known = np.concatenate([self._known, np.zeros(2 * n, dtype=bool)])
        new = np.flatnonzero(fin & ~self._known[:n])
        if new.size:
            few = new.tolist() if new.size <= 8 else None  # usually one: scalar reads
            for name, count in self._missing.items():
                col = h.column(name)
                if few is not None:
                    count += sum(1 for r in few if math.isnan(col[r]))
                else:
                    count += int(np.isnan(col[new]).sum())
                self._missing[name] = count
            self._known[new] = True
        for name in names:
            if name not in self._missing:
                self._missing[name] = int(np.isnan(h.column(name)[fin]).sum())
        return int(np.count_nonzero(fin)), self._missing

    def liars(
        self, run: np.ndarray, names: Sequence[str], cols: Sequence[np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Running rows whose values of ``names`` are all known, and those values."""
        rows: list[int] = []
        vals: list[list[float]] = []
        for r in run.tolist():
            v = [float(c[r]) for c in cols]
            mine = self.pending.get(r, {})
            v = [mine.get(nm, x) if math.isnan(x) else x for nm, x in zip(names, v)]
            if not any(math.isnan(x) for x in v):
                rows.append(r)
                vals.append(v)
        return np.array(rows, dtype=np.intp), np.array(vals).reshape(len(rows), len(cols))


class _Presence:
    """Finished rows that have every parameter of a group, kept incrementally."""

    def __init__(self) -> None:
        self.known = np.zeros(0, dtype=bool)
        self.ok = np.zeros(0, dtype=bool)

    def update(self, cols: Sequence[np.ndarray], fin: np.ndarray) -> np.ndarray:
        n = fin.size
        if self.known.size < n:
            extra = np.zeros(2 * n, dtype=bool)
            self.known = np.concatenate([self.known, extra])
            self.ok = np.concatenate([self.ok, extra])
        new = np.flatnonzero(fin & ~self.known[:n])
        if new.size:
            if new.size <= 8:  # usually one: scalar reads
                for r in new.tolist():
                    self.ok[r] = not any(math.isnan(col[r]) for col in cols)
            else:
                ok = np.ones(new.size, dtype=bool)
                for col in cols:
                    ok &= ~np.isnan(col[new])
                self.ok[new] = ok
            self.known[new] = True
        return self.ok[:n] & fin


class _BadCache:
    """The bad set's kernels of one group, per history row, updated incrementally.

    Per numeric dimension, the bad rows' unit coordinates are kept sorted (lists of
    values, rows and bandwidths); per history row, the kernel centre, bandwidth,
    truncation constant and continuous kernel row. A bandwidth depends only on the
    neighbouring tie groups, so when a few rows enter or leave the set, only the
    groups next to them are recomputed (bisection, O(log K) per change plus a
    list insertion), and kernel constants only for rows whose bandwidth changed.
    Larger batches, and changes of the smallest bandwidth, rebuild everything in
    one vectorized pass. Kernel rows stay at their history row, rows outside the
    set carry the weight ``_OFF``, so evaluation needs no gather.
    """

    def __init__(self, lay: _Layout) -> None:
        self.lay = lay
        dn, dc = len(lay.num), lay.cont.size
        self.cap = 0
        self.k = 0
        self.built = False
        self.member = np.zeros(0, dtype=bool)
        self.liar = np.zeros(0, dtype=bool)
        self.raw = np.empty((0, len(lay.names)))
        self.mu = np.empty((0, dn))
        self.sig = np.empty((0, dn))
        self.logz = np.empty((0, dn))
        self.cat = np.empty((0, len(lay.cat)), dtype=np.intp)
        self.w = np.empty((0, 2 * dc + 1))
        self.w32 = np.empty((0, 2 * dc + 1), dtype=np.float32)
        self.sigma_min = 1.0
        self.consider_endpoints = False
        self.sv: list[list[float]] = [[] for _ in range(dn)]  # sorted unit values
        self.sr: list[list[int]] = [[] for _ in range(dn)]  # their rows
        self.ss: list[list[float]] = [[] for _ in range(dn)]  # their bandwidths

    def _grow(self, n: int) -> None:
        if n <= self.cap:
            return
        cap = max(64, self.cap)
        while cap < n:
            cap *= 2

        def grow(a: np.ndarray, fill: Any) -> np.ndarray:
            out = np.full((cap, *a.shape[1:]), fill, dtype=a.dtype)
            out[: a.shape[0]] = a
            return out

        old = self.cap
        self.member = grow(self.member, False)
        self.liar = grow(self.liar, False)
        self.raw = grow(self.raw, np.nan)
        self.mu = grow(self.mu, 0.5)  # placeholders stay finite
        self.sig = grow(self.sig, 1.0)
        self.logz = grow(self.logz, 0.0)
        self.cat = grow(self.cat, 0)
        self.w = grow(self.w, 0.0)
        self.w[old:, -1] = _OFF
        self.w32 = grow(self.w32, 0.0)
        self.w32[old:, -1] = _OFF32
        self.cap = cap

    def update(
        self,
        gather: Callable[[np.ndarray], np.ndarray],
        bad: np.ndarray,
        liars: np.ndarray,
        sigma_min: float,
        consider_endpoints: bool,
    ) -> _BadCache:
        """Make the cache describe rows ``bad``; ``gather(rows)`` gives their internal
        values, ``liars`` marks rows of running trials."""
        n = bad.size
        self._grow(n)
        old = self.member[:n]
        removed = old & ~bad
        added = bad & ~old
        # Rows of running trials may change value (the liar used this sampler's
        # proposal and the objective took another); finished rows never change.
        maybe = np.flatnonzero(old & bad & self.liar[:n])
        if maybe.size:
            changed = maybe[(gather(maybe) != self.raw[maybe]).any(axis=1)]
            removed[changed] = True
            added[changed] = True
        add_rows = np.flatnonzero(added)
        rem_rows = np.flatnonzero(removed)
        dn = len(self.lay.num)
        local = (
            self.built
            and sigma_min == self.sigma_min
            and consider_endpoints == self.consider_endpoints
            and add_rows.size + rem_rows.size <= _LOCAL_MAX
        )
        dirty: list[int] = []
        if local:
            for q in range(dn):
                for r in rem_rows.tolist():
                    self._remove(q, r, float(self.mu[r, q]), dirty)
        self.w[rem_rows, -1] = _OFF
        self.w32[rem_rows, -1] = _OFF32
        if add_rows.size:
            vals = gather(add_rows)
            self.raw[add_rows] = vals
            u, c = self.lay.unit(vals)
            self.mu[add_rows] = u
            self.cat[add_rows] = c
        self.member[:n] = bad
        self.liar[:n] = liars & bad
        self.k = int(np.count_nonzero(bad))
        self.sigma_min, self.consider_endpoints = sigma_min, consider_endpoints
        if local:
            for q in range(dn):
                for r in add_rows.tolist():
                    self._insert(q, r, float(self.mu[r, q]), dirty)
            dirty_rows = np.union1d(add_rows, np.array(dirty, dtype=np.intp))
            dirty_rows = dirty_rows[bad[dirty_rows]]  # not rows removed later in the batch
        else:
            dirty_rows = self._rebuild(np.flatnonzero(bad), add_rows)
        if dirty_rows.size:
            mu, sig = self.mu[dirty_rows], self.sig[dirty_rows]
            logz = _log_z(mu, sig)
            self.logz[dirty_rows] = logz
            cont = self.lay.cont
            self.w[dirty_rows] = w = _cont_rows(mu[:, cont], sig[:, cont], logz[:, cont])
            self.w32[dirty_rows] = w
        return self

    def _rebuild(self, rows: np.ndarray, add_rows: np.ndarray) -> np.ndarray:
        """Sort every dimension and recompute all bandwidths; returns the dirty rows."""
        dn = len(self.lay.num)
        self.built = True
        if dn == 0:
            return add_rows
        vals = self.mu[rows].T
        order = np.argsort(vals, axis=1, kind="stable")
        sv, sr = np.take_along_axis(vals, order, 1), rows[order]
        sig = _bandwidths(sv, self.sigma_min, self.consider_endpoints)
        self.lay.floor(sv, sig)
        dims = np.broadcast_to(np.arange(dn)[:, None], sv.shape)
        moved = self.sig[sr, dims] != sig
        self.sig[sr[moved], dims[moved]] = sig[moved]
        self.sv = sv.tolist()
        self.sr = sr.tolist()
        self.ss = sig.tolist()
        return np.union1d(add_rows, sr[moved])

    def _insert(self, q: int, r: int, v: float, dirty: list[int]) -> None:
        vals = self.sv[q]
        i = bisect_left(vals, v)
        vals.insert(i, v)
        self.sr[q].insert(i, r)
        self.ss[q].insert(i, math.nan)
        self._refresh(q, v, dirty)

    def _remove(self, q: int, r: int, v: float, dirty: list[int]) -> None:
        vals = self.sv[q]
        i = self.sr[q].index(r, bisect_left(vals, v), bisect_right(vals, v))
        del vals[i], self.sr[q][i], self.ss[q][i]
        self._refresh(q, v, dirty)

    def _refresh(self, q: int, v: float, dirty: list[int]) -> None:
        """Recompute the bandwidths of the tie groups at and next to value ``v``."""
        vals = self.sv[q]
        p = len(vals)
        # Tie groups are usually single values: look at the neighbours before bisecting.
        a = bisect_left(vals, v)
        if a < p and vals[a] == v:
            b = a + 1 if a + 1 == p or vals[a + 1] != v else bisect_right(vals, v, a)
        else:
            b = a
        spans = [(a, b)] if a < b else []
        if a > 0:
            u = vals[a - 1]
            spans.append((a - 1 if a == 1 or vals[a - 2] != u else bisect_left(vals, u, 0, a), a))
        if b < p:
            w = vals[b]
            spans.append((b, b + 1 if b + 1 == p or vals[b + 1] != w else bisect_right(vals, w, b)))
        sig, rows = self.ss[q], self.sr[q]
        for ga, gb in spans:
            s = self._group_sigma(q, ga, gb)
            if gb - ga == 1:
                if sig[ga] != s:
                    sig[ga] = s
                    r = rows[ga]
                    self.sig[r, q] = s
                    dirty.append(r)
            elif sig[ga:gb].count(s) != gb - ga:
                sig[ga:gb] = [s] * (gb - ga)
                group = rows[ga:gb]
                self.sig[group, q] = s
                dirty.extend(group)

    def _group_sigma(self, q: int, a: int, b: int) -> float:
        """The bandwidth of tie group ``vals[a:b]``: :func:`_bandwidths` for one group
        (same operations, so the same floats)."""
        vals = self.sv[q]
        v = vals[a]
        has_prev, has_next = a > 0, b < len(vals)
        left = v - (vals[a - 1] if has_prev else 0.0)
        right = (vals[b] if has_next else 1.0) - v
        if b - a == 1:
            s = max(left, right)
            if not self.consider_endpoints:
                if not has_prev and has_next:
                    s = right
                elif has_prev and not has_next:
                    s = left
        else:
            if not self.consider_endpoints:
                left = left if has_prev else 0.0
                right = right if has_next else 0.0
            s = (left + right) / (b - a)
        s = min(max(s, self.sigma_min), 1.0)
        lay = self.lay
        if lay.is_discrete[q]:
            h = lay.half_cell[q]
            if np.isnan(h):
                d = lay.dists[lay.num[q]]
                x = d.from_unit(v)
                h = 0.5 * (d.to_unit(x + 0.5) - d.to_unit(x - 0.5))  # type: ignore[operator]
            s = max(s, float(h))
        return s

    def mixture(self, n: int, prior_weight: float, m: int) -> _Mixture:
        """The bad mixture over history rows ``0..n-1``: uniform weights plus the prior."""
        lay = self.lay
        k = self.k
        total = k + prior_weight
        hit, miss = _cat_consts(lay, k, prior_weight)
        rows: slice | np.ndarray
        if k == 0:
            rows = slice(0, 0)
        elif 4 * k >= 3 * n:
            rows = slice(0, n)  # mostly members: skip the gather, placeholders weigh 0
        else:
            rows = np.flatnonzero(self.member[:n])
        cq = lay.coarse
        # float32 is accurate enough while d / sigma**2 is moderate (its error grows
        # with it; 3e-5 nats at the bound with the default bandwidth floor).
        screen = cq.size == 0 and lay.cont.size / self.sigma_min**2 <= 8e4
        return _Mixture(
            self.w[rows],
            self.mu[rows][:, cq],
            self.sig[rows][:, cq],
            self.logz[rows][:, cq],
            self.cat[rows],
            hit,
            miss,
            -math.log(total),
            math.log(prior_weight / total),
            self.w32[rows] if screen and k * m >= _SCREEN_MIN else None,
        )
