"""Driver-side state of a running trial (the backend behind :class:`~tunesmith.Trial`)."""

from __future__ import annotations

import threading
import warnings
from typing import TYPE_CHECKING, Any

from tunesmith.exceptions import SpaceError, TrialFinishedError
from tunesmith.space import Distribution
from tunesmith.storage._common import check_json

if TYPE_CHECKING:
    from tunesmith.study import Study


class LiveTrial:
    """Holds what a running trial has suggested and reported; owned by the process that
    asked for it. Parameters are written to storage with the heartbeat and at the end,
    not one transaction per ``suggest`` call."""

    __slots__ = (
        "_lock",
        "dirty",
        "dists",
        "external",
        "finished",
        "fixed",
        "internal",
        "last_report",
        "number",
        "prune_memo",
        "relative",
        "reports",
        "study",
        "suggested",
        "trial_id",
        "user_attrs",
    )

    def __init__(
        self,
        study: Study,
        trial_id: int,
        number: int,
        fixed: dict[str, Any],
        relative: dict[str, Any],
        dists: dict[str, Distribution],
        internal: dict[str, float],
        user_attrs: dict[str, Any],
    ) -> None:
        self.study = study
        self.trial_id = trial_id
        self.number = number
        self.fixed = fixed
        self.relative = relative
        self.dists = dists
        self.internal = internal
        self.external = {n: dists[n].to_external(v) for n, v in internal.items()}
        self.user_attrs = user_attrs
        self.suggested: set[str] = set()
        self.dirty = False
        self.finished = False
        self.last_report: tuple[float, ...] | None = None
        #: every report of this trial (step -> values), for the pruner: no storage read.
        self.reports: dict[int, tuple[float, ...]] = {}
        #: what a pruner keeps about this trial between its calls (e.g. rungs passed).
        self.prune_memo: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _check_open(self) -> None:
        if self.finished:
            raise TrialFinishedError(f"trial {self.number} is finished; it cannot change")

    # -- TrialBackend ------------------------------------------------------------
    def suggest(self, name: str, dist: Distribution) -> Any:
        with self._lock:
            self._check_open()
            if not isinstance(name, str) or not name:
                raise SpaceError(f"parameter names must be non-empty strings, got {name!r}")
            if name in self.suggested:
                old = self.dists[name]
                if old is not dist and old != dist:
                    raise SpaceError(
                        f"parameter {name!r} was already suggested in trial {self.number} as "
                        f"{old!r}; suggesting it again as {dist!r} is ambiguous. Use one "
                        "distribution per name"
                    )
                return self.external[name]
            study = self.study
            study._history.check_distribution(name, dist, study.space)
            if name in self.fixed:
                value = self.fixed[name]
                if not dist.contains(value):
                    raise SpaceError(
                        f"the enqueued value {value!r} for {name!r} is outside {dist!r}; "
                        "fix the enqueued parameters"
                    )
            elif name in self.relative and dist.contains(self.relative[name]):
                value = self.relative[name]
            else:
                if name in self.relative:
                    warnings.warn(
                        f"the sampler proposed {self.relative[name]!r} for {name!r}, outside "
                        f"{dist!r}; drawing a new value",
                        stacklevel=4,
                    )
                value = study._sample_independent(self.number, name, dist, self.external)
            internal = dist.to_internal(value)
            value = dist.to_external(internal)
            self.dists[name] = dist
            self.internal[name] = internal
            self.external[name] = value
            self.suggested.add(name)
            self.dirty = True
            return value

    def report(self, step: int, values: tuple[float, ...]) -> None:
        with self._lock:
            self._check_open()
            n_obj = len(self.study.directions)
            if len(values) != n_obj:
                raise ValueError(
                    f"reported {len(values)} value(s) but the study has {n_obj} direction(s); "
                    "report one value per direction"
                )
            self.last_report = values
            self.reports[step] = values
        self.study._storage.report(self.trial_id, step, values)

    def should_prune(self) -> bool:
        self._check_open()
        pruner = self.study.pruner
        if pruner is None or not self.reports:
            return False  # nothing reported yet: nothing to judge
        return bool(pruner.should_prune(self.study, self.number))

    def set_user_attr(self, key: str, value: Any) -> None:
        check_json(f"user attribute {key!r}", value)
        with self._lock:
            self._check_open()
            self.user_attrs[key] = value
            self.dirty = True

    def params(self) -> dict[str, Any]:
        return dict(self.external)

    def get_user_attrs(self) -> dict[str, Any]:
        return dict(self.user_attrs)

    def take_dirty(self) -> tuple[dict[str, float], dict[str, Distribution], dict[str, Any]] | None:
        """Snapshot of params/attrs to flush, or None if nothing changed since last flush."""
        with self._lock:
            if not self.dirty or self.finished:
                return None
            self.dirty = False
            return dict(self.internal), dict(self.dists), dict(self.user_attrs)
