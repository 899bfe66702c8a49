"""Population samplers: the engines of :mod:`._engines` driven by a study's ask/tell.

Design: like :class:`~tunesmith.samplers.CmaEsSampler`, the optimizer is a
deterministic *replay* of the study's stored trials.

* **Coordinates.** The engine works in the unit cube over the parameters every trial
  has: the declared space's unconditional parameters, or for define-by-run studies
  the intersection space of the completed trials. ``Float``/``Int`` use
  :meth:`~tunesmith.Float.to_unit` (``log`` parameters on a log scale, integers and
  stepped values rounded when decoded); a ``Categorical`` with ``k`` choices splits
  ``[0, 1]`` into ``k`` equal bins. Conditional and dynamic parameters are drawn at
  random (a warning says so once).
* **Generations are trial numbers.** The engine's first batch (the initial
  population) is trials ``0..k-1``, the next batch the following ``k`` numbers, and
  so on; batches have the population size, except GEGO's re-evaluation batches in
  ``paper_exact`` mode. Trial *n* of the current batch gets member ``n - start``.
* **Replay.** Finished trials (COMPLETE, PRUNED, FAILED) are fed to a fresh engine in
  number order; when a batch is complete it is told and the next batch is asked. The
  engine is seeded from the study seed (``ctx.rng(0, salt)``), so its whole sequence
  is a function of the seed and the stored trials: a new process (a reloaded study,
  a new sampler object) rebuilds exactly the same state and continues mid-generation.
  The state is cached with the number of rows consumed, so an ask only feeds the
  trials that finished since the last one.
* **What is told.** A trial's value (sign-flipped for ``maximize``); a PRUNED or
  FAILED trial, or a NaN value, counts as ``+inf``: the worst value, so it never
  becomes a memory, parent or particle best, and the generation still advances.
  Coordinates: where the stored parameter equals the decoded proposal the raw
  (un-rounded) proposal is told, so integer and categorical parameters do not stall
  the continuous dynamics; elsewhere (enqueued or fixed values, retries, proposals
  made ahead of the generation, see below) the unit image of the stored value.
* **Asks ahead of the generation.** A trial asked while members of the current
  batch are still running belongs to a later batch, which cannot be formed yet. Its
  proposal comes from a *speculative* continuation: a copy of the state is told the
  current batch with the running members counted as failures (``+inf``) and asked
  for the next batch (repeated as far as needed). The proposal is therefore a
  function of the seed, the trial number and the finished trials, as for CMA-ES; once
  the real values arrive, the replay forms the true next generation and the
  speculative trial is told there with its stored point (one stale member). With one
  worker every trial gets its exact member.
"""

from __future__ import annotations

import copy
import math
import threading
import warnings
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from tunesmith.history import History
from tunesmith.samplers.base import (
    Sampler,
    SamplerContext,
    require_single_objective,
    shared_items,
)
from tunesmith.samplers.population._engines import DE, GA, GEGO, GEO, PSO
from tunesmith.samplers.random import RandomSampler
from tunesmith.space import Distribution, Float, Int, Space
from tunesmith.trial import TrialState

__all__ = ["DESampler", "GASampler", "GEGOSampler", "GEOSampler", "PSOSampler"]

_COMPLETE = int(TrialState.COMPLETE)


@dataclass(frozen=True)
class _Dims:
    """The engine's coordinates: one unit-cube axis per parameter of ``space``."""

    space: Space
    names: tuple[str, ...]
    dists: tuple[Distribution, ...]

    @classmethod
    def of(cls, space: Space) -> _Dims:
        return cls(space, tuple(space), tuple(space[n] for n in space))

    def decode(self, unit: np.ndarray) -> np.ndarray:
        """Internal values of unit points ``(k, d)``."""
        return np.stack([d.from_unit(unit[:, j]) for j, d in enumerate(self.dists)], axis=1)

    def encode(self, internal: np.ndarray) -> np.ndarray:
        """Unit points of internal values ``(k, d)`` (NaN stays NaN)."""
        out = np.empty_like(internal)
        for j, d in enumerate(self.dists):
            col = internal[:, j]
            ok = np.isfinite(col)
            out[:, j] = np.nan
            if ok.any():
                out[ok, j] = d.to_unit(col[ok])
        return out

    def origin(self) -> np.ndarray:
        """Unit image of the value 0 of each parameter (clipped), for GEO's origin reset."""
        out = np.zeros(len(self.dists))
        for j, d in enumerate(self.dists):
            if isinstance(d, Float | Int) and not d.log and not d.single():
                out[j] = float(np.clip(d.to_unit(0.0), 0.0, 1.0))
        return out


@dataclass
class _Run:
    """Replay state: the engine after consuming history rows ``[0, consumed)``."""

    engine: Any
    batch: np.ndarray  # the engine's current batch (unit points)
    start: int = 0  # trial number of the batch's first member
    consumed: int = 0
    told_x: list[np.ndarray] = field(default_factory=list)
    told_y: list[np.ndarray] = field(default_factory=list)
    n_batches: int = 0


@dataclass
class _Cache:
    key: tuple[Any, ...]
    run: _Run


class _PopulationSampler(Sampler):
    """Base of the population samplers: replay, proposals, description."""

    #: salt of the engine's generator and name prefix in messages
    _salt: ClassVar[str] = "population"
    #: constructor arguments (besides ``seed``) and their defaults, for describe()
    _defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, popsize: int, seed: int | None, **config: Any) -> None:
        if not isinstance(popsize, int) or isinstance(popsize, bool) or popsize < 2:
            raise ValueError(f"popsize must be an integer >= 2, got {popsize!r}")
        self.popsize = popsize
        self.seed = seed
        self._config = {"popsize": popsize, **config}
        self._fallback = RandomSampler(seed)
        self._lock = threading.RLock()
        self._caches: weakref.WeakKeyDictionary[History, _Cache] = weakref.WeakKeyDictionary()
        self._dims: dict[tuple[Any, ...], _Dims] = {}
        self._warned = False
        # Build one engine now so that bad arguments fail at construction.
        self._make_engine(1, np.random.default_rng(0), _Dims(Space({}), (), ()))

    # -- what subclasses provide ----------------------------------------------------------
    def _make_engine(self, d: int, rng: np.random.Generator, dims: _Dims) -> Any:
        raise NotImplementedError

    # -- the space ------------------------------------------------------------------------
    def relative_space(self, ctx: SamplerContext) -> Space | None:
        require_single_objective(ctx, type(self).__name__)
        items = shared_items(ctx)
        if not items:
            return None
        return self._dims_of(tuple(items)).space

    def _dims_of(self, items: tuple[tuple[str, Distribution], ...]) -> _Dims:
        dims = self._dims.get(items)
        if dims is None:
            dims = self._dims[items] = _Dims.of(Space(dict(items)))
        return dims

    # -- proposals ------------------------------------------------------------------------
    def sample_relative(self, ctx: SamplerContext, number: int, space: Space) -> dict[str, Any]:
        if len(space) == 0:
            return {}
        dims = self._dims_of(tuple(space.items()))
        with self._lock:
            run = self._current_run(ctx, dims)
            unit = self._proposal(ctx, dims, run, number)
        return space.from_unit(unit)

    def sample_independent(
        self,
        ctx: SamplerContext,
        number: int,
        name: str,
        dist: Distribution,
        params: Mapping[str, Any],
    ) -> Any:
        if len(ctx.directions) != 1:
            self.relative_space(ctx)  # raises the multi-objective error
        if not self._warned and not dist.single() and ctx.history.first_space():
            self._warned = True
            warnings.warn(
                f"{type(self).__name__}: parameter {name!r} (conditional or dynamic) is drawn "
                "at random: population samplers model only parameters every trial has "
                "(TPESampler models conditional ones). Shown once.",
                UserWarning,
                stacklevel=2,
            )
        return self._fallback.sample_independent(ctx, number, name, dist, params)

    def _proposal(self, ctx: SamplerContext, dims: _Dims, run: _Run, number: int) -> np.ndarray:
        if number < run.start:  # cannot happen through Study.ask; be safe
            return ctx.rng(number, "relative").random(len(dims.names))
        if number < run.start + len(run.batch):
            return run.batch[number - run.start]
        # Ahead of the generation: continue a copy, running members counted as failures.
        spec = copy.deepcopy(run)
        while number >= spec.start + len(spec.batch):
            self._consume(ctx, dims, spec, spec.start + len(spec.batch))
        return spec.batch[number - spec.start]

    # -- the replay -----------------------------------------------------------------------
    def _new_run(self, ctx: SamplerContext, dims: _Dims) -> _Run:
        engine = self._make_engine(len(dims.names), ctx.rng(0, self._salt), dims)
        return _Run(engine, engine.ask())

    def _current_run(self, ctx: SamplerContext, dims: _Dims) -> _Run:
        """The engine state after the finished prefix of the history (cached)."""
        h = ctx.history
        key = (ctx.seed, ctx.directions, tuple(zip(dims.names, dims.dists)))
        cache = self._caches.get(h)
        if cache is None or cache.key != key or cache.run.consumed > h.n:
            cache = self._caches[h] = _Cache(key, self._new_run(ctx, dims))
        run = cache.run
        start, n = run.consumed, h.n
        if n > start:
            open_rows = np.flatnonzero(h.states[start:n] < _COMPLETE)
            stop = start + int(open_rows[0]) if open_rows.size else n
            if stop > start:
                self._consume(ctx, dims, run, stop)
        return run

    def _consume(self, ctx: SamplerContext, dims: _Dims, run: _Run, end: int) -> None:
        """Feed trial numbers ``[run.consumed, end)`` to ``run``, batch by batch.

        Unfinished (or not yet seen) trials count as failures; the replay of the
        cached state only ever passes finished ones.
        """
        while run.consumed < end:
            k = len(run.batch)
            slot = run.consumed - run.start
            take = min(end - run.consumed, k - slot)
            x, y = self._told(ctx, dims, run.consumed, run.batch[slot : slot + take])
            run.told_x.append(x)
            run.told_y.append(y)
            run.consumed += take
            if slot + take == k:
                run.engine.tell(np.concatenate(run.told_x), np.concatenate(run.told_y))
                run.told_x, run.told_y = [], []
                run.start += k
                run.n_batches += 1
                run.batch = run.engine.ask()

    def _told(
        self, ctx: SamplerContext, dims: _Dims, first: int, proposals: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Points and values to tell for trial numbers ``first..first+len(proposals)-1``."""
        h = ctx.history
        k = len(proposals)
        y = np.full(k, np.inf)
        x = proposals.copy()
        m = max(0, min(first + k, h.n) - first)  # rows the history has
        if m == 0:
            return x, y
        rows = slice(first, first + m)
        sign = -1.0 if ctx.directions[0] == "maximize" else 1.0
        values = sign * h.values[rows, 0]
        ok = (h.states[rows] == _COMPLETE) & np.isfinite(values)
        y[:m] = np.where(ok, values, np.inf)
        stored = np.stack([h.column(n)[rows] for n in dims.names], axis=1)
        decoded = dims.decode(proposals[:m])
        same = np.isclose(decoded, stored, rtol=1e-9, atol=1e-12) | np.isnan(stored)
        if not same.all():
            x[:m] = np.where(same, proposals[:m], dims.encode(stored))
        return x, y

    # -- introspection --------------------------------------------------------------------
    def state(self, study: Any) -> dict[str, Any]:
        """A summary of the state the study's next ask would use (for monitoring).

        Args:
            study: a :class:`~tunesmith.Study` (synchronized first) or a
                :class:`SamplerContext`.

        Returns:
            ``params`` (the modelled names), ``batch_start`` and ``batch_size`` (the
            current batch's trial numbers), ``batch_kind`` (what the engine asked:
            ``"init"``, ``"generation"``, ``"move"``, ``"ga"``,
            ``"reevaluate_population"``, ``"reevaluate_best"``), ``n_batches`` and
            ``iteration`` (completed batches and generations), ``n_evals`` (trials
            told), ``best_value`` (in the study's direction) and ``best_params``.
        """
        if isinstance(study, SamplerContext):
            ctx = study
        else:
            study._sync()
            ctx = study._ctx()
        space = self.relative_space(ctx)
        if space is None:
            return {"params": []}
        dims = self._dims_of(tuple(space.items()))
        with self._lock:
            run = self._current_run(ctx, dims)
            eng = run.engine
            sign = -1.0 if ctx.directions[0] == "maximize" else 1.0
            best = None if not math.isfinite(eng.best_y) else space.from_unit(eng.best_x)
            return {
                "params": list(dims.names),
                "batch_start": run.start,
                "batch_size": len(run.batch),
                "batch_kind": eng.batch_kind,
                "n_batches": run.n_batches,
                "iteration": eng.iteration,
                "n_evals": eng.n_evals,
                "best_value": sign * eng.best_y if math.isfinite(eng.best_y) else None,
                "best_params": best,
            }

    # -- description and pickling ---------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        d = super().describe()
        for k, default in self._defaults.items():
            v = self._config[k]
            if v != default:
                d[k] = list(v) if isinstance(v, tuple) else v
        return d

    def __getstate__(self) -> dict[str, Any]:
        # Caches are dropped: the replay rebuilds them from the history.
        return {**self._config, "seed": self.seed}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]


def _pair(name: str, v: Sequence[float]) -> tuple[float, float]:
    try:
        a, b = (float(x) for x in v)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (start, end) of numbers, got {v!r}") from None
    return (a, b)


class GASampler(_PopulationSampler):
    """Real-coded genetic algorithm (tournament selection, SBX or BLX-alpha crossover,
    polynomial mutation, elitism) over the unit cube of the space.

    One generation is ``popsize`` consecutive trials. A robust, simple population
    method for large budgets and cheap parallel evaluations; for small budgets prefer
    the default (GP/TPE). See ``docs/samplers/population.md``.

    Args:
        popsize: population size (default 20).
        crossover: ``"sbx"`` (default) or ``"blx"``.
        crossover_prob: probability that a pair of parents is crossed (default 0.9).
        eta_c: SBX distribution index (default 15; smaller spreads children wider).
        alpha: BLX-alpha extension (default 0.5).
        eta_m: polynomial-mutation distribution index (default 20).
        mutation_prob: per-parameter mutation probability (default ``1 / d``).
        tournament_size: default 2.
        n_elite: best parents carried over each generation (default 2).
        seed: fixes the proposals; None uses the study's seed.

    Example:
        >>> import tunesmith as ts
        >>> study = ts.create_study(sampler=ts.GASampler(popsize=10), seed=0)
        >>> study.optimize(lambda t: (t.suggest_float("x", -3, 3) - 1) ** 2, n_trials=60)
        >>> abs(study.best_params["x"] - 1) < 0.3
        True
    """

    _salt = "ga"
    _defaults: ClassVar[dict[str, Any]] = {
        "popsize": 20,
        "crossover": "sbx",
        "crossover_prob": 0.9,
        "eta_c": 15.0,
        "alpha": 0.5,
        "eta_m": 20.0,
        "mutation_prob": None,
        "tournament_size": 2,
        "n_elite": 2,
    }

    def __init__(
        self,
        popsize: int = 20,
        crossover: str = "sbx",
        crossover_prob: float = 0.9,
        eta_c: float = 15.0,
        alpha: float = 0.5,
        eta_m: float = 20.0,
        mutation_prob: float | None = None,
        tournament_size: int = 2,
        n_elite: int = 2,
        seed: int | None = None,
    ) -> None:
        super().__init__(
            popsize,
            seed,
            crossover=crossover,
            crossover_prob=crossover_prob,
            eta_c=eta_c,
            alpha=alpha,
            eta_m=eta_m,
            mutation_prob=mutation_prob,
            tournament_size=tournament_size,
            n_elite=n_elite,
        )

    def _make_engine(self, d: int, rng: np.random.Generator, dims: _Dims) -> Any:
        c = dict(self._config)
        return GA(d, c.pop("popsize"), rng, **c)


class PSOSampler(_PopulationSampler):
    """Global-best particle swarm optimization over the unit cube of the space.

    One iteration of the swarm is ``popsize`` consecutive trials. Defaults are the
    Clerc & Kennedy (2002) constriction values ``w = 0.7298, c1 = c2 = 1.49618`` with
    velocities clamped to ``0.2`` of each range. See ``docs/samplers/population.md``.

    Args:
        popsize: swarm size (default 20).
        w: inertia weight.
        c1: cognitive coefficient (pull to the particle's best).
        c2: social coefficient (pull to the swarm's best).
        v_max: velocity clamp in fractions of each range (None: no clamp).
        seed: fixes the proposals; None uses the study's seed.

    Example:
        >>> import tunesmith as ts
        >>> study = ts.create_study(sampler=ts.PSOSampler(popsize=10), seed=0)
        >>> study.optimize(lambda t: (t.suggest_float("x", -3, 3) - 1) ** 2, n_trials=60)
        >>> abs(study.best_params["x"] - 1) < 0.3
        True
    """

    _salt = "pso"
    _defaults: ClassVar[dict[str, Any]] = {
        "popsize": 20,
        "w": 0.7298,
        "c1": 1.49618,
        "c2": 1.49618,
        "v_max": 0.2,
    }

    def __init__(
        self,
        popsize: int = 20,
        w: float = 0.7298,
        c1: float = 1.49618,
        c2: float = 1.49618,
        v_max: float | None = 0.2,
        seed: int | None = None,
    ) -> None:
        super().__init__(popsize, seed, w=w, c1=c1, c2=c2, v_max=v_max)

    def _make_engine(self, d: int, rng: np.random.Generator, dims: _Dims) -> Any:
        c = dict(self._config)
        return PSO(d, c.pop("popsize"), rng, **c)


class DESampler(_PopulationSampler):
    """Differential evolution (``rand/1/bin`` or JADE's ``current-to-pbest/1/bin``)
    over the unit cube of the space.

    One generation is ``popsize`` consecutive trials (one trial vector per target).
    See ``docs/samplers/population.md``.

    Args:
        popsize: population size (default 20; at least 4).
        strategy: ``"rand1bin"`` (default) or ``"current_to_pbest1bin"``.
        F: differential weight (default 0.5).
        CR: crossover rate (default 0.9).
        p: share of the best the ``pbest`` is drawn from (default 0.1).
        archive: archive of replaced parents for ``current_to_pbest1bin``.
        adaptive: JADE's self-adaptation of F and CR (``F`` and ``CR`` are then the
            initial means).
        seed: fixes the proposals; None uses the study's seed.

    Example:
        >>> import tunesmith as ts
        >>> study = ts.create_study(sampler=ts.DESampler(popsize=10), seed=0)
        >>> study.optimize(lambda t: (t.suggest_float("x", -3, 3) - 1) ** 2, n_trials=60)
        >>> abs(study.best_params["x"] - 1) < 0.3
        True
    """

    _salt = "de"
    _defaults: ClassVar[dict[str, Any]] = {
        "popsize": 20,
        "strategy": "rand1bin",
        "F": 0.5,
        "CR": 0.9,
        "p": 0.1,
        "archive": True,
        "adaptive": False,
    }

    def __init__(
        self,
        popsize: int = 20,
        strategy: str = "rand1bin",
        F: float = 0.5,
        CR: float = 0.9,
        p: float = 0.1,
        archive: bool = True,
        adaptive: bool = False,
        seed: int | None = None,
    ) -> None:
        if popsize < 4:
            raise ValueError(f"DESampler needs popsize >= 4, got {popsize!r}")
        super().__init__(
            popsize, seed, strategy=strategy, F=F, CR=CR, p=p, archive=archive, adaptive=adaptive
        )

    def _make_engine(self, d: int, rng: np.random.Generator, dims: _Dims) -> Any:
        c = dict(self._config)
        return DE(d, c.pop("popsize"), rng, **c)


class GEOSampler(_PopulationSampler):
    """Golden eagle optimizer (Mohammadi-Balani et al. 2021) over the unit cube.

    One move of all eagles is ``popsize`` consecutive trials. The attack propensity
    grows and the cruise propensity shrinks linearly over ``n_generations`` moves
    (then stay at their end values): set it to about ``n_trials / popsize``.
    Default: the original GEO (eagles on their prey stay put); ``paper_exact=True``
    reproduces the GEGO authors' ``geo.py`` (origin reset, per-coordinate
    coefficients). See ``docs/samplers/population.md``.

    Args:
        popsize: number of eagles (default 20).
        n_generations: length ``T`` of the propensity schedules, in moves (default 50).
        attack: attack propensity ``(start, end)`` (default ``(0.5, 2)``).
        cruise: cruise propensity ``(start, end)`` (default ``(1, 0.5)``).
        paper_exact: reproduce the authors' code, quirks included.
        seed: fixes the proposals; None uses the study's seed.

    Example:
        >>> import tunesmith as ts
        >>> study = ts.create_study(sampler=ts.GEOSampler(popsize=10, n_generations=6), seed=0)
        >>> study.optimize(lambda t: (t.suggest_float("x", -3, 3) - 1) ** 2, n_trials=60)
        >>> abs(study.best_params["x"] - 1) < 0.3
        True
    """

    _salt = "geo"
    _defaults: ClassVar[dict[str, Any]] = {
        "popsize": 20,
        "n_generations": 50,
        "attack": (0.5, 2.0),
        "cruise": (1.0, 0.5),
        "paper_exact": False,
    }

    def __init__(
        self,
        popsize: int = 20,
        n_generations: int = 50,
        attack: Sequence[float] = (0.5, 2.0),
        cruise: Sequence[float] = (1.0, 0.5),
        paper_exact: bool = False,
        seed: int | None = None,
    ) -> None:
        super().__init__(
            popsize,
            seed,
            n_generations=n_generations,
            attack=_pair("attack", attack),
            cruise=_pair("cruise", cruise),
            paper_exact=bool(paper_exact),
        )

    def _make_engine(self, d: int, rng: np.random.Generator, dims: _Dims) -> Any:
        c = dict(self._config)
        eng = GEO(
            d,
            c["popsize"],
            rng,
            n_iter=c["n_generations"],
            attack=c["attack"],
            cruise=c["cruise"],
            paper_exact=c["paper_exact"],
        )
        if dims.names:
            eng.origin = dims.origin()
        return eng


class GEGOSampler(_PopulationSampler):
    """GEGO: golden eagle optimization with an embedded genetic block
    (Nazarians & Kumar, arXiv 2601.14672, as implemented in the authors' code).

    One GEO move is ``popsize`` consecutive trials; every ``ga_every`` moves a genetic
    block (Gray coding, tournaments of 3, two-point crossover, bit flips) adds one
    batch of ``popsize`` offspring before the move.

    * Default mode: correct and without wasted evaluations -- the genetic block
      selects on the stored values, an eagle on its prey stays put.
    * ``paper_exact=True``: the authors' code, quirks included: the block first
      re-evaluates the current positions (``popsize`` trials repeating earlier
      parameters) and the recorded best position (one trial), and eagles on their
      prey are reset to the origin (the value 0 of each linear numeric parameter,
      clipped to its range). This costs ``popsize + 1`` extra trials per block.

    See ``docs/samplers/population.md`` (and note the dossier's finding that GEGO's
    advantage over GEO in the paper is partly a budget artefact).

    Args:
        popsize: number of eagles (even; default 20).
        n_generations: length ``T`` of the propensity schedules, in moves (default 50).
        attack: attack propensity ``(start, end)`` (default ``(0.5, 2)``).
        cruise: cruise propensity ``(start, end)`` (default ``(1, 0.5)``).
        ga_every: moves between genetic blocks (default 5).
        prob_mut: bit-flip probability (default 0.001).
        precision: Gray-code resolution relative to each range (default ``1e-7``).
        paper_exact: reproduce the authors' code, quirks included.
        seed: fixes the proposals; None uses the study's seed.

    Example:
        >>> import tunesmith as ts
        >>> study = ts.create_study(sampler=ts.GEGOSampler(popsize=10, n_generations=6), seed=0)
        >>> study.optimize(lambda t: (t.suggest_float("x", -3, 3) - 1) ** 2, n_trials=60)
        >>> abs(study.best_params["x"] - 1) < 0.3
        True
    """

    _salt = "gego"
    _defaults: ClassVar[dict[str, Any]] = {
        "popsize": 20,
        "n_generations": 50,
        "attack": (0.5, 2.0),
        "cruise": (1.0, 0.5),
        "ga_every": 5,
        "prob_mut": 0.001,
        "precision": 1e-7,
        "paper_exact": False,
    }

    def __init__(
        self,
        popsize: int = 20,
        n_generations: int = 50,
        attack: Sequence[float] = (0.5, 2.0),
        cruise: Sequence[float] = (1.0, 0.5),
        ga_every: int = 5,
        prob_mut: float = 0.001,
        precision: float = 1e-7,
        paper_exact: bool = False,
        seed: int | None = None,
    ) -> None:
        super().__init__(
            popsize,
            seed,
            n_generations=n_generations,
            attack=_pair("attack", attack),
            cruise=_pair("cruise", cruise),
            ga_every=ga_every,
            prob_mut=prob_mut,
            precision=precision,
            paper_exact=bool(paper_exact),
        )

    def _make_engine(self, d: int, rng: np.random.Generator, dims: _Dims) -> Any:
        c = dict(self._config)
        eng = GEGO(
            d,
            c["popsize"],
            rng,
            n_iter=c["n_generations"],
            attack=c["attack"],
            cruise=c["cruise"],
            ga_every=c["ga_every"],
            prob_mut=c["prob_mut"],
            precision=c["precision"],
            paper_exact=c["paper_exact"],
        )
        if dims.names:
            eng.origin = dims.origin()
        return eng
