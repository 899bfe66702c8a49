"""Population optimizers as small ask/tell engines over the unit cube (pure NumPy).

Every engine works in ``[0, 1]^d``, minimizes, and knows nothing about studies:

* ``ask() -> X`` returns the next batch of points, shape ``(k, d)``; ``k`` is the
  population size except for GEGO's re-evaluation batches in ``paper_exact`` mode;
* ``tell(X, y)`` reports the values of that batch, in order (``y`` of shape ``(k,)``;
  NaN is read as ``+inf``, i.e. the worst value). ``X`` may differ from what was
  asked (a caller that evaluated other points tells those): the engine then
  continues from the points told;
* ``batch_kind`` names what the last ``ask`` returned (``"init"``, ``"generation"``,
  ``"move"``, ``"ga"``, ``"reevaluate_population"``, ``"reevaluate_best"``);
* ``n_evals`` counts the evaluations told, ``best_x``/``best_y`` the best point told;
* ``evals_per_iteration(t)`` and ``budget(n_iter)`` give the evaluation cost of one
  iteration and of a whole run, so runs can be budgeted by evaluations.

All randomness comes from the ``np.random.Generator`` given to the constructor, so
an engine is a deterministic function of its seed and of what it was told.
Engines can be copied with :func:`copy.deepcopy` (plain arrays and a generator).

References: GA operators -- Deb & Agrawal (1995) simulated binary crossover, Deb &
Goyal (1996) polynomial mutation, Eshelman & Schaffer (1993) BLX-alpha; PSO --
Kennedy & Eberhart (1995), constriction coefficients of Clerc & Kennedy (2002);
DE -- Storn & Price (1997) rand/1/bin, Zhang & Sanderson (2009) JADE
current-to-pbest/1; GEO -- Mohammadi-Balani et al. (2021); GEGO -- Nazarians &
Kumar (arXiv 2601.14672) as implemented in the authors' code (see
``docs/samplers/population.md``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np

__all__ = [
    "DE",
    "GA",
    "GEGO",
    "GEO",
    "PSO",
    "blx_alpha",
    "gray_decode",
    "gray_encode",
    "minimize",
    "polynomial_mutation",
    "propensities",
    "sbx",
    "two_point_crossover",
]


def _values(y: Any, k: int) -> np.ndarray:
    v = np.asarray(y, dtype=float).reshape(-1)
    if v.shape[0] != k:
        raise ValueError(f"tell() needs {k} values for the batch, got {v.shape[0]}")
    return np.where(np.isnan(v), np.inf, v)


def _points(x: Any, shape: tuple[int, int]) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.shape != shape:
        raise ValueError(f"tell() needs points of shape {shape}, got {a.shape}")
    return np.clip(a, 0.0, 1.0)


class _Engine:
    """Shared bookkeeping: dimension, population size, generator, best point, counts."""

    def __init__(self, dim: int, n_pop: int, rng: np.random.Generator | int | None) -> None:
        if not isinstance(dim, int | np.integer) or dim < 1:
            raise ValueError(f"dim must be an integer >= 1, got {dim!r}")
        if not isinstance(n_pop, int | np.integer) or n_pop < 2:
            raise ValueError(f"n_pop must be an integer >= 2, got {n_pop!r}")
        self.dim = int(dim)
        self.n_pop = int(n_pop)
        self.rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self.n_evals = 0
        self.iteration = 0  # completed generations/moves after the initial population
        self.best_x = np.full(self.dim, np.nan)
        self.best_y = math.inf
        self.batch_kind = "init"
        self._asked: np.ndarray | None = None

    def _record(self, x: np.ndarray, y: np.ndarray) -> None:
        self.n_evals += len(y)
        i = int(np.argmin(y))
        if y[i] < self.best_y:
            self.best_y = float(y[i])
            self.best_x = x[i].copy()

    def _take(self, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        if self._asked is None:
            raise RuntimeError("tell() called without a pending ask()")
        xs = _points(x, self._asked.shape)
        ys = _values(y, len(xs))
        self._asked = None
        self._record(xs, ys)
        return xs, ys

    def _out(self, x: np.ndarray, kind: str) -> np.ndarray:
        self._asked = x
        self.batch_kind = kind
        return x.copy()

    def evals_per_iteration(self, t: int) -> int:
        """Evaluations spent by iteration ``t`` (1-based; ``t = 0``: the initial population)."""
        return self.n_pop

    def budget(self, n_iter: int) -> int:
        """Evaluations of the initial population plus ``n_iter`` iterations."""
        return sum(self.evals_per_iteration(t) for t in range(n_iter + 1))


# -- GA operators (unit cube) ------------------------------------------------------------


def sbx(
    p1: np.ndarray, p2: np.ndarray, eta: float, rng: np.random.Generator, prob_var: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Simulated binary crossover (Deb & Agrawal 1995), unbounded form.

    Each variable is crossed with probability ``prob_var``; a crossed pair keeps its
    mean (``c1 + c2 = p1 + p2``) and spreads more for smaller ``eta``. Children are not
    clipped here.
    """
    u = rng.random(p1.shape)
    beta = np.where(
        u <= 0.5,
        (2.0 * u) ** (1.0 / (eta + 1.0)),
        (1.0 / (2.0 * (1.0 - u) + 1e-300)) ** (1.0 / (eta + 1.0)),
    )
    cross = rng.random(p1.shape) < prob_var
    beta = np.where(cross, beta, 1.0)
    c1 = 0.5 * ((1.0 + beta) * p1 + (1.0 - beta) * p2)
    c2 = 0.5 * ((1.0 - beta) * p1 + (1.0 + beta) * p2)
    return c1, c2


def blx_alpha(
    p1: np.ndarray, p2: np.ndarray, alpha: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """BLX-alpha crossover (Eshelman & Schaffer 1993): each child gene is uniform in
    ``[lo - alpha * I, hi + alpha * I]`` with ``I = hi - lo`` of the parents' genes."""
    lo, hi = np.minimum(p1, p2), np.maximum(p1, p2)
    span = hi - lo
    a, b = lo - alpha * span, hi + alpha * span
    return a + rng.random(p1.shape) * (b - a), a + rng.random(p1.shape) * (b - a)


def polynomial_mutation(
    x: np.ndarray, eta: float, prob: float, rng: np.random.Generator
) -> np.ndarray:
    """Bounded polynomial mutation on ``[0, 1]`` (Deb & Goyal 1996, NSGA-II form).

    Each gene mutates with probability ``prob``; the perturbation shrinks with larger
    ``eta`` and never leaves ``[0, 1]``.
    """
    x = np.clip(x, 0.0, 1.0)
    u = rng.random(x.shape)
    mut = rng.random(x.shape) < prob
    p = 1.0 / (eta + 1.0)
    lower = u < 0.5
    xy = np.where(lower, 1.0 - x, x)  # 1 - delta1 or 1 - delta2
    val = np.where(
        lower,
        2.0 * u + (1.0 - 2.0 * u) * xy ** (eta + 1.0),
        2.0 * (1.0 - u) + 2.0 * (u - 0.5) * xy ** (eta + 1.0),
    )
    dq = np.where(lower, val**p - 1.0, 1.0 - val**p)
    return np.clip(np.where(mut, x + dq, x), 0.0, 1.0)


def _tournament(y: np.ndarray, n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` winners of tournaments of ``size`` (drawn with replacement; lower y wins;
    ties go to the first drawn)."""
    idx = rng.integers(len(y), size=(n, size))
    return idx[np.arange(n), np.argmin(y[idx], axis=1)]


class GA(_Engine):
    """Real-coded genetic algorithm with elitism.

    Per generation: ``n_pop`` parents by tournament selection, pairs crossed with
    probability ``crossover_prob`` (SBX or BLX-alpha), polynomial mutation, then the
    ``n_elite`` best parents replace the worst offspring. Costs ``n_pop`` evaluations
    per generation (elites are not re-evaluated).

    Args:
        dim: number of variables.
        n_pop: population size (default 50).
        rng: a generator or a seed.
        crossover: ``"sbx"`` (default) or ``"blx"``.
        crossover_prob: probability that a pair is crossed (default 0.9).
        eta_c: SBX distribution index (default 15; smaller = wider children).
        alpha: BLX-alpha extension (default 0.5).
        eta_m: polynomial-mutation distribution index (default 20).
        mutation_prob: per-gene mutation probability (default ``1 / dim``).
        tournament_size: default 2 (binary tournament).
        n_elite: best parents kept unchanged each generation (default 2).
    """

    def __init__(
        self,
        dim: int,
        n_pop: int = 50,
        rng: np.random.Generator | int | None = None,
        *,
        crossover: str = "sbx",
        crossover_prob: float = 0.9,
        eta_c: float = 15.0,
        alpha: float = 0.5,
        eta_m: float = 20.0,
        mutation_prob: float | None = None,
        tournament_size: int = 2,
        n_elite: int = 2,
    ) -> None:
        super().__init__(dim, n_pop, rng)
        if crossover not in ("sbx", "blx"):
            raise ValueError(f"crossover must be 'sbx' or 'blx', got {crossover!r}")
        if not 0 <= n_elite < n_pop:
            raise ValueError(f"n_elite must be in [0, n_pop), got {n_elite!r}")
        if tournament_size < 1:
            raise ValueError(f"tournament_size must be >= 1, got {tournament_size!r}")
        self.crossover = crossover
        self.crossover_prob = float(crossover_prob)
        self.eta_c = float(eta_c)
        self.alpha = float(alpha)
        self.eta_m = float(eta_m)
        self.mutation_prob = 1.0 / dim if mutation_prob is None else float(mutation_prob)
        self.tournament_size = int(tournament_size)
        self.n_elite = int(n_elite)
        self.X: np.ndarray | None = None
        self.Y: np.ndarray | None = None

    def ask(self) -> np.ndarray:
        """The next batch: the initial population, then one generation of offspring."""
        if self.X is None or self.Y is None:
            return self._out(self.rng.random((self.n_pop, self.dim)), "init")
        n, rng = self.n_pop, self.rng
        parents = self.X[_tournament(self.Y, n + (n % 2), self.tournament_size, rng)]
        p1, p2 = parents[0::2], parents[1::2]
        if self.crossover == "sbx":
            c1, c2 = sbx(p1, p2, self.eta_c, rng)
        else:
            c1, c2 = blx_alpha(p1, p2, self.alpha, rng)
        keep = rng.random(len(p1)) >= self.crossover_prob
        c1[keep], c2[keep] = p1[keep], p2[keep]
        kids = np.empty_like(parents)
        kids[0::2], kids[1::2] = c1, c2
        kids = polynomial_mutation(kids[:n], self.eta_m, self.mutation_prob, rng)
        return self._out(kids, "generation")

    def tell(self, x: Any, y: Any) -> None:
        """Report the values of the last batch; the population advances."""
        xs, ys = self._take(x, y)
        if self.X is None or self.Y is None:
            self.X, self.Y = xs, ys
            return
        if self.n_elite:
            # The best parents replace the worst offspring they beat.
            elite = np.argsort(self.Y, kind="stable")[: self.n_elite]
            worst = np.argsort(-ys, kind="stable")[: self.n_elite]
            swap = self.Y[elite] < ys[worst]
            xs[worst[swap]], ys[worst[swap]] = self.X[elite[swap]], self.Y[elite[swap]]
        self.X, self.Y = xs, ys
        self.iteration += 1


# -- PSO ------------------------------------------------------------------------------------


class PSO(_Engine):
    """Global-best particle swarm optimization with inertia and velocity clamping.

    ``v <- w v + c1 r1 (pbest - x) + c2 r2 (gbest - x)`` (``r1, r2 ~ U(0,1)`` per
    coordinate), ``|v| <= v_max``, ``x <- clip(x + v)``; a coordinate that hits the
    box loses its velocity. Costs ``n_pop`` evaluations per iteration.

    Defaults are Clerc & Kennedy's (2002) constriction values in inertia form,
    ``w = 0.7298, c1 = c2 = 1.49618`` (recommended by Eberhart & Shi 2000), with
    ``v_max = 0.2`` of the box width. (scikit-opt's PSO, the comparator of the GEGO
    paper, uses ``w = 0.8, c1 = c2 = 0.5``.)

    Args:
        dim: number of variables.
        n_pop: swarm size (default 50).
        rng: a generator or a seed.
        w: inertia weight.
        c1: cognitive coefficient (pull to the particle's best).
        c2: social coefficient (pull to the swarm's best).
        v_max: velocity clamp per coordinate, in box widths (None: no clamp).
    """

    def __init__(
        self,
        dim: int,
        n_pop: int = 50,
        rng: np.random.Generator | int | None = None,
        *,
        w: float = 0.7298,
        c1: float = 1.49618,
        c2: float = 1.49618,
        v_max: float | None = 0.2,
    ) -> None:
        super().__init__(dim, n_pop, rng)
        if v_max is not None and v_max <= 0:
            raise ValueError(f"v_max must be > 0 or None, got {v_max!r}")
        self.w, self.c1, self.c2 = float(w), float(c1), float(c2)
        self.v_max = None if v_max is None else float(v_max)
        self.X: np.ndarray | None = None
        self.V = np.zeros((n_pop, dim))
        self.P: np.ndarray | None = None  # particle bests
        self.PY = np.full(n_pop, np.inf)
        self._prev: np.ndarray | None = None

    def ask(self) -> np.ndarray:
        """The next positions of the swarm."""
        rng = self.rng
        if self.X is None or self.P is None:
            x = rng.random((self.n_pop, self.dim))
            vm = 1.0 if self.v_max is None else self.v_max
            self.V = (2.0 * rng.random((self.n_pop, self.dim)) - 1.0) * vm
            return self._out(x, "init")
        g = self.P[int(np.argmin(self.PY))]
        r1 = rng.random(self.X.shape)
        r2 = rng.random(self.X.shape)
        v = self.w * self.V + self.c1 * r1 * (self.P - self.X) + self.c2 * r2 * (g - self.X)
        if self.v_max is not None:
            v = np.clip(v, -self.v_max, self.v_max)
        x = self.X + v
        hit = (x < 0.0) | (x > 1.0)
        v[hit] = 0.0
        self.V = v
        self._prev = self.X
        return self._out(np.clip(x, 0.0, 1.0), "move")

    def tell(self, x: Any, y: Any) -> None:
        """Report the values of the positions; particle and swarm bests update."""
        asked = self._asked
        xs, ys = self._take(x, y)
        if self.X is None or self.P is None:
            self.X, self.P, self.PY = xs, xs.copy(), ys.copy()
            return
        moved = ~np.all(xs == asked, axis=1)
        if moved.any() and self._prev is not None:  # told other points: their velocity
            self.V[moved] = xs[moved] - self._prev[moved]
        better = ys < self.PY
        self.P[better], self.PY[better] = xs[better], ys[better]
        self.X = xs
        self.iteration += 1


# -- DE -------------------------------------------------------------------------------------


def _distinct_others(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """For each i in 0..n-1, ``k`` distinct indices from ``{0..n-1} \\ {i}``."""
    picks = np.argsort(rng.random((n, n - 1)), axis=1)[:, :k]
    return picks + (picks >= np.arange(n)[:, None])


class DE(_Engine):
    """Differential evolution: ``rand/1/bin`` or JADE's ``current-to-pbest/1/bin``.

    ``rand/1``: ``v = x_r1 + F (x_r2 - x_r3)``; ``current-to-pbest/1``:
    ``v = x_i + F (x_pbest - x_i) + F (x_r1 - x~_r2)`` with ``x_pbest`` drawn from the
    best ``ceil(p N)`` and ``x~_r2`` from the population plus an archive of replaced
    parents (Zhang & Sanderson 2009). Binomial crossover with rate ``CR`` (one
    coordinate always from ``v``); a mutant coordinate outside the box is set halfway
    between the parent's and the bound (JADE's rule); greedy one-to-one selection.
    F and CR are fixed unless ``adaptive=True``: then, as in JADE, every target draws
    ``F_i ~ Cauchy(mu_F, 0.1)`` (redrawn while <= 0, capped at 1) and
    ``CR_i ~ N(mu_CR, 0.1)`` (clipped to [0, 1]), and after each generation
    ``mu_CR <- (1 - c) mu_CR + c mean(S_CR)``, ``mu_F <- (1 - c) mu_F + c lehmer(S_F)``
    over the successful values (``c = 0.1``; ``F`` and ``CR`` are the initial means).
    Costs ``n_pop`` evaluations per generation.

    Args:
        dim: number of variables.
        n_pop: population size (default 50; at least 4).
        rng: a generator or a seed.
        strategy: ``"rand1bin"`` (default) or ``"current_to_pbest1bin"``.
        F: differential weight (default 0.5).
        CR: crossover rate (default 0.9).
        p: share of the population ``x_pbest`` is drawn from (default 0.1).
        archive: keep replaced parents for ``current-to-pbest`` (default True).
        adaptive: JADE's adaptation of F and CR (default False).
    """

    STRATEGIES = ("rand1bin", "current_to_pbest1bin")

    def __init__(
        self,
        dim: int,
        n_pop: int = 50,
        rng: np.random.Generator | int | None = None,
        *,
        strategy: str = "rand1bin",
        F: float = 0.5,
        CR: float = 0.9,
        p: float = 0.1,
        archive: bool = True,
        adaptive: bool = False,
    ) -> None:
        super().__init__(dim, n_pop, rng)
        if n_pop < 4:
            raise ValueError(f"DE needs n_pop >= 4, got {n_pop!r}")
        if strategy not in self.STRATEGIES:
            raise ValueError(f"strategy must be one of {self.STRATEGIES}, got {strategy!r}")
        if not 0 < p <= 1:
            raise ValueError(f"p must be in (0, 1], got {p!r}")
        self.strategy = strategy
        self.F, self.CR, self.p = float(F), float(CR), float(p)
        self.archive = bool(archive)
        self.adaptive = bool(adaptive)
        self.mu_F, self.mu_CR = self.F, self.CR
        self._F = np.full((n_pop, 1), self.F)  # this generation's F_i and CR_i
        self._CR = np.full((n_pop, 1), self.CR)
        self.X: np.ndarray | None = None
        self.Y: np.ndarray | None = None
        self.A = np.empty((0, dim))

    def ask(self) -> np.ndarray:
        """The next batch of trial vectors (one per target)."""
        rng = self.rng
        if self.X is None or self.Y is None:
            return self._out(rng.random((self.n_pop, self.dim)), "init")
        n, d, X = self.n_pop, self.dim, self.X
        if self.adaptive:
            f = self.mu_F + 0.1 * rng.standard_cauchy(n)
            while (bad := f <= 0.0).any():
                f[bad] = self.mu_F + 0.1 * rng.standard_cauchy(int(bad.sum()))
            self._F = np.minimum(f, 1.0)[:, None]
            self._CR = np.clip(rng.normal(self.mu_CR, 0.1, n), 0.0, 1.0)[:, None]
        F = self._F
        if self.strategy == "rand1bin":
            r = _distinct_others(n, 3, rng)
            v = X[r[:, 0]] + F * (X[r[:, 1]] - X[r[:, 2]])
        else:
            top = np.argsort(self.Y, kind="stable")[: max(1, math.ceil(self.p * n))]
            pbest = X[top[rng.integers(len(top), size=n)]]
            r1 = _distinct_others(n, 1, rng)[:, 0]
            pool = np.vstack([X, self.A]) if self.archive and len(self.A) else X
            r2 = rng.integers(len(pool), size=n)
            idx = np.arange(n)
            bad = (r2 == idx) | (r2 == r1)
            while bad.any():
                r2[bad] = rng.integers(len(pool), size=int(bad.sum()))
                bad = (r2 == idx) | (r2 == r1)
            v = X + F * (pbest - X) + F * (X[r1] - pool[r2])
        v = np.where(v < 0.0, 0.5 * X, v)
        v = np.where(v > 1.0, 0.5 * (X + 1.0), v)
        cross = rng.random((n, d)) < self._CR
        cross[np.arange(n), rng.integers(d, size=n)] = True
        return self._out(np.where(cross, v, X), "generation")

    def tell(self, x: Any, y: Any) -> None:
        """Report the trial vectors' values; each replaces its target if not worse."""
        xs, ys = self._take(x, y)
        if self.X is None or self.Y is None:
            self.X, self.Y = xs, ys
            return
        win = ys <= self.Y
        if self.adaptive:
            ok = ys < self.Y  # strictly successful trial vectors
            if ok.any():
                sf, scr = self._F[ok, 0], self._CR[ok, 0]
                self.mu_CR = 0.9 * self.mu_CR + 0.1 * float(scr.mean())
                self.mu_F = 0.9 * self.mu_F + 0.1 * float((sf**2).sum() / sf.sum())
        if self.archive and self.strategy != "rand1bin" and win.any():
            self.A = np.vstack([self.A, self.X[win]])
            if len(self.A) > self.n_pop:
                keep = self.rng.choice(len(self.A), self.n_pop, replace=False)
                self.A = self.A[np.sort(keep)]
        self.X = np.where(win[:, None], xs, self.X)
        self.Y = np.where(win, ys, self.Y)
        self.iteration += 1


# -- GEO ------------------------------------------------------------------------------------


def propensities(
    frac: float | np.ndarray,
    attack: tuple[float, float] = (0.5, 2.0),
    cruise: tuple[float, float] = (1.0, 0.5),
) -> tuple[Any, Any]:
    """GEO's attack and cruise propensities at schedule fraction ``frac = t / T``.

    Linear: ``p_a = p_a0 + frac |p_aT - p_a0|`` (attack grows), ``p_c = p_c0 - frac
    |p_cT - p_c0|`` (cruise shrinks); ``frac`` is clipped to ``[0, 1]``.
    """
    f = np.clip(frac, 0.0, 1.0)
    return attack[0] + f * abs(attack[1] - attack[0]), cruise[0] - f * abs(cruise[1] - cruise[0])


def cruise_vectors(a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Unit cruise directions orthogonal to the attack vectors ``a (n, d)``.

    As in GEO's code: ``c ~ U(-1, 1)^d``; one coordinate ``k`` with ``a_k != 0`` is drawn
    uniformly and solved for, ``c_k = -(sum_{j != k} a_j c_j) / a_k``, so that
    ``a . c = 0``. Rows with ``a = 0`` (and ``d = 1``) get a zero vector.
    """
    n, d = a.shape
    c = 2.0 * rng.random((n, d)) - 1.0
    keys = np.where(a != 0.0, rng.random((n, d)), -1.0)
    k = np.argmax(keys, axis=1)
    rows = np.arange(n)
    ak = a[rows, k]
    ok = ak != 0.0
    rest = np.einsum("ij,ij->i", a, c) - ak * c[rows, k]
    c[rows[ok], k[ok]] = -rest[ok] / ak[ok]
    norm = np.linalg.norm(c, axis=1)
    good = ok & (norm > 0.0) & np.isfinite(norm)
    out = np.zeros_like(c)
    out[good] = c[good] / norm[good, None]
    return out


class GEO(_Engine):
    """Golden eagle optimizer (Mohammadi-Balani et al. 2021).

    Each eagle keeps a memory (its best position). Per iteration a random permutation
    assigns every eagle one memory as prey; the eagle moves by
    ``r1 p_a r A^ + r2 p_c r C^``: ``A = prey - x`` (``r = |A|``), ``C^`` a random
    unit direction orthogonal to ``A`` (the cruise vector), with the attack
    propensity ``p_a`` growing and the cruise propensity ``p_c`` shrinking linearly over
    ``n_iter`` iterations; positions are clipped to the box; memories update when the
    new position is better. Costs ``n_pop`` evaluations per iteration.

    Modes:

    * default -- the original GEO: ``r1, r2`` are scalars per eagle, the schedule runs
      from ``p(0)`` at the first move to ``p(T)`` at move ``T`` (MATLAB ``linspace``),
      and an eagle sitting on its prey stays put;
    * ``paper_exact=True`` -- the GEGO authors' ``geo.py``: ``r1, r2`` per coordinate,
      schedule fraction ``t / T`` for moves ``t = 1..T``, and an eagle sitting on its
      prey is moved to the origin of the problem's coordinates (then clipped): the
      "origin reset" quirk.

    Beyond ``n_iter`` moves the propensities stay at their end values.

    Args:
        dim: number of variables.
        n_pop: number of eagles (default 40).
        rng: a generator or a seed.
        n_iter: schedule length ``T`` in iterations (default 50).
        attack: ``(p_a0, p_aT)`` (default ``(0.5, 2)``).
        cruise: ``(p_c0, p_cT)`` (default ``(1, 0.5)``).
        paper_exact: reproduce the authors' code (see above).
        vector_coefficients: per-coordinate ``r1, r2`` (default: ``paper_exact``).
        bounds: ``(lower, upper)`` of the problem's box, used only to place the origin
            for the origin reset (default: the unit cube's corner 0).
    """

    def __init__(
        self,
        dim: int,
        n_pop: int = 40,
        rng: np.random.Generator | int | None = None,
        *,
        n_iter: int = 50,
        attack: tuple[float, float] = (0.5, 2.0),
        cruise: tuple[float, float] = (1.0, 0.5),
        paper_exact: bool = False,
        vector_coefficients: bool | None = None,
        bounds: tuple[Any, Any] | None = None,
    ) -> None:
        super().__init__(dim, n_pop, rng)
        if not isinstance(n_iter, int | np.integer) or n_iter < 1:
            raise ValueError(f"n_iter must be an integer >= 1, got {n_iter!r}")
        self.n_iter = int(n_iter)
        self.attack = (float(attack[0]), float(attack[1]))
        self.cruise = (float(cruise[0]), float(cruise[1]))
        self.paper_exact = bool(paper_exact)
        self.vector_coefficients = (
            self.paper_exact if vector_coefficients is None else bool(vector_coefficients)
        )
        self.origin = np.zeros(dim)
        self.widths = np.ones(dim)
        if bounds is not None:
            lo = np.broadcast_to(np.asarray(bounds[0], dtype=float), (dim,))
            hi = np.broadcast_to(np.asarray(bounds[1], dtype=float), (dim,))
            if np.any(hi <= lo):
                raise ValueError("bounds: every upper bound must exceed its lower bound")
            self.widths = hi - lo
            self.origin = np.clip(-lo / self.widths, 0.0, 1.0)
        self.X: np.ndarray | None = None  # current positions
        self.Y: np.ndarray | None = None  # their values
        self.M: np.ndarray | None = None  # memories
        self.MY = np.full(n_pop, np.inf)
        self.n_resets = 0  # eagles sent to the origin (paper_exact)
        self.n_stays = 0  # eagles that stayed on their prey (default)

    def schedule_fraction(self, t: int) -> float:
        """The schedule fraction of move ``t`` (1-based)."""
        if self.paper_exact:
            return min(t / self.n_iter, 1.0)
        return 1.0 if self.n_iter == 1 else min((t - 1) / (self.n_iter - 1), 1.0)

    def _move(self, t: int) -> np.ndarray:
        assert self.X is not None and self.M is not None
        rng, n = self.rng, self.n_pop
        pa, pc = propensities(self.schedule_fraction(t), self.attack, self.cruise)
        prey = self.M[rng.permutation(n)]
        a = prey - self.X
        r = np.linalg.norm(a, axis=1)
        still = r == 0.0
        c_hat = cruise_vectors(a, rng)
        a_hat = np.zeros_like(a)
        a_hat[~still] = a[~still] / r[~still, None]
        shape = (n, self.dim) if self.vector_coefficients else (n, 1)
        r1, r2 = rng.random(shape), rng.random(shape)
        step = r[:, None] * (r1 * pa * a_hat + r2 * pc * c_hat)
        x = np.clip(self.X + step, 0.0, 1.0)
        if self.paper_exact:
            x[still] = self.origin
            self.n_resets += int(still.sum())
        else:
            self.n_stays += int(still.sum())
        return x

    def ask(self) -> np.ndarray:
        """The next batch: the initial eagles, then one move of all eagles."""
        if self.X is None:
            return self._out(self.rng.random((self.n_pop, self.dim)), "init")
        return self._out(self._move(self.iteration + 1), "move")

    def _remember(self, xs: np.ndarray, ys: np.ndarray) -> None:
        better = ys < self.MY
        assert self.M is not None
        self.M[better], self.MY[better] = xs[better], ys[better]

    def tell(self, x: Any, y: Any) -> None:
        """Report the values of the last batch; memories update slot-wise."""
        xs, ys = self._take(x, y)
        if self.X is None:
            self.X, self.Y, self.M, self.MY = xs, ys, xs.copy(), ys.copy()
            return
        self.X, self.Y = xs, ys
        self._remember(xs, ys)
        self.iteration += 1


# -- GEGO -----------------------------------------------------------------------------------


def gray_bits(widths: np.ndarray, precision: float) -> np.ndarray:
    """Bits per variable: ``L_j = ceil(log2(width_j / precision + 1))`` (scikit-opt)."""
    return np.ceil(np.log2(np.asarray(widths, dtype=float) / precision + 1.0)).astype(np.int64)


def gray_encode(u: np.ndarray, bits: np.ndarray) -> np.ndarray:
    """Gray-code chromosomes of unit points ``u (n, d)``: a ``(n, sum(bits))`` 0/1 array.

    Variable ``j`` is quantized to ``q = floor(u_j (2^L_j - 1))`` (the authors' greedy
    binarization), Gray-coded (``q ^ (q >> 1)``) and written most significant bit first.
    """
    bits = np.asarray(bits, dtype=np.int64)
    top = _tops(bits)
    # floor with a small slack so that decoded grid points encode back to themselves
    q = np.floor(np.clip(u, 0.0, 1.0) * top.astype(float) + 1e-6)
    q = np.minimum(q.astype(np.uint64), top)
    g = q ^ (q >> np.uint64(1))
    n, d = g.shape
    # big-endian bytes -> 64 bits per variable; keep each variable's low L_j bits
    all_bits = np.unpackbits(g.astype(">u8").view(np.uint8).reshape(n, d * 8), axis=1)
    return all_bits[:, _columns(tuple(bits.tolist()))]


def gray_decode(chrom: np.ndarray, bits: np.ndarray) -> np.ndarray:
    """Unit points of Gray-code chromosomes (inverse of :func:`gray_encode` on the grid):
    ``u_j = q_j / (2^L_j - 1)``."""
    bits = np.asarray(bits, dtype=np.int64)
    n, d = len(chrom), len(bits)
    all_bits = np.zeros((n, d * 64), dtype=np.uint8)
    all_bits[:, _columns(tuple(bits.tolist()))] = chrom
    g = np.packbits(all_bits, axis=1).view(">u8").astype(np.uint64)
    b = g.copy()
    s = 1
    while s < 64:  # Gray -> binary: prefix XOR of the higher bits
        b ^= b >> np.uint64(s)
        s *= 2
    return b.astype(float) / _tops(bits).astype(float)


def _tops(bits: np.ndarray) -> np.ndarray:
    """``2^L_j - 1`` as unsigned 64-bit integers."""
    return (np.uint64(1) << bits.astype(np.uint64)) - np.uint64(1)


@lru_cache(maxsize=64)
def _columns(bits: tuple[int, ...]) -> np.ndarray:
    """Positions of each variable's low ``L_j`` bits in its 64-bit big-endian block."""
    return np.concatenate([j * 64 + np.arange(64 - b, 64) for j, b in enumerate(bits)])


def two_point_crossover(chrom: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """scikit-opt's ``crossover_2point_bit``: chromosome ``i`` of the first half is paired
    with ``i + n/2``; two cut points ``n1 <= n2`` in ``[0, L)`` are drawn and the
    segment ``[n1, n2)`` is swapped. Every pair is crossed. Returns a new array."""
    out = chrom.copy()
    half = len(out) // 2
    length = out.shape[1]
    cuts = np.sort(rng.integers(0, length, size=(half, 2)), axis=1)
    cols = np.arange(length)
    mask = (cols >= cuts[:, :1]) & (cols < cuts[:, 1:])
    a, b = out[:half], out[half : 2 * half]
    swap = (a ^ b) & mask
    a ^= swap.astype(out.dtype)
    b ^= swap.astype(out.dtype)
    return out


def bit_flip_mutation(chrom: np.ndarray, prob: float, rng: np.random.Generator) -> np.ndarray:
    """Flip every bit independently with probability ``prob``; returns a new array.

    Drawn as a binomial number of flips at uniformly chosen distinct positions (the
    same distribution as one Bernoulli draw per bit, without a random number per bit).
    """
    out = chrom.copy()
    flat = out.reshape(-1)
    k = int(rng.binomial(flat.size, prob))
    if k:
        pos = rng.choice(flat.size, size=k, replace=False)
        flat[pos] ^= 1
    return out


class GEGO(GEO):
    """GEO with an embedded genetic block (Nazarians & Kumar, arXiv 2601.14672).

    Every ``ga_every`` iterations (``t = ga_every, 2 ga_every, ...``), before that
    iteration's GEO move, the current positions are Gray-coded
    (``L_j = ceil(log2(width_j / precision + 1))`` bits), ``n_pop`` parents are chosen
    by tournaments of 3 (on the positions' values), paired ``i`` with ``i + n/2`` for
    two-point crossover (rate 1), bit-flip mutated (``prob_mut`` per bit) and decoded;
    the offspring become the positions and replace memories slot-wise (offspring
    ``i`` against memory ``i``) where better. The GEO move then starts from them.

    Modes:

    * default -- correct and no wasted evaluations: selection uses the stored values
      of the current positions; an eagle sitting on its prey stays put. A GA
      iteration costs ``2 n_pop`` evaluations (offspring, then the move); a run of
      ``T`` iterations ``N + T N + floor(T / ga_every) N``.
    * ``paper_exact=True`` -- the authors' ``gego.py``: the GA block first asks to
      re-evaluate the current positions (a batch of ``n_pop``, ``batch_kind ==
      "reevaluate_population"``), selects on those values, then asks to re-evaluate
      the best pre-GA position recorded so far (a batch of 1, ``"reevaluate_best"``),
      then the offspring; moves use the origin reset. A GA iteration costs
      ``3 n_pop + 1``; a run ``N + T N + floor(T / ga_every) (2 N + 1)``, as in the
      paper's experiments.

    In both modes ``r1, r2`` are drawn per coordinate (as in the authors' GEGO) and the
    schedule fraction is ``t / T``.

    Args:
        dim: number of variables.
        n_pop: number of eagles (even; default 40).
        rng: a generator or a seed.
        n_iter: schedule length ``T`` in iterations (default 50).
        attack: ``(p_a0, p_aT)`` (default ``(0.5, 2)``).
        cruise: ``(p_c0, p_cT)`` (default ``(1, 0.5)``).
        ga_every: iterations between genetic blocks (default 5).
        prob_mut: bit-flip probability (default 0.001).
        precision: Gray-code resolution in the units of ``bounds`` (default ``1e-7``;
            in the unit cube when ``bounds`` is None, i.e. relative to each range).
        tournament_size: default 3.
        paper_exact: reproduce the authors' code (see above).
        vector_coefficients: per-coordinate ``r1, r2`` (default True).
        bounds: ``(lower, upper)`` of the problem's box: sets the bits per variable and
            the origin of the origin reset (default: the unit cube).
    """

    def __init__(
        self,
        dim: int,
        n_pop: int = 40,
        rng: np.random.Generator | int | None = None,
        *,
        n_iter: int = 50,
        attack: tuple[float, float] = (0.5, 2.0),
        cruise: tuple[float, float] = (1.0, 0.5),
        ga_every: int = 5,
        prob_mut: float = 0.001,
        precision: float = 1e-7,
        tournament_size: int = 3,
        paper_exact: bool = False,
        vector_coefficients: bool | None = True,
        bounds: tuple[Any, Any] | None = None,
    ) -> None:
        super().__init__(
            dim,
            n_pop,
            rng,
            n_iter=n_iter,
            attack=attack,
            cruise=cruise,
            paper_exact=paper_exact,
            vector_coefficients=vector_coefficients,
            bounds=bounds,
        )
        if n_pop % 2:
            raise ValueError(f"GEGO needs an even n_pop (pairs for crossover), got {n_pop!r}")
        if not isinstance(ga_every, int | np.integer) or ga_every < 1:
            raise ValueError(f"ga_every must be an integer >= 1, got {ga_every!r}")
        if not precision > 0:
            raise ValueError(f"precision must be > 0, got {precision!r}")
        bits = gray_bits(self.widths, precision)
        if bits.max() > 63:
            raise ValueError("precision too fine for the bounds: more than 63 bits per variable")
        self.ga_every = int(ga_every)
        self.prob_mut = float(prob_mut)
        self.precision = float(precision)
        self.tournament_size = int(tournament_size)
        self.bits = bits
        # GA-block state: "move" (next batch is a GEO move) or one of the GA batches.
        self._phase = "move"
        self._chrom: np.ndarray | None = None
        self._history_best: tuple[np.ndarray, float] | None = None
        self._ga_done = 0  # the last iteration whose genetic block has started
        self.n_ga = 0

    def schedule_fraction(self, t: int) -> float:
        return min(t / self.n_iter, 1.0)

    def evals_per_iteration(self, t: int) -> int:
        n = self.n_pop
        if t == 0 or t % self.ga_every:
            return n
        return 3 * n + 1 if self.paper_exact else 2 * n

    def _offspring(self, y: np.ndarray) -> np.ndarray:
        assert self.X is not None
        chrom = gray_encode(self.X, self.bits)
        chrom = chrom[_tournament(y, self.n_pop, self.tournament_size, self.rng)]
        chrom = two_point_crossover(chrom, self.rng)
        return bit_flip_mutation(chrom, self.prob_mut, self.rng)

    def ask(self) -> np.ndarray:
        """The next batch (see the class docstring for the order of batches)."""
        if self.X is None:
            return self._out(self.rng.random((self.n_pop, self.dim)), "init")
        t = self.iteration + 1
        if self._phase == "move" and t % self.ga_every == 0 and self._ga_done < t:
            self._ga_done = t
            self.n_ga += 1
            if self.paper_exact:
                self._phase = "reevaluate_population"
            else:
                assert self.Y is not None
                self._chrom = self._offspring(self.Y)
                self._phase = "ga"
        if self._phase == "reevaluate_population":
            return self._out(self.X.copy(), "reevaluate_population")
        if self._phase == "reevaluate_best":
            assert self._history_best is not None
            return self._out(self._history_best[0][None, :].copy(), "reevaluate_best")
        if self._phase == "ga":
            assert self._chrom is not None
            return self._out(gray_decode(self._chrom, self.bits), "ga")
        return self._out(self._move(t), "move")

    def tell(self, x: Any, y: Any) -> None:
        """Report the values of the last batch and advance the state machine."""
        phase = self._phase if self.X is not None else "init"
        xs, ys = self._take(x, y)
        if phase == "init":
            self.X, self.Y, self.M, self.MY = xs, ys, xs.copy(), ys.copy()
        elif phase == "reevaluate_population":
            # The authors select on the re-evaluated values and record the best
            # pre-GA position; the positions themselves do not change.
            assert self.X is not None
            self.Y = ys
            self._chrom = self._offspring(ys)
            i = int(np.argmin(ys))
            if self._history_best is None or ys[i] < self._history_best[1]:
                self._history_best = (self.X[i].copy(), float(ys[i]))
            self._phase = "reevaluate_best"
        elif phase == "reevaluate_best":
            self._phase = "ga"
        elif phase == "ga":
            self.X, self.Y = xs, ys
            self._remember(xs, ys)
            self._chrom = None
            self._phase = "move"
        else:
            self.X, self.Y = xs, ys
            self._remember(xs, ys)
            self.iteration += 1


# -- a driver for benchmarks ------------------------------------------------------------------


def minimize(
    engine: Any,
    f: Callable[[np.ndarray], np.ndarray],
    *,
    max_evals: int | None = None,
    n_iter: int | None = None,
    lower: Any = 0.0,
    upper: Any = 1.0,
) -> tuple[np.ndarray, float, int]:
    """Run an engine on a vectorized objective until a budget is spent.

    Args:
        engine: any engine of this module.
        f: maps points ``(k, d)`` in the box ``[lower, upper]`` to values ``(k,)``.
        max_evals: evaluation budget; a batch that does not fit is not evaluated
            (budget by evaluations, as the dossier recommends).
        n_iter: or stop after this many iterations (GEO moves / generations).
        lower: lower bounds of the box (scalar or ``(d,)``).
        upper: upper bounds of the box.

    Returns:
        ``(best_x, best_y, n_evals)`` with ``best_x`` in box coordinates.

    Example:
        >>> import numpy as np
        >>> eng = GEGO(dim=5, n_pop=20, rng=0, n_iter=100)
        >>> x, y, n = minimize(eng, lambda x: (x**2).sum(1), n_iter=100, lower=-5, upper=5)
        >>> n, y < 1e-3
        (2420, True)
    """
    if max_evals is None and n_iter is None:
        raise ValueError("give max_evals or n_iter")
    lo = np.asarray(lower, dtype=float)
    width = np.asarray(upper, dtype=float) - lo
    while True:
        if n_iter is not None and engine.iteration >= n_iter:
            break
        # Peek at the batch size without consuming: the engine is asked, and if the batch
        # does not fit the budget it is dropped (the engine is not used afterwards).
        x = engine.ask()
        if max_evals is not None and engine.n_evals + len(x) > max_evals:
            engine._asked = None
            break
        engine.tell(x, f(lo + x * width))
    return lo + engine.best_x * width, engine.best_y, engine.n_evals
