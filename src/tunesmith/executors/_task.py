"""The function a Dask or Ray task runs: connect back to the driver, run one trial.

The task opens an authenticated connection to the driver, says which submission it
is (its token), loads the objective (sent once per worker process and cached by
digest), then runs the same request/reply loop as a local worker process
(:func:`tunesmith.executors._worker.serve`): every ``suggest``/``report``/
``should_prune`` goes to the driver, which owns the study. The driver ends the
loop after the trial. Objective errors travel back as messages; the task itself
raises only when it cannot reach or authenticate the driver.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import traceback
from collections import OrderedDict
from typing import Any

_CACHE: OrderedDict[str, Any] = OrderedDict()
_CACHE_SIZE = 4
_LOCK = threading.Lock()


def _cached(digest: str) -> Any:
    with _LOCK:
        objective = _CACHE.get(digest)
        if objective is not None:
            _CACHE.move_to_end(digest)
        return objective


def _load(blob: bytes, digest: str, paths: list[str]) -> Any:
    import cloudpickle

    for p in paths:  # the driver's import paths, after this worker's own
        if p not in sys.path and os.path.isdir(p):
            sys.path.append(p)
    objective = cloudpickle.loads(blob)
    with _LOCK:
        _CACHE[digest] = objective
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return objective


def run_trial_task(
    address: tuple[str, int], authkey: bytes, token: str, digest: str, timeout: float = 30.0
) -> str:
    """Entry point of one submitted task. Returns how it ended (for logs)."""
    from tunesmith.executors._connect import connect
    from tunesmith.executors._worker import _send, serve

    conn = connect(tuple(address), authkey, timeout)  # type: ignore[arg-type]
    try:
        objective = _cached(digest)
        conn.send(("hello", token, os.getpid(), socket.gethostname(), objective is not None))
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return "driver gone"
        if msg[0] == "exit":
            return "not needed"
        _, blob, paths, study_name = msg
        if objective is None:
            try:
                objective = _load(blob, digest, paths)
            except BaseException as exc:
                _send(
                    conn,
                    ("init_error", f"{type(exc).__name__}: {exc}", traceback.format_exc()),
                )
                return "init error"
        if not _send(conn, ("ready", os.getpid())):
            return "driver gone"
        serve(conn, conn, objective, study_name)
        return "done"
    finally:
        conn.close()
