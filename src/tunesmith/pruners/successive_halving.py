"""Asynchronous successive halving (ASHA) in stopping form.

Rung ``k`` sits at resource (step) ``r_k = min_resource * reduction_factor**(s + k)``
with ``s = min_early_stopping_rate``. A trial **reaches** rung ``k`` at its first
reported step ``>= r_k``, and the value it reported there is its **rung value**.
When a trial reaches a rung it is compared with the rung values every other trial
of the study has recorded there so far (running, pruned, complete or failed): it
goes on iff it is among the best ``max(1, m // reduction_factor)`` of the ``m``
values (its own included; ties with the last kept value are kept), else it is
pruned. Rung values are derived from the stored reports, so every process sees the
same ones; which rungs a running trial already passed is remembered with the trial,
so a trial once promoted past a rung is never judged there again.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Callable, Mapping
from numbers import Integral
from typing import TYPE_CHECKING, Any

import numpy as np

from tunesmith.pruners._rank import in_top
from tunesmith.pruners._view import (
    Curve,
    current_curve,
    finished_reports,
    running_reports,
    signs,
)
from tunesmith.pruners.base import Pruner, check_int
from tunesmith.trial import TrialState

if TYPE_CHECKING:
    from tunesmith.study import Study

__all__ = ["SuccessiveHalvingPruner"]

_AUTO_ATTR = "sys:pruner_auto"


def check_resource(name: str, value: Any) -> int | str:
    """An int >= 1 or the string "auto"; otherwise a ValueError naming the argument."""
    if isinstance(value, str):
        if value.lower() == "auto":
            return "auto"
        raise ValueError(f"{name} must be an integer >= 1 or 'auto', got {value!r}")
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1 or 'auto', got {value!r}")
    return int(value)


def resolve_auto(study: Study, pruner: Pruner, compute: Callable[[np.ndarray], int]) -> int | None:
    """The value an ``"auto"`` argument of ``pruner`` takes in ``study``: estimated once
    from the COMPLETE trials' last steps and stored with the study, so that every
    process uses the same value. None while no trial with reports has completed."""
    cache: weakref.WeakKeyDictionary[Study, int] = pruner.__dict__.setdefault(
        "_auto_cache", weakref.WeakKeyDictionary()
    )
    found = cache.get(study)
    if found is not None:
        return found
    with finished_reports(study) as (history, reports):
        complete = np.flatnonzero(history.mask(TrialState.COMPLETE))
        last_steps = [int(c[0][-1]) for n in complete if (c := reports.curve(int(n))) and c[0].size]
    if not last_steps:
        return None
    desc = json.dumps(pruner.describe(), sort_keys=True)
    stored = study.storage.get_study_attrs(study.study_id).get(_AUTO_ATTR) or {}
    value = stored.get(desc)
    if not isinstance(value, int):
        value = int(compute(np.array(last_steps)))
        study.storage.set_study_attr(study.study_id, _AUTO_ATTR, {**stored, desc: value})
    cache[study] = value
    return value


def rung_decision(
    study: Study,
    curve: Curve,
    *,
    min_resource: int,
    reduction_factor: int,
    rate: int,
    bootstrap_count: int,
    max_resource: int | None = None,
    same_group: Callable[[np.ndarray], np.ndarray] | None = None,
    memo_key: str = "rung",
) -> bool:
    """Successive-halving decision for ``curve``'s trial at its latest step: True to prune.

    ``rate`` is the minimum early-stopping rate (rung ``k`` at
    ``min_resource * reduction_factor**(rate + k)``); rungs at or beyond
    ``max_resource`` are not checked; ``same_group`` keeps the competitors (given their
    numbers) that belong to the trial's group, e.g. its Hyperband bracket.
    """
    rung = int(curve.memo.get(memo_key, 0))
    sign = signs(study.directions)
    running: dict[int, Mapping[int, tuple[float, ...]]] | None = None
    while True:
        r = min_resource * reduction_factor ** (rate + rung)
        if max_resource is not None and r >= max_resource:
            return False
        i = curve.index_at_or_after(r)
        if i is None:
            return False
        own = curve.signed[i]
        if np.any(np.isnan(own)):
            return True
        if running is None:
            # Running trials first: one that finishes meanwhile is then found among the
            # finished ones, never missed between the two reads.
            running = running_reports(study, curve.number)
        values = _rung_values(study, curve.number, r, running, sign, same_group)
        m = values.shape[0] + 1
        if m <= bootstrap_count:
            return True
        keep = max(1, m // reduction_factor)
        if not in_top(np.vstack([own[None, :], values]), 0, keep):
            return True
        rung += 1
        curve.memo[memo_key] = rung


def _rung_values(
    study: Study,
    number: int,
    r: int,
    running: Mapping[int, Mapping[int, tuple[float, ...]]],
    sign: np.ndarray,
    same_group: Callable[[np.ndarray], np.ndarray] | None,
) -> np.ndarray:
    """Signed rung values at resource ``r`` of all trials but ``number`` (NaN-free)."""
    with finished_reports(study) as (_, reports):
        numbers, values = reports.first_at_or_after(r)
    keep = numbers != number
    numbers, values = numbers[keep], values[keep]
    finished = set(numbers.tolist())
    extra_n: list[int] = []
    extra_v: list[tuple[float, ...]] = []
    for n, inter in running.items():
        if n in finished:
            continue
        at = [s for s in inter if s >= r]
        if at:
            extra_n.append(n)
            extra_v.append(inter[min(at)])
    if extra_n:
        numbers = np.concatenate([numbers, np.array(extra_n, dtype=np.int64)])
        values = np.vstack([values, np.array(extra_v, dtype=float).reshape(len(extra_n), -1)])
    if same_group is not None and numbers.size:
        values = values[same_group(numbers)]
    signed = values * sign
    return signed[~np.any(np.isnan(signed), axis=1)]


class SuccessiveHalvingPruner(Pruner):
    """Asynchronous successive halving (ASHA): at each rung, keep only the best
    ``1/reduction_factor`` of the trials that reached it.

    Rung ``k`` is at step ``min_resource * reduction_factor**(min_early_stopping_rate + k)``.
    A trial reaches it at its first report at or past that step; the value reported
    there is compared with the values every other trial reported on reaching the same
    rung, and the trial continues iff it is among the best ``max(1, m //
    reduction_factor)`` of those ``m`` values (its own included); otherwise it is
    pruned. A NaN at a rung prunes. Trials are never paused or resumed: a trial that
    continues simply runs on to the next rung.

    Several objectives: the ``m`` vectors are sorted by non-dominated front, then by
    crowding distance (larger first) within a front, and the trial continues iff it
    is among the first ``max(1, m // reduction_factor)`` (ties kept).

    Args:
        min_resource: step of the first rung (>= 1), or ``"auto"``: one hundredth of
            the last step of the first completed trials (at least 1), estimated once
            and stored with the study; no pruning until then.
        reduction_factor: eta (>= 2): a third of the trials continue at each rung with 3.
        min_early_stopping_rate: s (>= 0): the first rung is at ``min_resource * eta**s``.
        bootstrap_count: a trial continues past a rung only if at least this many
            other trials have reached it; the first ones to get there stop there.

    Raises:
        ValueError: for an argument out of range, naming it.

    Example:
        >>> import tunesmith as ts
        >>> study = ts.create_study(pruner=ts.SuccessiveHalvingPruner(min_resource=1))
    """

    def __init__(
        self,
        min_resource: int | str = "auto",
        reduction_factor: int = 3,
        min_early_stopping_rate: int = 0,
        bootstrap_count: int = 0,
    ) -> None:
        self.min_resource = check_resource("min_resource", min_resource)
        self.reduction_factor = check_int("reduction_factor", reduction_factor, 2)
        self.min_early_stopping_rate = check_int(
            "min_early_stopping_rate", min_early_stopping_rate, 0
        )
        self.bootstrap_count = check_int("bootstrap_count", bootstrap_count, 0)
        if self.bootstrap_count and self.min_resource == "auto":
            raise ValueError(
                "bootstrap_count > 0 needs a fixed min_resource: with 'auto' the first rung is "
                "unknown while the bootstrap trials run. Give min_resource as an integer"
            )

    def should_prune(self, study: Study, trial_number: int) -> bool:
        curve = current_curve(study, trial_number)
        if curve is None:
            return False
        if self.min_resource == "auto":
            r0 = resolve_auto(study, self, lambda last: max(1, int(last.max()) // 100))
            if r0 is None:
                return False
        else:
            r0 = int(self.min_resource)
        return rung_decision(
            study,
            curve,
            min_resource=r0,
            reduction_factor=self.reduction_factor,
            rate=self.min_early_stopping_rate,
            bootstrap_count=self.bootstrap_count,
        )

    def describe(self) -> dict[str, Any]:
        return {
            "name": "SuccessiveHalvingPruner",
            "min_resource": self.min_resource,
            "reduction_factor": self.reduction_factor,
            "min_early_stopping_rate": self.min_early_stopping_rate,
            "bootstrap_count": self.bootstrap_count,
        }
