"""Authenticated TCP connections from cluster tasks back to the driver.

The driver listens on a TCP port (:class:`Server`); each task of a Dask or Ray run
connects to it (:func:`connect`). Both sides prove that they know a random key,
made per ``optimize`` call, before any pickled message is exchanged (an HMAC
challenge in each direction), so a stray connection can neither send the driver a
pickle nor receive the objective. After the handshake the socket is a
:class:`multiprocessing.connection.Connection`, the same framing the local pipes
use.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import queue
import secrets
import socket
import threading
from multiprocessing.connection import Connection

MAGIC = b"TSMITH01"
NONCE = 32
DIGEST = 32
HANDSHAKE_TIMEOUT = 20.0


class AuthenticationFailed(ConnectionError):
    """The other side of a connection does not know the run's key."""


def _mac(key: bytes, label: bytes, nonce: bytes) -> bytes:
    return hmac.new(key, label + nonce, hashlib.sha256).digest()


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("the connection closed during the handshake")
        buf += chunk
    return bytes(buf)


def _keepalive(sock: socket.socket) -> None:
    """Probe an idle connection so that a vanished peer (a lost node, a partition)
    ends it within about two minutes instead of hours."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (("TCP_KEEPIDLE", 30), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 6)):
        option = getattr(socket, name, None)
        if option is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, option, value)


def _to_connection(sock: socket.socket) -> Connection:
    _keepalive(sock)
    sock.settimeout(None)  # Connection reads the file descriptor in blocking mode
    return Connection(sock.detach())


def connect(address: tuple[str, int], authkey: bytes, timeout: float = 30.0) -> Connection:
    """Connect to the driver at ``address`` and authenticate both ways.

    Raises:
        OSError: the driver cannot be reached within ``timeout`` seconds.
        AuthenticationFailed: the listener at ``address`` does not know ``authkey``.
    """
    sock = socket.create_connection(address, timeout=timeout)
    try:
        sock.settimeout(HANDSHAKE_TIMEOUT)
        hello = _recv_exact(sock, len(MAGIC) + NONCE)
        if hello[: len(MAGIC)] != MAGIC:
            raise AuthenticationFailed(f"{address[0]}:{address[1]} is not a tunesmith driver")
        mine = secrets.token_bytes(NONCE)
        sock.sendall(_mac(authkey, b"task", hello[len(MAGIC) :]) + mine)
        proof = _recv_exact(sock, DIGEST)
        if not hmac.compare_digest(proof, _mac(authkey, b"driver", mine)):
            raise AuthenticationFailed(
                f"the driver at {address[0]}:{address[1]} did not prove the run's key"
            )
        return _to_connection(sock)
    except BaseException:
        sock.close()
        raise


class Server:
    """The driver's listening socket; connections that pass the handshake are queued.

    ``fileno()`` becomes readable when :meth:`accepted` has something to return, so a
    Server can be passed to :func:`multiprocessing.connection.wait` with the task
    connections.
    """

    def __init__(self, advertise: str, port: int, authkey: bytes, bind: str | None = None) -> None:
        self.authkey = authkey
        host = advertise if bind is None else bind
        try:
            self._sock = socket.create_server((host, port), backlog=128)
        except OSError:
            if bind is not None:
                raise
            # The advertised address is not one of this host's (NAT, a proxy): listen on
            # every interface; the key still keeps others out.
            self._sock = socket.create_server(("", port), backlog=128)
        self._sock.settimeout(0.5)
        self.address: tuple[str, int] = (advertise, self._sock.getsockname()[1])
        self._queue: queue.SimpleQueue[Connection] = queue.SimpleQueue()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._closed = threading.Event()
        self._thread = threading.Thread(
            target=self._accept_loop, name="tunesmith-listener", daemon=True
        )
        self._thread.start()

    def fileno(self) -> int:
        return self._wake_r

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                sock, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed
            threading.Thread(target=self._handshake, args=(sock,), daemon=True).start()

    def _handshake(self, sock: socket.socket) -> None:
        try:
            sock.settimeout(HANDSHAKE_TIMEOUT)
            mine = secrets.token_bytes(NONCE)
            sock.sendall(MAGIC + mine)
            answer = _recv_exact(sock, DIGEST + NONCE)
            if not hmac.compare_digest(answer[:DIGEST], _mac(self.authkey, b"task", mine)):
                raise AuthenticationFailed("bad key")
            sock.sendall(_mac(self.authkey, b"driver", answer[DIGEST:]))
            conn = _to_connection(sock)
        except Exception:
            sock.close()
            return
        if self._closed.is_set():
            conn.close()
            return
        self._queue.put(conn)
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    def accepted(self) -> list[Connection]:
        """Connections authenticated since the last call."""
        with contextlib.suppress(OSError):
            while os.read(self._wake_r, 4096):
                pass
        out = []
        while True:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                return out

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._thread.join(timeout=2.0)
        for conn in self.accepted():
            conn.close()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)


def route_ip(host: str, port: int = 80) -> str:
    """This machine's IP address on the route to ``host`` (no packet is sent)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except OSError:
        return "127.0.0.1"
    for family, _, _, _, sockaddr in infos:
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            try:
                s.connect(sockaddr)
                ip = s.getsockname()[0]
            except OSError:
                continue
            return str(ip)
    return "127.0.0.1"


def is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def parse_host_port(text: str, default_port: int | None = None) -> tuple[str, int | None]:
    """``"host:port"``, ``"[v6]:port"``, ``"host"`` or ``"tcp://host:port"`` -> (host, port)."""
    rest = text.split("://", 1)[1] if "://" in text else text
    rest = rest.split("/", 1)[0]
    if rest.startswith("["):
        host, _, tail = rest[1:].partition("]")
        port = tail[1:] if tail.startswith(":") else ""
    elif rest.count(":") == 1:
        host, port = rest.split(":")
    else:
        host, port = rest, ""
    return host, int(port) if port else default_port
