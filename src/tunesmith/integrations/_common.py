"""What the integrations share: reporting one value and stopping when the pruner says so."""

from __future__ import annotations

from typing import Any

from tunesmith.exceptions import TrialPruned
from tunesmith.trial import Trial


def report_then_check(trial: Trial, value: float, step: int, what: str) -> None:
    """Report ``value`` at ``step``; raise :class:`TrialPruned` if the pruner says stop.

    ``what`` names the metric in the exception's message (shown for the PRUNED trial).
    """
    trial.report(float(value), step)
    if trial.should_prune():
        raise TrialPruned(f"pruned at step {step} ({what} = {float(value):.6g})")


def study_directions(trial: Trial) -> tuple[str, ...] | None:
    """The directions of the trial's study, when the process running it knows them.

    A trial run in the driver's process can see its study; one run in a worker process
    (``optimize(n_workers=N)``) talks to the study through a pipe and cannot, and None
    is returned: checks that need the direction are then skipped.
    """
    study: Any = getattr(getattr(trial, "_backend", None), "study", None)
    directions = getattr(study, "directions", None)
    return tuple(directions) if directions else None
