"""Run trials on a Ray cluster (``pip install "tunesmith[ray]"``)."""

from __future__ import annotations

import math
import socket
from collections.abc import Mapping, Sequence
from typing import Any

from tunesmith.executors._connect import is_loopback, parse_host_port, route_ip
from tunesmith.executors.base import Executor, ExecutorConnectionError

_STANDARD = {"num_cpus": "CPU", "num_gpus": "GPU", "memory": "memory"}


class RayExecutor(Executor):
    """Run each trial as a Ray task; this process keeps the study.

    Args:
        address: the Ray cluster: ``"auto"`` (the cluster this machine is a node of,
            started with ``ray start``), ``"ray://head:10001"`` (Ray Client, from outside
            the cluster), ``"host:6379"`` (a node's GCS address), ``"local"`` (start a
            new single-machine cluster in this process) or None (``RAY_ADDRESS``, else a
            running local cluster, else a new one). When Ray is already initialized in
            this process (``ray.init`` was called), that connection is used as it is.
        resources_per_trial: what each trial's task requests: ``num_cpus`` (default 1),
            ``num_gpus``, ``memory`` (bytes), ``resources`` (a dict of custom
            resources); other keys are taken as custom resources too. For example
            ``{"num_cpus": 2, "num_gpus": 1}``.
        init_kwargs: extra arguments for ``ray.init`` when this executor connects
            (``runtime_env={"pip": [...]}``, ``num_cpus=`` for a local cluster, ...).
        driver_address: see :class:`~tunesmith.executors.base.Executor`.
        connect_timeout: seconds to reach the cluster's address, and for a task to
            connect back to the driver.

    ``optimize(..., n_workers=None)`` runs as many trials at once as the cluster's
    resources allow (its CPUs divided by ``num_cpus``, and so on). Ray's own task
    retries are off (``max_retries=0``); the study's ``max_retries`` decides what
    happens to a trial whose worker dies.

    Example:
        >>> from tunesmith.executors import RayExecutor  # doctest: +SKIP
        >>> ex = RayExecutor("auto", resources_per_trial={"num_cpus": 1, "num_gpus": 1})
        >>> study.optimize(objective, n_trials=100, executor=ex)  # doctest: +SKIP
    """

    engine_name = "Ray"
    extra = "ray"

    def __init__(
        self,
        address: str | None = None,
        *,
        resources_per_trial: Mapping[str, Any] | None = None,
        init_kwargs: Mapping[str, Any] | None = None,
        driver_address: str | None = None,
        connect_timeout: float = 30.0,
    ) -> None:
        super().__init__(driver_address=driver_address, connect_timeout=connect_timeout)
        self.address = address
        self.options = self._task_options(resources_per_trial or {"num_cpus": 1})
        self.init_kwargs = dict(init_kwargs or {})
        self._owns_ray = False
        self._remote: Any = None

    def __repr__(self) -> str:
        return f"RayExecutor({self.address!r}, options={self.options})"

    @staticmethod
    def _task_options(resources: Mapping[str, Any]) -> dict[str, Any]:
        options: dict[str, Any] = {}
        custom: dict[str, float] = {}
        for key, value in resources.items():
            if key == "resources":
                custom.update(value or {})
                continue
            if not isinstance(value, int | float) or value < 0:
                raise ValueError(f"resources_per_trial[{key!r}] must be >= 0, got {value!r}")
            if key in _STANDARD:
                options[key] = value
            else:
                custom[key] = value
        for key, value in custom.items():
            if not isinstance(value, int | float) or value < 0:
                raise ValueError(f"custom resource {key!r} must be >= 0, got {value!r}")
        options.setdefault("num_cpus", 1)
        if custom:
            options["resources"] = custom
        return options

    def _check_reachable(self) -> None:
        address = self.address
        if address in (None, "auto", "local"):
            return
        assert address is not None
        host, port = parse_host_port(address, 10001 if address.startswith("ray://") else 6379)
        try:
            with socket.create_connection((host, port or 6379), timeout=self.connect_timeout):
                pass
        except OSError as exc:
            raise ExecutorConnectionError(self._bad_address(f"{host}:{port}: {exc}")) from exc

    def _bad_address(self, detail: str) -> str:
        return (
            f"cannot connect to the Ray cluster at {self.address!r} ({detail}). On the head "
            "node, `ray start --head` starts a cluster and prints its address; pass "
            "address='auto' on a node of the cluster, 'ray://<head>:10001' from outside it "
            "(Ray Client), or address='local' to start a cluster in this process"
        )

    def _start(self) -> None:
        try:
            import ray
        except ImportError as exc:
            raise self._missing("ray") from exc
        if not ray.is_initialized():
            self._check_reachable()
            kwargs = dict(self.init_kwargs)
            kwargs.setdefault("log_to_driver", True)
            if self.address in (None, "local"):
                kwargs.setdefault("include_dashboard", False)
            try:
                ray.init(address=self.address, **kwargs)
            except (ConnectionError, TimeoutError) as exc:
                raise ExecutorConnectionError(self._bad_address(str(exc))) from exc
            self._owns_ray = True
        if self._remote is None:
            from tunesmith.executors._task import run_trial_task

            self._remote = ray.remote(run_trial_task)

    def close(self) -> None:
        """Disconnect from Ray (``ray.shutdown()``) if this executor called ``ray.init``."""
        if self._owns_ray:
            import ray

            ray.shutdown()
        self._owns_ray = False
        self._remote = None

    def _default_workers(self) -> int:
        import ray

        have = ray.cluster_resources()
        slots: float = math.inf
        for key, name in _STANDARD.items():
            amount = self.options.get(key, 0)
            if amount:
                slots = min(slots, math.floor(have.get(name, 0) / amount + 1e-9))
        for key, amount in self.options.get("resources", {}).items():
            if amount:
                slots = min(slots, math.floor(have.get(key, 0) / amount + 1e-9))
        if slots == math.inf:  # the trial requests nothing: one per CPU
            slots = int(have.get("CPU", 1))
        if slots < 1:
            raise ExecutorConnectionError(
                f"the Ray cluster cannot run a trial with {self.options} (it has "
                f"{dict(have)}): lower resources_per_trial, add nodes, or pass n_workers="
            )
        return int(slots)

    def _driver_host(self) -> str:
        import ray

        address = self.address or ""
        if address.startswith("ray://"):  # Ray Client: the driver is outside the cluster
            host, port = parse_host_port(address, 10001)
            return "127.0.0.1" if is_loopback(host) else route_ip(host, port or 10001)
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        me = ray.util.get_node_ip_address()
        if all(n.get("NodeManagerAddress") == me for n in nodes):
            return "127.0.0.1"  # every node is this machine
        return str(me)

    def _submit(self, args: tuple[Any, ...], key: str) -> Any:
        return self._remote.options(
            name=key, max_retries=0, retry_exceptions=False, **self.options
        ).remote(*args)

    def _poll(self, handles: Sequence[Any]) -> list[tuple[Any, str | None]]:
        import ray

        if not handles:
            return []
        done, _ = ray.wait(list(handles), num_returns=len(handles), timeout=0)
        out: list[tuple[Any, str | None]] = []
        for ref in done:
            try:
                ray.get(ref, timeout=10)
            except Exception as exc:
                cause = getattr(exc, "cause", None)
                if isinstance(exc, ray.exceptions.RayTaskError) and cause is not None:
                    text = f"{type(exc).__name__} ({type(cause).__name__}: {cause})"
                else:
                    text = f"{type(exc).__name__}: {exc}"
                out.append((ref, text))
            else:
                out.append((ref, None))
        return out

    def _cancel(self, handles: Sequence[Any]) -> None:
        import ray

        for ref in handles:
            try:
                ray.cancel(ref)
            except Exception:
                pass
