"""Per-trial storage cost on PostgreSQL as one study grows: tunesmith vs Optuna's RDB storage.

What is measured
----------------
One process runs ask + two suggestions + tell in a loop, on one study that grows to
1,000, 10,000 and 100,000 trials::

    trial = study.ask()
    x = trial.suggest_float("x", -5, 5)
    k = trial.suggest_int("k", 0, 10)
    study.tell(trial, x * x + k)

The objective costs nothing and both use a seeded random sampler, so the time is the
library plus its storage. ``time.perf_counter()`` (and the process's CPU time) is read
after every ``tell``; the cost **at size n** is the mean over the window of trials
``n - window .. n`` (default: the last 100 trials before n), i.e. the marginal cost of
a trial when the study already holds about n trials.

Both libraries use the same PostgreSQL server, each in a fresh schema of its own
(``ts_bench_<random>`` / ``optuna_bench_<random>``) that is dropped at the end, in the
same run, one after the other (tunesmith first). Optuna is capped by trials and time
(``--optuna-max-trials``, ``--optuna-budget``): the report says which sizes it
reached. Client CPU time is reported next to wall time because the machine may be
shared (the load average is recorded at the start and the end); the server's own CPU
time is in the wall time only.

Run from the repository root with the benchmark virtualenv (it has Optuna)::

    .bench-venv/bin/python benchmarks/storage/per_trial_cost.py
    .bench-venv/bin/python benchmarks/storage/per_trial_cost.py --quick   # ~1 minute
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import (
    RESULTS,
    command_line,
    fmt_load,
    fmt_ms,
    fmt_ratio,
    machine_info,
    machine_lines,
    md_table,
    silence_optuna,
    write_outputs,
)

DEFAULT_PG = os.environ.get("TUNESMITH_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _libpq(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


def _schema_url(url: str, schema: str, scheme: str) -> str:
    rest = url.split("://", 1)[1]
    sep = "&" if "?" in rest else "?"
    return f"{scheme}://{rest}{sep}options=-csearch_path%3D{schema}"


class Schema:
    """A fresh PostgreSQL schema, dropped on exit."""

    def __init__(self, pg_url: str, prefix: str) -> None:
        self.pg_url = pg_url
        self.name = f"{prefix}_{uuid.uuid4().hex[:8]}"

    def __enter__(self) -> Schema:
        import psycopg

        with psycopg.connect(_libpq(self.pg_url), autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{self.name}"')
        return self

    def __exit__(self, *exc: object) -> None:
        import psycopg

        with psycopg.connect(_libpq(self.pg_url), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE')


def _loop(
    ask: Callable[[], Any],
    tell: Callable[[Any, float], Any],
    max_trials: int,
    budget: float,
    largest: int,
) -> tuple[list[float], list[float], str]:
    """Run trials; return wall and CPU times after each trial and why the loop stopped."""
    wall = [time.perf_counter()]
    cpu = [time.process_time()]
    start = wall[0]
    stopped = "reached the largest size"
    for _ in range(max_trials):
        trial = ask()
        x = trial.suggest_float("x", -5.0, 5.0)
        k = trial.suggest_int("k", 0, 10)
        tell(trial, x * x + k)
        wall.append(time.perf_counter())
        cpu.append(time.process_time())
        if wall[-1] - start > budget:
            stopped = f"stopped by the time budget ({budget:.0f} s)"
            break
    else:
        if max_trials < largest:
            stopped = f"stopped by the trial cap ({max_trials:,} trials)"
    return wall, cpu, stopped


def run_tunesmith(pg_url: str, max_trials: int, budget: float, largest: int) -> dict[str, Any]:
    import tunesmith as ts
    from tunesmith.storage import forget_cached, normalize_url

    with Schema(pg_url, "ts_bench") as schema:
        url = _schema_url(pg_url, schema.name, "postgresql")
        study = ts.create_study(
            "per-trial-cost", storage=url, sampler=ts.RandomSampler(seed=0), direction="minimize"
        )
        try:
            wall, cpu, stopped = _loop(study.ask, study.tell, max_trials, budget, largest)
            n_complete = study.storage.count_trials(study.study_id, [ts.TrialState.COMPLETE])
        finally:
            study.close()
            forget_cached(normalize_url(url))
    return {"wall": wall, "cpu": cpu, "stopped": stopped, "complete": n_complete}


def run_optuna(pg_url: str, max_trials: int, budget: float, largest: int) -> dict[str, Any]:
    import optuna

    silence_optuna()
    with Schema(pg_url, "optuna_bench") as schema:
        url = _schema_url(pg_url, schema.name, "postgresql+psycopg")
        storage = optuna.storages.RDBStorage(url)
        try:
            study = optuna.create_study(
                study_name="per-trial-cost",
                storage=storage,
                sampler=optuna.samplers.RandomSampler(seed=0),
                direction="minimize",
            )
            wall, cpu, stopped = _loop(study.ask, study.tell, max_trials, budget, largest)
            n_complete = len(
                study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
            )
        finally:
            storage.remove_session()
            storage.engine.dispose()
    return {"wall": wall, "cpu": cpu, "stopped": stopped, "complete": n_complete}


def windows(run: dict[str, Any], sizes: list[int], window: int) -> dict[int, dict[str, float]]:
    """ms/trial (wall and CPU) over trials ``n - window .. n`` for each size reached."""
    wall, cpu = run["wall"], run["cpu"]
    done = len(wall) - 1
    out: dict[int, dict[str, float]] = {}
    for n in sizes:
        if n > done:
            continue
        w = min(window, n)
        out[n] = {
            "wall_ms": (wall[n] - wall[n - w]) / w * 1e3,
            "cpu_ms": (cpu[n] - cpu[n - w]) / w * 1e3,
            "first": n - w,
            "last": n - 1,
        }
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--pg-url", default=DEFAULT_PG)
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--window", type=int, default=100, help="trials per measurement window")
    ap.add_argument("--ts-budget", type=float, default=1800.0, help="seconds, tunesmith")
    ap.add_argument("--optuna-max-trials", type=int, default=20_000)
    ap.add_argument("--optuna-budget", type=float, default=600.0, help="seconds, Optuna")
    ap.add_argument("--quick", action="store_true", help="sizes 500,2000; a smoke run")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    if args.quick:
        args.sizes = "500,2000"
        args.optuna_max_trials = min(args.optuna_max_trials, 2000)
        args.optuna_budget = min(args.optuna_budget, 60.0)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    out_dir = args.out or (RESULTS / ("quick" if args.quick else "") / "storage")
    largest = sizes[-1]

    info = machine_info()
    print(f"load average at start: {fmt_load(info['loadavg_at_start'])}", flush=True)
    runs: dict[str, dict[str, Any]] = {}
    t0 = time.monotonic()
    print(f"tunesmith: up to {largest} trials ...", flush=True)
    runs["tunesmith"] = run_tunesmith(args.pg_url, largest, args.ts_budget, largest)
    print(
        f"  done {len(runs['tunesmith']['wall']) - 1} in {time.monotonic() - t0:.0f}s", flush=True
    )
    t1 = time.monotonic()
    optuna_cap = min(largest, args.optuna_max_trials)
    print(f"optuna: up to {optuna_cap} trials or {args.optuna_budget:.0f}s ...", flush=True)
    runs["optuna"] = run_optuna(args.pg_url, optuna_cap, args.optuna_budget, largest)
    print(f"  done {len(runs['optuna']['wall']) - 1} in {time.monotonic() - t1:.0f}s", flush=True)
    info["loadavg_at_end"] = os.getloadavg()

    results: dict[str, Any] = {}
    for lib, run in runs.items():
        done = len(run["wall"]) - 1
        if run["complete"] != done:
            raise SystemExit(f"{lib}: {done} trials told but {run['complete']} COMPLETE stored")
        results[lib] = {
            "trials": done,
            "seconds": run["wall"][-1] - run["wall"][0],
            "stopped": run["stopped"],
            "windows": windows(run, sizes, args.window),
        }

    rows = []
    for n in sizes:
        ts_w = results["tunesmith"]["windows"].get(n)
        op_w = results["optuna"]["windows"].get(n)
        ratio = op_w["wall_ms"] / ts_w["wall_ms"] if ts_w and op_w else None
        cpu_ratio = op_w["cpu_ms"] / ts_w["cpu_ms"] if ts_w and op_w else None
        rows.append(
            [
                f"{n:,}",
                f"{ts_w['first']:,}-{ts_w['last']:,}" if ts_w else "-",
                fmt_ms(ts_w["wall_ms"]) if ts_w else "not reached",
                fmt_ms(ts_w["cpu_ms"]) if ts_w else "-",
                fmt_ms(op_w["wall_ms"]) if op_w else "not reached",
                fmt_ms(op_w["cpu_ms"]) if op_w else "-",
                fmt_ratio(ratio),
                fmt_ratio(cpu_ratio),
            ]
        )
    table = md_table(
        [
            "study size n",
            "trials measured",
            "tunesmith ms/trial",
            "tunesmith CPU ms",
            "Optuna RDB ms/trial",
            "Optuna CPU ms",
            "Optuna / tunesmith (wall)",
            "(CPU)",
        ],
        rows,
    )
    summary = [
        f"- {lib}: {r['trials']:,} trials in {r['seconds']:.0f} s; {r['stopped']}"
        for lib, r in results.items()
    ]
    md = "\n".join(
        [
            "# Per-trial storage cost on PostgreSQL as one study grows",
            "",
            "ask + `suggest_float` + `suggest_int` + tell, random sampler, one process, one "
            "study per library in a fresh schema of the same PostgreSQL server. Cost at size n: "
            f"mean over the {args.window} trials before n (wall clock, and the client's CPU "
            "time). See the docstring of `benchmarks/storage/per_trial_cost.py`.",
            "",
            "Command:",
            "",
            f"    {command_line()}",
            "",
            table,
            "",
            *summary,
            "",
            "## Machine",
            "",
            *machine_lines(info),
            "",
        ]
    )
    data = {
        "command": command_line(),
        "machine": info,
        "settings": {
            "sizes": sizes,
            "window": args.window,
            "optuna_max_trials": args.optuna_max_trials,
            "optuna_budget_s": args.optuna_budget,
            "ts_budget_s": args.ts_budget,
        },
        "results": results,
    }
    write_outputs(out_dir, "per_trial_cost", md, data)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
