"""Network namespaces as stand-in hosts, and a TCP forwarder that lets them reach the
PostgreSQL server on 127.0.0.1 without touching its configuration.

Each "host" is a network namespace joined to the root namespace by a veth pair:
``10.251.<k>.1/24`` on the root side, ``10.251.<k>.2/24`` inside. A
:class:`TcpForwarder` in the test process listens on every root-side address, port
5432, and relays to 127.0.0.1:5432. Taking the root-side veth down cuts that host
off (packets are dropped, as on a real partition: no reset, no error); bringing it
up again restores the path, and TCP connections that were open carry on.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field


def run_ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``ip ARGS`` and return the finished process."""
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=30)


def netns_problem() -> str | None:
    """Why network namespaces cannot be used here (None when they can)."""
    if shutil.which("ip") is None:
        return "the 'ip' command (iproute2) is not installed"
    if os.geteuid() != 0:
        return "creating network namespaces needs root"
    probe = f"ts-probe-{os.getpid()}"
    done = run_ip("netns", "add", probe, check=False)
    if done.returncode != 0:
        return f"'ip netns add' is not permitted: {done.stderr.strip()}"
    run_ip("netns", "del", probe, check=False)
    return None


def remove_leftovers() -> None:
    """Delete namespaces and veths of earlier test processes that died without cleaning
    up (``ts-<tag>-<pid>`` whose pid is gone)."""
    for line in run_ip("netns", "list", check=False).stdout.splitlines():
        name = line.split()[0] if line.strip() else ""
        parts = name.split("-")
        if len(parts) != 3 or parts[0] != "ts" or not parts[2].isdigit():
            continue
        if os.path.exists(f"/proc/{parts[2]}"):
            continue
        run_ip("netns", "del", name, check=False)
    for line in run_ip("-o", "link", "show", check=False).stdout.splitlines():
        fields = line.split(":")
        if len(fields) < 2:
            continue
        ifname = fields[1].strip().split("@")[0]
        if ifname.startswith("tsr") and ifname[3:].isdigit():
            pid = ifname[3:-1]
            if not any(os.path.exists(f"/proc/{p}") and str(p % 100000) == pid for p in _pids()):
                run_ip("link", "del", ifname, check=False)


def _pids() -> list[int]:
    return [int(e) for e in os.listdir("/proc") if e.isdigit()]


def _free_subnets(count: int) -> list[int]:
    """``count`` values of k for which no interface holds an address in 10.251.k.0/24."""
    used = run_ip("-4", "-o", "addr", "show").stdout
    start = os.getpid() % 200
    out: list[int] = []
    for i in range(250):
        k = (start + i) % 250 + 1
        if f"10.251.{k}." not in used:
            out.append(k)
            if len(out) == count:
                return out
    raise RuntimeError("no free 10.251.k.0/24 subnet for the test hosts")


@dataclass
class Host:
    """One namespace, its veth pair and its addresses."""

    name: str
    root_if: str
    ns_if: str
    subnet: int

    @property
    def gateway(self) -> str:
        """The root-side address: where this host reaches the database."""
        return f"10.251.{self.subnet}.1"

    @property
    def address(self) -> str:
        return f"10.251.{self.subnet}.2"

    def exec_argv(self, argv: Sequence[str]) -> list[str]:
        """``argv`` prefixed so that it runs inside this namespace."""
        return ["ip", "netns", "exec", self.name, *argv]

    def cut(self) -> None:
        """Take the link down: the host is partitioned from the database."""
        run_ip("link", "set", self.root_if, "down")

    def restore(self) -> None:
        """Bring the link back up."""
        run_ip("link", "set", self.root_if, "up")


@dataclass
class Hosts:
    """Namespaces created by one test; :meth:`teardown` removes everything."""

    hosts: list[Host] = field(default_factory=list)

    def add(self, tag: str) -> Host:
        pid = os.getpid()
        i = len(self.hosts)
        (k,) = _free_subnets(1)
        host = Host(f"ts-{tag}-{pid}", f"tsr{pid % 100000}{i}", f"tsn{pid % 100000}{i}", k)
        self.hosts.append(host)  # registered first: teardown cleans up a partial setup
        run_ip("netns", "add", host.name)
        run_ip("link", "add", host.root_if, "type", "veth", "peer", "name", host.ns_if)
        run_ip("link", "set", host.ns_if, "netns", host.name)
        run_ip("addr", "add", f"{host.gateway}/24", "dev", host.root_if)
        run_ip("link", "set", host.root_if, "up")
        ns = ("-n", host.name)
        run_ip(*ns, "addr", "add", f"{host.address}/24", "dev", host.ns_if)
        run_ip(*ns, "link", "set", host.ns_if, "up")
        run_ip(*ns, "link", "set", "lo", "up")
        return host

    def teardown(self) -> None:
        for host in self.hosts:
            # Deleting one end of a veth pair deletes both; the namespace goes last.
            run_ip("link", "del", host.root_if, check=False)
            run_ip("netns", "del", host.name, check=False)
        self.hosts.clear()


class TcpForwarder:
    """Relay TCP connections from ``listen`` addresses to ``target`` (asyncio, own thread)."""

    def __init__(self, listen: Sequence[tuple[str, int]], target: tuple[str, int]) -> None:
        self._listen = list(listen)
        self._target = target
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._servers: list[asyncio.AbstractServer] = []
        self._writers: dict[asyncio.StreamWriter, str] = {}
        #: connections accepted so far
        self.accepted = 0

    def start(self) -> TcpForwarder:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    async def _start(self) -> None:
        for host, port in self._listen:
            self._servers.append(await asyncio.start_server(self._handle, host, port))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.close()
            return
        peer = str(writer.get_extra_info("peername")[0])
        self._writers[writer] = self._writers[up_writer] = peer
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            self._writers.pop(writer, None)
            self._writers.pop(up_writer, None)

    async def _drop(self, peer: str) -> int:
        doomed = [w for w, p in self._writers.items() if p == peer]
        for writer in doomed:
            writer.transport.abort()  # no FIN handshake: a reset, like a vanished server
        return len(doomed) // 2

    def drop(self, peer: str) -> int:
        """Abort every relayed connection from ``peer``: its database sessions end (as
        after a server restart or a NAT timeout). Returns how many were open."""
        return asyncio.run_coroutine_threadsafe(self._drop(peer), self._loop).result(10)

    async def _stop(self) -> None:
        for server in self._servers:
            server.close()
        for writer in list(self._writers):
            writer.close()
        for task in asyncio.all_tasks():
            if task is not asyncio.current_task():
                task.cancel()

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        try:
            asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
