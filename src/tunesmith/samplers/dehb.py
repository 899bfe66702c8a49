"""DEHB: differential evolution on each budget of Hyperband.

Awad, Mallik and Hutter (IJCAI 2021, arXiv 2105.09821) keep one differential-evolution
sub-population per budget and let Hyperband decide which configurations are trained
how long. This is the asynchronous form that fits tunesmith's pruners, where a trial
is one configuration that is stopped early or trained on:

* **Budget levels** are the rungs of successive halving, ``r_j = min_resource *
  reduction_factor**j``. A new trial is proposed for the level at which its
  Hyperband bracket first judges it: bracket ``b`` (the same stable hash of study name
  and trial number that :class:`~tunesmith.HyperbandPruner` uses) starts at level
  ``b``. Without ``max_resource`` (a :class:`~tunesmith.SuccessiveHalvingPruner`
  study) every trial starts at level 0.
* **Sub-populations.** Level ``j``'s population is made of the finished trials that
  reported at or past ``r_j``, each with the value it reported there: the
  ``population_size(j)`` best of them (Hyperband's rung sizes, ``eta**(s_max - j)``,
  at least ``min_population``). Keeping the best of old and new members is DE's
  selection step, applied to the whole sub-population at once.
* **Offspring** for level ``j``: rand/1 mutation ``v = a + F * (b - c)`` with
  ``a, b, c`` distinct members of the *parent pool*, binomial crossover (rate ``CR``,
  at least one coordinate from ``v``) with a target drawn from level ``j``'s
  population. The parent pool is the part of level ``j - 1``'s population that would
  be promoted to ``j`` (its best ``1/eta``; DEHB's rule), or level ``j``'s own population
  at level 0, topped up from all levels when it has fewer than three members.
  Coordinates that leave the unit cube are redrawn uniformly (as in DEHB).
* Until a level has enough members for a mutation, proposals are uniform draws.

Everything works in the unit-cube encoding of the space (log parameters on a log
scale, each integer and categorical value owning a slice), so integer, log and
categorical parameters evolve too. Randomness comes from ``ctx.rng(number, ...)``: a
seed fixes every proposal, whichever worker asks.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import numpy as np

from tunesmith.history import History
from tunesmith.pruners.base import check_int, check_real
from tunesmith.pruners.hyperband import bracket_of, hyperband_brackets
from tunesmith.samplers.base import ObservedSpace, Sampler, SamplerContext
from tunesmith.samplers.bohb import budget_observations
from tunesmith.samplers.random import RandomSampler
from tunesmith.space import Distribution, Space

__all__ = ["DEHBSampler"]


class DEHBSampler(Sampler):
    """Differential evolution per Hyperband budget (DEHB), asynchronous.

    Pair it with the pruner of the same resources: ``HyperbandPruner(min_resource,
    max_resource, reduction_factor)`` (DEHB proper), or leave ``max_resource`` out and
    use ``SuccessiveHalvingPruner(min_resource, reduction_factor)``.

    Args:
        min_resource: the first rung's step (the pruner's ``min_resource``).
        max_resource: the step of a full training (the pruner's ``max_resource``);
            None when every trial starts at the first rung (successive halving).
        reduction_factor: eta (the pruner's ``reduction_factor``).
        mutation_factor: F of rand/1 mutation (DEHB's default 0.5).
        crossover_prob: CR of binomial crossover (DEHB's default 0.5).
        min_population: the smallest sub-population a level keeps (at least 4, the
            target plus three distinct parents).
        seed: fixes every proposal (default: the study's seed).

    Raises:
        ValueError: for an argument out of range, naming it.

    Example:
        >>> import tunesmith as ts
        >>> study = ts.create_study(
        ...     sampler=ts.DEHBSampler(min_resource=1, max_resource=81),
        ...     pruner=ts.HyperbandPruner(min_resource=1, max_resource=81),
        ... )
    """

    def __init__(
        self,
        min_resource: int = 1,
        max_resource: int | None = None,
        reduction_factor: int = 3,
        *,
        mutation_factor: float = 0.5,
        crossover_prob: float = 0.5,
        min_population: int = 10,
        seed: int | None = None,
    ) -> None:
        self.min_resource = check_int("min_resource", min_resource, 1)
        self.max_resource = (
            None if max_resource is None else check_int("max_resource", max_resource, 1)
        )
        self.reduction_factor = check_int("reduction_factor", reduction_factor, 2)
        self.mutation_factor = check_real("mutation_factor", mutation_factor, 0.0, 2.0)
        self.crossover_prob = check_real("crossover_prob", crossover_prob, 0.0, 1.0)
        self.min_population = check_int("min_population", min_population, 4)
        self.seed = seed
        if self.max_resource is not None:
            # Validates min < max and gives the bracket sizes and rung counts.
            brackets = hyperband_brackets(
                self.min_resource, self.max_resource, self.reduction_factor
            )
            self._sizes: tuple[int, ...] | None = tuple(b.n_trials for b in brackets)
            self._s_max = len(brackets) - 1
        else:
            self._sizes = None
            self._s_max = 4
        self._init()

    def _init(self) -> None:
        self._random = RandomSampler(self.seed)
        self._lock = threading.Lock()
        self._observed = ObservedSpace()

    def __getstate__(self) -> dict[str, Any]:
        return {
            k: v for k, v in self.__dict__.items() if k not in ("_random", "_lock", "_observed")
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init()

    # -- pieces ------------------------------------------------------------------
    def level_of(self, study_name: str, number: int) -> int:
        """The budget level trial ``number`` is proposed for (its Hyperband bracket)."""
        if self._sizes is None:
            return 0
        return bracket_of(study_name, number, self._sizes)

    def population_size(self, level: int) -> int:
        """How many members level ``level`` keeps."""
        return max(self.min_population, self.reduction_factor ** max(0, self._s_max - level))

    def _unit(self, h: History, space: Space, numbers: np.ndarray) -> np.ndarray:
        """Unit-cube coordinates of trials ``numbers`` (NaN where a parameter is absent)."""
        out = np.empty((numbers.size, len(space)))
        for j, name in enumerate(space):
            col = h.column(name)[numbers]
            out[:, j] = space[name].to_unit(col)
        return out

    def _levels(self, ctx: SamplerContext, space: Space) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per level: (unit coordinates, signed values) of its population, best first."""
        h = ctx.history
        sign = -1.0 if ctx.directions[0] == "maximize" else 1.0
        obs = budget_observations(h, self.min_resource, self.reduction_factor)[:-1]
        levels = []
        for j, (_, numbers, values) in enumerate(obs):
            v = sign * values[:, 0]
            order = np.lexsort((numbers, v))[: self.population_size(j)]
            levels.append((self._unit(h, space, numbers[order]), v[order]))
        return levels

    # -- protocol ----------------------------------------------------------------
    def relative_space(self, ctx: SamplerContext) -> Space | None:
        return self._observed(ctx)

    def sample_relative(self, ctx: SamplerContext, number: int, space: Space) -> dict[str, Any]:
        if len(space) == 0:
            return {}
        if len(ctx.directions) != 1:
            raise ValueError(
                "DEHBSampler optimizes one objective; for several use BOHBSampler (per-budget "
                "MOTPE) or TPESampler"
            )
        with self._lock:
            levels = self._levels(ctx, space)
        if self._sizes is None:
            # Successive halving: trials all start at the first rung; evolve the deepest
            # level that has a full population (the best-informed values).
            full = [j for j, (p, _) in enumerate(levels) if p.shape[0] >= self.min_population]
            level = full[-1] if full else 0
        else:
            level = self.level_of(ctx.study_name, number)
        rng = ctx.rng(number, "dehb")
        if level < len(levels):
            pop = levels[level][0]
            parents = (
                pop if level == 0 else _promotable(levels[level - 1][0], self.reduction_factor)
            )
        else:
            pop = parents = np.empty((0, len(space)))
        if parents.shape[0] < 3:
            # Top up from every level's population (DEHB's global population).
            allpop = [p for p, _ in levels if p.size]
            if allpop:
                parents = np.unique(np.vstack([parents, *allpop]), axis=0)
        if parents.shape[0] < 3:
            return self._random.sample_relative(ctx, number, space)
        d = len(space)
        parents = _fill_nan(parents, rng)
        a, b, c = parents[rng.choice(parents.shape[0], 3, replace=False)]
        mutant = a + self.mutation_factor * (b - c)
        outside = (mutant < 0.0) | (mutant > 1.0)
        mutant[outside] = rng.random(int(outside.sum()))
        target = (
            _fill_nan(pop[int(rng.integers(pop.shape[0]))][None, :], rng)[0] if pop.shape[0] else a
        )
        cross = rng.random(d) < self.crossover_prob
        cross[int(rng.integers(d))] = True
        trial = np.where(cross, mutant, target)
        return space.from_unit(np.clip(trial, 0.0, 1.0 - 1e-12))

    def sample_independent(
        self,
        ctx: SamplerContext,
        number: int,
        name: str,
        dist: Distribution,
        params: Mapping[str, Any],
    ) -> Any:
        return self._random.sample_independent(ctx, number, name, dist, params)

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "min_resource": self.min_resource,
            "max_resource": self.max_resource,
            "reduction_factor": self.reduction_factor,
            "mutation_factor": self.mutation_factor,
            "crossover_prob": self.crossover_prob,
            "min_population": self.min_population,
        }


def _promotable(pop: np.ndarray, eta: int) -> np.ndarray:
    """The part of a level's population (best first) that successive halving promotes."""
    return pop[: max(1, pop.shape[0] // eta)]


def _fill_nan(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Absent (conditional) coordinates replaced by uniform draws."""
    bad = np.isnan(x)
    if bad.any():
        x = x.copy()
        x[bad] = rng.random(int(bad.sum()))
    return x
