"""A live, dependency-free progress line for :meth:`Study.optimize`."""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from typing import TextIO

__all__ = ["Progress"]


def _fmt_time(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "--:--"
    seconds = max(0, int(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def _fmt_value(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.6g}"


class Progress:
    """Renders ``[####....] 12/50 trials | 2 running | best 0.9731 (#7) | 00:31<01:38``.

    On a terminal the line is redrawn in place twice a second; elsewhere (logs, CI)
    a plain line is printed at most every ``log_every`` seconds and at the end.

    Args:
        total: trial budget, or None when only a timeout bounds the run.
        timeout: seconds budget, used for the bar and ETA when ``total`` is None.
        stream: where to write (stderr by default).
    """

    def __init__(
        self,
        total: int | None,
        timeout: float | None = None,
        stream: TextIO | None = None,
        log_every: float = 10.0,
    ) -> None:
        self.total = total
        self.timeout = timeout
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.log_every = log_every
        self.start = time.monotonic()
        self.done = 0
        self.failed = 0
        self.pruned = 0
        self.running = 0
        self.best: float | None = None
        self.best_number: int | None = None
        self._lock = threading.Lock()
        self._last_log = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._width = 0

    def __enter__(self) -> Progress:
        if self.tty:
            self._thread = threading.Thread(
                target=self._tick, name="tunesmith-progress", daemon=True
            )
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        self.render(final=True)

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            self.render()

    def update(
        self,
        *,
        done: int | None = None,
        running: int | None = None,
        best: float | None = None,
        best_number: int | None = None,
        failed: int | None = None,
        pruned: int | None = None,
    ) -> None:
        with self._lock:
            if done is not None:
                self.done = done
            if running is not None:
                self.running = running
            if best is not None:
                self.best, self.best_number = best, best_number
            if failed is not None:
                self.failed = failed
            if pruned is not None:
                self.pruned = pruned
        if self.tty:
            self.render()
        else:
            now = time.monotonic()
            if now - self._last_log >= self.log_every:
                self._last_log = now
                self.render()

    def line(self) -> str:
        with self._lock:
            elapsed = time.monotonic() - self.start
            frac: float | None = None
            eta: float | None = None
            if self.total:
                frac = min(1.0, self.done / self.total)
                if self.done:
                    eta = elapsed / self.done * (self.total - self.done)
            if self.timeout:
                tfrac = min(1.0, elapsed / self.timeout)
                left = max(0.0, self.timeout - elapsed)
                frac = tfrac if frac is None else max(frac, tfrac)
                eta = left if eta is None else min(eta, left)
            bar = ""
            if frac is not None:
                n = 20
                filled = int(round(frac * n))
                bar = "[" + "#" * filled + "." * (n - filled) + "] "
            count = f"{self.done}/{self.total}" if self.total else f"{self.done}"
            parts = [f"{bar}{count} trials", f"{self.running} running"]
            if self.pruned:
                parts.append(f"{self.pruned} pruned")
            if self.failed:
                parts.append(f"{self.failed} failed")
            best = _fmt_value(self.best)
            if self.best_number is not None:
                best += f" (#{self.best_number})"
            parts.append(f"best {best}")
            parts.append(f"{_fmt_time(elapsed)}<{_fmt_time(eta) if frac is not None else '?'}")
            return " | ".join(parts)

    def render(self, final: bool = False) -> None:
        text = self.line()
        try:
            if self.tty:
                cols = _columns()
                text = text[: cols - 1]
                pad = max(0, self._width - len(text))
                self.stream.write("\r" + text + " " * pad + ("\n" if final else ""))
                self._width = len(text)
            else:
                self.stream.write(text + "\n")
            self.stream.flush()
        except (ValueError, OSError):  # closed stream
            pass


def _columns() -> int:
    try:
        return os.get_terminal_size(sys.stderr.fileno()).columns
    except (OSError, ValueError):
        return 120
