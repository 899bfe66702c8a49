"""cProfile of tunesmith's per-trial path, to see where the overhead goes.

Three profiles, written to ``<out>/profile_tunesmith.txt`` (top entries by internal
and by cumulative time):

* ``memory``: the overhead benchmark's loop (ask, 10 x ``suggest_float``, tell) on an
  in-memory study;
* ``sqlite``: the same loop on a SQLite file;
* ``sqlite-4-workers``: one of 4 independent processes running
  ``load_study(...).optimize(obj, n_trials=N/4)`` on one shared SQLite file with the
  parallel benchmark's 2-D objective (shows the time spent waiting for the write lock).

A short warm-up precedes each profile. cProfile inflates the cost of Python calls,
so read these for proportions, not absolute speed (use overhead.py for that).

Run ``.bench-venv/bin/python benchmarks/profile_tunesmith.py [--trials 2000] [--quick]
[--out benchmarks/results]``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import multiprocessing as mp
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _common as C

TOP = 25


def _loop(study: Any, n: int) -> None:
    for _ in range(n):
        trial = study.ask()
        s = 0.0
        for k in range(10):
            x = trial.suggest_float(f"x{k}", -5.0, 5.0)
            s += x * x
        study.tell(trial, s)


def _stats_text(pr: cProfile.Profile, title: str, seconds: float, n: int) -> str:
    buf = io.StringIO()
    buf.write(f"=== {title}: {n} trials in {seconds:.2f} s under cProfile ")
    buf.write(f"({seconds / n * 1e3:.3f} ms/trial) ===\n")
    st = pstats.Stats(pr, stream=buf)
    st.strip_dirs()
    buf.write(f"\n--- top {TOP} by internal time (tottime) ---\n")
    st.sort_stats("tottime").print_stats(TOP)
    buf.write(f"\n--- top {TOP} by cumulative time ---\n")
    st.sort_stats("cumulative").print_stats(TOP)
    return buf.getvalue()


def profile_sequential(storage: str | None, n: int, title: str) -> str:
    import tunesmith as ts

    study = ts.create_study(storage=storage, sampler=ts.RandomSampler(seed=0), seed=0)
    _loop(study, 50)
    pr = cProfile.Profile()
    t0 = time.perf_counter()
    pr.enable()
    _loop(study, n)
    pr.disable()
    seconds = time.perf_counter() - t0
    study.close()
    return _stats_text(pr, title, seconds, n)


def _objective(trial: Any) -> float:
    x = trial.suggest_float("x", -10.0, 10.0)
    y = trial.suggest_float("y", -10.0, 10.0)
    return (x - 2.0) ** 2 + (y + 1.0) ** 2


def _worker(path: str, name: str, n: int, index: int, start: Any, queue: Any) -> None:
    import tunesmith as ts

    study = ts.load_study(name, path)
    start.wait()
    pr = cProfile.Profile()
    t0 = time.perf_counter()
    pr.enable()
    study.optimize(_objective, n_trials=n)
    pr.disable()
    seconds = time.perf_counter() - t0
    study.close()
    text = _stats_text(pr, f"sqlite-4-workers (worker {index})", seconds, n) if index == 0 else ""
    queue.put((index, text))


def profile_parallel(workdir: Path, n_total: int, n_workers: int = 4) -> str:
    import tunesmith as ts

    path = str(workdir / "parallel.db")
    ts.create_study("par", storage=path, sampler=ts.RandomSampler(seed=0)).close()
    ctx = mp.get_context("spawn")
    start = ctx.Event()
    queue = ctx.Queue()
    n = n_total // n_workers
    procs = [
        ctx.Process(target=_worker, args=(path, "par", n, i, start, queue))
        for i in range(n_workers)
    ]
    for p in procs:
        p.start()
    time.sleep(2.0)  # let the processes import and load the study
    start.set()
    texts = dict(queue.get() for _ in procs)
    for p in procs:
        p.join()
    return texts[0]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--trials", type=int, default=None, help="trials per profile (default 2000)")
    p.add_argument("--quick", action="store_true", help="200 trials, output to <out>/quick")
    p.add_argument("--out", default=None, help="output directory (default benchmarks/results)")
    args = p.parse_args(argv)
    n = args.trials or (200 if args.quick else 2000)
    out_dir = Path(args.out) if args.out else (C.RESULTS / "quick" if args.quick else C.RESULTS)
    workdir = Path(tempfile.mkdtemp(prefix="tunesmith-bench-profile-"))
    try:
        info = C.machine_info(str(workdir))
        parts = [
            "cProfile of tunesmith's per-trial path",
            f"Command: {C.command_line()}",
            *[line[2:] for line in C.machine_lines(info)],
            "",
            profile_sequential(None, n, "memory (10-D ask/suggest/tell loop)"),
            profile_sequential(str(workdir / "seq.db"), n, "sqlite (10-D ask/suggest/tell loop)"),
            profile_parallel(workdir, n),
        ]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "profile_tunesmith.txt"
    target.write_text("\n".join(parts))
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
