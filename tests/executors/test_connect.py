"""The driver's listener: both sides must prove the run's key before anything is unpickled."""

from __future__ import annotations

import secrets
import socket
import threading
import time

import pytest

from tunesmith.executors._connect import AuthenticationFailed, Server, connect, parse_host_port


def _accepted(server: Server, timeout: float = 5.0) -> list:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = server.accepted()
        if got:
            return got
        time.sleep(0.01)
    return []


def test_right_key_connects_both_ways():
    key = secrets.token_bytes(32)
    server = Server("127.0.0.1", 0, key)
    try:
        task = connect(server.address, key, timeout=5)
        (driver,) = _accepted(server)
        task.send(("hello", "token"))
        assert driver.recv() == ("hello", "token")
        driver.send(("exit",))
        assert task.recv() == ("exit",)
        task.close()
        driver.close()
    finally:
        server.close()


def test_wrong_key_is_refused_and_never_reaches_the_driver():
    server = Server("127.0.0.1", 0, secrets.token_bytes(32))
    try:
        with pytest.raises((AuthenticationFailed, ConnectionError, OSError)):
            conn = connect(server.address, secrets.token_bytes(32), timeout=5)
            conn.recv()
        # a client that sends junk instead of answering the challenge
        with socket.create_connection(server.address, timeout=5) as raw:
            raw.recv(40)
            raw.sendall(b"\x00" * 64)
            assert raw.recv(10) == b""  # the driver hung up
        assert _accepted(server, timeout=0.5) == []
    finally:
        server.close()


def test_a_task_refuses_a_listener_without_the_key():
    with socket.create_server(("127.0.0.1", 0)) as impostor:
        address = impostor.getsockname()[:2]
        impostor.settimeout(5)
        with pytest.raises(AuthenticationFailed):
            # the impostor sends a well-formed greeting but cannot answer the task

            def play() -> None:
                sock, _ = impostor.accept()
                with sock:
                    sock.sendall(b"TSMITH01" + b"\x01" * 32)
                    sock.recv(64)
                    sock.sendall(b"\x02" * 32)
                    time.sleep(0.2)

            t = threading.Thread(target=play, daemon=True)
            t.start()
            connect(address, b"k" * 32, timeout=5)
        t.join(5)


def test_unreachable_driver_fails_within_the_timeout():
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]
    t0 = time.monotonic()
    with pytest.raises(OSError):
        connect(("127.0.0.1", port), b"k" * 32, timeout=2)
    assert time.monotonic() - t0 < 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tcp://10.0.0.5:8786", ("10.0.0.5", 8786)),
        ("ray://head:10001", ("head", 10001)),
        ("10.0.0.7", ("10.0.0.7", None)),
        ("[::1]:45000", ("::1", 45000)),
        ("host:1/path", ("host", 1)),
    ],
)
def test_parse_host_port(text, expected):
    assert parse_host_port(text) == expected
