"""CMA-ES through the `cmaes <https://github.com/CyberAgentAILab/cmaes>`__ package.

The covariance matrix adaptation evolution strategy (Hansen, arXiv 1604.00772)
samples a population of ``popsize`` points from a multivariate normal
distribution, ranks them by value and moves the distribution (mean, step size,
covariance) towards the better ones. This module does not implement the
algorithm: it drives ``cmaes.CMA``, ``cmaes.CMAwM`` (with margin, for integers)
and ``cmaes.SepCMA`` (diagonal covariance, for high dimension) through their
``ask``/``tell`` interface.

Design: the optimizer is a deterministic function of the study's history.

* **Coordinates.** CMA-ES works in the unit cube over the numeric parameters
  every trial has (the declared space's unconditional ``Float``/``Int``
  parameters, or for define-by-run studies the intersection space of the
  completed trials), through :meth:`Float.to_unit`/:meth:`Int.to_unit`: ``log``
  parameters are searched on a log scale and each value of an integer or stepped
  parameter owns an equal slice of ``[0, 1]`` (log integers: a log-scaled slice,
  so they are searched as continuous values and rounded). Categorical,
  conditional and dynamic parameters are drawn uniformly at random
  (:class:`~tunesmith.samplers.RandomSampler`); a warning says so once.
* **Replay.** Finished trials are fed to a fresh optimizer in trial-number order,
  in batches of ``popsize`` usable trials (COMPLETE; PRUNED only with
  ``consider_pruned_trials``; FAILED ones and trials lacking a parameter are
  skipped; the first ``n_startup_trials`` numbers are random and never told).
  ``tell`` accepts any points, so trials that CMA-ES did not propose (enqueued
  ones, retries, stale proposals of parallel workers) are told with their stored
  values. The optimizer is cached with the number of history rows it consumed,
  so an ask only tells the rows that finished since the last one; a new process
  rebuilds the same state by replaying the stored trials.
* **Running trials** are not part of the replay. Rows are consumed as a prefix:
  the cached state stops at the first unfinished trial; finished trials after it
  are told on a copy of the state (itself cached until a skipped trial finishes).
  The state used for an ask is therefore "all finished trials, in number order".
* **Proposals.** Trial *n* is drawn from the current distribution with the
  optimizer's generator reseeded from ``ctx.key(n, "cmaes")``: it depends only on
  the seed, the number and the finished history, so parallel workers get
  different points and a study reloaded in another process continues exactly.
  When the trial is later replayed, the same draw is repeated and, if it
  reproduces the stored parameters, the raw (un-rounded) point is told; this is
  what ``CMAwM`` needs (it must be told the point before its integer encoding).
* **Restarts.** With ``restart_strategy="ipop"`` a new run with ``inc_popsize``
  times the population starts from a uniformly random mean whenever
  ``should_stop()`` reports stagnation (Auger & Hansen, CEC 2005);
  ``"bipop"`` interleaves small-population runs (Hansen, GECCO 2009, in the form
  used by Optuna <= 4.2). The restart's random mean is drawn from
  ``ctx.rng(restart_index, "cmaes:restart")``, so restarts replay exactly too.
"""

from __future__ import annotations

import math
import threading
import warnings
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tunesmith.exceptions import TunesmithError
from tunesmith.history import History
from tunesmith.samplers.base import (
    Sampler,
    SamplerContext,
    require_single_objective,
    shared_items,
)
from tunesmith.samplers.random import RandomSampler
from tunesmith.space import Categorical, Distribution, Float, Int, Space
from tunesmith.trial import FrozenTrial, TrialState

__all__ = ["CmaEsSampler"]

_COMPLETE = int(TrialState.COMPLETE)
_PRUNED = int(TrialState.PRUNED)
_M32 = (1 << 32) - 1
_TOL = 1e-9  # unit-cube slack when checking that a repeated draw matches a stored trial
#: dimension above which ``use_separable_cma="auto"`` picks the separable variant.
SEPARABLE_AUTO_DIM = 40
_INSTALL_HINT = (
    'CmaEsSampler needs the cmaes package; install it with: pip install "tunesmith[cmaes]"'
)


def _import_cmaes() -> Any:
    try:
        import cmaes
    except ImportError:
        raise ImportError(_INSTALL_HINT) from None
    return cmaes


@dataclass(frozen=True)
class _Dims:
    """The CMA-ES coordinate system: one unit-cube coordinate per numeric parameter.

    The unit encoding is that of :meth:`Float.to_unit`/:meth:`Int.to_unit`
    (the interval their ``_bounds`` give, log-transformed for ``log``), evaluated
    for all dimensions at once.
    """

    space: Space
    names: tuple[str, ...]
    dists: tuple[Distribution, ...]
    steps: np.ndarray  # unit width of a value's slice for discrete dims, 0 for continuous
    bounds: np.ndarray  # (d, 2) CMAwM box: discrete dims span their first..last value centre
    lo: np.ndarray  # transformed lower end of each dimension's interval
    width: np.ndarray  # transformed width (> 0: single-valued parameters are not modelled)
    log: np.ndarray  # bool: log-transformed dimensions
    half: np.ndarray  # half a step (internal units) for integer/stepped dims, else 0

    @classmethod
    def of(cls, space: Space) -> _Dims:
        dists = tuple(space[n] for n in space)
        d = len(dists)
        steps, half = np.zeros(d), np.zeros(d)
        bounds = np.tile([0.0, 1.0], (d, 1))
        lo, hi = np.zeros(d), np.ones(d)
        log = np.zeros(d, dtype=bool)
        for j, dist in enumerate(dists):
            assert isinstance(dist, Float | Int)
            lo[j], hi[j] = dist._bounds()
            log[j] = dist.log
            if dist.step is not None:
                half[j] = 0.5 * dist.step
            k = _n_values(dist)
            if k is not None:
                # Values sit at the slice centres (i + 0.5) / k of the padded encoding.
                steps[j] = 1.0 / k
                bounds[j] = (0.5 / k, 1.0 - 0.5 / k)
        return cls(space, tuple(space), dists, steps, bounds, lo, hi - lo, log, half)

    @property
    def d(self) -> int:
        return len(self.names)

    @property
    def has_discrete(self) -> bool:
        return bool(np.any(self.steps > 0))

    def to_unit(self, internal: np.ndarray) -> np.ndarray:
        """Unit coordinates of internal values (rows x dims, or one row)."""
        x = np.asarray(internal, dtype=float)
        if self.log.any():
            x = x.copy()
            x[..., self.log] = np.log(x[..., self.log])
        return np.clip((x - self.lo) / self.width, 0.0, 1.0)

    def cells(self, internal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Unit intervals that decode to the given internal values (rows x dims).

        A value of an integer or stepped parameter owns the slice between the unit
        images of ``value -/+ step / 2``; a continuous value owns its own image.
        """
        return self.to_unit(internal - self.half), self.to_unit(internal + self.half)


def _n_values(dist: Distribution) -> int | None:
    """Number of values of a linear integer/stepped parameter (None if continuous)."""
    if isinstance(dist, Int) and not dist.log:
        return (dist.high - dist.low) // dist.step + 1
    if isinstance(dist, Float) and dist.step is not None:
        return int(round((dist.high - dist.low) / dist.step)) + 1
    return None


def _modelled(dist: Distribution) -> bool:
    return isinstance(dist, Float | Int) and not dist.single()


@dataclass
class _Run:
    """Replay state: the optimizer after consuming history rows ``[0, consumed)``."""

    consumed: int = 0
    skipped: list[int] = field(default_factory=list)  # unfinished rows passed over
    opt: Any = None
    pending: list[tuple[np.ndarray, float]] = field(default_factory=list)
    best_startup: tuple[float, np.ndarray] | None = None
    n_told: int = 0
    generations: int = 0
    n_restarts: int = 0
    popsizes: list[int] = field(default_factory=list)
    # BIPOP bookkeeping
    regime: str = "small"
    n_large: int = 0
    small_evals: int = 0
    large_evals: int = 0
    base: int = 0  # for a tail: the prefix length it was cloned from

    def clone(self) -> _Run:
        return _Run(
            consumed=self.consumed,
            skipped=list(self.skipped),
            opt=None if self.opt is None else _clone(self.opt),
            pending=[(x.copy(), v) for x, v in self.pending],
            best_startup=self.best_startup,
            n_told=self.n_told,
            generations=self.generations,
            n_restarts=self.n_restarts,
            popsizes=list(self.popsizes),
            regime=self.regime,
            n_large=self.n_large,
            small_evals=self.small_evals,
            large_evals=self.large_evals,
            base=self.base,
        )


def _clone(obj: Any) -> Any:
    """Exact copy of a cmaes optimizer.

    ``copy.deepcopy`` goes through the optimizers' ``__getstate__``, which stores only
    the upper triangle of the covariance and so may change it in the last bit.
    """
    new = object.__new__(type(obj))
    for k, v in vars(obj).items():
        if isinstance(v, np.ndarray):
            v = v.copy()
        elif isinstance(v, np.random.RandomState):
            r = np.random.RandomState()
            r.set_state(v.get_state())
            v = r
        elif type(v).__module__.startswith("cmaes"):
            v = _clone(v)
        new.__dict__[k] = v
    return new


@dataclass
class _Cache:
    key: tuple[Any, ...]
    prefix: _Run
    tail: _Run | None = None


class CmaEsSampler(Sampler):
    """CMA-ES for numeric search spaces (through the ``cmaes`` package).

    Strong on continuous, moderately conditioned problems with budgets of tens of
    evaluations per dimension or more; parallel-friendly (a population is
    ``popsize`` independent points). Categorical parameters are not modelled:
    they (and conditional or dynamic parameters) are drawn at random, so prefer
    :class:`~tunesmith.samplers.TPESampler` for such spaces. Single objective only.

    The optimizer state is rebuilt from the study's trials (see the module
    docstring), so the sampler keeps nothing that a restart could lose, and a
    seed fixes every proposal for a given history.

    Args:
        sigma0: initial step size in the unit cube (default 1/6: the cube's width
            is about 6 standard deviations).
        n_startup_trials: the first trial numbers drawn uniformly at random
            (not told to CMA-ES; with ``x0="best"`` the best of them is the
            initial mean).
        popsize: population size (default ``4 + floor(3 ln d)``).
        restart_strategy: ``"ipop"`` (default: restart with a population
            ``inc_popsize`` times larger when CMA-ES stagnates), ``"bipop"`` or
            None (never restart).
        inc_popsize: population growth factor of IPOP/BIPOP restarts.
        use_margin: CMA-ES with margin (``cmaes.CMAwM``, Hamano et al. 2022)
            for integer and stepped parameters, which keeps them from fixating;
            ``"auto"`` (default) uses it when the space has such parameters.
        use_separable_cma: diagonal covariance (``cmaes.SepCMA``, Ros & Hansen
            2008): a (d + 2) / 3 times larger rank-mu learning rate for a
            covariance that cannot model correlations. ``"auto"`` (default) uses it above 40 numeric
            dimensions when the margin is not in use, since in typical HPO budgets
            a full covariance cannot be learnt there (its learning rate is
            ``~2/d^2`` per generation).
        x0: the initial mean: None (the centre of the space), ``"best"`` (the
            best complete startup trial; the centre if there is none) or a mapping
            of parameter values (missing ones start at the centre).
        consider_pruned_trials: tell PRUNED trials with their last reported
            value (default: skip them, as their values are not comparable).
        source_trials: completed trials of an earlier, similar study to warm-start
            from (``cmaes.get_warm_start_mgd``, Nomura et al. 2021: mean, step
            size and covariance of the best 10 %); at least 10 of them must have
            every modelled parameter. They are not part of :meth:`describe`:
            pass the sampler again when loading the study.
        seed: fixes the proposals; None uses the study's seed.

    Raises:
        ValueError: for invalid arguments.

    Example:
        >>> import tunesmith as ts
        >>> from tunesmith.samplers.cmaes import CmaEsSampler
        >>> study = ts.create_study(sampler=CmaEsSampler(), seed=0)
        >>> study.optimize(lambda t: (t.suggest_float("x", -3, 3) - 1) ** 2, n_trials=60)
        >>> abs(study.best_params["x"] - 1) < 0.1
        True
    """

    def __init__(
        self,
        sigma0: float | None = None,
        n_startup_trials: int = 1,
        popsize: int | None = None,
        restart_strategy: str | None = "ipop",
        inc_popsize: int = 2,
        use_margin: bool | str = "auto",
        use_separable_cma: bool | str = "auto",
        x0: Mapping[str, Any] | str | None = None,
        consider_pruned_trials: bool = False,
        source_trials: Sequence[FrozenTrial] | None = None,
        seed: int | None = None,
    ) -> None:
        if sigma0 is not None and not (isinstance(sigma0, int | float) and sigma0 > 0):
            raise ValueError(f"sigma0 must be a positive number or None, got {sigma0!r}")
        if not isinstance(n_startup_trials, int) or n_startup_trials < 0:
            raise ValueError(f"n_startup_trials must be an integer >= 0, got {n_startup_trials!r}")
        if popsize is not None and (not isinstance(popsize, int) or popsize < 2):
            raise ValueError(f"popsize must be an integer >= 2 or None, got {popsize!r}")
        if isinstance(restart_strategy, str):
            restart_strategy = restart_strategy.lower()
            if restart_strategy == "none":
                restart_strategy = None
        if restart_strategy not in (None, "ipop", "bipop"):
            raise ValueError(
                f"restart_strategy must be 'ipop', 'bipop' or None, got {restart_strategy!r}"
            )
        if not isinstance(inc_popsize, int) or inc_popsize < 2:
            raise ValueError(f"inc_popsize must be an integer >= 2, got {inc_popsize!r}")
        for nm, v in (("use_margin", use_margin), ("use_separable_cma", use_separable_cma)):
            if v not in (True, False, "auto"):
                raise ValueError(f"{nm} must be True, False or 'auto', got {v!r}")
        if use_margin is True and use_separable_cma is True:
            raise ValueError(
                "use_margin=True and use_separable_cma=True cannot be combined: the cmaes "
                "package has no separable CMA-ES with margin"
            )
        if isinstance(x0, str):
            if x0.lower() in ("center", "centre"):
                x0 = None
            elif x0.lower() == "best":
                x0 = "best"
            else:
                raise ValueError(f"x0 must be None, 'best' or a mapping of values, got {x0!r}")
        elif x0 is not None:
            if not isinstance(x0, Mapping):
                raise ValueError(f"x0 must be None, 'best' or a mapping of values, got {x0!r}")
            x0 = dict(x0)
        self.sigma0 = None if sigma0 is None else float(sigma0)
        self.n_startup_trials = n_startup_trials
        self.popsize = popsize
        self.restart_strategy = restart_strategy
        self.inc_popsize = inc_popsize
        self.use_margin = use_margin
        self.use_separable_cma = use_separable_cma
        self.x0: dict[str, Any] | str | None = x0
        self.consider_pruned_trials = bool(consider_pruned_trials)
        # Only (params, first value) of COMPLETE trials are kept: FrozenTrial objects
        # are not picklable, and nothing else is needed.
        self._source: list[tuple[dict[str, Any], float]] | None = None
        if source_trials is not None:
            self._source = [
                (dict(t.params), float(t.values[0]))
                for t in source_trials
                if t.state == TrialState.COMPLETE and t.values
            ]
        self.seed = seed
        self._fallback = RandomSampler(seed)
        self._lock = threading.RLock()
        # One replay per history (a sampler object may serve several studies).
        self._caches: weakref.WeakKeyDictionary[History, _Cache] = weakref.WeakKeyDictionary()
        self._dims: dict[tuple[Any, ...], _Dims] = {}
        self._warm: dict[tuple[Any, ...], tuple[np.ndarray, float, np.ndarray]] = {}
        self._warned = False

    # -- the space -----------------------------------------------------------------
    def relative_space(self, ctx: SamplerContext) -> Space | None:
        require_single_objective(ctx, "CmaEsSampler")
        _import_cmaes()
        items = [(n, d) for n, d in shared_items(ctx) if _modelled(d)]
        if not items:
            return None
        return self._dims_of(tuple(items)).space

    def _dims_of(self, items: tuple[tuple[str, Distribution], ...]) -> _Dims:
        dims = self._dims.get(items)
        if dims is None:
            dims = self._dims[items] = _Dims.of(Space(dict(items)))
        return dims

    def _variant(self, dims: _Dims) -> str:
        """Which cmaes class the space gets: ``"CMA"``, ``"CMAwM"`` or ``"SepCMA"``."""
        margin = dims.has_discrete if self.use_margin == "auto" else bool(self.use_margin)
        if self.use_separable_cma is True:
            return "SepCMA"
        if margin:
            return "CMAwM"
        if self.use_separable_cma == "auto" and dims.d > SEPARABLE_AUTO_DIM:
            return "SepCMA"
        return "CMA"

    # -- proposals -----------------------------------------------------------------
    def sample_relative(self, ctx: SamplerContext, number: int, space: Space) -> dict[str, Any]:
        if len(space) == 0:
            return {}
        if number < self.n_startup_trials:
            return space.from_unit(ctx.rng(number, "relative").random(len(space)))
        dims = self._dims_of(tuple(space.items()))
        with self._lock:
            run = self._current_run(ctx, dims)
            opt = run.opt if run.opt is not None else self._initial_optimizer(ctx, dims, run)
            x_eval, _ = self._draw(ctx, opt, number)
        return space.from_unit(x_eval)

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
        if not self._warned and not dist.single():
            modelled_soon = number >= self.n_startup_trials and ctx.history.first_space()
            if isinstance(dist, Categorical) or modelled_soon:
                self._warned = True
                kind = "categorical" if isinstance(dist, Categorical) else "conditional/dynamic"
                warnings.warn(
                    f"CmaEsSampler: parameter {name!r} ({kind}) is drawn at random, not by "
                    "CMA-ES, which models only numeric parameters that every trial has "
                    "(TPESampler models categorical and conditional ones). Shown once.",
                    UserWarning,
                    stacklevel=2,
                )
        return self._fallback.sample_independent(ctx, number, name, dist, params)

    @staticmethod
    def _draw(ctx: SamplerContext, opt: Any, number: int) -> tuple[np.ndarray, np.ndarray]:
        """Trial ``number``'s point: (coordinates to evaluate, coordinates to tell)."""
        opt.reseed_rng(ctx.key(number, "cmaes") & _M32)
        out = opt.ask()
        if isinstance(out, tuple):  # CMAwM: (integer-encoded point, raw point)
            return out[0], out[1]
        return out, out

    # -- the replay ------------------------------------------------------------------
    def _current_run(self, ctx: SamplerContext, dims: _Dims) -> _Run:
        """The optimizer state after all finished trials, in number order (cached)."""
        h = ctx.history
        key = (ctx.seed, ctx.directions, tuple(zip(dims.names, dims.dists)))
        cache = self._caches.get(h)
        if cache is None or cache.key != key or cache.prefix.consumed > h.n:
            cache = self._caches[h] = _Cache(key, _Run())
        n = h.n
        prefix = cache.prefix
        start = prefix.consumed
        finished = h.states[start:n] >= _COMPLETE  # COMPLETE, PRUNED, FAILED
        open_rows = np.flatnonzero(~finished)
        stop = start + int(open_rows[0]) if open_rows.size else n
        if stop > start:
            self._consume(ctx, dims, prefix, stop)
        if stop == n or not finished[stop - start :].any():
            cache.tail = None
            return prefix
        tail = cache.tail
        if (
            tail is None
            or tail.base != stop
            or tail.consumed > n
            or (tail.skipped and bool(np.any(h.states[tail.skipped] >= _COMPLETE)))
        ):
            tail = prefix.clone()
            tail.base = stop
        self._consume(ctx, dims, tail, n)
        cache.tail = tail
        return tail

    def _consume(self, ctx: SamplerContext, dims: _Dims, run: _Run, end: int) -> None:
        """Feed rows ``[run.consumed, end)`` to ``run``; unfinished rows are skipped."""
        h = ctx.history
        start = run.consumed
        states = h.states[start:end]
        sign = -1.0 if ctx.directions[0] == "maximize" else 1.0
        values = sign * h.values[start:end, 0]
        if self.consider_pruned_trials:
            values = np.where(states == _PRUNED, sign * h.pruned_values[start:end, 0], values)
        usable = (states == _COMPLETE) | ((states == _PRUNED) & self.consider_pruned_trials)
        internal = np.stack([h.column(n)[start:end] for n in dims.names], axis=1)
        usable &= np.isfinite(values) & np.isfinite(internal).all(axis=1)
        for j in np.flatnonzero(states < _COMPLETE):
            run.skipped.append(start + int(j))
        rows = np.flatnonzero(usable)
        if rows.size:
            unit = dims.to_unit(internal[rows])
            low, high = dims.cells(internal[rows])
        for i, j in enumerate(rows):
            row = start + int(j)
            if row < self.n_startup_trials:
                if run.best_startup is None or values[j] < run.best_startup[0]:
                    run.best_startup = (float(values[j]), unit[i])
            else:
                self._tell_row(ctx, dims, run, row, unit[i], low[i], high[i], float(values[j]))
        run.consumed = end

    def _tell_row(
        self,
        ctx: SamplerContext,
        dims: _Dims,
        run: _Run,
        row: int,
        unit: np.ndarray,
        low: np.ndarray,
        high: np.ndarray,
        value: float,
    ) -> None:
        """Add one finished trial to the pending batch; tell the batch when it is full."""
        if run.opt is None:
            run.opt = self._initial_optimizer(ctx, dims, run)
            run.popsizes.append(run.opt.population_size)
        opt = run.opt
        # Repeat the draw the trial got when it was asked. If it decodes to the stored
        # values (it lies in their cells), tell the raw point: the exact sample, and what
        # CMAwM needs (its x_for_tell); else (enqueued, retried or stale trials) tell the
        # stored values.
        x_eval, x_tell = self._draw(ctx, opt, row)
        x = np.clip(x_eval, 0.0, 1.0)
        if not np.all((x >= low - _TOL) & (x <= high + _TOL)):
            x_tell = unit
        run.pending.append((np.array(x_tell, dtype=float), value))
        if len(run.pending) < opt.population_size:
            return
        opt.tell(run.pending)
        run.n_told += len(run.pending)
        run.pending = []
        run.generations += 1
        if self.restart_strategy is not None and opt.should_stop():
            self._restart(ctx, dims, run)

    def _restart(self, ctx: SamplerContext, dims: _Dims, run: _Run) -> None:
        old = run.opt
        run.n_restarts += 1
        rng = ctx.rng(run.n_restarts, "cmaes:restart")
        base = run.popsizes[0]
        sigma = self._sigma0()
        if self.restart_strategy == "ipop":
            popsize = old.population_size * self.inc_popsize
        else:  # BIPOP: spend about as many evaluations on small as on large populations
            spent = old.population_size * old.generation
            if run.regime == "small":
                run.small_evals += spent
            else:
                run.large_evals += spent
            u_pop, u_sigma = rng.random(2)
            if run.small_evals < run.large_evals:
                run.regime = "small"
                multiplier = self.inc_popsize**run.n_large
                popsize = max(2, math.floor(base * multiplier ** (u_pop**2)))
                sigma *= 10.0 ** (-2.0 * u_sigma)
            else:
                run.regime = "large"
                run.n_large += 1
                popsize = base * self.inc_popsize**run.n_large
        mean = rng.random(dims.d)
        run.opt = self._build(dims, mean, sigma, None, popsize)
        run.popsizes.append(run.opt.population_size)

    # -- optimizer construction ------------------------------------------------------------
    def _sigma0(self) -> float:
        return self.sigma0 if self.sigma0 is not None else 1.0 / 6.0

    def _initial_optimizer(self, ctx: SamplerContext, dims: _Dims, run: _Run) -> Any:
        cov = None
        sigma = self._sigma0()
        if self._source is not None:
            mean, sigma, cov = self._warm_start(ctx, dims)
        elif self.x0 == "best":
            mean = run.best_startup[1] if run.best_startup is not None else np.full(dims.d, 0.5)
        elif isinstance(self.x0, Mapping):
            mean = np.full(dims.d, 0.5)
            for j, (name, dist) in enumerate(zip(dims.names, dims.dists)):
                if name in self.x0:
                    mean[j] = float(dist.to_unit(dist.to_internal(self.x0[name])))
        else:
            mean = np.full(dims.d, 0.5)
        return self._build(dims, mean, sigma, cov, self.popsize)

    def _warm_start(self, ctx: SamplerContext, dims: _Dims) -> tuple[np.ndarray, float, Any]:
        key = (ctx.directions, tuple(zip(dims.names, dims.dists)))
        if key not in self._warm:
            cmaes = _import_cmaes()
            sign = -1.0 if ctx.directions[0] == "maximize" else 1.0
            solutions = []
            for params, value in self._source or ():
                if not all(
                    n in params and dist.contains(params[n])
                    for n, dist in zip(dims.names, dims.dists)
                ):
                    continue
                internal = [d.to_internal(params[n]) for n, d in zip(dims.names, dims.dists)]
                solutions.append((dims.to_unit(np.array(internal)), sign * value))
            if len(solutions) < 10:
                raise TunesmithError(
                    f"CmaEsSampler warm start needs at least 10 completed source_trials with "
                    f"every parameter of {list(dims.names)} inside its range; got "
                    f"{len(solutions)}"
                )
            mean, sigma, cov = cmaes.get_warm_start_mgd(solutions)
            self._warm[key] = (np.clip(mean, 0.0, 1.0), max(float(sigma), 1e-10), cov)
        mean, sigma, cov = self._warm[key]
        return mean.copy(), sigma, cov.copy()

    def _build(
        self, dims: _Dims, mean: np.ndarray, sigma: float, cov: Any, popsize: int | None
    ) -> Any:
        cmaes = _import_cmaes()
        variant = self._variant(dims)
        mean = np.clip(np.array(mean, dtype=float), 0.0, 1.0)
        common: dict[str, Any] = {
            "mean": mean,
            "sigma": float(sigma),
            # CMAwM reads the value grid from the bounds of discrete dimensions; the
            # other variants round through from_unit and search the whole cube.
            "bounds": dims.bounds.copy()
            if variant == "CMAwM"
            else np.tile([0.0, 1.0], (dims.d, 1)),
            "n_max_resampling": 10 * dims.d,
            "seed": 0,  # reseeded before every draw
            "population_size": popsize,
        }
        if variant == "SepCMA":
            return cmaes.SepCMA(**common)
        if variant == "CMAwM":
            return cmaes.CMAwM(**common, steps=dims.steps.copy(), cov=cov)
        return cmaes.CMA(**common, cov=cov)

    # -- introspection ---------------------------------------------------------------------
    def state(self, study: Any) -> dict[str, Any]:
        """A summary of the CMA-ES state a study's next ask would use (for monitoring).

        Args:
            study: a :class:`~tunesmith.Study` (synchronized first) or a
                :class:`SamplerContext`.

        Returns:
            ``variant`` (``"CMA"``, ``"CMAwM"`` or ``"SepCMA"``), ``params`` (the
            modelled names), ``popsize``, ``popsizes`` (one per run, restarts
            included), ``n_restarts``, ``generations`` (over all runs), ``n_told``
            (trials told), ``sigma`` and ``mean`` (external values); an empty
            ``params`` list when there is nothing to model yet.
        """
        if isinstance(study, SamplerContext):
            ctx = study
        else:
            study._sync()
            ctx = study._ctx()
        space = self.relative_space(ctx)
        if space is None:
            return {"variant": None, "params": []}
        dims = self._dims_of(tuple(space.items()))
        with self._lock:
            run = self._current_run(ctx, dims)
            opt = run.opt if run.opt is not None else self._initial_optimizer(ctx, dims, run)
            inner = getattr(opt, "_cma", opt)
            return {
                "variant": type(opt).__name__,
                "params": list(dims.names),
                "popsize": int(opt.population_size),
                "popsizes": list(run.popsizes) or [int(opt.population_size)],
                "n_restarts": run.n_restarts,
                "generations": run.generations,
                "n_told": run.n_told,
                "sigma": float(inner._sigma),
                "mean": space.from_unit(np.array(opt.mean)),
            }

    # -- description and pickling ----------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        d = super().describe()
        defaults = {
            "sigma0": None,
            "n_startup_trials": 1,
            "popsize": None,
            "restart_strategy": "ipop",
            "inc_popsize": 2,
            "use_margin": "auto",
            "use_separable_cma": "auto",
            "x0": None,
            "consider_pruned_trials": False,
        }
        for k, default in defaults.items():
            v = getattr(self, k)
            if v != default:
                d[k] = v
        return d

    def _config(self) -> dict[str, Any]:
        return {
            "sigma0": self.sigma0,
            "n_startup_trials": self.n_startup_trials,
            "popsize": self.popsize,
            "restart_strategy": self.restart_strategy,
            "inc_popsize": self.inc_popsize,
            "use_margin": self.use_margin,
            "use_separable_cma": self.use_separable_cma,
            "x0": self.x0,
            "consider_pruned_trials": self.consider_pruned_trials,
            "seed": self.seed,
        }

    def __getstate__(self) -> dict[str, Any]:
        # Caches are dropped: the replay rebuilds them from the history.
        return {**self._config(), "_source": self._source}

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        source = state.pop("_source", None)
        self.__init__(**state)  # type: ignore[misc]
        self._source = source
