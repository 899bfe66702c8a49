"""Exceptions raised by tunesmith.

Every error a user can cause derives from :class:`TunesmithError`; errors about
bad arguments also derive from :class:`ValueError` so ``except ValueError`` keeps
working for code that does not know tunesmith.
"""

from __future__ import annotations


class TunesmithError(Exception):
    """Base class of all tunesmith errors."""


class TrialPruned(TunesmithError):
    """Raise inside an objective to stop the current trial early.

    The trial is stored as PRUNED with its last reported value.

    Example:
        >>> import tunesmith as ts
        >>> def objective(trial):
        ...     for step in range(10):
        ...         trial.report(step * 0.1, step)
        ...         if trial.should_prune():
        ...             raise ts.TrialPruned()
        ...     return 1.0
    """


class SpaceError(TunesmithError, ValueError):
    """A search space or a parameter distribution is invalid."""


class StorageError(TunesmithError):
    """The storage cannot be opened or used (bad URL, unreachable server, ...)."""


class SchemaVersionError(StorageError):
    """The storage's schema is older or newer than this tunesmith version."""


class DuplicatedStudyError(TunesmithError, ValueError):
    """A study with this name already exists in the storage."""


class StudyNotFoundError(TunesmithError, KeyError):
    """No study with this name exists in the storage."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class TrialNotFoundError(TunesmithError, KeyError):
    """No trial with this id or number exists."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class TrialFinishedError(TunesmithError, RuntimeError):
    """A finished trial was modified; finished trials are immutable."""


class CheckpointError(TunesmithError):
    """A trial checkpoint cannot be saved or loaded: no folder is configured for the
    study's storage, the folder is not writable, or the checkpoint holds other contents."""


class SamplerExhausted(TunesmithError):
    """The sampler has no more points to propose (for example a finished grid)."""


class ObjectiveNotPicklableError(TunesmithError, TypeError):
    """The objective cannot be sent to worker processes."""


class SpecError(TunesmithError, ValueError):
    """A YAML/JSON run specification is malformed."""


class WorkerError(TunesmithError):
    """An objective raised in a worker process and the exception could not be re-created.

    Attributes:
        remote_type: the qualified name of the original exception type.
        remote_traceback: the traceback text from the worker.
    """

    def __init__(self, message: str, remote_type: str = "", remote_traceback: str = "") -> None:
        super().__init__(message)
        self.remote_type = remote_type
        self.remote_traceback = remote_traceback


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM (a batch scheduler preempting or cancelling the job).

    ``tunesmith run`` and ``tunesmith worker`` turn SIGTERM into this exception. Running
    trials are then marked FAILED and, unlike after Ctrl-C, re-queued as the study's
    ``max_retries`` allows, so that another worker (or the rescheduled job) runs them
    again, from their last checkpoint if they saved one.
    """
