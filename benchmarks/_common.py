"""Helpers shared by the benchmark scripts: machine description, command line, output files.

Not a benchmark itself. The scripts import it as ``_common`` (they run as
``python benchmarks/<name>.py``, so ``benchmarks/`` is on ``sys.path``); the suites run
as modules (``python -m benchmarks.samplers.run``) import it as ``benchmarks._common``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shlex
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
PACKAGES = ("tunesmith", "optuna", "sqlalchemy", "numpy", "scipy", "psycopg", "psycopg-binary")


def _in_repo(path: Path, fallback: str) -> str:
    """``path`` relative to the repository, or ``fallback`` when it lies outside it."""
    try:
        return str(path.relative_to(REPO))
    except ValueError:
        return fallback


def _interpreter() -> str:
    """The running Python interpreter, relative to the repository where possible."""
    exe = Path(sys.executable)
    return _in_repo(exe, str(exe))


def command_line() -> str:
    """The command that started this process, with paths made relative to the repository."""
    script = _in_repo(Path(sys.argv[0]).resolve(), sys.argv[0])
    return shlex.join([_interpreter(), script, *sys.argv[1:]])


def module_command_line(module: str) -> str:
    """The command that started this process as ``python -m <module>`` (interpreter path
    relative to the repository where possible)."""
    return shlex.join([_interpreter(), "-m", module, *sys.argv[1:]])


def package_versions(packages: Iterable[str]) -> dict[str, str]:
    """Installed versions of ``packages``, in their order; those not installed are left out."""
    versions = {}
    for pkg in packages:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return versions


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git_state() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "src"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" (src/ has uncommitted changes)" if dirty else "")


def fsync_latency_ms(directory: str | None = None, n: int = 50) -> float:
    """Median latency of write+fsync of a small record in ``directory`` (the temp dir)."""
    fd, path = tempfile.mkstemp(dir=directory, prefix="fsync-probe-")
    samples = []
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            os.write(fd, b"x" * 128)
            os.fsync(fd)
            samples.append(time.perf_counter() - t0)
    finally:
        os.close(fd)
        os.unlink(path)
    return statistics.median(samples) * 1e3


def machine_info(tmpdir: str | None = None) -> dict[str, Any]:
    """CPU, OS, Python and package versions, date: what a reader needs to judge the numbers."""
    versions = package_versions(PACKAGES)
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    return {
        "date_utc": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "cpu_model": _cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "packages": versions,
        "tunesmith_git": _git_state(),
        "fsync_ms_median": round(fsync_latency_ms(tmpdir), 3),
        "loadavg_at_start": os.getloadavg(),
    }


def machine_lines(info: dict[str, Any]) -> list[str]:
    """Markdown bullet lines describing the machine."""
    pk = ", ".join(f"{k} {v}" for k, v in info["packages"].items())
    load = info.get("loadavg_at_start")
    load_end = info.get("loadavg_at_end")
    lines = [
        f"- Date: {info['date_utc']}",
        f"- CPU: {info['cpu_model']} - {info['cpu_count']} logical CPUs "
        f"({info['cpus_usable']} usable)",
        f"- OS: {info['platform']}; Python {info['python']}; SQLite {info['sqlite']}",
        f"- Packages: {pk}",
        f"- tunesmith checkout: {info['tunesmith_git']}",
        f"- write+fsync latency of the temp directory (median of 50): {info['fsync_ms_median']} ms",
    ]
    if load is not None:
        txt = f"- Load average (1/5/15 min) at start: {fmt_load(load)}"
        if load_end is not None:
            txt += f"; at end: {fmt_load(load_end)}"
        lines.append(txt)
        if load[0] > 0.5:
            lines.append(
                "- **Note:** the 1-minute load average was already "
                f"{load[0]:.2f} before the benchmark started: other processes were competing "
                "for the CPUs, which inflates wall-clock timings (compare the CPU-time columns)."
            )
    return lines


def fmt_load(load: Any) -> str:
    """A 1/5/15-minute load average as ``0.12/0.34/0.56``."""
    return "/".join(f"{x:.2f}" for x in load)


def write_outputs(out_dir: Path, stem: str, markdown: str, data: dict[str, Any]) -> None:
    """Write ``<stem>.md`` and ``<stem>.json`` into ``out_dir`` (created if missing)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{stem}.md").write_text(markdown)
    (out_dir / f"{stem}.json").write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    print(f"wrote {out_dir / (stem + '.md')} and {out_dir / (stem + '.json')}", flush=True)


def md_table(header: list[str], rows: list[list[str]], align: list[str] | None = None) -> str:
    """A Markdown table; ``align`` holds 'l' or 'r' per column (default: first l, rest r)."""
    if align is None:
        align = ["l"] + ["r"] * (len(header) - 1)
    sep = ["---" if a == "l" else "---:" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def fmt_ms(x: float | None) -> str:
    if x is None:
        return "-"
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    if x >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def fmt_ratio(x: float | None, prefix: str = "") -> str:
    if x is None:
        return "-"
    if x >= 100:
        return f"{prefix}{x:.0f}x"
    if x >= 10:
        return f"{prefix}{x:.1f}x"
    return f"{prefix}{x:.2f}x"


def silence_optuna() -> None:
    """Keep Optuna's per-trial INFO lines (and experimental warnings) out of the timings."""
    import warnings

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
