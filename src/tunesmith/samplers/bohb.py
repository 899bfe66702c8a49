"""BOHB: Hyperband with a TPE model fitted on one budget at a time.

Falkner, Klein and Hutter (ICML 2018, arXiv 1807.01774) replace Hyperband's random
proposals with a tree-structured Parzen estimator. The model is fitted on the
observations of **one budget**: the largest budget at which enough configurations
were evaluated. Values observed at different budgets are never ranked against each
other; a plain TPE sampler next to a pruner has to do exactly that, and it ranks a
trial stopped after one epoch against one trained to the end.

Here a budget is a rung of successive halving: resource ``min_resource *
reduction_factor**k``, the same rungs :class:`~tunesmith.HyperbandPruner` and
:class:`~tunesmith.SuccessiveHalvingPruner` judge at. A finished trial's observation
at a rung is the value it reported at its first step at or past the rung (the value
the pruner compared); the top budget holds the values of COMPLETE trials. For each
proposal:

1. with probability ``random_fraction`` the configuration is drawn uniformly (BOHB's
   guard against a misleading model; 1/3 in the paper);
2. otherwise the largest budget with at least ``min_points_in_model + 2``
   observations is chosen (``min_points_in_model`` defaults to the number of
   parameters plus one), and :class:`~tunesmith.TPESampler` proposes from those
   observations alone: the trials that reached the budget, with their values there,
   and the running trials as constant liars;
3. while no budget has enough observations, configurations are uniform draws.

Several objectives work too: the reports are vectors and TPE splits them by
non-domination (MOTPE), so a multi-objective study gets a per-budget Pareto model.

The sampler proposes; stopping is the pruner's job. Pair it with
``HyperbandPruner(min_resource, max_resource, reduction_factor)`` (BOHB proper) or
``SuccessiveHalvingPruner`` with the same ``min_resource`` and ``reduction_factor``.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping
from typing import Any

import numpy as np

from tunesmith.history import History
from tunesmith.pruners.base import check_int, check_real
from tunesmith.samplers.base import Sampler, SamplerContext
from tunesmith.samplers.random import RandomSampler
from tunesmith.samplers.tpe import TPESampler
from tunesmith.space import Distribution, Space
from tunesmith.trial import TrialState

__all__ = ["BOHBSampler", "budget_observations"]

_COMPLETE = int(TrialState.COMPLETE)
_RUNNING = int(TrialState.RUNNING)
_FAILED = int(TrialState.FAILED)


def budget_observations(
    history: History, min_resource: int, reduction_factor: int
) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """The observations per budget, from the smallest budget to the top one.

    Returns a list of ``(budget, numbers, values)``: for each rung ``min_resource *
    reduction_factor**k`` up to the largest step any finished trial reported, the
    finished trials that reported at or past it and the value each reported at its
    first such step; last, ``(inf, numbers, values)`` for the COMPLETE trials and their
    final values. Rows with a NaN value are left out.
    """
    reports = history.track_reports()
    out: list[tuple[float, np.ndarray, np.ndarray]] = []
    r = min_resource
    while r <= reports.max_step:
        numbers, values = reports.first_at_or_after(r)
        ok = ~np.isnan(values).any(axis=1)
        out.append((float(r), numbers[ok], values[ok]))
        r *= reduction_factor
    n = history.n
    done = np.flatnonzero(history.states[:n] == _COMPLETE)
    vals = history.values[done]
    ok = ~np.isnan(vals).any(axis=1)
    out.append((float("inf"), done[ok], vals[ok]))
    return out


class _BudgetView(History):
    """A history whose finished rows are the trials observed at one budget.

    Rows keep their trial numbers, so parameter columns are the parent's own arrays
    (shared, not copied); only ``states`` and ``values`` are the view's. Running
    trials stay RUNNING (TPE's constant liar sees them); every other row is FAILED,
    which TPE ignores.
    """

    def __init__(self, parent: History) -> None:
        super().__init__(None, 0, parent.directions)
        self.params = parent.params
        self.distributions = parent.distributions
        self._seen = 0  # observations written so far (they never change)

    def refresh(self, parent: History, numbers: np.ndarray, values: np.ndarray) -> None:
        n = parent.n
        if self.states.size < n:
            cap = max(n, 2 * self.states.size)
            states = np.full(cap, _FAILED, dtype=np.int8)
            states[: self.states.size] = self.states
            grown = np.full((cap, self.n_objectives), np.nan)
            grown[: self.values.shape[0]] = self.values
            self.states, self.values = states, grown
        s = self.states[:n]
        observed = s == _COMPLETE
        s[~observed] = np.where(parent.states[:n][~observed] == _RUNNING, _RUNNING, _FAILED)
        if numbers.size != self._seen:
            self.states[numbers] = _COMPLETE
            self.values[numbers] = values
            self._seen = int(numbers.size)
        self.n = n
        self.version += 1

    def first_space(self) -> tuple[str, ...] | None:
        return tuple(self.params) or None


class BOHBSampler(Sampler):
    """Model-based Hyperband (BOHB): a TPE model per budget proposes the trials a
    Hyperband (or successive-halving) pruner then stops early.

    Args:
        min_resource: the first rung's step; use the pruner's ``min_resource``.
        reduction_factor: eta; use the pruner's ``reduction_factor``.
        min_points_in_model: a budget is modelled once it has this many observations
            plus two; default: the number of parameters plus one (as in the paper).
        random_fraction: share of proposals drawn uniformly at random (the paper's
            1/3), so that a misleading model cannot starve the search.
        seed: fixes every proposal (default: the study's seed).
        **tpe_options: passed to :class:`~tunesmith.TPESampler` (its defaults,
            multivariate, otherwise); ``n_startup_trials`` is managed here.

    Raises:
        ValueError: for an argument out of range, naming it.

    Example:
        >>> import tunesmith as ts
        >>> study = ts.create_study(
        ...     sampler=ts.BOHBSampler(min_resource=1, reduction_factor=3),
        ...     pruner=ts.HyperbandPruner(min_resource=1, max_resource=81, reduction_factor=3),
        ... )
    """

    def __init__(
        self,
        min_resource: int = 1,
        reduction_factor: int = 3,
        *,
        min_points_in_model: int | None = None,
        random_fraction: float = 1.0 / 3.0,
        seed: int | None = None,
        **tpe_options: Any,
    ) -> None:
        self.min_resource = check_int("min_resource", min_resource, 1)
        self.reduction_factor = check_int("reduction_factor", reduction_factor, 2)
        self.min_points_in_model = (
            None
            if min_points_in_model is None
            else check_int("min_points_in_model", min_points_in_model, 1)
        )
        self.random_fraction = check_real("random_fraction", random_fraction, 0.0, 1.0)
        if "n_startup_trials" in tpe_options:
            raise ValueError(
                "BOHBSampler decides when to start modelling (min_points_in_model); do not "
                "pass n_startup_trials"
            )
        self.tpe_options = dict(tpe_options)
        self.seed = seed
        self._init()

    def _init(self) -> None:
        options = {"multivariate": True, **self.tpe_options}
        self._tpe = TPESampler(seed=self.seed, n_startup_trials=0, **options)
        self._random = RandomSampler(self.seed)
        self._lock = threading.Lock()
        self._views: weakref.WeakKeyDictionary[History, dict[float, _BudgetView]] = (
            weakref.WeakKeyDictionary()
        )
        #: budget each trial number was modelled on (None: a random draw), for tests
        #: and for users curious why a proposal was made.
        self.last_budget: float | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in self.__dict__.items()
            if k not in ("_tpe", "_random", "_lock", "_views")
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init()

    # -- protocol ----------------------------------------------------------------
    def relative_space(self, ctx: SamplerContext) -> Space | None:
        return self._tpe.relative_space(ctx)

    def sample_relative(self, ctx: SamplerContext, number: int, space: Space) -> dict[str, Any]:
        if len(space) == 0:
            return {}
        if ctx.uniform(number, "bohb:random") < self.random_fraction:
            self.last_budget = None
            return self._random.sample_relative(ctx, number, space)
        need = (
            self.min_points_in_model if self.min_points_in_model is not None else len(space) + 1
        ) + 2
        with self._lock:
            h = ctx.history
            chosen = None
            for budget, numbers, values in reversed(
                budget_observations(h, self.min_resource, self.reduction_factor)
            ):
                if numbers.size >= need:
                    chosen = (budget, numbers, values)
                    break
            if chosen is None:
                self.last_budget = None
                return self._random.sample_relative(ctx, number, space)
            budget, numbers, values = chosen
            views = self._views.setdefault(h, {})
            view = views.get(budget)
            if view is None:
                view = views[budget] = _BudgetView(h)
            view.refresh(h, numbers, values)
            self.last_budget = budget
            sub = SamplerContext(view, ctx.space, ctx.seed, ctx.directions, ctx.study_name)
        return self._tpe.sample_relative(sub, number, space)

    def sample_independent(
        self,
        ctx: SamplerContext,
        number: int,
        name: str,
        dist: Distribution,
        params: Mapping[str, Any],
    ) -> Any:
        return self._tpe.sample_independent(ctx, number, name, dist, params)

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "min_resource": self.min_resource,
            "reduction_factor": self.reduction_factor,
            "min_points_in_model": self.min_points_in_model,
            "random_fraction": self.random_fraction,
            **self.tpe_options,
        }
