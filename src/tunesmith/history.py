"""The samplers' view of past trials: columnar NumPy arrays kept current incrementally.

A :class:`History` asks its storage only for trials whose state changed since the
last sync (:meth:`~tunesmith.storage.Storage.get_changes`), and writes them into
preallocated arrays indexed by trial number. A sampler therefore reads the whole
past in O(1) Python calls per ask, however many trials the study has.

Arrays (``n`` = number of trials seen, rows indexed by trial number):

* ``states``: ``int8`` trial states (``-1`` for numbers not seen yet);
* ``values``: ``(n, n_objectives)`` float, NaN unless COMPLETE (PRUNED trials keep
  their last reported value in ``pruned_values``);
* ``params[name]``: internal parameter values (NaN where the trial lacks it).

Pruners also need the intermediate values of finished trials. Once
:meth:`History.track_reports` is called, every sync asks the storage for them too and
:class:`Reports` keeps them: a finished trial never changes, so each one is read once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tunesmith.exceptions import SpaceError
from tunesmith.space import Distribution, Space, compatible
from tunesmith.trial import FrozenTrial, TrialState

if TYPE_CHECKING:
    from tunesmith.storage.base import Storage

__all__ = ["History", "Reports"]

_COMPLETE = int(TrialState.COMPLETE)
_PRUNED = int(TrialState.PRUNED)
_RUNNING = int(TrialState.RUNNING)
_WAITING = int(TrialState.WAITING)
_FAILED = int(TrialState.FAILED)


class History:
    """Columnar, incrementally synchronized record of a study's trials.

    Args:
        storage: where the trials live.
        study_id: the study.
        n_objectives: number of objective values per trial.
        directions: ``"minimize"``/``"maximize"`` per objective.
    """

    def __init__(self, storage: Storage | None, study_id: int, directions: Iterable[str]) -> None:
        self._storage = storage
        self._study_id = study_id
        self.directions = tuple(directions)
        self.n_objectives = len(self.directions)
        self._cap = 64
        self.n = 0
        self.states = np.full(self._cap, -1, dtype=np.int8)
        self.trial_ids = np.full(self._cap, -1, dtype=np.int64)
        self.values = np.full((self._cap, self.n_objectives), np.nan)
        self.pruned_values = np.full((self._cap, self.n_objectives), np.nan)
        self.params: dict[str, np.ndarray] = {}
        self.distributions: dict[str, Distribution] = {}
        self._first_params: tuple[str, ...] | None = None
        self._intersection: dict[str, Distribution] | None = None
        self._seq = 0
        self._n_waiting = 0
        #: bumped whenever the content changes; samplers may cache models on it.
        self.version = 0
        #: intermediate values of finished trials, once :meth:`track_reports` was called.
        self.reports: Reports | None = None

    # -- synchronization -----------------------------------------------------
    def sync(self) -> bool:
        """Pull changes from storage; returns whether anything changed."""
        if self._storage is None:
            return False
        trials, seq = self._storage.get_changes(
            self._study_id, self._seq, with_intermediate=self.reports is not None
        )
        self._seq = seq
        for t in trials:
            self.apply(t)
        return bool(trials)

    def track_reports(self) -> Reports:
        """Keep finished trials' intermediate values from now on (and load those already
        finished); returns the :class:`Reports`. Samplers do not need them, so a history
        starts without: syncs stay cheap for studies that do not prune."""
        if self.reports is None:
            reports = Reports(self.n_objectives)
            if self._storage is not None:
                finished = [TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAILED]
                for t in self._storage.get_trials(self._study_id, finished):
                    reports.add(t.number, t.intermediate)
            self.reports = reports
        return self.reports

    def _grow(self, needed: int) -> None:
        cap = self._cap
        while cap < needed:
            cap *= 2
        if cap == self._cap:
            return
        extra = cap - self._cap
        self.states = np.concatenate([self.states, np.full(extra, -1, dtype=np.int8)])
        self.trial_ids = np.concatenate([self.trial_ids, np.full(extra, -1, dtype=np.int64)])
        pad = np.full((extra, self.n_objectives), np.nan)
        self.values = np.concatenate([self.values, pad])
        self.pruned_values = np.concatenate([self.pruned_values, pad.copy()])
        for name, col in self.params.items():
            self.params[name] = np.concatenate([col, np.full(extra, np.nan)])
        self._cap = cap

    def apply(self, trial: FrozenTrial) -> None:
        """Write one trial's current state into the arrays."""
        i = trial.number
        if i >= self._cap:
            self._grow(i + 1)
        if i >= self.n:
            self.n = i + 1
        prev = int(self.states[i])
        state = int(trial.state)
        self._n_waiting += (state == _WAITING) - (prev == _WAITING)
        self.states[i] = state
        self.trial_ids[i] = trial.trial_id
        if state == _COMPLETE and trial.values is not None:
            self.values[i] = trial.values
        if self.reports is not None and state >= _COMPLETE:
            self.reports.add(i, trial.intermediate)
        if state == _PRUNED:
            # tell() stores a pruned trial's last reported value as its values.
            if trial.values is not None:
                self.pruned_values[i] = trial.values
            elif trial.intermediate:
                self.pruned_values[i] = trial.intermediate[max(trial.intermediate)]
        for name, dist in trial.distributions.items():
            col = self.params.get(name)
            if col is None:
                col = self.params[name] = np.full(self._cap, np.nan)
                self.distributions[name] = dist
            else:
                old = self.distributions[name]
                # The newest bounds win; a singleton (an enqueued fixed value) yields to
                # the real distribution as soon as one is seen.
                if old != dist and (compatible(old, dist) or (old.single() and not dist.single())):
                    self.distributions[name] = dist
            col[i] = dist.to_internal(trial.params[name])
        if state == _COMPLETE and prev != _COMPLETE:
            names = tuple(trial.distributions)
            if self._first_params is None:
                self._first_params = names
            if self._intersection is None:
                self._intersection = dict(trial.distributions)
            else:
                self._intersection = {
                    n: d
                    for n, d in self._intersection.items()
                    if n in trial.distributions and trial.distributions[n] == d
                }
        self.version += 1

    # -- views -----------------------------------------------------------------
    def mask(self, *states: TrialState) -> np.ndarray:
        """Boolean mask over rows ``0..n-1`` of trials in any of ``states``."""
        s = self.states[: self.n]
        if len(states) == 1:
            return s == int(states[0])
        return np.isin(s, [int(x) for x in states])

    def has_waiting(self) -> bool:
        """Whether any trial is queued (WAITING), as of the last sync."""
        return self._n_waiting > 0

    @property
    def n_complete(self) -> int:
        return int(np.count_nonzero(self.states[: self.n] == _COMPLETE))

    def column(self, name: str) -> np.ndarray:
        """Internal values of ``name`` for rows ``0..n-1`` (NaN where absent)."""
        col = self.params.get(name)
        if col is None:
            return np.full(self.n, np.nan)
        return col[: self.n]

    def matrix(self, names: Iterable[str], rows: np.ndarray | None = None) -> np.ndarray:
        """``(rows, len(names))`` matrix of internal values."""
        cols = [self.column(n) for n in names]
        if not cols:
            return np.empty((self.n if rows is None else int(np.count_nonzero(rows)), 0))
        m = np.stack(cols, axis=1)
        return m if rows is None else m[rows]

    def signed_values(self) -> np.ndarray:
        """Values of rows ``0..n-1`` turned so that lower is better for every objective."""
        v = self.values[: self.n].copy()
        for j, d in enumerate(self.directions):
            if d == "maximize":
                v[:, j] = -v[:, j]
        return v

    def best_number(self) -> int | None:
        """Number of the best COMPLETE trial (single objective), or None."""
        if self.n_objectives != 1:
            raise ValueError("best_number is for single-objective studies")
        v = self.signed_values()[:, 0]
        v = np.where(self.states[: self.n] == _COMPLETE, v, np.inf)
        if self.n == 0 or not np.isfinite(v).any():
            return None
        return int(np.argmin(v))

    def intersection_space(self) -> dict[str, Distribution]:
        """Parameters every COMPLETE trial has, with identical distributions."""
        return dict(self._intersection or {})

    def first_space(self) -> tuple[str, ...] | None:
        """Parameter names of the first trial that completed."""
        return self._first_params

    def check_distribution(self, name: str, dist: Distribution, declared: Space | None) -> None:
        """Raise :class:`SpaceError` if ``dist`` conflicts with earlier uses of ``name``."""
        if declared is not None and name in declared:
            d = declared[name]
            if d != dist:
                raise SpaceError(
                    f"parameter {name!r} is declared in the study's space as {d!r} but was "
                    f"suggested as {dist!r}; suggest it with the declared distribution or "
                    "change the space"
                )
            return
        old = self.distributions.get(name)
        if old is not None and not old.single() and not compatible(old, dist):
            raise SpaceError(
                f"parameter {name!r} was suggested as {old!r} in earlier trials and now as "
                f"{dist!r}; a parameter must keep its type, scale and choices within a study. "
                "Use a new parameter name or a new study"
            )

    def snapshot(self) -> dict[str, Any]:
        """A small summary (for debugging and tests)."""
        return {"n": self.n, "seq": self._seq, "params": sorted(self.params)}


class _Column:
    """One cached cross-section of :class:`Reports`, extended as trials arrive.

    Rows go into buffers that double when full, so extending a column by a few trials
    costs a few row copies, not a rebuild of the whole cross-section. Rows once written
    never change (a full buffer is copied into a new one, never resized in place), so
    the read-only views handed out stay valid snapshots.
    """

    __slots__ = ("arrays", "numbers", "pos", "size", "values")

    def __init__(self, n_objectives: int) -> None:
        self.pos = 0  # how many of Reports._order have been looked at
        self.size = 0  # rows filled
        self.numbers = np.empty(8, dtype=np.int64)
        self.values = np.empty((8, n_objectives), dtype=float)
        self.arrays: tuple[np.ndarray, np.ndarray] | None = None

    def append(self, number: int, row: np.ndarray) -> None:
        if self.size == self.numbers.size:
            capacity = 2 * self.size
            numbers = np.empty(capacity, dtype=np.int64)
            numbers[: self.size] = self.numbers[: self.size]
            values = np.empty((capacity, self.values.shape[1]), dtype=float)
            values[: self.size] = self.values[: self.size]
            self.numbers, self.values = numbers, values
        self.numbers[self.size] = number
        self.values[self.size] = row
        self.size += 1

    def views(self) -> tuple[np.ndarray, np.ndarray]:
        numbers = self.numbers[: self.size]
        values = self.values[: self.size]
        numbers.flags.writeable = False
        values.flags.writeable = False
        return numbers, values


class Reports:
    """Intermediate values of finished trials (COMPLETE, PRUNED, FAILED), append-only.

    Each trial's reports are kept as a sorted step array and a ``(k, n_objectives)``
    value matrix (raw values, NaN allowed). Cross-sections over trials (the values at
    one step, or at the first step at or after a resource level) are cached and only
    extended with trials added since the last request, so a pruner's per-report cost
    grows with the number of newly finished trials, not with the study's size.

    Args:
        n_objectives: values per report.
    """

    def __init__(self, n_objectives: int) -> None:
        self.n_objectives = n_objectives
        self._steps: dict[int, np.ndarray] = {}
        self._values: dict[int, np.ndarray] = {}
        self._order: list[int] = []  # numbers of trials with reports, in arrival order
        #: the largest step any recorded trial reported (0 without reports).
        self.max_step = 0
        self._columns: dict[tuple[bool, int], _Column] = {}

    def __contains__(self, number: object) -> bool:
        return number in self._steps

    def __len__(self) -> int:
        return len(self._steps)

    def add(self, number: int, intermediate: Mapping[int, Sequence[float]]) -> None:
        """Record a finished trial's reports (a trial already recorded is left as is)."""
        if number in self._steps:
            return
        items = sorted(intermediate.items())
        steps = np.array([s for s, _ in items], dtype=np.int64)
        values = np.array([v for _, v in items], dtype=float).reshape(len(items), self.n_objectives)
        self._steps[number] = steps
        self._values[number] = values
        if items:
            self._order.append(number)
            self.max_step = max(self.max_step, int(steps[-1]))

    def curve(self, number: int) -> tuple[np.ndarray, np.ndarray] | None:
        """``(steps, values)`` of a recorded trial (steps ascending), or None."""
        steps = self._steps.get(number)
        if steps is None:
            return None
        return steps, self._values[number]

    def at_step(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        """``(numbers, values)`` of the recorded trials that reported exactly ``step``."""
        return self._column(True, int(step))

    def first_at_or_after(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        """``(numbers, values)``: each recorded trial's value at its first reported step
        ``>= step`` (trials that never got that far are left out)."""
        return self._column(False, int(step))

    def _column(self, exact: bool, step: int) -> tuple[np.ndarray, np.ndarray]:
        col = self._columns.get((exact, step))
        if col is None:
            col = self._columns[(exact, step)] = _Column(self.n_objectives)
        if col.pos < len(self._order):
            for n in self._order[col.pos :]:
                steps = self._steps[n]
                i = int(np.searchsorted(steps, step))
                if i < steps.size and (not exact or steps[i] == step):
                    col.append(n, self._values[n][i])
            col.pos = len(self._order)
            col.arrays = None
        if col.arrays is None:
            col.arrays = col.views()
        return col.arrays
