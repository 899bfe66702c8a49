"""Percentile and median pruning: stop a trial whose best value so far trails the field."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from tunesmith.pruners._view import curve_at_pruning_point, finished_reports, signs, states_of
from tunesmith.pruners.base import Pruner, check_int, check_real
from tunesmith.trial import TrialState

if TYPE_CHECKING:
    from tunesmith.study import Study

__all__ = ["MedianPruner", "PercentilePruner"]

_COMPLETE = int(TrialState.COMPLETE)
_PRUNED = int(TrialState.PRUNED)


def _nanpercentile_columns(values: np.ndarray, q: float) -> np.ndarray:
    """``np.nanpercentile(values, q, axis=0)`` without its per-column Python machinery
    (``apply_along_axis``): the same numbers, NaN for an all-NaN column, no warning."""
    out = np.full(values.shape[1], np.nan)
    for j in range(values.shape[1]):  # one pass per objective, not per trial
        column = values[:, j]
        column = column[~np.isnan(column)]
        if column.size:
            out[j] = np.percentile(column, q)
    return out


class PercentilePruner(Pruner):
    """Prune a trial whose best value so far is outside the best ``percentile`` % of the
    values other trials reported at the same step.

    What is compared, at the trial's latest step ``s``:

    * the trial's **best value so far**: the best of everything it reported up to
      and including ``s`` (the minimum when minimizing, the maximum when maximizing);
    * the ``percentile``-th percentile of the values that **finished trials**
      (COMPLETE and PRUNED; not FAILED, not running) reported **at step** ``s``,
      taken on the good side: with ``percentile=25`` the threshold is the 25th
      percentile when minimizing and the 75th when maximizing (linear interpolation,
      as :func:`numpy.percentile`).

    The trial is pruned when its best so far is strictly worse than that threshold.
    A best value of NaN prunes. Including pruned trials makes the threshold the
    percentile of every trial that got as far as ``s``, not only of the survivors.

    Several objectives: a percentile per objective; the trial is pruned only if it is
    worse than the threshold in **every** objective (a NaN counts as worse).

    Args:
        percentile: in [0, 100]; lower prunes more (25 keeps roughly the best quarter).
        n_startup_trials: no pruning until this many trials are COMPLETE.
        n_warmup_steps: no pruning before a trial reports this step.
        interval_steps: check at ``n_warmup_steps + j * interval_steps`` only.
        n_min_trials: no pruning at a step fewer than this many finished trials
            reported.

    Raises:
        ValueError: for an argument out of range, naming it.

    Example:
        >>> import tunesmith as ts
        >>> study = ts.create_study(pruner=ts.PercentilePruner(25.0, n_startup_trials=5))
    """

    def __init__(
        self,
        percentile: float,
        n_startup_trials: int = 5,
        n_warmup_steps: int = 0,
        interval_steps: int = 1,
        n_min_trials: int = 1,
    ) -> None:
        self.percentile = check_real("percentile", percentile, 0.0, 100.0)
        self.n_startup_trials = check_int("n_startup_trials", n_startup_trials, 0)
        self.n_warmup_steps = check_int("n_warmup_steps", n_warmup_steps, 0)
        self.interval_steps = check_int("interval_steps", interval_steps, 1)
        self.n_min_trials = check_int("n_min_trials", n_min_trials, 1)

    def should_prune(self, study: Study, trial_number: int) -> bool:
        curve = curve_at_pruning_point(
            study, trial_number, self.n_warmup_steps, self.interval_steps
        )
        if curve is None:
            return False
        with finished_reports(study) as (history, reports):
            if history.n_complete < self.n_startup_trials:
                return False
            numbers, values = reports.at_step(curve.last_step)
            states = states_of(history, numbers)
            pool = ((states == _COMPLETE) | (states == _PRUNED)) & (numbers != trial_number)
        others = values[pool] * signs(study.directions)
        others = others[~np.all(np.isnan(others), axis=1)]
        if others.shape[0] < self.n_min_trials:
            return False
        threshold = _nanpercentile_columns(others, self.percentile)
        best = np.fmin.reduce(curve.signed, axis=0)  # nanmin, without the all-NaN warning
        # NaN compares False: a NaN best must count as worse, a NaN threshold as "no data".
        worse = np.isnan(best) | (best > threshold)
        return bool(np.all(worse))

    def describe(self) -> dict[str, Any]:
        return {
            "name": "PercentilePruner",
            "percentile": self.percentile,
            "n_startup_trials": self.n_startup_trials,
            "n_warmup_steps": self.n_warmup_steps,
            "interval_steps": self.interval_steps,
            "n_min_trials": self.n_min_trials,
        }


class MedianPruner(PercentilePruner):
    """Prune a trial whose best value so far is worse than the median of what finished
    trials reported at the same step: :class:`PercentilePruner` with ``percentile=50``
    (see there for exactly what is compared, and the multi-objective rule).

    Example:
        >>> import tunesmith as ts
        >>> study = ts.create_study(direction="maximize", pruner="median")
    """

    def __init__(
        self,
        n_startup_trials: int = 5,
        n_warmup_steps: int = 0,
        interval_steps: int = 1,
        n_min_trials: int = 1,
    ) -> None:
        super().__init__(50.0, n_startup_trials, n_warmup_steps, interval_steps, n_min_trials)

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["name"] = "MedianPruner"
        del d["percentile"]
        return d
