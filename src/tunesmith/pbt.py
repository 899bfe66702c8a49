"""Population-based training (Jaderberg et al., 2017) as a pruner of an ordinary study.

At every ``perturbation_interval`` steps a trial is ranked against the population
at the same step. A trial in the bottom ``quantile_fraction`` stops (PRUNED) and a
new trial is queued in its place: it starts from a copy of the checkpoint of a trial
in the top quantile (exploit) with that trial's hyperparameters perturbed (explore).
The objective resumes from whatever ``trial.load_checkpoint()`` returns, so the new
trial continues the better trial's training with new hyperparameters.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tunesmith.exceptions import CheckpointError
from tunesmith.pruners.base import Pruner, check_int, check_real
from tunesmith.space import Categorical, Distribution, Float, Int
from tunesmith.trial import TrialState

if TYPE_CHECKING:
    from tunesmith.study import Study

__all__ = ["PBT", "perturb"]


class PBT(Pruner):
    """Population-based training: stop the worst trials and continue the best ones'
    training with perturbed hyperparameters.

    Give it to a study as its pruner. The objective must save its training state with
    ``trial.save_checkpoint`` (or ``trial.checkpoint()``) *before* each
    ``trial.report``, start from ``trial.load_checkpoint()``, and call
    ``trial.should_prune()`` after each report. Run about ``population_size`` workers
    so the population trains side by side.

    Args:
        population_size: how many of the latest trials that reached a step form the
            population a trial is ranked in.
        perturbation_interval: a trial is ranked at steps that are multiples of it.
        quantile_fraction: the bottom fraction that is replaced, and the top
            fraction donors are drawn from (at most 0.5).
        resample_probability: chance that a hyperparameter is drawn anew from its
            distribution instead of perturbed.
        perturbation_factors: factors a numeric hyperparameter is multiplied by
            (one is chosen at random), before clipping to its bounds.

    Example:
        >>> import tunesmith as ts
        >>> def objective(trial):
        ...     lr = trial.suggest_float("lr", 0.01, 1.0, log=True)
        ...     state = trial.load_checkpoint(default={"step": 0, "x": 10.0})
        ...     for step in range(state["step"] + 1, 21):
        ...         state = {"step": step, "x": state["x"] * (1 - lr)}
        ...         trial.save_checkpoint(state)
        ...         trial.report(state["x"], step)
        ...         if trial.should_prune():
        ...             raise ts.TrialPruned()
        ...     return state["x"]
        >>> pbt = ts.PBT(population_size=4, perturbation_interval=5)
        >>> study = ts.create_study(pruner=pbt, sampler="random", seed=0)
        >>> study.optimize(objective, n_trials=12)
    """

    def __init__(
        self,
        population_size: int = 8,
        perturbation_interval: int = 5,
        quantile_fraction: float = 0.25,
        resample_probability: float = 0.25,
        perturbation_factors: Sequence[float] = (0.8, 1.2),
    ) -> None:
        self.population_size = check_int("population_size", population_size, 2)
        self.perturbation_interval = check_int("perturbation_interval", perturbation_interval, 1)
        self.quantile_fraction = check_real("quantile_fraction", quantile_fraction, 0.0, 0.5)
        if self.quantile_fraction == 0.0:
            raise ValueError("quantile_fraction must be above 0 (0 never replaces a trial)")
        self.resample_probability = check_real(
            "resample_probability", resample_probability, 0.0, 1.0
        )
        factors = tuple(float(f) for f in perturbation_factors)
        if not factors or any(not math.isfinite(f) or f <= 0 for f in factors):
            raise ValueError(
                f"perturbation_factors must be positive numbers, got {perturbation_factors!r}"
            )
        self.perturbation_factors = factors

    def describe(self) -> dict[str, Any]:
        return {
            "name": "pbt",
            "population_size": self.population_size,
            "perturbation_interval": self.perturbation_interval,
            "quantile_fraction": self.quantile_fraction,
            "resample_probability": self.resample_probability,
            "perturbation_factors": list(self.perturbation_factors),
        }

    # -- the decision ---------------------------------------------------------------
    def should_prune(self, study: Study, trial_number: int) -> bool:
        if study.is_multi_objective:
            raise ValueError("PBT ranks trials on one objective; this study has several")
        live = study._live.get(trial_number)
        if live is None or not live.reports:
            return False
        memo = live.prune_memo
        if memo.get("pbt_stopped"):
            return True  # asked again after the decision: the same answer
        step = max(live.reports)
        interval = self.perturbation_interval
        ready = step - step % interval  # the latest ready point this trial passed
        if ready <= 0 or ready not in live.reports or memo.get("pbt_judged", 0) >= ready:
            return False
        reported = study.storage.get_intermediate_at(study.study_id, ready)
        reported[trial_number] = live.reports[ready]
        last_chance = step >= ready + interval - 1
        if len(reported) < self.population_size and not last_chance:
            # The rest of the population has not reached this point yet: judge the
            # trial at a later report (at the latest just before the next ready point).
            return False
        memo["pbt_judged"] = ready
        donor = self._choose_donor(study, trial_number, ready, reported)
        if donor is None:
            return False
        child = self.exploit(study, donor, ready, rng=self._rng(study, trial_number, ready, 1))
        live.set_user_attr(
            "pbt",
            {
                "stopped_at": step,
                "reason": (
                    f"in the bottom {self.quantile_fraction:.0%} of the population at step "
                    f"{ready}; replaced by trial {child}, which continues trial {donor}"
                ),
                "replaced_by": child,
                "donor": donor,
            },
        )
        memo["pbt_stopped"] = True
        return True

    def _rng(self, study: Study, number: int, step: int, purpose: int) -> np.random.Generator:
        # Fixed by the study seed, the trial and the step: reruns make the same choices.
        return np.random.default_rng([int(study.seed) & 0x7FFFFFFF, number, step, purpose])

    def _choose_donor(
        self, study: Study, number: int, step: int, reported: Mapping[int, Sequence[float]]
    ) -> int | None:
        """A top-quantile trial to copy if ``number`` is in the bottom quantile among the
        latest ``population_size`` trials that reported ``step``; else None."""
        members = sorted(reported)[-self.population_size :]
        if number not in members:
            members = [*members[1:], number]
        vals = np.array([reported[n][0] for n in members], dtype=float)
        if study.direction == "maximize":
            vals = -vals
        vals = np.where(np.isnan(vals), np.inf, vals)
        n = len(members)
        k = min(math.ceil(n * self.quantile_fraction), n // 2)
        if k < 1:
            return None
        order = np.argsort(vals, kind="stable")  # best first
        if number not in {members[i] for i in order[n - k :]}:
            return None
        top = [members[i] for i in order[:k]]
        rng = self._rng(study, number, step, 0)
        return int(top[int(rng.integers(len(top)))])

    def exploit(
        self, study: Study, donor: int, step: int, *, rng: np.random.Generator | None = None
    ) -> int:
        """Queue a trial that continues trial ``donor``'s checkpoint with its
        hyperparameters perturbed; return the new trial's number.

        Raises:
            CheckpointError: if ``donor`` saved no checkpoint.
        """
        rng = rng if rng is not None else np.random.default_rng()
        parent = study._trial_by_number(donor)
        params, dists = dict(parent.params), dict(parent.distributions)
        live = study._live.get(donor)
        if live is not None:
            # Running in this process: its latest suggestions may not be stored yet.
            params.update(live.external)
            dists.update(live.dists)
        copy = study._snapshot_checkpoint(donor)
        if copy is None:
            raise CheckpointError(
                f"PBT wanted to continue trial {donor}, but it saved no checkpoint. Save the "
                "training state with trial.save_checkpoint(...) before each trial.report(...), "
                "and start from trial.load_checkpoint()"
            )
        params = perturb(
            params,
            dists,
            rng,
            resample_probability=self.resample_probability,
            factors=self.perturbation_factors,
        )
        ft = study.storage.create_trial(
            study.study_id,
            TrialState.WAITING,
            params={n: dists[n].to_internal(v) for n, v in params.items()},
            distributions=dists,
            system_attrs={
                "pbt_parent": donor,
                "pbt_step": step,
                "checkpoint_from": donor,
                "checkpoint_copy": copy,
            },
        )
        return ft.number


def perturb(
    params: Mapping[str, Any],
    distributions: Mapping[str, Distribution],
    rng: np.random.Generator,
    *,
    resample_probability: float = 0.25,
    factors: Sequence[float] = (0.8, 1.2),
) -> dict[str, Any]:
    """PBT's explore step: new values near ``params``, inside their distributions.

    Each value is, with probability ``resample_probability``, drawn anew from its
    distribution; otherwise a number is multiplied by one of ``factors`` and clipped
    (and rounded to its step), and a categorical moves to a neighbouring choice.
    """
    out: dict[str, Any] = {}
    for name, value in params.items():
        dist = distributions[name]
        if rng.random() < resample_probability:
            if isinstance(dist, Categorical):
                out[name] = dist.choices[int(rng.integers(len(dist.choices)))]
            else:
                out[name] = dist.value_at(float(rng.random()))
            continue
        if isinstance(dist, Categorical):
            i = int(dist.to_internal(value))
            j = min(max(i + (1 if rng.random() < 0.5 else -1), 0), len(dist.choices) - 1)
            out[name] = dist.choices[j]
        elif isinstance(dist, Float | Int):
            x = float(value) * float(factors[int(rng.integers(len(factors)))])
            out[name] = _snap(dist, x)
        else:  # pragma: no cover - every distribution is one of the above
            out[name] = value
    return out


def _snap(dist: Float | Int, x: float) -> float | int:
    """``x`` clipped to the distribution's bounds and rounded to its step."""
    x = min(max(x, dist.low), dist.high)
    step = dist.step
    if step is not None:
        x = dist.low + round((x - dist.low) / step) * step
        x = min(max(x, dist.low), dist.high)
    if isinstance(dist, Int):
        return int(round(x))
    return float(x)
