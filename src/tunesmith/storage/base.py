"""The storage contract every backend keeps.

Rules every backend follows (checked by ``tests/storage/test_conformance.py``):

* Trial numbers are dense per study (0, 1, 2, ...) and never reused.
* A finished trial (COMPLETE, PRUNED, FAILED) is immutable: finishing or
  changing it again raises :class:`~tunesmith.exceptions.TrialFinishedError`.
* A COMPLETE trial has finite values; creating or finishing one without them
  raises :class:`ValueError`.
* Attributes come back as JSON would return them (tuples as lists, string keys).
* :meth:`Storage.claim_waiting_trial` hands each WAITING trial to exactly one
  caller, across threads, processes and machines.
* Every state change bumps the study's change sequence; :meth:`Storage.get_changes`
  returns the trials changed since a sequence number (with their intermediate
  values when asked), which is how the columnar history, and the pruners' view of
  finished trials' reports, stay current without rescanning all trials.
* All methods are safe to call from several threads.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tunesmith.space import Distribution
from tunesmith.trial import FrozenTrial, TrialState

__all__ = ["Storage", "StudyRecord", "StudySummary"]


@dataclass(frozen=True, slots=True)
class StudyRecord:
    """Identity of a study in a storage."""

    study_id: int
    name: str
    directions: tuple[str, ...]
    created: float


@dataclass(frozen=True, slots=True)
class StudySummary:
    """What ``tunesmith studies`` lists."""

    study_id: int
    name: str
    directions: tuple[str, ...]
    created: float
    n_trials: int
    n_complete: int
    best_values: tuple[float, ...] | None


class Storage(abc.ABC):
    """Abstract base of storage backends. See the module docstring for the contract."""

    url: str = ""

    # -- studies -----------------------------------------------------------------
    @abc.abstractmethod
    def create_study(
        self, name: str, directions: Sequence[str], attrs: Mapping[str, Any] | None = None
    ) -> StudyRecord:
        """Create a study; raises DuplicatedStudyError if the name is taken."""

    @abc.abstractmethod
    def get_study(self, name: str) -> StudyRecord:
        """Look a study up by name; raises StudyNotFoundError listing the existing ones."""

    @abc.abstractmethod
    def list_studies(self) -> list[StudySummary]:
        """All studies with trial counts and best values (first objective decides 'best')."""

    @abc.abstractmethod
    def delete_study(self, name: str) -> None:
        """Delete a study and all of its trials; raises StudyNotFoundError."""

    @abc.abstractmethod
    def set_study_attr(self, study_id: int, key: str, value: Any) -> None:
        """Set one JSON-serializable study attribute."""

    @abc.abstractmethod
    def get_study_attrs(self, study_id: int) -> dict[str, Any]:
        """All study attributes."""

    # -- trials ------------------------------------------------------------------
    @abc.abstractmethod
    def create_trial(
        self,
        study_id: int,
        state: TrialState = TrialState.RUNNING,
        *,
        params: Mapping[str, float] | None = None,
        distributions: Mapping[str, Distribution] | None = None,
        values: Sequence[float] | None = None,
        intermediate: Mapping[int, Sequence[float]] | None = None,
        user_attrs: Mapping[str, Any] | None = None,
        system_attrs: Mapping[str, Any] | None = None,
        worker: str | None = None,
        retries: int = 0,
        error: str | None = None,
        datetime_start: float | None = None,
        datetime_complete: float | None = None,
    ) -> FrozenTrial:
        """Create a trial with the next number. ``params`` are *internal* values."""

    @abc.abstractmethod
    def claim_waiting_trial(self, study_id: int, worker: str | None = None) -> FrozenTrial | None:
        """Atomically move the oldest WAITING trial to RUNNING and return it (or None)."""

    @abc.abstractmethod
    def update_running_trial(
        self,
        trial_id: int,
        *,
        params: Mapping[str, float] | None = None,
        distributions: Mapping[str, Distribution] | None = None,
        user_attrs: Mapping[str, Any] | None = None,
        heartbeat: float | None = None,
    ) -> None:
        """Merge params/attributes into a RUNNING trial (raises TrialFinishedError if finished)."""

    @abc.abstractmethod
    def report(self, trial_id: int, step: int, values: Sequence[float]) -> None:
        """Store an intermediate value vector of a running trial."""

    @abc.abstractmethod
    def finish_trial(
        self,
        trial_id: int,
        state: TrialState,
        *,
        values: Sequence[float] | None = None,
        params: Mapping[str, float] | None = None,
        distributions: Mapping[str, Distribution] | None = None,
        user_attrs: Mapping[str, Any] | None = None,
        cpu_time: float | None = None,
        error: str | None = None,
    ) -> FrozenTrial:
        """Finish a WAITING or RUNNING trial in one transaction."""

    @abc.abstractmethod
    def heartbeat(self, trial_ids: Sequence[int], now: float) -> None:
        """Record that the given running trials are alive."""

    @abc.abstractmethod
    def fail_stale_trials(
        self, study_id: int, stale_before: float, max_retries: int = 0
    ) -> list[FrozenTrial]:
        """Mark RUNNING trials whose heartbeat is older than ``stale_before`` FAILED.

        A failed trial with fewer than ``max_retries`` retries is re-queued as a new
        WAITING trial with the same parameters. Returns the trials failed.
        """

    @abc.abstractmethod
    def get_trial(self, trial_id: int) -> FrozenTrial:
        """One trial by id; raises TrialNotFoundError."""

    @abc.abstractmethod
    def get_trials(
        self, study_id: int, states: Sequence[TrialState] | None = None
    ) -> list[FrozenTrial]:
        """All trials of a study ordered by number, optionally filtered by state."""

    @abc.abstractmethod
    def get_changes(
        self, study_id: int, since: int, *, with_intermediate: bool = False
    ) -> tuple[list[FrozenTrial], int]:
        """Trials whose state changed after change-sequence ``since``; and the new sequence.

        Args:
            study_id: the study.
            since: a sequence number from an earlier call (0 for everything).
            with_intermediate: also return each trial's intermediate values. Without
                it a backend may leave them out (empty mapping) to keep the call cheap;
                the SQL backends do. Reporting does not change the sequence, so a
                RUNNING trial's reports come back as of this read; a finished trial's
                are complete.
        """

    @abc.abstractmethod
    def count_trials(self, study_id: int, states: Sequence[TrialState] | None = None) -> int:
        """Number of trials, optionally only those in ``states``."""

    def get_intermediate_at(self, study_id: int, step: int) -> dict[int, tuple[float, ...]]:
        """Reported values at ``step`` of every trial that reported it: number → values."""
        out: dict[int, tuple[float, ...]] = {}
        for t in self.get_trials(study_id):
            if step in t.intermediate:
                out[t.number] = t.intermediate[step]
        return out

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def __enter__(self) -> Storage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
