"""Base class of the cluster executors (Dask, Ray) and their errors."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from tunesmith.exceptions import TunesmithError

if TYPE_CHECKING:
    from tunesmith._optimize import RunState
    from tunesmith.trial import Trial


class EngineNotInstalledError(TunesmithError, ImportError):
    """The cluster engine an executor needs (Dask, Ray) is not installed."""


class ExecutorConnectionError(TunesmithError, ConnectionError):
    """The cluster cannot be reached, or its tasks cannot reach the driver."""


class Executor:
    """Runs trials as tasks on a cluster while this process (the driver) keeps the study.

    Subclasses (:class:`~tunesmith.executors.DaskExecutor`,
    :class:`~tunesmith.executors.RayExecutor`) connect to an engine and submit tasks;
    this class holds what they share. Each trial is one engine task that connects
    back to the driver over TCP (an authenticated connection) and runs the objective;
    every ``suggest``/``report``/``should_prune``/``set_user_attr`` is answered by the
    driver, exactly as with local worker processes. Pass an executor to
    :meth:`tunesmith.Study.optimize`::

        study.optimize(objective, n_trials=100, executor=DaskExecutor("tcp://sched:8786"))

    An executor can be reused by several ``optimize`` calls; :meth:`close` (or a
    ``with`` block) releases the connection it opened, if it opened one.

    Args:
        driver_address: where tasks connect back to: ``"host"`` or ``"host:port"`` of
            this machine as the cluster's workers see it. None: the address of the
            interface that routes to the cluster (``127.0.0.1`` for a cluster on this
            machine) and a free port.
        connect_timeout: seconds to connect to the cluster, and for a task to connect
            back to the driver.
    """

    engine_name = "cluster"
    #: the pip extra that installs the engine
    extra = ""

    def __init__(self, *, driver_address: str | None = None, connect_timeout: float = 30.0) -> None:
        if connect_timeout <= 0:
            raise ValueError(f"connect_timeout must be positive seconds, got {connect_timeout!r}")
        self.driver_address = driver_address
        self.connect_timeout = float(connect_timeout)

    # -- what engines implement ------------------------------------------------------
    def _start(self) -> None:
        """Connect to the engine (idempotent)."""
        raise NotImplementedError

    def _default_workers(self) -> int:
        """How many trials the cluster can run at once with the requested resources."""
        raise NotImplementedError

    def _driver_host(self) -> str:
        """This machine's address as the cluster's workers see it."""
        raise NotImplementedError

    def _submit(self, args: tuple[Any, ...], key: str) -> Any:
        """Submit ``run_trial_task(*args)`` as one task; return its future/handle."""
        raise NotImplementedError

    def _poll(self, handles: Sequence[Any]) -> list[tuple[Any, str | None]]:
        """The handles whose task has ended, each with None (it returned) or the
        engine's error, as text that names its type."""
        raise NotImplementedError

    def _cancel(self, handles: Sequence[Any]) -> None:
        """Cancel tasks (queued ones do not start; running ones are interrupted if the
        engine can)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the connection to the engine if this executor opened it."""

    # -- shared ------------------------------------------------------------------------
    def _run(
        self, state: RunState, objective: Callable[[Trial], Any], n_workers: int | None
    ) -> None:
        from tunesmith.executors._remote import run_remote

        run_remote(self, state, objective, n_workers)

    def _missing(self, module: str) -> EngineNotInstalledError:
        return EngineNotInstalledError(
            f"{self.engine_name} is not installed (no module named {module!r}); "
            f'install it with: pip install "tunesmith[{self.extra}]"'
        )

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
