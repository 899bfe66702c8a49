"""What pruners read from a study: the trial's own reports and finished trials' reports.

The trial being judged is normally running in this process: its reports are in its
:class:`~tunesmith._live.LiveTrial` (no storage read). Finished trials' reports come
from the study's history, which keeps them incrementally (see
:class:`~tunesmith.history.Reports`). Values are turned so that lower is better in
every objective ("signed") before any comparison.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from tunesmith.trial import TrialState

if TYPE_CHECKING:
    from tunesmith.history import History, Reports
    from tunesmith.study import Study


def signs(directions: Sequence[str]) -> np.ndarray:
    """+1 for minimized, -1 for maximized objectives: ``values * signs`` is lower-better."""
    return np.array([1.0 if d == "minimize" else -1.0 for d in directions])


def as_matrix(items: Sequence[tuple[int, Sequence[float]]], n_obj: int) -> np.ndarray:
    return np.array([v for _, v in items], dtype=float).reshape(len(items), n_obj)


@dataclass(slots=True)
class Curve:
    """One trial's reports, ordered by step.

    Attributes:
        number: the trial's number.
        steps: reported steps, ascending.
        values: raw reported values, ``(len(steps), n_objectives)``.
        signed: the same turned lower-is-better.
        memo: what pruners remember about this trial between calls (kept by the
            running trial; a fresh dict for a trial that is not running here).
    """

    number: int
    steps: np.ndarray
    values: np.ndarray
    signed: np.ndarray
    memo: dict[str, Any] = field(default_factory=dict)

    @property
    def last_step(self) -> int:
        return int(self.steps[-1])

    def index_at_or_after(self, step: int) -> int | None:
        """Position of the first reported step ``>= step`` (None if none)."""
        i = int(np.searchsorted(self.steps, step))
        return i if i < self.steps.size else None


def curve_from(
    number: int,
    reports: Mapping[int, Sequence[float]],
    directions: Sequence[str],
    memo: dict[str, Any] | None = None,
) -> Curve | None:
    """A :class:`Curve` from a step -> values mapping (None when empty)."""
    if not reports:
        return None
    items = sorted(reports.items())
    values = as_matrix(items, len(directions))
    steps = np.array([s for s, _ in items], dtype=np.int64)
    return Curve(number, steps, values, values * signs(directions), {} if memo is None else memo)


def current_curve(study: Study, number: int) -> Curve | None:
    """The reports of trial ``number`` (None if it reported nothing).

    Raises:
        TrialNotFoundError: if the study has no such trial.
    """
    with study._live_lock:
        live = study._live.get(number)
    if live is not None:
        with live._lock:
            reports = dict(live.reports)
        return curve_from(number, reports, study.directions, live.prune_memo)
    ft = study._trial_by_number(number)
    return curve_from(number, ft.intermediate, study.directions)


def at_pruning_point(steps: np.ndarray, n_warmup_steps: int, interval_steps: int) -> bool:
    """Whether the trial's latest report is the first one at or past a pruning point.

    Pruning points are ``n_warmup_steps + j * interval_steps`` (j = 0, 1, ...). A trial
    that skips steps is checked at its first report past each point; asking again at
    the same step gives the same answer.
    """
    step = int(steps[-1])
    if step < n_warmup_steps:
        return False
    point = n_warmup_steps + (step - n_warmup_steps) // interval_steps * interval_steps
    previous = int(steps[-2]) if steps.size > 1 else -1
    return previous < point


def curve_at_pruning_point(
    study: Study, number: int, n_warmup_steps: int, interval_steps: int
) -> Curve | None:
    """The reports of trial ``number`` when its latest one is at a pruning point
    (see :func:`at_pruning_point`), else None (also when it reported nothing).

    Raises:
        TrialNotFoundError: if the study has no such trial.
    """
    curve = current_curve(study, number)
    if curve is None or not at_pruning_point(curve.steps, n_warmup_steps, interval_steps):
        return None
    return curve


@contextmanager
def finished_reports(study: Study) -> Iterator[tuple[History, Reports]]:
    """The study's history, synchronized, and its finished trials' reports; the history
    lock is held meanwhile (arrays handed out are snapshots and stay valid after)."""
    with study._hist_lock:
        history = study._history
        reports = history.track_reports()
        history.sync()
        yield history, reports


def states_of(history: History, numbers: np.ndarray) -> np.ndarray:
    """States of trials ``numbers`` as of the last sync (-1 for numbers not seen)."""
    out = np.full(numbers.shape, -1, dtype=np.int8)
    seen = numbers < history.n
    out[seen] = history.states[numbers[seen]]
    return out


def running_reports(study: Study, exclude: int) -> dict[int, Mapping[int, tuple[float, ...]]]:
    """Reports of the study's RUNNING trials (from storage, so other processes' too)."""
    running = study.storage.get_trials(study.study_id, [TrialState.RUNNING])
    return {t.number: t.intermediate for t in running if t.number != exclude and t.intermediate}
