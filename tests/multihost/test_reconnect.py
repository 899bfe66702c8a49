"""A storage whose path to PostgreSQL goes away and comes back (a TCP forwarder
stands in for the network): operations wait and retry, then carry on; when the path
stays away, they stop after ``retry_seconds`` with an error that says so."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from tunesmith.exceptions import StorageError
from tunesmith.storage.sql import SQLStorage
from tunesmith.trial import TrialState

from ._netns import TcpForwarder

pytestmark = pytest.mark.postgres


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _via(pg_url: str, port: int) -> str:
    return pg_url.replace("@127.0.0.1:5432/", f"@127.0.0.1:{port}/", 1)


def test_operations_wait_for_the_database_to_come_back(pg_url: str) -> None:
    port = _free_port()
    fwd = TcpForwarder([("127.0.0.1", port)], ("127.0.0.1", 5432)).start()
    st = SQLStorage(_via(pg_url, port), retry_seconds=30)
    try:
        sid = st.create_study("reconnect", ["minimize"]).study_id
        tid = st.create_trial(sid).trial_id
        fwd.stop()  # every connection is cut, and new ones are refused
        back = TcpForwarder([("127.0.0.1", port)], ("127.0.0.1", 5432))
        timer = threading.Timer(1.5, back.start)
        timer.start()
        t0 = time.monotonic()
        try:
            st.heartbeat([tid], 42.0)  # retried until the path is back
            waited = time.monotonic() - t0
            done = st.finish_trial(tid, TrialState.COMPLETE, values=[1.0])
        finally:
            timer.join()
            st.close()
            back.stop()
        assert 1.0 <= waited < 15
        assert done.state == TrialState.COMPLETE and done.heartbeat == 42.0
    finally:
        fwd.stop()


def test_operations_give_up_after_retry_seconds(pg_url: str) -> None:
    port = _free_port()
    fwd = TcpForwarder([("127.0.0.1", port)], ("127.0.0.1", 5432)).start()
    st = SQLStorage(_via(pg_url, port), retry_seconds=1.0)
    try:
        sid = st.create_study("gone", ["minimize"]).study_id
        fwd.stop()
        t0 = time.monotonic()
        with pytest.raises(StorageError, match=r"count_trials: gave up after \d+ attempt") as info:
            st.count_trials(sid)
        assert time.monotonic() - t0 < 10
        assert f"127.0.0.1:{port}" in str(info.value)  # which database, for the operator
    finally:
        st.close()
        fwd.stop()
