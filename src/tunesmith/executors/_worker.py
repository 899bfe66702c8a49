"""Entry point of a local worker process: ``python -m tunesmith.executors._worker R W``.

The worker receives the (cloud)pickled objective once, then runs trials on
request. Every ``trial.suggest_*``/``report``/``should_prune`` call is answered by
the driver, which owns the study, so the sampler sees all workers' trials and
in-memory studies work with several processes too.

The request/reply loop (:func:`serve`) works over any pair of
:class:`multiprocessing.connection.Connection` objects: the local pool uses two
pipes, the Dask and Ray executors one authenticated TCP connection back to the
driver (see :mod:`tunesmith.executors._task`).
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import threading
import time
import traceback
from typing import Any


class _PipeBackend:
    """TrialBackend that forwards to the driver."""

    def __init__(self, preset: dict[str, tuple[Any, Any]], conn_in: Any, conn_out: Any) -> None:
        self._preset = preset  # name -> (distribution, value) proposed at ask time
        self._params: dict[str, Any] = {n: v for n, (_, v) in preset.items()}
        self._user_attrs: dict[str, Any] = {}
        self._in = conn_in
        self._out = conn_out

    def _request(self, *msg: Any) -> Any:
        self._out.send(msg)
        kind, payload = self._in.recv()
        if kind == "raise":
            raise payload
        return payload

    def suggest(self, name: str, dist: Any) -> Any:
        pre = self._preset.get(name)
        if pre is not None and pre[0] == dist:
            return pre[1]
        value = self._request("suggest", name, dist)
        self._params[name] = value
        return value

    def report(self, step: int, values: tuple[float, ...]) -> None:
        self._request("report", step, values)

    def should_prune(self) -> bool:
        return bool(self._request("should_prune"))

    def set_user_attr(self, key: str, value: Any) -> None:
        self._request("attr", key, value)
        self._user_attrs[key] = value

    def params(self) -> dict[str, Any]:
        return dict(self._params)

    def get_user_attrs(self) -> dict[str, Any]:
        return dict(self._user_attrs)


class _Stopped(SystemExit):
    """Raised in the objective when the driver stops this worker (SIGTERM)."""


def _on_sigterm(*_: Any) -> None:
    raise _Stopped(143)


def _watch_parent(parent: int) -> None:
    # If the driver dies (kill -9), exit instead of running orphaned trials.
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(3)


def _encode_exception(exc: BaseException) -> tuple[Any, str, str]:
    text = f"{type(exc).__name__}: {exc}\n" + "".join(
        traceback.format_exception(type(exc), exc, exc.__traceback__)
    )
    try:
        blob = pickle.dumps(exc)
        pickle.loads(blob)
    except Exception:
        blob = None
    return blob, f"{type(exc).__module__}.{type(exc).__qualname__}", text


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver handles Ctrl-C
    # The driver stops a running objective with SIGTERM: unwind it (finally blocks and
    # context managers run) instead of dying on the spot.
    signal.signal(signal.SIGTERM, _on_sigterm)
    from tunesmith.executors._protocol import reader, writer

    conn_in = reader(int(argv[0]))
    conn_out = writer(int(argv[1]))
    parent = int(argv[2])
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    try:
        msg = conn_in.recv()
    except (EOFError, OSError):
        return 0  # the driver finished (or died) before this worker started
    try:
        kind, blob, paths, study_name = msg
        assert kind == "init"
        for p in reversed(paths):
            if p not in sys.path:
                sys.path.insert(0, p)
        import cloudpickle

        objective = cloudpickle.loads(blob)
    except BaseException as exc:  # report and exit: the driver raises a clear error
        _send(conn_out, ("init_error", f"{type(exc).__name__}: {exc}", traceback.format_exc()))
        return 2
    if not _send(conn_out, ("ready", os.getpid())):
        return 0  # the run ended while this worker was starting: nothing left to do
    return serve(conn_in, conn_out, objective, study_name)


def serve(conn_in: Any, conn_out: Any, objective: Any, study_name: str) -> int:
    """Run trials as the driver asks, until it says ``exit`` or goes away.

    ``conn_in`` receives the driver's messages, ``conn_out`` sends to it (they may be
    the same two-way connection). Returns the exit status for the worker process.
    """
    from tunesmith.exceptions import TrialPruned
    from tunesmith.trial import Trial

    while True:
        try:
            msg = conn_in.recv()
        except (EOFError, OSError):
            return 0
        if msg[0] == "exit":
            return 0
        _, number, trial_id, preset, checkpoint = msg
        backend = _PipeBackend(preset, conn_in, conn_out)
        trial = Trial(backend, number, trial_id, study_name, checkpoint)
        c0 = time.process_time()
        try:
            value = objective(trial)
        except TrialPruned:
            if not _send(conn_out, ("done", "pruned", None, time.process_time() - c0)):
                return 0
        except (EOFError, BrokenPipeError, _Stopped):
            return 0  # the driver is gone or stopped us: it accounts for the trial
        except BaseException as exc:
            if not _send(
                conn_out, ("done", "error", _encode_exception(exc), time.process_time() - c0)
            ):
                return 0
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                return 1
        else:
            try:
                pickle.dumps(value)
            except Exception:
                value = repr(value)  # the driver rejects it with a clear message
            if not _send(conn_out, ("done", "ok", value, time.process_time() - c0)):
                return 0


def _send(conn: Any, msg: Any) -> bool:
    """Send to the driver; False if it is gone."""
    try:
        conn.send(msg)
    except (OSError, EOFError):
        return False
    return True


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
