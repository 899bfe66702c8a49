"""Pipe transport between the driver and its worker processes.

Messages are pickled tuples over two anonymous pipes per worker, framed by
:class:`multiprocessing.connection.Connection`. The objective's own stdout and
stderr stay the terminal's.
"""

from __future__ import annotations

import os
from multiprocessing.connection import Connection


def pipe_pair() -> tuple[int, int]:
    r, w = os.pipe()
    return r, w


def reader(fd: int) -> Connection:
    return Connection(fd, readable=True, writable=False)


def writer(fd: int) -> Connection:
    return Connection(fd, readable=False, writable=True)
