"""The SQL backend under connection loss and contention (PostgreSQL mostly).

Each test pins one hardening fix:

* a session the server ends (restart, network blip, proxy timeout) is replaced and
  the operation retried: reads, heartbeats, reports, finishing a trial;
* retries stop after ``retry_seconds`` with an error that says so, and a write that
  broke while committing is retried only where a second run is harmless;
* finishing a trial that another process has already failed is refused, and the
  stored record is left as it was;
* failing a stale trial and queueing its retry happen in one transaction;
* a client that goes silent inside a transaction loses its session (and its locks);
* libpq gets connection timeouts that turn a partition into an error;
* no queued trial is handed out twice, with 8 processes racing for 200 of them.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tunesmith.exceptions import StorageError, TrialFinishedError
from tunesmith.space import Float
from tunesmith.storage.sql import ConnectionLostError, SQLStorage
from tunesmith.trial import TrialState

DIST = {"x": Float(0.0, 1.0)}


@pytest.fixture
def app_url(pg_url: str) -> tuple[str, str]:
    """A private-schema URL whose sessions carry a unique application_name."""
    name = f"ts-res-{uuid.uuid4().hex[:12]}"
    return f"{pg_url}&application_name={name}", name


@pytest.fixture
def pg_storage(app_url: tuple[str, str]) -> Iterator[SQLStorage]:
    st = SQLStorage(app_url[0], retry_seconds=20)
    try:
        yield st
    finally:
        st.close()


def _terminate_sessions(app_name: str) -> int:
    """End every server session of ``app_name`` (what a server restart does to them)."""
    import psycopg

    with psycopg.connect(
        "host=127.0.0.1 port=5432 dbname=test user=postgres", autocommit=True
    ) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (app_name,),
        ).fetchall()
    return len(rows)


def _running_trial(st: SQLStorage) -> tuple[int, int]:
    sid = st.create_study(f"s-{uuid.uuid4().hex[:6]}", ["minimize"]).study_id
    ft = st.create_trial(sid, TrialState.RUNNING, params={"x": 0.5}, distributions=DIST)
    return sid, ft.trial_id


# -- reconnect and retry ------------------------------------------------------------------
@pytest.mark.postgres
def test_operations_reconnect_after_the_server_ends_the_session(
    pg_storage: SQLStorage, app_url: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    sid, tid = _running_trial(pg_storage)
    for operation in ("heartbeat", "report", "read", "finish"):
        assert _terminate_sessions(app_url[1]) >= 1
        with caplog.at_level(logging.WARNING, logger="tunesmith.storage"):
            if operation == "heartbeat":
                pg_storage.heartbeat([tid], 123.0)
                assert pg_storage.get_trial(tid).heartbeat == 123.0
            elif operation == "report":
                pg_storage.report(tid, 1, [0.25])
            elif operation == "read":
                assert pg_storage.count_trials(sid) == 1
            else:
                done = pg_storage.finish_trial(tid, TrialState.COMPLETE, values=[0.5])
                assert done.state == TrialState.COMPLETE
    assert dict(pg_storage.get_trial(tid).intermediate) == {1: (0.25,)}
    messages = [r.getMessage() for r in caplog.records]
    assert any("lost the database connection during heartbeat" in m for m in messages)
    assert any("database connection restored" in m for m in messages)


@pytest.mark.postgres
def test_heartbeat_thread_survives_a_dropped_connection(app_url: tuple[str, str]) -> None:
    import tunesmith as ts

    study = ts.create_study("hb", storage=app_url[0], heartbeat_interval=0.2)
    try:
        trial = study.ask()
        time.sleep(0.5)
        assert _terminate_sessions(app_url[1]) >= 1
        cut = time.time()
        time.sleep(1.0)
        beat = study.storage.get_trial(trial.trial_id).heartbeat
        assert beat is not None and beat > cut, (beat, cut)
        assert study._heartbeat is not None and study._heartbeat.is_alive()
        study.tell(trial, 1.0)
    finally:
        study.close()


def _storage_for_retry_tests(sqlite_url: str) -> SQLStorage:
    st = SQLStorage(sqlite_url, retry_seconds=0.3)
    st._retry_enabled = True  # SQLite is never retried (no network); here it is
    return st


def test_retries_stop_after_retry_seconds_with_a_clear_error(sqlite_url: str) -> None:
    st = _storage_for_retry_tests(sqlite_url)
    calls = []

    def broken() -> None:
        calls.append(time.monotonic())
        raise ConnectionLostError("cannot use the database: connection refused", False)

    t0 = time.monotonic()
    with pytest.raises(StorageError, match=r"heartbeat: gave up after \d+ attempt\(s\)") as info:
        st._retry("heartbeat", broken, idempotent=True)
    assert "connection refused" in str(info.value)
    assert "TUNESMITH_DB_RETRY_SECONDS" in str(info.value)
    assert 0.3 <= time.monotonic() - t0 < 2.0
    assert len(calls) >= 3  # with backoff, not a busy loop of thousands
    assert len(calls) < 20


def test_a_write_that_broke_while_committing_is_retried_only_if_idempotent(
    sqlite_url: str,
) -> None:
    st = _storage_for_retry_tests(sqlite_url)
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionLostError("server closed the connection", maybe_committed=True)
        return "ok"

    with pytest.raises(StorageError, match="may or may not have been saved"):
        st._retry("create_trial", flaky, idempotent=False)
    assert len(calls) == 1
    calls.clear()
    assert st._retry("heartbeat", flaky, idempotent=True) == "ok"
    assert len(calls) == 2


def test_finish_retried_after_an_ambiguous_commit_returns_the_stored_trial(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    st = _storage_for_retry_tests(sqlite_url)
    sid = st.create_study("s", ["minimize"]).study_id
    tid = st.create_trial(sid, params={"x": 0.5}, distributions=DIST).trial_id
    real = st._finish_once
    calls: list[int] = []

    def commit_then_lose_connection(*args, **kwargs):
        calls.append(1)
        out = real(*args, **kwargs)
        if len(calls) == 1:
            raise ConnectionLostError("connection lost during COMMIT", maybe_committed=True)
        return out

    monkeypatch.setattr(st, "_finish_once", commit_then_lose_connection)
    ft = st.finish_trial(tid, TrialState.COMPLETE, values=[0.75])
    assert ft.state == TrialState.COMPLETE and ft.values == (0.75,)
    assert len(calls) == 2

    # A different stored result (another process finished it) is still refused.
    tid2 = st.create_trial(sid, params={"x": 0.1}, distributions=DIST).trial_id
    calls.clear()

    def someone_else_fails_it(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            real(tid2, TrialState.FAILED, None, None, None, None, None, "heartbeat lost")
            raise ConnectionLostError("connection lost during COMMIT", maybe_committed=True)
        return real(*args, **kwargs)

    monkeypatch.setattr(st, "_finish_once", someone_else_fails_it)
    with pytest.raises(TrialFinishedError):
        st.finish_trial(tid2, TrialState.COMPLETE, values=[0.5])
    assert st.get_trial(tid2).state == TrialState.FAILED


# -- late results, stale trials ---------------------------------------------------------------
def test_late_finish_of_a_recovered_trial_is_refused_and_changes_nothing(storage_url: str) -> None:
    st = SQLStorage(storage_url)
    try:
        sid = st.create_study("late", ["minimize"]).study_id
        tid = st.create_trial(sid, params={"x": 0.5}, distributions=DIST).trial_id
        st.heartbeat([tid], time.time() - 100)
        (failed,) = st.fail_stale_trials(sid, time.time() - 30, max_retries=1)
        assert failed.trial_id == tid and "heartbeat lost" in (failed.error or "")
        with pytest.raises(TrialFinishedError, match="already FAILED"):
            st.finish_trial(tid, TrialState.COMPLETE, values=[0.1])
        stored = st.get_trial(tid)
        assert stored.state == TrialState.FAILED and stored.values is None
        # The late heartbeat of the cut-off process does not revive it either.
        st.heartbeat([tid], time.time())
        assert st.get_trial(tid).heartbeat == failed.heartbeat
        waiting = st.get_trials(sid, [TrialState.WAITING])
        assert [(t.params, t.retries, t.system_attrs["retry_of"]) for t in waiting] == [
            ({"x": 0.5}, 1, failed.number)
        ]
    finally:
        st.close()


def test_failing_a_stale_trial_and_queueing_its_retry_commit_together(
    storage_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    st = SQLStorage(storage_url)
    try:
        sid = st.create_study("atomic", ["minimize"]).study_id
        tid = st.create_trial(sid, params={"x": 0.5}, distributions=DIST).trial_id
        st.heartbeat([tid], time.time() - 100)

        def crash(*args, **kwargs):
            raise RuntimeError("process died between failing the trial and queueing it")

        monkeypatch.setattr(st, "_insert_trial", crash)
        with pytest.raises(RuntimeError):
            st.fail_stale_trials(sid, time.time() - 30, max_retries=1)
        # Nothing half-done: still RUNNING (so the next check fails it *and* retries it).
        assert st.get_trial(tid).state == TrialState.RUNNING
        monkeypatch.undo()
        assert len(st.fail_stale_trials(sid, time.time() - 30, max_retries=1)) == 1
        assert st.fail_stale_trials(sid, time.time() - 30, max_retries=1) == []
        assert st.count_trials(sid, [TrialState.WAITING]) == 1
    finally:
        st.close()


# -- silent clients, libpq settings ---------------------------------------------------------
@pytest.mark.postgres
def test_a_client_silent_inside_a_transaction_loses_its_session_and_locks(
    app_url: tuple[str, str],
) -> None:
    stuck = SQLStorage(app_url[0], idle_in_transaction_timeout=1.0, retry_seconds=5)
    other = SQLStorage(app_url[0])
    try:
        sid = stuck.create_study("locks", ["minimize"]).study_id
        txn = stuck._write()
        conn = txn.__enter__()
        stuck._bump(conn, sid)  # holds the study row's lock, then goes silent
        done = threading.Event()

        def create() -> None:
            other.create_trial(sid)
            done.set()

        worker = threading.Thread(target=create, daemon=True)
        worker.start()
        try:
            assert done.wait(15), "the silent client's lock was never released"
        finally:
            try:
                txn.__exit__(None, None, None)  # its commit fails: the session is gone
            except StorageError:
                pass
            worker.join(30)
        # The stuck storage reconnects on its next call.
        assert stuck.count_trials(sid) == 1
    finally:
        stuck.close()
        other.close()


@pytest.mark.postgres
def test_postgres_connections_get_timeouts_unless_the_url_sets_them(pg_url: str) -> None:
    st = SQLStorage(pg_url)
    custom = SQLStorage(f"{pg_url}&tcp_user_timeout=5000&connect_timeout=3")
    try:
        with st._read() as conn:
            dsn = conn.connection.dbapi_connection.info.dsn
            setting = conn.exec_driver_sql(
                "SELECT current_setting('idle_in_transaction_session_timeout')"
            ).scalar_one()
        assert "tcp_user_timeout=30000" in dsn and "connect_timeout=10" in dsn
        assert "keepalives_idle=30" in dsn
        assert setting == "1min"
        with custom._read() as conn:
            dsn = conn.connection.dbapi_connection.info.dsn
        assert "tcp_user_timeout=5000" in dsn and "connect_timeout=3" in dsn
    finally:
        st.close()
        custom.close()


# -- contention -----------------------------------------------------------------------------
CLAIMER = """
import json, os, sys, time
from tunesmith.storage.sql import SQLStorage
from tunesmith.trial import TrialState

url, sid, go = sys.argv[1], int(sys.argv[2]), sys.argv[3]
st = SQLStorage(url)
while not os.path.exists(go):
    time.sleep(0.005)
taken = []
while True:
    ft = st.claim_waiting_trial(sid, worker=str(os.getpid()))
    if ft is None:
        break
    taken.append(ft.trial_id)
    st.finish_trial(ft.trial_id, TrialState.COMPLETE, values=[float(ft.number)])
print(json.dumps(taken))
"""


@pytest.mark.parametrize("n_procs,n_trials", [(8, 200)])
def test_racing_processes_take_each_queued_trial_exactly_once(
    tmp_path: Path, storage_url: str, n_procs: int, n_trials: int
) -> None:
    st = SQLStorage(storage_url)
    try:
        sid = st.create_study("race", ["minimize"]).study_id
        queued = [
            st.create_trial(
                sid, TrialState.WAITING, params={"x": i / n_trials}, distributions=DIST
            ).trial_id
            for i in range(n_trials)
        ]
        script = tmp_path / "claimer.py"
        script.write_text(textwrap.dedent(CLAIMER))
        go = tmp_path / "go"
        procs = [
            subprocess.Popen(
                [sys.executable, str(script), storage_url, str(sid), str(go)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(n_procs)
        ]
        time.sleep(1.0)  # let them all import and wait at the start line
        go.touch()
        import json

        results = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0] * n_procs, [err for _, err in results]
        taken = [tid for out, _ in results for tid in json.loads(out)]
        assert sorted(taken) == sorted(queued)  # each one exactly once
        assert sum(1 for out, _ in results if json.loads(out)) >= 2  # they did race
        trials = st.get_trials(sid)
        assert len(trials) == n_trials
        assert all(t.state == TrialState.COMPLETE for t in trials)
        assert [t.number for t in trials] == list(range(n_trials))
    finally:
        st.close()
