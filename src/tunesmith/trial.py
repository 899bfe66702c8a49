"""Trials: the live handle an objective receives, and the immutable record of a trial."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from enum import IntEnum
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol

from tunesmith import _checkpoints
from tunesmith._checkpoints import CheckpointLocation
from tunesmith.exceptions import SpaceError
from tunesmith.space import Categorical, Distribution, Float, Int

__all__ = ["FrozenTrial", "Trial", "TrialState"]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _empty() -> Mapping[Any, Any]:
    return _EMPTY


class TrialState(IntEnum):
    """Life cycle of a trial: WAITING (queued) → RUNNING → COMPLETE / PRUNED / FAILED."""

    WAITING = 0
    RUNNING = 1
    COMPLETE = 2
    PRUNED = 3
    FAILED = 4

    def is_finished(self) -> bool:
        return self >= TrialState.COMPLETE


@dataclass(frozen=True, slots=True)
class FrozenTrial:
    """The stored record of one trial. Immutable.

    Attributes:
        number: 0-based index of the trial within its study.
        trial_id: storage-wide id.
        state: a :class:`TrialState`.
        values: objective values (one per direction), or None if not complete.
        params: external parameter values.
        distributions: the distribution of each parameter.
        intermediate: reported values by step (each a tuple, one per objective).
        user_attrs: attributes set with :meth:`Trial.set_user_attr`.
        system_attrs: attributes tunesmith keeps (e.g. ``retry_of``).
        datetime_start / datetime_complete: POSIX timestamps (seconds).
        cpu_time: CPU seconds the objective used (process time), if known.
        worker: identifier of the process that ran the trial.
        heartbeat: last heartbeat timestamp of a running trial.
        retries: how many times this trial's parameters were retried before.
        error: why the trial failed (message or traceback), if it failed.
    """

    number: int
    trial_id: int
    state: TrialState
    values: tuple[float, ...] | None
    params: Mapping[str, Any] = field(default_factory=_empty)
    distributions: Mapping[str, Distribution] = field(default_factory=_empty)
    intermediate: Mapping[int, tuple[float, ...]] = field(default_factory=_empty)
    user_attrs: Mapping[str, Any] = field(default_factory=_empty)
    system_attrs: Mapping[str, Any] = field(default_factory=_empty)
    datetime_start: float | None = None
    datetime_complete: float | None = None
    cpu_time: float | None = None
    worker: str | None = None
    heartbeat: float | None = None
    retries: int = 0
    error: str | None = None

    @property
    def value(self) -> float | None:
        """The single objective value (raises for multi-objective trials)."""
        if self.values is None:
            return None
        if len(self.values) != 1:
            raise ValueError(
                f"trial {self.number} has {len(self.values)} objective values; use .values"
            )
        return self.values[0]

    @property
    def duration(self) -> float | None:
        """Wall-clock seconds from start to completion."""
        if self.datetime_start is None or self.datetime_complete is None:
            return None
        return self.datetime_complete - self.datetime_start

    @property
    def last_step(self) -> int | None:
        return max(self.intermediate) if self.intermediate else None

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Read-only mapping views cannot be pickled: send plain dicts, re-wrap on load.
        state = {}
        for f in fields(self):
            v = getattr(self, f.name)
            state[f.name] = dict(v) if isinstance(v, MappingProxyType) else v
        return (_rebuild_frozen, (state,))

    def __repr__(self) -> str:
        vals = None if self.values is None else list(self.values)
        return (
            f"FrozenTrial(number={self.number}, state={self.state.name}, values={vals}, "
            f"params={dict(self.params)})"
        )


def _rebuild_frozen(state: dict[str, Any]) -> FrozenTrial:
    for key in ("params", "distributions", "intermediate", "user_attrs", "system_attrs"):
        state[key] = MappingProxyType(state[key])
    return FrozenTrial(**state)


class TrialBackend(Protocol):
    """What a :class:`Trial` delegates to: the study in this process or a pipe to it."""

    def suggest(self, name: str, dist: Distribution) -> Any: ...

    def report(self, step: int, values: tuple[float, ...]) -> None: ...

    def should_prune(self) -> bool: ...

    def set_user_attr(self, key: str, value: Any) -> None: ...

    def params(self) -> dict[str, Any]: ...

    def get_user_attrs(self) -> dict[str, Any]: ...


class Trial:
    """The handle an objective receives: suggest parameters, report progress.

    Example:
        >>> def objective(trial):
        ...     lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
        ...     depth = trial.suggest_int("depth", 2, 10)
        ...     kernel = trial.suggest_categorical("kernel", ["rbf", "linear"])
        ...     return lr * depth
    """

    __slots__ = ("_backend", "_checkpoint", "number", "study_name", "trial_id")

    def __init__(
        self,
        backend: TrialBackend,
        number: int,
        trial_id: int,
        study_name: str,
        checkpoint: CheckpointLocation | None = None,
    ) -> None:
        self._backend = backend
        self.number = number
        self.trial_id = trial_id
        self.study_name = study_name
        self._checkpoint = checkpoint

    def __repr__(self) -> str:
        return f"Trial(number={self.number}, params={self.params})"

    # -- suggestions ---------------------------------------------------------
    def suggest_float(
        self, name: str, low: float, high: float, *, log: bool = False, step: float | None = None
    ) -> float:
        """Suggest a float in ``[low, high]`` (log scale with ``log=True``; on a grid with ``step``)."""
        return self._backend.suggest(name, _float(low, high, log, step))

    def suggest_int(
        self, name: str, low: int, high: int, *, log: bool = False, step: int = 1
    ) -> int:
        """Suggest an integer in ``[low, high]`` (log scale with ``log=True``; every ``step``)."""
        return self._backend.suggest(name, _int(low, high, log, step))

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        """Suggest one of ``choices`` (None, bool, int, float or str values)."""
        return self._backend.suggest(name, Categorical(choices))

    def suggest(self, name: str, distribution: Distribution) -> Any:
        """Suggest a value for ``name`` from an explicit distribution object."""
        if not isinstance(distribution, Float | Int | Categorical):
            raise SpaceError(f"expected a Float, Int or Categorical, got {distribution!r}")
        return self._backend.suggest(name, distribution)

    # -- progress ------------------------------------------------------------
    def report(self, value: float | Sequence[float], step: int) -> None:
        """Report an intermediate value (or one per objective) at ``step``.

        ``step`` is the resource used so far (epoch, boosting round, ...). It is
        what pruners and multi-fidelity schedulers compare trials on.
        """
        if isinstance(step, bool) or not isinstance(step, int):
            try:
                # bool is an int and float("3") works, but neither is a step.
                if not isinstance(step, bool | str | bytes) and float(step).is_integer():
                    step = int(step)
                else:
                    raise TypeError
            except (TypeError, ValueError):
                raise TypeError(f"step must be an integer, got {step!r}") from None
        if step < 0:
            raise ValueError(f"step must be >= 0, got {step}")
        self._backend.report(step, _as_value_tuple(value, "reported value"))

    def should_prune(self) -> bool:
        """Whether the study's pruner says this trial should stop now (then raise
        :class:`~tunesmith.TrialPruned`). False without a pruner or before any report."""
        return self._backend.should_prune()

    def set_user_attr(self, key: str, value: Any) -> None:
        """Attach a JSON-serializable attribute to the trial."""
        if not isinstance(key, str):
            raise TypeError(f"attribute keys must be strings, got {key!r}")
        self._backend.set_user_attr(key, value)

    @property
    def params(self) -> dict[str, Any]:
        """Parameters suggested so far (a copy)."""
        return self._backend.params()

    @property
    def user_attrs(self) -> dict[str, Any]:
        return self._backend.get_user_attrs()

    # -- checkpoints ---------------------------------------------------------
    def _location(self) -> CheckpointLocation:
        if self._checkpoint is None:
            raise _checkpoints.CheckpointError(
                f"trial {self.number} was not created by a study, so it has no checkpoint "
                "folder; use trials from study.ask() or study.optimize()"
            )
        return self._checkpoint

    def save_checkpoint(self, state: Any) -> Path:
        """Save a picklable object (a ``state_dict``, a booster, a dict of numbers) as
        this trial's latest checkpoint.

        The write is atomic: a process killed while saving leaves the previous
        checkpoint intact. Only the latest checkpoint is kept.

        Returns:
            The folder holding the new checkpoint.

        Raises:
            CheckpointError: if the study has no checkpoint folder (PostgreSQL without
                ``artifact_dir``) or ``state`` cannot be pickled.

        Example:
            >>> def objective(trial):
            ...     state = trial.load_checkpoint() or {"epoch": 0, "x": 5.0}
            ...     for epoch in range(state["epoch"], 10):
            ...         state = {"epoch": epoch + 1, "x": state["x"] * 0.5}
            ...         trial.save_checkpoint(state)
            ...     return state["x"]
        """
        return _checkpoints.save_object(self._location(), state)

    def load_checkpoint(self, default: Any = None) -> Any:
        """The object last saved with :meth:`save_checkpoint`, or ``default``.

        A trial that has not saved one yet gets the checkpoint it continues from: a
        retry (after its worker was killed) gets the last checkpoint of the trial it
        retries; a trial started by population-based training gets the checkpoint it
        copied from a better trial.
        """
        return _checkpoints.load_object(self._location().checked(), default)

    @contextlib.contextmanager
    def checkpoint(self) -> Iterator[Path]:
        """Write a checkpoint as files: yields an empty folder that becomes this trial's
        latest checkpoint, in one rename, when the block ends without an error.

        Example:
            >>> def objective(trial):  # doctest: +SKIP
            ...     with trial.checkpoint() as folder:
            ...         torch.save(model.state_dict(), folder / "model.pt")
            ...     ...
        """
        with _checkpoints.writing(self._location()) as folder:
            yield folder

    @property
    def latest_checkpoint(self) -> Path | None:
        """The folder of the checkpoint this trial should resume from (its own latest,
        else the one it inherits, as for :meth:`load_checkpoint`), or None.

        Example:
            >>> def objective(trial):  # doctest: +SKIP
            ...     if trial.latest_checkpoint is not None:
            ...         model.load_state_dict(torch.load(trial.latest_checkpoint / "model.pt"))
        """
        return _checkpoints.resolve(self._location().checked())


@lru_cache(maxsize=1024)
def _float_cached(low: float, high: float, log: bool, step: float | None) -> Float:
    return Float(low, high, log=log, step=step)


@lru_cache(maxsize=1024)
def _int_cached(low: int, high: int, log: bool, step: int) -> Int:
    return Int(low, high, log=log, step=step)


def _float(low: Any, high: Any, log: bool, step: Any) -> Float:
    # Objectives suggest the same few distributions over and over: build each once.
    # (Unhashable or odd arguments take the validating constructor directly.)
    try:
        return _float_cached(low, high, bool(log), step)
    except TypeError:
        return Float(low, high, log=log, step=step)


def _int(low: Any, high: Any, log: bool, step: Any) -> Int:
    try:
        return _int_cached(low, high, bool(log), step)
    except TypeError:
        return Int(low, high, log=log, step=step)


def _as_value_tuple(value: Any, what: str) -> tuple[float, ...]:
    """Turn a number or sequence of numbers into a tuple of floats (NaN allowed here)."""
    if isinstance(value, bool):
        raise TypeError(f"{what} must be a number or a sequence of numbers, got {value!r}")
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        seq = list(value)
    elif hasattr(value, "tolist") and not isinstance(value, str | bytes):
        seq = value.tolist()  # numpy arrays and scalars
        if not isinstance(seq, list):
            seq = [seq]
    else:
        seq = [value]
    out = []
    for v in seq:
        # float("1.5") works, but a string result is a bug in the objective, not a value.
        if isinstance(v, bool | str | bytes) or v is None:
            raise TypeError(f"{what} must be a number or a sequence of numbers, got {value!r}")
        try:
            out.append(float(v))
        except (TypeError, ValueError):
            raise TypeError(
                f"{what} must be a number or a sequence of numbers, got {value!r}"
            ) from None
    return tuple(out)


def check_objective_values(
    value: Any, n_objectives: int
) -> tuple[tuple[float, ...] | None, str | None]:
    """Validate an objective's return value.

    Returns ``(values, None)`` when valid, else ``(None, message)`` naming the problem.
    """
    if value is None:
        return None, (
            "the objective returned None; return a number (or one per direction), "
            "or raise tunesmith.TrialPruned to stop a trial early"
        )
    try:
        values = _as_value_tuple(value, "the objective's return value")
    except TypeError as exc:
        return None, f"{exc}; return a float (or a list of floats, one per direction)"
    if len(values) != n_objectives:
        return None, (
            f"the objective returned {len(values)} value(s) but the study has "
            f"{n_objectives} direction(s); return exactly one value per direction"
        )
    bad = [v for v in values if not math.isfinite(v)]
    if bad:
        return None, (
            f"the objective returned a non-finite value {value!r}; tunesmith cannot rank "
            "NaN or infinite results. Return a finite number, or raise an exception / "
            "tunesmith.TrialPruned for configurations that diverge"
        )
    return values, None
