"""Run trials on a Dask cluster (``pip install "tunesmith[dask]"``)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from tunesmith.executors._connect import is_loopback, parse_host_port, route_ip
from tunesmith.executors.base import Executor, ExecutorConnectionError


class DaskExecutor(Executor):
    """Run each trial as a task on a Dask cluster; this process keeps the study.

    Args:
        client_or_address: a ``distributed.Client``, a cluster object (``LocalCluster``,
            ...), or a scheduler address such as ``"tcp://10.0.0.5:8786"``. None: the
            current default client (the last ``Client`` created in this process).
        resources_per_trial: Dask abstract resources each trial holds, for example
            ``{"GPU": 1}``; passed as ``resources=`` to ``client.submit``. The workers
            must declare them (``dask worker ... --resources "GPU=2"``), or the tasks
            wait forever. None: no resources; each trial uses one worker thread.
        driver_address: see :class:`~tunesmith.executors.base.Executor`.
        connect_timeout: seconds to connect to the scheduler, and for a task to connect
            back to the driver.

    ``optimize(..., n_workers=None)`` runs as many trials at once as the cluster has
    worker threads (or resource slots, with ``resources_per_trial``). Dask's own task
    retries are off; the study's ``max_retries`` decides what happens to a trial whose
    worker dies.

    Example:
        >>> from distributed import Client  # doctest: +SKIP
        >>> from tunesmith.executors import DaskExecutor  # doctest: +SKIP
        >>> with Client("tcp://scheduler:8786") as client:  # doctest: +SKIP
        ...     study.optimize(objective, n_trials=100, executor=DaskExecutor(client))
    """

    engine_name = "Dask"
    extra = "dask"

    def __init__(
        self,
        client_or_address: Any = None,
        *,
        resources_per_trial: Mapping[str, float] | None = None,
        driver_address: str | None = None,
        connect_timeout: float = 30.0,
    ) -> None:
        super().__init__(driver_address=driver_address, connect_timeout=connect_timeout)
        for key, amount in (resources_per_trial or {}).items():
            if not isinstance(amount, int | float) or amount < 0:
                raise ValueError(f"resources_per_trial[{key!r}] must be >= 0, got {amount!r}")
        self.resources_per_trial = dict(resources_per_trial or {})
        self._target = client_or_address
        self._client: Any = None
        self._owns_client = False

    def __repr__(self) -> str:
        return f"DaskExecutor({self._target!r}, resources_per_trial={self.resources_per_trial})"

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` in use (connecting first if needed)."""
        self._start()
        return self._client

    def _start(self) -> None:
        if self._client is not None and self._client.status not in ("closed", "closing"):
            return
        try:
            import distributed
        except ImportError as exc:
            raise self._missing("distributed") from exc
        target = self._target
        if isinstance(target, distributed.Client):
            self._client = target
            return
        if target is None:
            try:
                self._client = distributed.default_client()
            except ValueError as exc:
                raise ExecutorConnectionError(
                    "DaskExecutor() found no Dask client in this process: pass a "
                    "distributed.Client, a cluster, or the scheduler's address "
                    "(DaskExecutor('tcp://host:8786'))"
                ) from exc
            return
        label = target if isinstance(target, str) else type(target).__name__
        try:
            self._client = distributed.Client(
                target, timeout=self.connect_timeout, set_as_default=False
            )
        except (OSError, TimeoutError) as exc:
            raise ExecutorConnectionError(
                f"cannot connect to the Dask scheduler at {label!r}: {exc}. Check the "
                "address (the scheduler prints it: 'Scheduler at: tcp://host:8786') and "
                "that the port is open from this machine; start a scheduler with "
                "`dask scheduler` and workers with `dask worker tcp://host:8786`, or "
                "pass a distributed.Client (for example Client(LocalCluster()))"
            ) from exc
        self._owns_client = True

    def close(self) -> None:
        """Close the client if this executor created it (from an address or cluster)."""
        if self._client is not None and self._owns_client:
            self._client.close()
        self._client = None
        self._owns_client = False

    def _default_workers(self) -> int:
        client = self._client
        try:
            workers = client.scheduler_info(n_workers=-1)["workers"]
        except TypeError:  # distributed < 2025: every worker is listed
            workers = client.scheduler_info()["workers"]
        total = 0
        for info in workers.values():
            slots = int(info.get("nthreads", 1))
            have = info.get("resources") or {}
            for key, amount in self.resources_per_trial.items():
                if amount > 0:
                    slots = min(slots, math.floor(have.get(key, 0) / amount + 1e-9))
            total += max(slots, 0)
        if total < 1:
            need = f" with resources {self.resources_per_trial}" if self.resources_per_trial else ""
            raise ExecutorConnectionError(
                f"the Dask cluster at {client.scheduler.address} has no worker that can run a "
                f"trial{need} right now: start workers (`dask worker <scheduler address>"
                + (' --resources "NAME=AMOUNT"' if need else "")
                + "`) or pass n_workers= explicitly"
            )
        return total

    def _driver_host(self) -> str:
        address = str(self._client.scheduler.address)
        if address.startswith("inproc://"):
            return "127.0.0.1"
        host, port = parse_host_port(address, 8786)
        if is_loopback(host):
            return "127.0.0.1"
        return route_ip(host, port or 8786)

    def _submit(self, args: tuple[Any, ...], key: str) -> Any:
        from tunesmith.executors._task import run_trial_task

        return self._client.submit(
            run_trial_task,
            *args,
            key=key,
            pure=False,
            retries=0,
            resources=self.resources_per_trial or None,
        )

    def _poll(self, handles: Sequence[Any]) -> list[tuple[Any, str | None]]:
        out: list[tuple[Any, str | None]] = []
        for fut in handles:
            if not fut.done():
                continue
            status = fut.status
            if status == "finished":
                out.append((fut, None))
            elif status == "error":
                try:
                    exc = fut.exception(timeout=5)
                    out.append((fut, f"{type(exc).__name__}: {exc}"))
                except Exception as err:
                    out.append((fut, f"{type(err).__name__}: {err}"))
            else:
                out.append((fut, f"the task was {status}"))
        return out

    def _cancel(self, handles: Sequence[Any]) -> None:
        if handles and self._client is not None:
            self._client.cancel(list(handles))
