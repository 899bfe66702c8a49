"""Run the multi-fidelity (pruner) benchmark: every (problem, method, seed) cell, resumably.

Usage (from the repository root)::

    .bench-venv/bin/python -m benchmarks.multifidelity.run \\
        --problems all --methods default --seeds 20 --budget 10 \\
        --out benchmarks/results/multifidelity/ [--quick]

A cell runs :func:`tunesmith.simulate.simulate` with 4 virtual workers for a simulated
time of ``--budget`` median full trainings per worker (see ``problems.py``) and writes
``<out>/cells/<problem>/<method>/seed<k>.json`` as soon as it finishes: the trial
counts, the resource used, the optimizer's own (real) time, and every improvement of
the best fully trained value and of the best value at any step, with its simulated
time. A second invocation skips finished cells with the same budget and worker count
(``--rerun-errors`` retries failed ones). Cells run seed by seed in ``--jobs`` processes.
``<out>/run_log.jsonl`` keeps one line per invocation (command, date, versions, load).
The report (``benchmarks.multifidelity.report``) runs at the end unless ``--no-report``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy is imported: one thread per process

import datetime as _dt  # noqa: E402
import multiprocessing as mp  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks import _suite  # noqa: E402
from benchmarks._common import REPO, package_versions  # noqa: E402
from benchmarks.multifidelity import methods, problems  # noqa: E402

DEFAULT_OUT = REPO / "benchmarks" / "results" / "multifidelity"
N_WORKERS = 4
VERSION_PKGS = ("tunesmith", "optuna", "numpy", "scipy", "matplotlib")
CURVE_GRID = 50  # points of the resource / trials-started curves kept per cell


def versions() -> dict[str, str]:
    """Versions of the packages involved, with yahpo-gym's and onnxruntime's from the YAHPO
    interpreter when it is installed."""
    out = package_versions(VERSION_PKGS)
    yahpo = problems.YAHPO_PYTHON
    if yahpo.exists():
        import subprocess

        r = subprocess.run(
            [str(yahpo), "-c", "from importlib import metadata as m; "
             "print(m.version('yahpo-gym'), m.version('onnxruntime'))"],
            capture_output=True, text=True,
        )  # fmt: skip
        if r.returncode == 0 and r.stdout.split():
            out["yahpo-gym"], out["onnxruntime"] = r.stdout.split()[:2]
    return out


def _improvements(times: np.ndarray, best: np.ndarray) -> list[list[float]]:
    """``[time, value]`` at each event where ``best`` changed (NaN entries skipped)."""
    out: list[list[float]] = []
    prev = None
    for t, v in zip(times.tolist(), best.tolist(), strict=True):
        if v != v:  # NaN: nothing yet
            continue
        if prev is None or v != prev:
            out.append([t, v])
            prev = v
    return out


def run_cell(task: dict[str, Any]) -> dict[str, Any]:
    """Simulate one (problem, method, seed); the record written to the cell's file."""
    from tunesmith.simulate import simulate
    from tunesmith.trial import TrialState

    warnings.simplefilter("ignore")
    rec: dict[str, Any] = {k: task[k] for k in ("problem", "method", "seed", "budget", "workers")}
    try:
        prob = problems.get_problem(task["problem"])
        max_time = prob.max_time(task["budget"])
        study = methods.build(task["method"], prob.name, prob.max_step, task["seed"])
        t0 = time.perf_counter()
        res = simulate(study, prob.bench, task["workers"], max_time=max_time)
        wall = time.perf_counter() - t0
        grid = np.linspace(0.0, max_time, CURVE_GRID + 1)[1:]
        idx = np.searchsorted(res.time, grid, side="right") - 1
        pick = np.maximum(idx, 0)
        rec.update(
            status="ok",
            max_time=max_time,
            max_step=prob.max_step,
            wall_s=wall,
            optimizer_s=res.optimizer_seconds,
            n_trials=len(res.trials),
            n_pruned=res.count(TrialState.PRUNED),
            n_completed=res.count(TrialState.COMPLETE),
            n_failed=res.count(TrialState.FAILED),
            total_resource=res.total_resource,
            busy_seconds=float(res.busy_seconds[-1]) if res.busy_seconds.size else 0.0,
            best_final=res.best_value,
            final_improvements=_improvements(res.time, res.best_final),
            any_improvements=_improvements(res.time, res.best_any),
            grid=grid.tolist(),
            resource=np.where(idx >= 0, res.resource[pick], 0).tolist(),
            started=np.where(idx >= 0, res.n_started[pick], 0).tolist(),
        )
    except Exception as exc:
        rec.update(status="error", error=f"{type(exc).__name__}: {exc}")
    rec["finished_utc"] = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    return rec


def run_cells(tasks: list[dict[str, Any]], jobs: int, out: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    done = 0
    t_start = time.perf_counter()
    ctx = mp.get_context("fork")
    with ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=ctx) as pool:
        pending: dict[Future[dict[str, Any]], dict[str, Any]] = {}
        queue = list(tasks)
        while queue or pending:
            while queue and len(pending) < 2 * max(1, jobs):
                task = queue.pop(0)
                pending[pool.submit(run_cell, task)] = task
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                task = pending.pop(fut)
                try:
                    rec = fut.result()
                except Exception as exc:  # the worker process died
                    rec = {**task, "status": "crashed", "error": repr(exc)}
                rec.pop("path", None)
                _suite.write_json_atomic(Path(task["path"]), rec)
                done += 1
                counts[rec["status"]] = counts.get(rec["status"], 0) + 1
                elapsed = time.perf_counter() - t_start
                eta = elapsed / done * (len(tasks) - done)
                extra = (
                    f"{rec.get('wall_s', 0):5.1f}s {rec.get('n_trials', 0):5d} trials"
                    if rec["status"] == "ok"
                    else rec.get("error", "")[:80]
                )
                print(
                    f"[{done}/{len(tasks)}] {task['problem']:16s} {task['method']:22s} "
                    f"seed {task['seed']:<3d} {rec['status']:6s} {extra}  (eta {eta:4.0f}s)",
                    flush=True,
                )
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = _suite.run_parser(
        "python -m benchmarks.multifidelity.run",
        __doc__,
        problems_default=["all"],
        problem_sets=problems.SETS,
        kind="method",
        kind_default=["default"],
        kind_sets=methods.METHOD_SETS,
        seeds_default=20,
    )
    ap.add_argument("--budget", type=float, default=problems.BUDGET_FULL_RUNS,
                    help="simulated time, in median full trainings per worker")  # fmt: skip
    ap.add_argument("--workers", type=int, default=N_WORKERS, help="virtual workers")
    _suite.add_output_options(
        ap,
        jobs_help="processes (at most 2 here)",
        quick_help="smoke run: 2 seeds, budget 4, two problems, into <out>/quick",
    )
    args = ap.parse_args(argv)

    out = _suite.output_dir(
        args,
        ap,
        DEFAULT_OUT,
        quick_problems=["hartmann_curves", "lcbench_167168"],
        quick_budget=4.0,
    )

    prob_names, skipped_p = _suite.drop_unavailable(
        problems.expand(args.problems), problems.availability
    )
    meth_names, skipped_m = _suite.drop_unavailable(
        methods.expand(args.methods), methods.availability
    )

    meta = {
        **_suite.run_description("benchmarks.multifidelity.run", versions, untracked_src=True),
        "problems": prob_names,
        "methods": meth_names,
        "skipped": {**skipped_p, **skipped_m},
        "seeds": args.seeds,
        "budget": args.budget,
        "workers": args.workers,
        "jobs": args.jobs,
    }

    tasks, n_skip = _suite.plan_cells(
        out,
        args.seeds,
        prob_names,
        meth_names,
        method_key="method",
        settings={"budget": args.budget, "workers": args.workers},
        same_keys=("budget", "workers"),
        is_failed=lambda old: old.get("status") != "ok",
        rerun_errors=args.rerun_errors,
    )
    print(
        f"{len(tasks)} cells to run ({n_skip} already done) with {args.jobs} processes -> {out}",
        flush=True,
    )
    t0 = time.perf_counter()
    counts = run_cells(tasks, args.jobs, out) if tasks else {}
    meta["wall_s"] = round(time.perf_counter() - t0, 1)
    meta["cells_run"] = len(tasks)
    meta["status_counts"] = counts
    meta["loadavg_at_end"] = os.getloadavg()
    _suite.append_run_log(out, meta)
    if not args.no_report:
        from benchmarks.multifidelity import report

        report.main(["--out", str(out), "--budget", str(args.budget)])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
