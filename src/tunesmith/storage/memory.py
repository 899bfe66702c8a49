"""In-memory storage: the default when no storage is given. Thread-safe, not shared
between processes (parallel workers still work: the driver owns the storage)."""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from tunesmith.exceptions import (
    DuplicatedStudyError,
    StudyNotFoundError,
    TrialFinishedError,
    TrialNotFoundError,
)
from tunesmith.space import Distribution
from tunesmith.storage._common import (
    best_of,
    build_frozen,
    check_finished_values,
    check_json,
    check_params,
    not_found_message,
)
from tunesmith.storage.base import Storage, StudyRecord, StudySummary
from tunesmith.trial import FrozenTrial, TrialState

__all__ = ["InMemoryStorage"]


def _json_copy(what: str, value: Any) -> Any:
    """The value as a SQL storage would return it (tuples become lists, keys strings),
    and a copy: later changes to the caller's object do not leak into the storage."""
    return json.loads(check_json(what, value))


def _json_attrs(attrs: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not attrs:
        return None
    return {k: _json_copy(f"user attribute {k!r}", v) for k, v in attrs.items()}


class _TrialRec:
    __slots__ = (
        "cpu_time",
        "dists",
        "error",
        "frozen",
        "heartbeat",
        "intermediate",
        "number",
        "params",
        "retries",
        "state",
        "study_id",
        "system_attrs",
        "t_complete",
        "t_start",
        "trial_id",
        "user_attrs",
        "values",
        "worker",
    )

    def __init__(self, trial_id: int, study_id: int, number: int) -> None:
        self.trial_id = trial_id
        self.study_id = study_id
        self.number = number
        self.state = TrialState.RUNNING
        self.values: tuple[float, ...] | None = None
        self.params: dict[str, float] = {}
        self.dists: dict[str, Distribution] = {}
        self.intermediate: dict[int, tuple[float, ...]] = {}
        self.user_attrs: dict[str, Any] = {}
        self.system_attrs: dict[str, Any] = {}
        self.t_start: float | None = None
        self.t_complete: float | None = None
        self.cpu_time: float | None = None
        self.worker: str | None = None
        self.heartbeat: float | None = None
        self.retries = 0
        self.error: str | None = None
        self.frozen: FrozenTrial | None = None

    def freeze(self, with_intermediate: bool = True) -> FrozenTrial:
        if self.frozen is not None and with_intermediate:
            return self.frozen
        ft = build_frozen(
            number=self.number,
            trial_id=self.trial_id,
            state=self.state,
            values=self.values,
            params=self.params,
            dists=self.dists,
            intermediate=self.intermediate if with_intermediate else None,
            user_attrs=self.user_attrs,
            system_attrs=self.system_attrs,
            datetime_start=self.t_start,
            datetime_complete=self.t_complete,
            cpu_time=self.cpu_time,
            worker=self.worker,
            heartbeat=self.heartbeat,
            retries=self.retries,
            error=self.error,
        )
        if with_intermediate:
            self.frozen = ft
        return ft


class _StudyRec:
    __slots__ = ("attrs", "changes", "record", "trials", "waiting")

    def __init__(self, record: StudyRecord, attrs: dict[str, Any]) -> None:
        self.record = record
        self.attrs = attrs
        self.trials: list[_TrialRec] = []
        self.changes: list[int] = []  # trial numbers, one entry per state change
        self.waiting: list[int] = []  # numbers of WAITING trials, oldest first


class InMemoryStorage(Storage):
    """Keeps studies in this process's memory. Fast; lost when the process ends.

    Example:
        >>> from tunesmith.storage import InMemoryStorage
        >>> s = InMemoryStorage()
        >>> s.create_study("demo", ["minimize"]).name
        'demo'
    """

    url = ":memory:"

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._studies: dict[int, _StudyRec] = {}
        self._names: dict[str, int] = {}
        self._trials: dict[int, _TrialRec] = {}
        self._next_study = 1
        self._next_trial = 1

    # -- studies -------------------------------------------------------------
    def create_study(
        self, name: str, directions: Sequence[str], attrs: Mapping[str, Any] | None = None
    ) -> StudyRecord:
        with self._lock:
            if name in self._names:
                raise DuplicatedStudyError(
                    f"a study named {name!r} already exists; pass load_if_exists=True to "
                    "continue it, or choose another name"
                )
            stored = {k: _json_copy(f"study attribute {k!r}", v) for k, v in (attrs or {}).items()}
            rec = StudyRecord(self._next_study, name, tuple(directions), time.time())
            self._next_study += 1
            self._studies[rec.study_id] = _StudyRec(rec, stored)
            self._names[name] = rec.study_id
            return rec

    def _study(self, study_id: int) -> _StudyRec:
        try:
            return self._studies[study_id]
        except KeyError:
            raise StudyNotFoundError(f"no study with id {study_id} (was it deleted?)") from None

    def get_study(self, name: str) -> StudyRecord:
        with self._lock:
            if name not in self._names:
                raise StudyNotFoundError(not_found_message(name, list(self._names)))
            return self._studies[self._names[name]].record

    def list_studies(self) -> list[StudySummary]:
        with self._lock:
            out = []
            for s in self._studies.values():
                complete = [t.values for t in s.trials if t.state == TrialState.COMPLETE]
                out.append(
                    StudySummary(
                        s.record.study_id,
                        s.record.name,
                        s.record.directions,
                        s.record.created,
                        len(s.trials),
                        len(complete),
                        best_of(complete, s.record.directions[0]),  # type: ignore[arg-type]
                    )
                )
            return out

    def delete_study(self, name: str) -> None:
        with self._lock:
            sid = self.get_study(name).study_id
            s = self._studies.pop(sid)
            del self._names[name]
            for t in s.trials:
                self._trials.pop(t.trial_id, None)

    def set_study_attr(self, study_id: int, key: str, value: Any) -> None:
        value = _json_copy(f"study attribute {key!r}", value)
        with self._lock:
            self._study(study_id).attrs[key] = value

    def get_study_attrs(self, study_id: int) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._study(study_id).attrs)

    # -- trials --------------------------------------------------------------
    def _changed(self, s: _StudyRec, t: _TrialRec) -> None:
        t.frozen = None
        s.changes.append(t.number)

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
        check_params(params or {}, distributions or {})
        check_finished_values(values, TrialState(state))
        user_attrs = _json_attrs(user_attrs)
        now = time.time()
        with self._lock:
            s = self._study(study_id)
            t = _TrialRec(self._next_trial, study_id, len(s.trials))
            self._next_trial += 1
            t.state = TrialState(state)
            t.params = dict(params or {})
            t.dists = dict(distributions or {})
            t.values = None if values is None else tuple(float(v) for v in values)
            t.intermediate = {int(k): tuple(map(float, v)) for k, v in (intermediate or {}).items()}
            t.user_attrs = dict(user_attrs or {})
            t.system_attrs = dict(system_attrs or {})
            t.worker = worker
            t.retries = retries
            t.error = error
            if state != TrialState.WAITING:
                t.t_start = now if datetime_start is None else datetime_start
            if state == TrialState.RUNNING:
                t.heartbeat = now
            if t.state.is_finished():
                t.t_complete = now if datetime_complete is None else datetime_complete
            s.trials.append(t)
            self._trials[t.trial_id] = t
            if state == TrialState.WAITING:
                s.waiting.append(t.number)
            self._changed(s, t)
            return t.freeze()

    def claim_waiting_trial(self, study_id: int, worker: str | None = None) -> FrozenTrial | None:
        with self._lock:
            s = self._study(study_id)
            while s.waiting:
                t = s.trials[s.waiting.pop(0)]
                if t.state != TrialState.WAITING:
                    continue
                t.state = TrialState.RUNNING
                t.t_start = t.heartbeat = time.time()
                t.worker = worker
                self._changed(s, t)
                return t.freeze()
            return None

    def _running(self, trial_id: int) -> _TrialRec:
        t = self._trials.get(trial_id)
        if t is None:
            raise TrialNotFoundError(f"no trial with id {trial_id}")
        if t.state.is_finished():
            raise TrialFinishedError(
                f"trial {t.number} is already {t.state.name}; finished trials cannot change"
            )
        return t

    def update_running_trial(
        self,
        trial_id: int,
        *,
        params: Mapping[str, float] | None = None,
        distributions: Mapping[str, Distribution] | None = None,
        user_attrs: Mapping[str, Any] | None = None,
        heartbeat: float | None = None,
    ) -> None:
        user_attrs = _json_attrs(user_attrs)
        with self._lock:
            t = self._running(trial_id)
            changed = False
            if params:
                check_params(params, {**t.dists, **(distributions or {})})
                changed = any(t.params.get(k) != v for k, v in params.items())
                t.params.update(params)
                t.dists.update(distributions or {})
            if user_attrs:
                t.user_attrs.update(user_attrs)
            if heartbeat is not None:
                t.heartbeat = heartbeat
            t.frozen = None
            if changed:  # other samplers should see new params of running trials
                self._changed(self._studies[t.study_id], t)

    def report(self, trial_id: int, step: int, values: Sequence[float]) -> None:
        with self._lock:
            t = self._running(trial_id)
            t.intermediate[int(step)] = tuple(float(v) for v in values)
            t.frozen = None

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
        if not TrialState(state).is_finished():
            raise ValueError(f"finish_trial needs a finished state, got {TrialState(state).name}")
        check_finished_values(values, TrialState(state))
        user_attrs = _json_attrs(user_attrs)
        with self._lock:
            t = self._running(trial_id)
            if params:
                check_params(params, {**t.dists, **(distributions or {})})
                t.params.update(params)
                t.dists.update(distributions or {})
            if user_attrs:
                t.user_attrs.update(user_attrs)
            t.state = TrialState(state)
            t.values = None if values is None else tuple(float(v) for v in values)
            t.cpu_time = cpu_time
            t.error = error
            t.t_complete = time.time()
            if t.t_start is None:
                t.t_start = t.t_complete
            self._changed(self._studies[t.study_id], t)
            return t.freeze()

    def heartbeat(self, trial_ids: Sequence[int], now: float) -> None:
        with self._lock:
            for tid in trial_ids:
                t = self._trials.get(tid)
                if t is not None and t.state == TrialState.RUNNING:
                    t.heartbeat = now
                    t.frozen = None

    def fail_stale_trials(
        self, study_id: int, stale_before: float, max_retries: int = 0
    ) -> list[FrozenTrial]:
        failed = []
        with self._lock:
            s = self._study(study_id)
            for t in list(s.trials):
                if t.state != TrialState.RUNNING or (t.heartbeat or 0.0) >= stale_before:
                    continue
                t.state = TrialState.FAILED
                t.t_complete = time.time()
                t.error = "heartbeat lost: the process running this trial stopped responding"
                self._changed(s, t)
                failed.append(t.freeze())
                if t.retries < max_retries:
                    self.create_trial(
                        study_id,
                        TrialState.WAITING,
                        params=t.params,
                        distributions=t.dists,
                        user_attrs=t.user_attrs,
                        system_attrs={**t.system_attrs, "retry_of": t.number},
                        retries=t.retries + 1,
                    )
        return failed

    def get_trial(self, trial_id: int) -> FrozenTrial:
        with self._lock:
            t = self._trials.get(trial_id)
            if t is None:
                raise TrialNotFoundError(f"no trial with id {trial_id}")
            return t.freeze()

    def get_trials(
        self, study_id: int, states: Sequence[TrialState] | None = None
    ) -> list[FrozenTrial]:
        with self._lock:
            ts = self._study(study_id).trials
            if states is not None:
                wanted = set(states)
                return [t.freeze() for t in ts if t.state in wanted]
            return [t.freeze() for t in ts]

    def get_changes(
        self, study_id: int, since: int, *, with_intermediate: bool = False
    ) -> tuple[list[FrozenTrial], int]:
        # Frozen records always carry their reports here: leaving them out saves nothing.
        with self._lock:
            s = self._study(study_id)
            changed = dict.fromkeys(s.changes[since:])
            return [s.trials[n].freeze() for n in changed], len(s.changes)

    def count_trials(self, study_id: int, states: Sequence[TrialState] | None = None) -> int:
        with self._lock:
            ts = self._study(study_id).trials
            if states is None:
                return len(ts)
            wanted = set(states)
            return sum(1 for t in ts if t.state in wanted)

    def get_intermediate_at(self, study_id: int, step: int) -> dict[int, tuple[float, ...]]:
        with self._lock:
            return {
                t.number: t.intermediate[step]
                for t in self._study(study_id).trials
                if step in t.intermediate
            }
