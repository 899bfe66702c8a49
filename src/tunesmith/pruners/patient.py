"""Patient pruning: act only on trials that stopped improving."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from tunesmith.pruners._view import current_curve
from tunesmith.pruners.base import Pruner, check_int, check_real

if TYPE_CHECKING:
    from tunesmith.study import Study

__all__ = ["PatientPruner"]


class PatientPruner(Pruner):
    """Prune only a trial that has not improved for ``patience`` reports; then defer to
    ``wrapped`` (or prune at once when ``wrapped`` is None).

    With the trial's reports ordered by step, the last ``patience`` of them are the
    *recent* ones and all before them the *earlier* ones. The trial has stalled when
    the best recent value does not beat the best earlier value by more than
    ``min_delta`` (direction aware; NaN never counts as an improvement). A trial with
    ``patience`` reports or fewer has not stalled. Several objectives: the trial has
    stalled only if it stalled in **every** objective.

    Wrapping makes another pruner more forgiving: ``PatientPruner(MedianPruner(), 3)``
    stops a below-median trial only once it has also been flat for three reports.

    Args:
        wrapped: the pruner that decides for stalled trials (a pruner, a name such as
            ``"median"``, a description mapping, or None).
        patience: reports without improvement before the trial counts as stalled (>= 1).
        min_delta: how much better a value must be to count as an improvement (>= 0).

    Raises:
        ValueError: for a bad ``patience`` or ``min_delta``.

    Example:
        >>> import tunesmith as ts
        >>> study = ts.create_study(pruner=ts.PatientPruner(ts.MedianPruner(), patience=3))
    """

    def __init__(
        self,
        wrapped: Pruner | str | Mapping[str, Any] | None,
        patience: int,
        min_delta: float = 0.0,
    ) -> None:
        from tunesmith.pruners import make_pruner

        self.wrapped = make_pruner(wrapped)
        self.patience = check_int("patience", patience, 1)
        self.min_delta = check_real("min_delta", min_delta, 0.0)

    def stalled(self, signed: np.ndarray) -> bool:
        """Whether reports ``signed`` (rows by step, lower is better) have stalled."""
        if signed.shape[0] <= self.patience:
            return False
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices
            earlier = np.nanmin(signed[: -self.patience], axis=0)
            recent = np.nanmin(signed[-self.patience :], axis=0)
        # A finite recent value improves on an all-NaN past; NaN improves on nothing.
        improved = (earlier - recent > self.min_delta) | (np.isnan(earlier) & ~np.isnan(recent))
        return not bool(np.any(improved))

    def should_prune(self, study: Study, trial_number: int) -> bool:
        curve = current_curve(study, trial_number)
        if curve is None or not self.stalled(curve.signed):
            return False
        if self.wrapped is None:
            return True
        return bool(self.wrapped.should_prune(study, trial_number))

    def __repr__(self) -> str:
        return (
            f"PatientPruner({self.wrapped!r}, patience={self.patience}, "
            f"min_delta={self.min_delta!r})"
        )

    def describe(self) -> dict[str, Any]:
        describe = getattr(self.wrapped, "describe", None)
        wrapped = describe() if callable(describe) else None
        return {
            "name": "PatientPruner",
            "wrapped": wrapped,
            "patience": self.patience,
            "min_delta": self.min_delta,
        }
