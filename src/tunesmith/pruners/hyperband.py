"""Hyperband: successive halving in several brackets, from aggressive to none at all."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from tunesmith.pruners._view import current_curve
from tunesmith.pruners.base import Pruner, check_int
from tunesmith.pruners.successive_halving import check_resource, resolve_auto, rung_decision

if TYPE_CHECKING:
    from tunesmith.study import Study

__all__ = ["Bracket", "HyperbandPruner", "hyperband_brackets"]


@dataclass(frozen=True, slots=True)
class Bracket:
    """One Hyperband bracket, as scheduled by Li et al. (2018).

    Attributes:
        index: 0 for the most aggressive bracket (first rung at ``min_resource``); bracket
            ``index`` stops trials first at ``min_resource * reduction_factor**index``.
        halvings: ``s``, the number of times the bracket cuts its trials.
        n_trials: ``n``, the trials the bracket starts; also its share when trials are
            assigned to brackets.
        rungs: ``(n_i, r_i)`` for ``i = 0..s``: how many trials run to resource ``r_i``
            in the synchronous schedule (``n_i = floor(n / eta**i)``).
    """

    index: int
    halvings: int
    n_trials: int
    rungs: tuple[tuple[int, int], ...]


def hyperband_brackets(
    min_resource: int, max_resource: int, reduction_factor: int = 3
) -> list[Bracket]:
    """The brackets of Hyperband for resources ``min_resource..max_resource``.

    With ``R = max_resource / min_resource`` and ``eta = reduction_factor``: ``s_max``
    is the largest ``s`` with ``eta**s <= R``; bracket ``s`` (from ``s_max`` down to 0)
    starts ``n = ceil((s_max + 1) * eta**s / (s + 1))`` trials at resource
    ``min_resource * eta**(s_max - s)``.

    Raises:
        ValueError: for resources that are not integers with ``1 <= min < max`` or a
            reduction factor below 2.

    Example:
        >>> [b.n_trials for b in hyperband_brackets(1, 81, 3)]
        [81, 34, 15, 8, 5]
    """
    min_resource = check_int("min_resource", min_resource, 1)
    max_resource = check_int("max_resource", max_resource, 1)
    eta = check_int("reduction_factor", reduction_factor, 2)
    if max_resource <= min_resource:
        raise ValueError(
            f"max_resource must be greater than min_resource, got min_resource={min_resource}, "
            f"max_resource={max_resource}"
        )
    s_max = 0
    while min_resource * eta ** (s_max + 1) <= max_resource:
        s_max += 1
    out = []
    for index in range(s_max + 1):
        s = s_max - index
        n = -(-(s_max + 1) * eta**s // (s + 1))  # ceiling division, exact in integers
        rungs = tuple((n // eta**i, min_resource * eta ** (index + i)) for i in range(s + 1))
        out.append(Bracket(index, s, n, rungs))
    return out


@lru_cache(maxsize=65536)
def bracket_of(study_name: str, number: int, sizes: tuple[int, ...]) -> int:
    """The bracket of trial ``number``: a stable hash of (study name, trial number)
    spread over the brackets in proportion to their ``n_trials``."""
    h = zlib.crc32(f"{study_name}\x00{number}".encode()) % sum(sizes)
    for index, size in enumerate(sizes):
        if h < size:
            return index
        h -= size
    raise AssertionError("unreachable")


class HyperbandPruner(Pruner):
    """Hyperband in stopping form: every trial belongs to one bracket, and within its
    bracket successive halving (:class:`SuccessiveHalvingPruner`) decides.

    Bracket ``b`` (0 = most aggressive) is successive halving with
    ``min_early_stopping_rate=b``: its first rung is at ``min_resource * eta**b``, and
    rungs at or beyond ``max_resource`` are not checked (the last bracket never
    prunes). A trial's bracket is fixed by a stable hash of the study name and its
    number, with each bracket drawing trials in proportion to its size in Li et al.'s
    schedule (:func:`hyperband_brackets`; for ``R = 81, eta = 3``: 81, 34, 15, 8 and 5).
    At a rung a trial is compared only with trials of its own bracket. This spreads
    the bet between "stop early, try many" and "judge late, try few".

    Several objectives: as :class:`SuccessiveHalvingPruner`, within the bracket.

    Args:
        min_resource: the smallest step at which a trial may be stopped (>= 1).
        max_resource: the step a full trial reaches (> min_resource), or ``"auto"``:
            the last step of the first completed trials plus one, estimated once and
            stored with the study; no pruning until then.
        reduction_factor: eta (>= 2).
        bootstrap_count: as in :class:`SuccessiveHalvingPruner`.

    Raises:
        ValueError: for an argument out of range, naming it.

    Example:
        >>> import tunesmith as ts
        >>> study = ts.create_study(pruner=ts.HyperbandPruner(min_resource=1, max_resource=81))
    """

    def __init__(
        self,
        min_resource: int = 1,
        max_resource: int | str = "auto",
        reduction_factor: int = 3,
        bootstrap_count: int = 0,
    ) -> None:
        self.min_resource = check_int("min_resource", min_resource, 1)
        self.max_resource = check_resource("max_resource", max_resource)
        self.reduction_factor = check_int("reduction_factor", reduction_factor, 2)
        self.bootstrap_count = check_int("bootstrap_count", bootstrap_count, 0)
        if isinstance(self.max_resource, int) and self.max_resource <= self.min_resource:
            raise ValueError(
                f"max_resource must be greater than min_resource, got min_resource="
                f"{self.min_resource}, max_resource={self.max_resource}"
            )

    def brackets(self, max_resource: int | None = None) -> list[Bracket]:
        """This pruner's brackets (``max_resource`` is needed when it is ``"auto"``)."""
        top = self.max_resource if max_resource is None else max_resource
        if top == "auto":
            raise ValueError(
                "max_resource is 'auto' and known only once a trial completed; pass "
                "max_resource= to brackets()"
            )
        return hyperband_brackets(self.min_resource, int(top), self.reduction_factor)

    def should_prune(self, study: Study, trial_number: int) -> bool:
        curve = current_curve(study, trial_number)
        if curve is None:
            return False
        if self.max_resource == "auto":
            top = resolve_auto(study, self, lambda last: int(last.max()) + 1)
            if top is None or top <= self.min_resource:
                return False
        else:
            top = int(self.max_resource)
        sizes = tuple(b.n_trials for b in self.brackets(top))
        name = study.name
        mine = bracket_of(name, trial_number, sizes)

        def same_bracket(numbers: np.ndarray) -> np.ndarray:
            return np.array([bracket_of(name, int(n), sizes) == mine for n in numbers], dtype=bool)

        return rung_decision(
            study,
            curve,
            min_resource=self.min_resource,
            reduction_factor=self.reduction_factor,
            rate=mine,
            bootstrap_count=self.bootstrap_count,
            max_resource=top,
            same_group=same_bracket,
        )

    def describe(self) -> dict[str, Any]:
        return {
            "name": "HyperbandPruner",
            "min_resource": self.min_resource,
            "max_resource": self.max_resource,
            "reduction_factor": self.reduction_factor,
            "bootstrap_count": self.bootstrap_count,
        }
