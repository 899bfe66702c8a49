"""Executors: where objectives run.

* this process (``n_workers=1``) or a pool of local worker processes
  (``n_workers=N``), see :mod:`tunesmith.executors.process`;
* a Dask or Ray cluster: ``optimize(..., executor=DaskExecutor(...))`` or
  ``executor=RayExecutor(...)``. The engines are optional extras
  (``pip install "tunesmith[dask]"`` / ``"tunesmith[ray]"``), imported only when an
  executor connects.

The names below are loaded on first use, so that local worker processes
(``python -m tunesmith.executors._worker``) import nothing they do not need.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tunesmith.executors._dask import DaskExecutor
    from tunesmith.executors._ray import RayExecutor
    from tunesmith.executors.base import (
        EngineNotInstalledError,
        Executor,
        ExecutorConnectionError,
    )

_WHERE = {
    "DaskExecutor": "tunesmith.executors._dask",
    "RayExecutor": "tunesmith.executors._ray",
    "EngineNotInstalledError": "tunesmith.executors.base",
    "Executor": "tunesmith.executors.base",
    "ExecutorConnectionError": "tunesmith.executors.base",
}

__all__ = [
    "DaskExecutor",
    "EngineNotInstalledError",
    "Executor",
    "ExecutorConnectionError",
    "RayExecutor",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})
