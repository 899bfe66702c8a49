"""Pruning for hand-written training loops (PyTorch or anything else).

Nothing here imports PyTorch: a value to report may be a Python or NumPy number or a
one-element tensor of any library with ``.item()``; it is turned into a float by
calling ``.item()``, which is all PyTorch needs (and copies a GPU value to the host).
So this module works, and is tested, without PyTorch installed.

Example:
    >>> from tunesmith.integrations.torch import epochs
    >>> def objective(trial):
    ...     model, optimizer = build(trial)          # your own code
    ...     for epoch in epochs(trial, 30):          # 1, 2, ..., 30
    ...         train_one_epoch(model, optimizer)
    ...         epoch.report(validate(model))        # may raise tunesmith.TrialPruned
    ...     return epoch.value
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tunesmith.integrations._common import report_then_check
from tunesmith.trial import Trial

__all__ = ["Epoch", "epochs", "report_and_maybe_prune"]


def _as_float(value: Any) -> float:
    if hasattr(value, "item") and not isinstance(value, int | float):
        if getattr(value, "numel", None) is not None and value.numel() != 1:
            raise ValueError(
                f"report one number per step, got a tensor of shape {tuple(value.shape)}"
            )
        value = value.item()  # tensors and NumPy scalars; detaches, no autograd graph kept
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(
            f"the value to report must be a number or a 1-element tensor, got {value!r}"
        )
    return float(value)


def report_and_maybe_prune(trial: Trial, value: Any, step: int) -> float:
    """Report ``value`` at ``step``, then raise :class:`tunesmith.TrialPruned` if the
    study's pruner says the trial should stop.

    Args:
        trial: the trial the objective received.
        value: a number, a NumPy scalar or a one-element tensor (e.g. a validation loss).
        step: the resource used so far: epochs trained, batches seen, ...

    Returns:
        The reported value as a float, when the trial goes on.

    Raises:
        TrialPruned: if the pruner says stop (let it propagate out of the objective).
        TypeError / ValueError: if ``value`` is not a single number.

    Example:
        >>> for epoch in range(1, 31):
        ...     train_one_epoch(model)
        ...     loss = report_and_maybe_prune(trial, validate(model), step=epoch)
    """
    number = _as_float(value)
    report_then_check(trial, number, step, "value")
    return number


class Epoch:
    """One epoch handed out by :func:`epochs`: its ``step`` and a ``report`` method.

    Attributes:
        step: the epoch's number (the step its report is stored at).
        value: what was reported for this epoch, or None before :meth:`report`.
    """

    __slots__ = ("_trial", "step", "value")

    def __init__(self, trial: Trial, step: int) -> None:
        self._trial = trial
        self.step = step
        self.value: float | None = None

    def report(self, value: Any) -> float:
        """Report ``value`` for this epoch; raise TrialPruned if the pruner says stop."""
        number = report_and_maybe_prune(self._trial, value, self.step)
        self.value = number
        return number

    def __int__(self) -> int:
        return self.step

    def __repr__(self) -> str:
        return f"Epoch(step={self.step}, value={self.value})"


def epochs(trial: Trial, n_epochs: int, *, start: int = 1) -> Iterator[Epoch]:
    """Iterate over epochs ``start .. start + n_epochs - 1``, each an :class:`Epoch` whose
    ``report(value)`` reports at that epoch's step and raises TrialPruned when told to.

    Step numbers start at 1 by default, so a step is the number of epochs trained
    (what successive halving and Hyperband count their resource in).

    Raises:
        ValueError: if ``n_epochs`` < 0 or ``start`` < 0.
        RuntimeError: if an epoch ends without a report (the pruner would then judge
            the trial on stale values); report every epoch, or use
            :func:`report_and_maybe_prune` for a custom schedule.

    Example:
        >>> for epoch in epochs(trial, 30):
        ...     train_one_epoch(model)
        ...     epoch.report(validate(model))
    """
    for name, value in (("n_epochs", n_epochs), ("start", start)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    return _epochs(trial, n_epochs, start)


def _epochs(trial: Trial, n_epochs: int, start: int) -> Iterator[Epoch]:
    for step in range(start, start + n_epochs):
        epoch = Epoch(trial, step)
        yield epoch
        if epoch.value is None:
            raise RuntimeError(
                f"epoch {step} ended without epoch.report(value); report once per epoch"
            )
