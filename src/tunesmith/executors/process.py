"""Local process pool: objectives run in real worker processes, the driver keeps ask/tell.

Each worker is a fresh ``python -m tunesmith.executors._worker`` process (no fork
of the driver, so no inherited locks, threads or database connections, and the
user's script is not re-executed). The objective is serialized once per worker
with cloudpickle. A worker that dies (killed, segfault, out of memory) is noticed
at once through its pipe: its trial is marked FAILED (and re-queued if the study
allows retries) and a new worker takes its place.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import subprocess
import sys
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any

from tunesmith._optimize import Outcome, interruption
from tunesmith.exceptions import ObjectiveNotPicklableError, TunesmithError, WorkerError
from tunesmith.executors._protocol import reader, writer
from tunesmith.trial import Trial

if TYPE_CHECKING:
    from tunesmith._optimize import RunState

logger = logging.getLogger("tunesmith")


def serialize_objective(objective: Callable[..., Any]) -> bytes:
    """cloudpickle the objective, or raise an error that says why and how to fix it."""
    import cloudpickle

    try:
        return cloudpickle.dumps(objective)
    except Exception as exc:
        raise ObjectiveNotPicklableError(
            f"the objective cannot be sent to worker processes: {type(exc).__name__}: {exc}. "
            "Something it uses (an open file or socket, a database connection, a lock, a "
            "generator, a GPU handle...) cannot be pickled. Fix: create such resources inside "
            "the objective (or load them lazily per process), or run with n_workers=1"
        ) from exc


class _Worker:
    def __init__(self, blob: bytes, study_name: str) -> None:
        to_child_r, to_child_w = os.pipe()
        to_parent_r, to_parent_w = os.pipe()
        env = dict(os.environ)
        env.setdefault("PYTHONUNBUFFERED", "1")
        # Keep BLAS from oversubscribing cores when several workers run at once.
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env.setdefault(var, "1")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tunesmith.executors._worker",
                str(to_child_r),
                str(to_parent_w),
                str(os.getpid()),
            ],
            pass_fds=(to_child_r, to_parent_w),
            env=env,
            stdin=subprocess.DEVNULL,
        )
        os.close(to_child_r)
        os.close(to_parent_w)
        self.send_conn: Connection = writer(to_child_w)
        self.recv_conn: Connection = reader(to_parent_r)
        self.number: int | None = None
        self.trial: Trial | None = None
        self.ready = False
        self.alive = True
        paths = [p for p in sys.path if p] + [os.getcwd()]
        self.send_conn.send(("init", blob, paths, study_name))

    @property
    def pid(self) -> int:
        return self.proc.pid

    def send(self, msg: Any) -> None:
        self.send_conn.send(msg)

    def close(self, how: str = "exit", grace: float = 2.0) -> None:
        """Stop the worker: ``"exit"`` asks an idle one to leave, ``"term"`` interrupts a
        running objective (SIGTERM: its ``finally`` blocks and context managers run, so
        subprocesses it started are cleaned up), ``"kill"`` is SIGKILL. A worker still
        alive after ``grace`` seconds is killed."""
        self.alive = False
        if how == "exit":
            with contextlib.suppress(OSError):
                self.send_conn.send(("exit",))
        elif how == "term":
            with contextlib.suppress(OSError):
                self.proc.terminate()
        else:
            with contextlib.suppress(OSError):
                self.proc.kill()
        for c in (self.send_conn, self.recv_conn):
            with contextlib.suppress(OSError):
                c.close()
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _exit_description(proc: subprocess.Popen[bytes]) -> str:
    try:
        rc = proc.wait(timeout=2)
    except subprocess.TimeoutExpired:
        return "stopped responding"
    if rc < 0:
        import signal

        try:
            name = signal.Signals(-rc).name
        except ValueError:
            name = f"signal {-rc}"
        return f"was killed by {name}"
    return f"exited with code {rc}"


def _decode_error(payload: Any) -> tuple[BaseException, str]:
    blob, type_name, text = payload
    exc: BaseException | None = None
    if blob is not None:
        try:
            exc = pickle.loads(blob)
        except Exception:
            exc = None
    if exc is None:
        exc = WorkerError(
            f"the objective raised {type_name} in a worker process:\n{text}", type_name, text
        )
    else:
        exc.add_note(f"Raised in a tunesmith worker process. Worker traceback:\n{text}")
    return exc, text


def answer_request(trial: Trial, msg: Any, who: str) -> tuple[str, Any]:
    """The driver's reply to a worker's request about its running ``trial``.

    ``msg`` is ``("suggest", name, dist)``, ``("report", step, values)``,
    ``("should_prune",)`` or ``("attr", key, value)``. Returns ``("reply", value)``, or
    ``("raise", exc)`` to raise ``exc`` in the objective.
    """
    kind = msg[0]
    try:
        if kind == "suggest":
            reply: Any = trial._backend.suggest(msg[1], msg[2])
        elif kind == "report":
            trial._backend.report(msg[1], tuple(msg[2]))
            reply = None
        elif kind == "should_prune":
            reply = trial.should_prune()
        elif kind == "attr":
            trial.set_user_attr(msg[1], msg[2])
            reply = None
        else:
            raise TunesmithError(f"unknown request {kind!r} from {who}")
    except Exception as exc:
        return ("raise", exc)
    return ("reply", reply)


def fail_lost_trial(state: RunState, number: int, message: str) -> None:
    """Account for running trial ``number`` whose worker is gone (killed, crashed, lost).

    The trial is marked FAILED with ``message`` and re-queued if the study's
    ``max_retries`` allows; a retry continues the trial and does not use up the budget.
    Call it once per lost trial (``study._fail_live`` ignores a trial already finished).
    """
    study = state.study
    state.running -= 1
    ft = study._fail_live(number, message, retry=True)
    logger.warning("trial %d: %s", number, message)
    state.finished += 1
    state.n_failed += 1
    if ft is not None:
        if ft.retries < study.max_retries:
            # The retry continues this trial; it does not use up the budget.
            state.started -= 1
        for cb in state.callbacks:
            cb(study, ft)
    state._update_progress()


def run_process_pool(state: RunState, objective: Callable[[Trial], Any], n_workers: int) -> None:
    """Run the optimize loop with ``n_workers`` worker processes."""
    study = state.study
    blob = serialize_objective(objective)
    workers: list[_Worker] = []
    deaths = 0

    def spawn() -> None:
        workers.append(_Worker(blob, study.name))

    def handle(w: _Worker, msg: Any) -> None:
        kind = msg[0]
        if kind == "ready":
            w.ready = True
            return
        if kind == "init_error":
            raise ObjectiveNotPicklableError(
                f"a worker process could not load the objective: {msg[1]}. If the objective "
                "lives in a module, make sure the module is importable from the working "
                "directory (or installed). Worker traceback:\n" + msg[2]
            )
        if w.trial is None or w.number is None:
            raise TunesmithError(f"unexpected message from worker {w.pid}: {kind}")
        if kind == "done":
            _, result, payload, cpu = msg
            number = w.number
            w.trial = w.number = None
            if result == "ok":
                outcome = Outcome("ok", value=payload, cpu_time=cpu)
            elif result == "pruned":
                outcome = Outcome("pruned", cpu_time=cpu)
            else:
                exc, text = _decode_error(payload)
                outcome = Outcome("error", exc=exc, text=text, cpu_time=cpu)
            state.finish(number, outcome)
            return
        w.send(answer_request(w.trial, msg, f"worker {w.pid}"))

    def on_death(w: _Worker) -> None:
        nonlocal deaths
        how = _exit_description(w.proc)
        w.close("kill")
        workers.remove(w)
        if w.number is not None:
            number = w.number
            w.trial = w.number = None
            fail_lost_trial(state, number, f"worker process {w.pid} {how} while running this trial")
        elif not w.ready:
            deaths += 1
            if deaths >= 3:
                raise TunesmithError(
                    f"worker processes keep dying at start-up (the last {how}); see the "
                    "output above for the cause"
                )

    try:
        while True:
            # Hand out trials to idle workers; start workers only as trials need them.
            while state.can_start():
                idle = [w for w in workers if w.ready and w.trial is None]
                if not idle:
                    remaining = None if state.n_trials is None else state.n_trials - state.started
                    pending = sum(1 for x in workers if not x.ready)
                    while len(workers) < n_workers and (remaining is None or pending < remaining):
                        spawn()
                        pending += 1
                    break
                trial = state.next_trial()
                if trial is None:
                    break
                w = idle[0]
                live = trial._backend
                preset = {n: (live.dists[n], live.external[n]) for n in live.suggested}  # type: ignore[attr-defined]
                w.trial, w.number = trial, trial.number
                w.send(("run", trial.number, trial.trial_id, preset, trial._checkpoint))
            busy = [w for w in workers if w.trial is not None]
            starting = [w for w in workers if not w.ready]
            if not busy and (not starting or not state.can_start()):
                break
            ready = wait([w.recv_conn for w in busy + starting], timeout=1.0)
            for conn in ready:
                w = next(x for x in workers if x.recv_conn is conn)
                try:
                    msg = w.recv_conn.recv()
                except (EOFError, OSError):
                    on_death(w)
                    continue
                handle(w, msg)
    except BaseException as exc:
        # Ctrl-C, a storage error, or a broken pipe: account for every running trial.
        reason, retry = interruption(exc)
        for w in workers:
            if w.number is not None:
                study._fail_live(w.number, reason, retry=retry)
                state.running -= 1
        raise
    finally:
        for w in workers:
            w.close("term" if w.number is not None else "exit")
