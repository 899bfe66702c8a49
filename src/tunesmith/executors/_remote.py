"""The driver side of cluster runs: one engine task per trial, connected back over TCP.

For every trial slot the driver submits a task (:func:`tunesmith.executors._task.
run_trial_task`) with a random token. The task connects to the driver's
:class:`~tunesmith.executors._connect.Server`, names its token, and gets the
objective; when it is ready the driver asks the study for a trial (so a trial is
RUNNING only while a task really runs it) and answers the task's requests as it
does for local worker processes.

Failure accounting: a trial belongs to exactly one slot, and a slot gives it up
exactly once, either with its result (``done``) or as lost, when the task's
connection closes or the engine reports the task failed (killed worker, lost
node, cancelled). A lost trial is marked FAILED with a message that names the
engine and the cause, and re-queued per the study's ``max_retries``
(:func:`~tunesmith.executors.process.fail_lost_trial`). A token is accepted once:
a task that the engine re-runs (Dask reschedules tasks of workers that died) or
that connects late is told to exit, and what a finished slot's future reports
later is ignored.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any

from tunesmith._optimize import Outcome, interruption
from tunesmith.exceptions import ObjectiveNotPicklableError, TunesmithError
from tunesmith.executors._connect import Server, parse_host_port
from tunesmith.executors.base import ExecutorConnectionError
from tunesmith.executors.process import (
    _decode_error,
    answer_request,
    fail_lost_trial,
    serialize_objective,
)

if TYPE_CHECKING:
    from tunesmith._optimize import RunState
    from tunesmith.executors.base import Executor
    from tunesmith.trial import Trial

logger = logging.getLogger("tunesmith")

#: after a task's connection drops, how long to wait for the engine to say why
LOST_GRACE = 3.0
#: how often to ask the engine which tasks ended
POLL_EVERY = 0.2
#: tasks in a row that fail before running a trial before the run gives up
MAX_STARTUP_FAILURES = 3
#: at the end of a run, how long to let finished tasks return before cancelling them
DRAIN = 2.0

_LOST = (
    "lost its connection to the driver while running this trial (its worker process "
    "died: killed, out of memory or crashed; or the network failed)"
)


_NETWORK_HINTS = (
    "ConnectionError",
    "ConnectionRefused",
    "ConnectionReset",
    "ConnectionAborted",
    "AuthenticationFailed",
    "TimeoutError",
    "timed out",
    "OSError",
    "unreachable",
    "No route to host",
    "Name or service not known",
)


def _network_error(cause: str) -> bool:
    """Whether a task's error looks like it could not reach the driver."""
    return any(hint in cause for hint in _NETWORK_HINTS)


@dataclass(eq=False)
class _Slot:
    token: str
    key: str
    handle: Any = None
    conn: Connection | None = None
    connected: bool = False  # a connection has claimed this token (accepted once)
    ready: bool = False
    pid: int | None = None
    host: str | None = None
    number: int | None = None
    trial: Trial | None = None
    finished: bool = False  # no longer runs a trial; its trial, if any, is accounted for
    future_done: bool = False
    error: str | None = None
    lost_at: float | None = None


def run_remote(
    executor: Executor,
    state: RunState,
    objective: Callable[[Trial], Any],
    n_workers: int | None,
) -> None:
    """Run the optimize loop with one ``executor`` task per trial, ``n_workers`` at once."""
    study = state.study
    name = executor.engine_name
    blob = serialize_objective(objective)
    digest = hashlib.sha256(blob).hexdigest()
    executor._start()
    if n_workers is None:
        n_workers = executor._default_workers()
    host, port = (
        parse_host_port(executor.driver_address, 0)
        if executor.driver_address
        else (executor._driver_host(), 0)
    )
    authkey = secrets.token_bytes(32)
    try:
        server = Server(host, port or 0, authkey)
    except OSError as exc:
        raise ExecutorConnectionError(
            f"cannot listen for {name} tasks on {host}:{port or 0}: {exc}. Pass "
            "driver_address='host[:port]' with an address of this machine"
        ) from exc
    where = f"{server.address[0]}:{server.address[1]}"
    paths = [p for p in sys.path if p] + [os.getcwd()]
    slots: list[_Slot] = []
    by_token: dict[str, _Slot] = {}
    pending: list[Connection] = []  # authenticated connections that have not said hello
    ever_connected = False
    startup_failures = 0
    last_poll = 0.0

    def who(slot: _Slot) -> str:
        where_ = f" (pid {slot.pid} on {slot.host})" if slot.pid is not None else ""
        return f"{name} task {slot.key}{where_}"

    def submit() -> None:
        token = secrets.token_hex(8)
        slot = _Slot(token, f"tunesmith-{study.name}-{token}")
        args = (server.address, authkey, token, digest, executor.connect_timeout)
        slot.handle = executor._submit(args, slot.key)
        slots.append(slot)
        by_token[token] = slot

    def close_slot(slot: _Slot, say_exit: bool = True) -> None:
        slot.finished = True
        conn, slot.conn = slot.conn, None
        if conn is not None:
            if say_exit:
                try:
                    conn.send(("exit",))
                except OSError:
                    pass
            conn.close()

    def send(slot: _Slot, msg: Any) -> None:
        assert slot.conn is not None
        try:
            slot.conn.send(msg)
        except OSError:
            on_eof(slot)

    def resolve_lost(slot: _Slot) -> None:
        """Give up the slot; its trial (if any) is failed once and maybe re-queued."""
        number = slot.number
        slot.number = slot.trial = None
        close_slot(slot, say_exit=False)
        if number is not None:
            if slot.error:
                message = f"{who(slot)} failed while running this trial: {slot.error}"
            else:
                message = f"{who(slot)} {_LOST}"
            fail_lost_trial(state, number, message)

    def startup_failed(slot: _Slot, cause: str) -> None:
        nonlocal startup_failures
        close_slot(slot, say_exit=False)
        startup_failures += 1
        logger.warning("%s failed before it ran a trial: %s", who(slot), cause)
        if ever_connected and startup_failures < MAX_STARTUP_FAILURES:
            return
        if not slot.connected and _network_error(cause):
            raise ExecutorConnectionError(
                f"{name} tasks cannot connect back to the driver at {where}: {cause}. The "
                "tasks open a TCP connection to the process that calls optimize: pass "
                f"driver_address= an address of this machine that the {name} workers can "
                "reach ('host' or 'host:port'), and allow incoming TCP connections to it "
                "(a fixed port helps with firewall rules)"
            )
        raise TunesmithError(
            f"{name} tasks fail before they run a trial: {cause}. tunesmith (the same "
            "version as here) and the objective's dependencies must be installed where "
            "the tasks run"
        )

    def on_eof(slot: _Slot) -> None:
        conn, slot.conn = slot.conn, None
        if conn is not None:
            conn.close()
        if slot.finished:
            return
        if slot.number is not None:
            if slot.lost_at is None:
                slot.lost_at = time.monotonic()
            if slot.future_done:
                resolve_lost(slot)
        elif not slot.ready:
            startup_failed(slot, slot.error or "the task closed its connection before it was ready")
        else:
            close_slot(slot)

    def on_message(slot: _Slot, msg: Any) -> None:
        nonlocal startup_failures
        kind = msg[0]
        if kind == "ready":
            slot.ready = True
            startup_failures = 0
            trial = state.next_trial() if state.can_start() else None
            if trial is None:
                close_slot(slot)
                return
            live = trial._backend
            preset = {n: (live.dists[n], live.external[n]) for n in live.suggested}  # type: ignore[attr-defined]
            slot.trial, slot.number = trial, trial.number
            send(slot, ("run", trial.number, trial.trial_id, preset, trial._checkpoint))
            return
        if kind == "init_error":
            raise ObjectiveNotPicklableError(
                f"a {name} worker could not load the objective: {msg[1]}. The workers import "
                "the modules the objective uses by name: install them there (or define the "
                "objective in the script that calls optimize, which is sent by value). "
                "Worker traceback:\n" + msg[2]
            )
        if slot.trial is None or slot.number is None:
            raise TunesmithError(f"unexpected message from {who(slot)}: {kind}")
        if kind == "done":
            _, result, payload, cpu = msg
            number = slot.number
            slot.trial = slot.number = None
            close_slot(slot)
            if result == "ok":
                outcome = Outcome("ok", value=payload, cpu_time=cpu)
            elif result == "pruned":
                outcome = Outcome("pruned", cpu_time=cpu)
            else:
                exc, text = _decode_error(payload)
                outcome = Outcome("error", exc=exc, text=text, cpu_time=cpu)
            state.finish(number, outcome)
            return
        send(slot, answer_request(slot.trial, msg, who(slot)))

    def read(slot: _Slot) -> None:
        assert slot.conn is not None
        try:
            msg = slot.conn.recv()
        except (EOFError, OSError):
            on_eof(slot)
            return
        on_message(slot, msg)

    def on_hello(conn: Connection) -> None:
        nonlocal ever_connected
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            conn.close()
            return
        slot = by_token.get(msg[1]) if msg[0] == "hello" else None
        if slot is None or slot.connected or slot.finished:
            # a task the engine ran again, or one that connects after its slot ended
            try:
                conn.send(("exit",))
            except OSError:
                pass
            conn.close()
            return
        _, _, slot.pid, slot.host, has_objective = msg
        slot.connected = True
        slot.conn = conn
        ever_connected = True
        send(slot, ("init", None if has_objective else blob, paths, study.name))

    def on_task_end(slot: _Slot, error: str | None) -> None:
        slot.future_done = True
        slot.error = error
        if slot.finished:
            return
        # What the task sent before it ended comes first.
        while slot.conn is not None and not slot.finished and slot.conn.poll(0):
            read(slot)
        if slot.finished:
            return
        if slot.number is not None:
            if error is not None or slot.lost_at is not None:
                resolve_lost(slot)
            else:  # it returned; its last messages may still be on the way
                slot.lost_at = time.monotonic()
        elif not slot.connected or not slot.ready:
            startup_failed(slot, error or "the task ended before it was ready")
        else:
            close_slot(slot)

    try:
        while True:
            unassigned = [s for s in slots if not s.finished and s.number is None]
            if state.can_start():
                n_active = sum(1 for s in slots if not s.finished)
                n_free = len(unassigned)
                while n_active < n_workers and (
                    state.n_trials is None or state.started + n_free < state.n_trials
                ):
                    submit()
                    n_active += 1
                    n_free += 1
            elif unassigned:  # the budget is spent: tasks without a trial are not needed
                for s in unassigned:
                    close_slot(s)
                executor._cancel([s.handle for s in unassigned if not s.future_done])
            active = [s for s in slots if not s.finished]
            if not active and not state.can_start():
                break
            conns = [s.conn for s in active if s.conn is not None]
            wake = server.fileno()
            ready = wait([wake, *pending, *conns], timeout=POLL_EVERY)
            if wake in ready:
                pending.extend(server.accepted())
            for conn in ready:
                if not isinstance(conn, Connection):
                    continue
                if conn in pending:
                    pending.remove(conn)
                    on_hello(conn)
                    continue
                slot = next((s for s in active if s.conn is conn), None)
                if slot is not None and slot.conn is not None:
                    read(slot)
            now = time.monotonic()
            if now - last_poll >= POLL_EVERY:
                last_poll = now
                running = [s for s in slots if not s.future_done]
                by_handle = {id(s.handle): s for s in running}
                for handle, error in executor._poll([s.handle for s in running]):
                    on_task_end(by_handle[id(handle)], error)
                slots = [s for s in slots if not (s.finished and s.future_done)]
            for s in slots:
                if not s.finished and s.lost_at is not None and now - s.lost_at > LOST_GRACE:
                    resolve_lost(s)
        # Let tasks that finished return before cancelling what is left.
        end = time.monotonic() + DRAIN
        while time.monotonic() < end:
            running = [s for s in slots if not s.future_done]
            if not running:
                break
            for handle, _ in executor._poll([s.handle for s in running]):
                for s in running:
                    if s.handle is handle:
                        s.future_done = True
            time.sleep(0.05)
    except BaseException as exc:
        # Ctrl-C, a storage error, an uncaught objective error: account for running trials.
        reason, retry = interruption(exc)
        for s in slots:
            if s.number is not None:
                number, s.number, s.trial = s.number, None, None
                # Closing the connection stops the objective at its next request.
                close_slot(s, say_exit=False)
                study._fail_live(number, reason, retry=retry)
                state.running -= 1
        raise
    finally:
        for s in slots:
            close_slot(s, say_exit=s.number is None)
        for conn in pending:
            conn.close()
        leftover = [s.handle for s in slots if not s.future_done]
        if leftover:
            try:
                executor._cancel(leftover)
            except Exception as exc:  # the engine itself may be gone
                logger.debug("could not cancel %d %s tasks: %s", len(leftover), name, exc)
        server.close()
