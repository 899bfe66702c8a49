"""Threshold pruning: stop a trial whose latest report leaves fixed bounds (or is NaN)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Real
from typing import TYPE_CHECKING, Any

import numpy as np

from tunesmith.pruners._view import curve_at_pruning_point
from tunesmith.pruners.base import Pruner, check_int

if TYPE_CHECKING:
    from tunesmith.study import Study

__all__ = ["ThresholdPruner"]

Bound = float | Sequence[float | None] | None


def _check_bound(name: str, bound: Any) -> float | tuple[float | None, ...] | None:
    def one(v: Any) -> float | None:
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, Real) or math.isnan(v):
            raise ValueError(
                f"{name} must be a number, None, or a list with one of those per objective, "
                f"got {bound!r}"
            )
        return float(v)

    if bound is None or isinstance(bound, Real):
        return one(bound)
    if isinstance(bound, Sequence) and not isinstance(bound, str | bytes) and len(bound):
        return tuple(one(v) for v in bound)
    raise ValueError(
        f"{name} must be a number, None, or a list with one of those per objective, got {bound!r}"
    )


class ThresholdPruner(Pruner):
    """Prune a trial as soon as its latest reported value is below ``lower``, above
    ``upper``, or NaN: a guard against diverging or hopeless runs.

    The value compared is the one reported at the trial's latest step. Bounds are raw
    values (the study's direction plays no part). Several objectives: give one bound
    for all, or a list with one bound (or None) per objective; the trial is pruned
    if **any** objective is out of its bounds or NaN.

    Args:
        lower: prune values below this (None: no lower bound).
        upper: prune values above this (None: no upper bound).
        n_warmup_steps: no pruning before a trial reports this step.
        interval_steps: check at ``n_warmup_steps + j * interval_steps`` only.

    Raises:
        ValueError: if neither bound is given, a bound is not a number, or lower > upper.

    Example:
        >>> import tunesmith as ts
        >>> study = ts.create_study(pruner=ts.ThresholdPruner(upper=10.0))  # loss blew up
    """

    def __init__(
        self,
        lower: Bound = None,
        upper: Bound = None,
        n_warmup_steps: int = 0,
        interval_steps: int = 1,
    ) -> None:
        self.lower = _check_bound("lower", lower)
        self.upper = _check_bound("upper", upper)
        if self.lower is None and self.upper is None:
            raise ValueError("ThresholdPruner needs lower=, upper= or both")
        if (
            isinstance(self.lower, tuple)
            and isinstance(self.upper, tuple)
            and len(self.lower) != len(self.upper)
        ):
            raise ValueError(
                f"lower and upper must have one entry per objective each, got {len(self.lower)} "
                f"and {len(self.upper)} entries"
            )
        lo, hi = self._arrays(self._width())
        if np.any(lo > hi):
            raise ValueError(f"lower must not exceed upper, got lower={lower!r}, upper={upper!r}")
        self.n_warmup_steps = check_int("n_warmup_steps", n_warmup_steps, 0)
        self.interval_steps = check_int("interval_steps", interval_steps, 1)

    def _width(self) -> int:
        for b in (self.lower, self.upper):
            if isinstance(b, tuple):
                return len(b)
        return 1

    def _arrays(self, n_obj: int) -> tuple[np.ndarray, np.ndarray]:
        def expand(bound: Any, missing: float, name: str) -> np.ndarray:
            if not isinstance(bound, tuple):
                bound = (bound,) * n_obj
            if len(bound) != n_obj:
                raise ValueError(
                    f"ThresholdPruner's {name} has {len(bound)} entries but the study has "
                    f"{n_obj} objective(s); give one bound per objective or a single number"
                )
            return np.array([missing if b is None else b for b in bound], dtype=float)

        return expand(self.lower, -math.inf, "lower"), expand(self.upper, math.inf, "upper")

    def should_prune(self, study: Study, trial_number: int) -> bool:
        curve = curve_at_pruning_point(
            study, trial_number, self.n_warmup_steps, self.interval_steps
        )
        if curve is None:
            return False
        lo, hi = self._arrays(len(study.directions))
        latest = curve.values[-1]
        return bool(np.any(np.isnan(latest) | (latest < lo) | (latest > hi)))

    def describe(self) -> dict[str, Any]:
        def js(b: Any) -> Any:
            return list(b) if isinstance(b, tuple) else b

        return {
            "name": "ThresholdPruner",
            "lower": js(self.lower),
            "upper": js(self.upper),
            "n_warmup_steps": self.n_warmup_steps,
            "interval_steps": self.interval_steps,
        }
