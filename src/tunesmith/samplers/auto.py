"""The automatic default: picks GP-BO, TPE or CMA-ES from what the study looks like."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tunesmith.samplers.base import Sampler, SamplerContext
from tunesmith.space import Categorical, Distribution, Space
from tunesmith.trial import TrialState

__all__ = ["AutoSampler"]


@dataclass(frozen=True, slots=True)
class Choice:
    """What :class:`AutoSampler` uses now, and why."""

    sampler: str
    reason: str


class AutoSampler(Sampler):
    """The sampler :func:`~tunesmith.create_study` uses when none is given.

    It looks at the study at every proposal and delegates to one of three samplers
    (each stateless per ask, so switching loses nothing: the next one reads the
    same history):

    * **CMA-ES** for purely numeric, unconditional, single-objective spaces of more
      than ``cmaes_min_dim`` parameters, where a GP's model is weak and evolution
      strategies scale;
    * **GP-BO** (log-EI) while fewer than ``gp_max_trials`` trials have completed,
      for single-objective spaces of at most ``gp_max_dim`` parameters, at most
      ``2 * gp_max_dim`` categorical choices in all, and no conditions: the most
      sample-efficient choice for small budgets;
    * **TPE** otherwise: several objectives, conditional spaces, many categorical
      choices (a GP learns one lengthscale per categorical and cannot generalize
      across dozens of unordered choices), large budgets (a GP's cost grows with the cube of the trial count),
      and many trials running at once (``many_workers`` or more RUNNING trials;
      TPE's constant liar is cheap where GP fantasies would slow the driver).

    Each switch is recorded in the study's system attributes under
    ``"auto_sampler"`` (the current choice) and ``"auto_sampler_log"`` (every
    switch with the trial number it happened at).

    Args:
        seed: fixes the proposals; None uses the study's seed.
        gp_max_trials: completed trials after which GP hands over to TPE.
        gp_max_dim: the largest space GP is used for.
        cmaes_min_dim: numeric spaces larger than this go to CMA-ES.
        many_workers: this many RUNNING trials make TPE the choice.

    Example:
        >>> import tunesmith as ts
        >>> study = ts.create_study(seed=0)   # uses AutoSampler
        >>> study.optimize(lambda t: (t.suggest_float("x", -3, 3) - 1) ** 2, n_trials=12)
        >>> study.system_attrs["auto_sampler"]["sampler"]
        'GPSampler'
    """

    def __init__(
        self,
        seed: int | None = None,
        gp_max_trials: int = 200,
        gp_max_dim: int = 20,
        cmaes_min_dim: int = 40,
        many_workers: int = 16,
    ) -> None:
        for name, value in (
            ("gp_max_trials", gp_max_trials),
            ("gp_max_dim", gp_max_dim),
            ("cmaes_min_dim", cmaes_min_dim),
            ("many_workers", many_workers),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.seed = seed
        self.gp_max_trials = gp_max_trials
        self.gp_max_dim = gp_max_dim
        self.cmaes_min_dim = cmaes_min_dim
        self.many_workers = many_workers
        self._samplers: dict[str, Sampler] = {}

    # -- the decision ------------------------------------------------------------
    def _space(self, ctx: SamplerContext) -> tuple[dict[str, Distribution], bool]:
        """The modelled parameters and whether the space is conditional/dynamic."""
        if ctx.space is not None:
            return dict(ctx.space), ctx.space.is_conditional
        h = ctx.history
        inter = h.intersection_space()
        return inter, len(h.distributions) > len(inter)

    def choose(self, ctx: SamplerContext) -> Choice:
        """The sampler to use for the next proposal, with the reason."""
        if len(ctx.directions) > 1:
            return Choice("TPESampler", "several objectives (multi-objective TPE)")
        dists, conditional = self._space(ctx)
        if conditional:
            return Choice("TPESampler", "conditional or dynamic parameters")
        d = len(dists)
        if d == 0:
            return Choice("TPESampler", "no parameters seen yet")
        n_cat = sum(isinstance(x, Categorical) for x in dists.values())
        h = ctx.history
        if n_cat == 0 and d > self.cmaes_min_dim:
            return Choice(
                "CmaEsSampler", f"{d} numeric parameters (more than {self.cmaes_min_dim})"
            )
        running = int(h.mask(TrialState.RUNNING).sum())
        if running >= self.many_workers:
            return Choice("TPESampler", f"{running} trials running at once")
        if d > self.gp_max_dim:
            return Choice("TPESampler", f"{d} parameters (more than {self.gp_max_dim} for GP)")
        n_choices = sum(x.n_choices for x in dists.values() if isinstance(x, Categorical))
        if n_choices > 2 * self.gp_max_dim:
            return Choice(
                "TPESampler",
                f"{n_choices} categorical choices (more than {2 * self.gp_max_dim} for GP)",
            )
        if h.n_complete >= self.gp_max_trials:
            return Choice("TPESampler", f"{self.gp_max_trials} trials completed (GP cost grows)")
        noun = "parameter" if d == 1 else "parameters"
        return Choice("GPSampler", f"{d} {noun}, small budget so far")

    def _delegate(self, ctx: SamplerContext) -> Sampler:
        name = self.choose(ctx).sampler
        found = self._samplers.get(name)
        if found is None:
            from tunesmith import samplers

            cls = getattr(samplers, name)
            found = self._samplers[name] = cls(seed=self.seed)
        return found

    def decision(self, ctx: SamplerContext) -> dict[str, Any] | None:
        choice = self.choose(ctx)
        return {"sampler": choice.sampler, "reason": choice.reason}

    # -- the protocol ---------------------------------------------------------------
    def relative_space(self, ctx: SamplerContext) -> Space | None:
        return self._delegate(ctx).relative_space(ctx)

    def sample_relative(self, ctx: SamplerContext, number: int, space: Space) -> dict[str, Any]:
        return self._delegate(ctx).sample_relative(ctx, number, space)

    def sample_independent(
        self,
        ctx: SamplerContext,
        number: int,
        name: str,
        dist: Distribution,
        params: Mapping[str, Any],
    ) -> Any:
        return self._delegate(ctx).sample_independent(ctx, number, name, dist, params)

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        defaults = {"gp_max_trials": 200, "gp_max_dim": 20, "cmaes_min_dim": 40, "many_workers": 16}
        for key, default in defaults.items():
            if getattr(self, key) != default:
                d[key] = getattr(self, key)
        return d

    def __getstate__(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "gp_max_trials": self.gp_max_trials,
            "gp_max_dim": self.gp_max_dim,
            "cmaes_min_dim": self.cmaes_min_dim,
            "many_workers": self.many_workers,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]
