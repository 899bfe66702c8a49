"""Wilcoxon pruning: stop a trial that is significantly worse than the best one on the
instances (folds, seeds, problems) both have been evaluated on."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from tunesmith.pruners._rank import pareto_front
from tunesmith.pruners._view import current_curve, finished_reports, signs
from tunesmith.pruners.base import Pruner, check_int, check_real
from tunesmith.trial import TrialState

if TYPE_CHECKING:
    from tunesmith.pruners._view import Curve
    from tunesmith.study import Study

__all__ = ["WilcoxonPruner"]


class WilcoxonPruner(Pruner):
    """Prune a trial whose per-instance scores are significantly worse than the best
    trial's, by a paired one-sided Wilcoxon signed-rank test.

    For objectives that average a score over many instances (cross-validation folds,
    random seeds, benchmark problems): report each instance's score with the
    instance's index as ``step`` (``trial.report(score, step=i)``), ideally visiting
    the instances in a different (shuffled) order per trial, and return the mean.

    At each check the trial's scores are paired with the **best COMPLETE trial's**
    reports on the steps both reported. With at least ``n_startup_steps`` pairs, the
    differences are tested for "this trial is worse" (``scipy.stats.wilcoxon``,
    one-sided, zero differences split between the ranks). The trial is pruned when
    the p-value is below ``p_threshold`` **and** its mean over the paired instances is
    worse than the best trial's mean over the same instances (a safety rule: a trial
    that is ahead on average is never stopped). A NaN score counts as worse than any
    number; pairs where the best trial's score is NaN are left out.

    Several objectives: the best trials are the Pareto front of the COMPLETE trials;
    the trial is pruned if some front trial beats it significantly (and on average)
    in **every** objective.

    Args:
        p_threshold: significance level in [0, 1]; lower prunes less, and less wrongly.
        n_startup_steps: pairs needed before the first test (>= 1).

    Raises:
        ValueError: for an argument out of range, naming it.

    Example:
        >>> import tunesmith as ts
        >>> study = ts.create_study(direction="maximize", pruner=ts.WilcoxonPruner(0.1))
    """

    def __init__(self, p_threshold: float = 0.1, n_startup_steps: int = 2) -> None:
        self.p_threshold = check_real("p_threshold", p_threshold, 0.0, 1.0)
        self.n_startup_steps = check_int("n_startup_steps", n_startup_steps, 1)

    def should_prune(self, study: Study, trial_number: int) -> bool:
        curve = current_curve(study, trial_number)
        if curve is None:
            return False
        sign = signs(study.directions)
        rivals: list[tuple[np.ndarray, np.ndarray]] = []
        with finished_reports(study) as (history, reports):
            complete = np.flatnonzero(history.mask(TrialState.COMPLETE))
            if complete.size == 0:
                return False
            if len(study.directions) == 1:
                best = history.best_number()
                front = [] if best is None else [best]
            else:
                front = complete[pareto_front(history.signed_values()[complete])].tolist()
            for number in front:
                found = reports.curve(int(number))
                if found is not None and found[0].size:
                    rivals.append((found[0], found[1] * sign))
        return any(self._worse_than(curve, steps, signed) for steps, signed in rivals)

    def _worse_than(self, curve: Curve, steps: np.ndarray, signed: np.ndarray) -> bool:
        """Whether the trial is significantly worse than one rival in every objective."""
        _, mine, theirs = np.intersect1d(
            curve.steps, steps, assume_unique=True, return_indices=True
        )
        a = curve.signed[mine]
        b = signed[theirs]
        for j in range(a.shape[1]):
            ok = ~np.isnan(b[:, j])
            x = np.where(np.isnan(a[ok, j]), np.inf, a[ok, j])
            y = b[ok, j]
            if x.size < self.n_startup_steps or not np.mean(x) > np.mean(y):
                return False
            if self._p_worse(x - y) >= self.p_threshold:
                return False
        return True

    @staticmethod
    def _p_worse(diff: np.ndarray) -> float:
        """One-sided p-value of "differences tend to be positive" (lower is better)."""
        if not np.any(diff != 0):
            return 1.0
        from scipy.stats import wilcoxon

        # inf (a NaN score) keeps its sign and gets the largest rank.
        diff = np.where(
            np.isinf(diff),
            np.sign(diff) * (np.max(np.abs(diff[np.isfinite(diff)]), initial=0.0) + 1.0),
            diff,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # small-sample and tie warnings
            result = wilcoxon(diff, alternative="greater", zero_method="zsplit")
        p = float(result.pvalue)
        return 1.0 if np.isnan(p) else p

    def describe(self) -> dict[str, Any]:
        return {
            "name": "WilcoxonPruner",
            "p_threshold": self.p_threshold,
            "n_startup_steps": self.n_startup_steps,
        }
