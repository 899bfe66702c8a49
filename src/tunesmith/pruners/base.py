"""The pruner protocol: decide from intermediate reports whether a running trial stops.

A pruner answers one question, ``should_prune(study, trial_number)``, after the
objective reported a value (``trial.report(value, step)``) and called
``trial.should_prune()``. It reads the trial's own reports and the finished trials'
reports through the study; everything it needs to decide again (the study's
reports, rung values) is derived from storage, so every process sharing a study
takes the same decisions. :meth:`Pruner.describe` returns a JSON description that
the study stores, so a study loaded elsewhere prunes the same way.
"""

from __future__ import annotations

import abc
import math
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tunesmith.study import Study

__all__ = ["NopPruner", "Pruner"]


class Pruner(abc.ABC):
    """Base class of pruners.

    Subclasses implement :meth:`should_prune` and :meth:`describe`. A trial that has
    reported nothing is never pruned.
    """

    @abc.abstractmethod
    def should_prune(self, study: Study, trial_number: int) -> bool:
        """Whether trial ``trial_number`` of ``study`` should stop now."""

    @abc.abstractmethod
    def describe(self) -> dict[str, Any]:
        """A JSON description stored with the study (and used to rebuild the pruner)."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.describe().items() if k != "name")
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.describe() == self.describe()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(repr(self))

    def __getstate__(self) -> dict[str, Any]:
        # Per-study caches (weak references to studies) stay behind.
        return {k: v for k, v in self.__dict__.items() if not k.endswith("_cache")}


class NopPruner(Pruner):
    """Never prunes: every trial runs to the end (useful to switch a stored pruner off).

    Example:
        >>> import tunesmith as ts
        >>> study = ts.create_study(pruner=ts.NopPruner())
    """

    def should_prune(self, study: Study, trial_number: int) -> bool:
        return False

    def describe(self) -> dict[str, Any]:
        return {"name": "NopPruner"}


# -- argument checks shared by the pruners -------------------------------------------
def check_int(name: str, value: Any, minimum: int) -> int:
    """``value`` as an int ``>= minimum``, or a ValueError naming the argument."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_real(name: str, value: Any, low: float, high: float = math.inf) -> float:
    """``value`` as a float in ``[low, high]``, or a ValueError naming the argument."""
    number = float(value) if isinstance(value, Real) and not isinstance(value, bool) else math.nan
    if not low <= number <= high:  # also False for NaN and non-numbers
        bounds = f">= {low:g}" if high == math.inf else f"in [{low:g}, {high:g}]"
        raise ValueError(f"{name} must be a number {bounds}, got {value!r}")
    return number
