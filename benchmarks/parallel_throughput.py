"""Parallel throughput on shared storage: tunesmith vs Optuna with real worker processes.

What is measured
----------------
1,000 trials (``--trials``) of a trivial objective (a 2-D quadratic, two
``suggest_float`` calls, no sleep) run by 4 processes (``--workers``) that share one
storage, so the number reported is the storage + coordination throughput.

* tunesmith (a) "driver": one process runs ``study.optimize(obj, n_trials=1000,
  n_workers=4)``; tunesmith starts 4 worker processes and the driver does ask/tell.
* tunesmith (b) "workers": 4 independent OS processes each run
  ``ts.load_study(name, storage).optimize(obj, n_trials=250)`` (the ``tunesmith worker``
  model).
* Optuna: 4 independent OS processes each run ``optuna.load_study(...,
  sampler=RandomSampler(seed=i)).optimize(obj, n_trials=250)`` on RDB-SQLite,
  RDB-PostgreSQL and JournalFile. (Optuna's ``n_jobs`` uses threads, so separate
  processes are the fair comparison.)

Backends: one SQLite file in a temporary directory (tunesmith file / Optuna
``sqlite:///`` file / Optuna ``JournalFileBackend`` log), and the PostgreSQL database
``--pg-url``. Optuna's tables go to a schema of their own in that database (its table
names clash with tunesmith's); the schema is dropped afterwards, and the tunesmith studies
are deleted. Two informational configurations repeat tunesmith (b) and Optuna on
PostgreSQL with ``synchronous_commit=off`` for their sessions (set through libpq
``options`` in the URL): the PostgreSQL counterpart of the SQLite settings tunesmith uses
(WAL + ``synchronous=NORMAL``), where a commit does not wait for the WAL fsync.

Timing: the parent creates the study (not timed), starts the processes and waits until
each has imported its library and printed "ready"; then it releases them all at once.
Each process reads ``time.monotonic()`` (one system-wide clock) just before
``load_study`` and just after ``optimize`` returns. **trials/s** = COMPLETE trials /
(last finish - first start). The wall time including interpreter start-up and imports
(first ``Popen`` to last exit) is reported as well.

Checks: after each run the parent reads the study back and requires exactly ``--trials``
distinct COMPLETE trial numbers and no other trials. Exceptions that escape
``optimize`` in a process (e.g. "database is locked" from Optuna on SQLite) are counted
and reported; the process then resumes ``optimize`` for the trials it still owes (so the
work done is the same), up to ``--max-restarts`` times. FAILED or RUNNING leftovers are
reported, not hidden.

Run ``.bench-venv/bin/python benchmarks/parallel_throughput.py [--quick] [--out
benchmarks/results]``; results go to ``<out>/parallel_throughput.md`` and ``.json``
(``--quick``: 24 trials, one repetition, no informational runs, to ``<out>/quick/``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import _common as C

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
READY = "@@READY"
RESULT = "@@RESULT "


def objective(trial: Any) -> float:
    """The trivial 2-D quadratic both libraries optimize."""
    x = trial.suggest_float("x", -10.0, 10.0)
    y = trial.suggest_float("y", -10.0, 10.0)
    return (x - 2.0) ** 2 + (y + 1.0) ** 2


# -- configurations ---------------------------------------------------------------
@dataclass(frozen=True)
class Config:
    key: str
    label: str
    library: str  # "tunesmith" or "optuna"
    backend: str  # "sqlite", "journal", "postgresql"
    mode: str  # "driver" (one process, n_workers) or "workers" (independent processes)
    #: informational: PostgreSQL sessions with synchronous_commit=off (not for the targets)
    sync_off: bool = False


CONFIGS = [
    Config("ts-driver-sqlite", "tunesmith SQLite, (a) optimize(n_workers)", "tunesmith", "sqlite",
           "driver"),
    Config("ts-workers-sqlite", "tunesmith SQLite, (b) independent processes", "tunesmith",
           "sqlite", "workers"),
    Config("optuna-rdb-sqlite", "Optuna RDB-SQLite, independent processes", "optuna", "sqlite",
           "workers"),
    Config("optuna-journal", "Optuna JournalFile, independent processes", "optuna", "journal",
           "workers"),
    Config("ts-driver-pg", "tunesmith PostgreSQL, (a) optimize(n_workers)", "tunesmith",
           "postgresql", "driver"),
    Config("ts-workers-pg", "tunesmith PostgreSQL, (b) independent processes", "tunesmith",
           "postgresql", "workers"),
    Config("optuna-rdb-pg", "Optuna RDB-PostgreSQL, independent processes", "optuna",
           "postgresql", "workers"),
    Config("ts-workers-pg-async", "tunesmith PostgreSQL, (b), synchronous_commit=off (info)",
           "tunesmith", "postgresql", "workers", sync_off=True),
    Config("optuna-rdb-pg-async", "Optuna RDB-PostgreSQL, synchronous_commit=off (info)",
           "optuna", "postgresql", "workers", sync_off=True),
]  # fmt: skip
BY_KEY = {c.key: c for c in CONFIGS}

# (label, numerator, denominator): throughput ratios, > 1 means tunesmith is faster.
RATIOS = [
    ("tunesmith (a) / Optuna RDB, SQLite", "ts-driver-sqlite", "optuna-rdb-sqlite", 10.0),
    ("tunesmith (b) / Optuna RDB, SQLite", "ts-workers-sqlite", "optuna-rdb-sqlite", 10.0),
    ("tunesmith (a) / Optuna RDB, PostgreSQL", "ts-driver-pg", "optuna-rdb-pg", 10.0),
    ("tunesmith (b) / Optuna RDB, PostgreSQL", "ts-workers-pg", "optuna-rdb-pg", 10.0),
    ("tunesmith SQLite (a) / Optuna JournalFile", "ts-driver-sqlite", "optuna-journal", 1.0),
    ("tunesmith SQLite (b) / Optuna JournalFile", "ts-workers-sqlite", "optuna-journal", 1.0),
    (
        "tunesmith (b) / Optuna RDB, PostgreSQL, both synchronous_commit=off (info)",
        "ts-workers-pg-async",
        "optuna-rdb-pg-async",
        10.0,
    ),
]


# -- child processes --------------------------------------------------------------
def _optuna_storage(spec: str) -> Any:
    import optuna

    if spec.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(spec[len("journal:") :]))
    return spec


def child_main(args: argparse.Namespace) -> int:
    """One benchmark process: import, say ready, wait for 'go', run, print a JSON result."""
    errors: list[str] = []
    done = 0
    restarts = 0
    if args.child.startswith("ts-"):
        import tunesmith as ts

        complete: Any = ts.TrialState.COMPLETE
    else:
        import optuna

        C.silence_optuna()
        complete = optuna.trial.TrialState.COMPLETE
    print(READY, flush=True)
    sys.stdin.readline()  # the start signal
    t_start = time.monotonic()
    c_start = os.times()

    def count(_study: Any, ft: Any) -> None:
        nonlocal done
        if ft.state == complete:
            done += 1

    if args.child == "ts-driver":
        try:
            study = ts.load_study(args.study, args.storage)
            study.optimize(objective, n_trials=args.n, n_workers=args.workers, callbacks=[count])
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}"[:500])
    else:
        while done < args.n and restarts <= args.max_restarts:
            try:
                if args.child == "ts-worker":
                    study = ts.load_study(args.study, args.storage)
                else:
                    study = optuna.load_study(
                        study_name=args.study,
                        storage=_optuna_storage(args.storage),
                        sampler=optuna.samplers.RandomSampler(seed=args.seed),
                    )
                study.optimize(objective, n_trials=args.n - done, callbacks=[count])
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}"[:500])
                restarts += 1
            else:
                if done < args.n:  # a trial ended FAILED or PRUNED: run the missing ones
                    restarts += 1
    t_end = time.monotonic()
    c_end = os.times()
    # CPU of this process and of the children it waited for (tunesmith's workers in (a)).
    cpu = sum(
        getattr(c_end, f) - getattr(c_start, f)
        for f in ("user", "system", "children_user", "children_system")
    )
    result = {
        "cpu_s": cpu,
        "pid": os.getpid(),
        "start": t_start,
        "end": t_end,
        "completed": done,
        "errors": errors,
        "restarts": restarts,
    }
    print(RESULT + json.dumps(result), flush=True)
    return 0


# -- the parent ---------------------------------------------------------------------
@dataclass
class RunResult:
    config: str
    repeat: int
    n_trials: int
    ok: bool
    throughput: float | None
    window_s: float | None
    wall_incl_startup_s: float | None
    cpu_s: float | None
    completed_reported: int
    states: dict[str, int]
    distinct_complete: int
    duplicate_numbers: int
    errors: list[str]
    restarts: int
    problems: list[str] = field(default_factory=list)
    per_process: list[dict[str, Any]] = field(default_factory=list)


class Backends:
    """Storage locations for one run, and their creation / verification / clean-up."""

    def __init__(self, workdir: Path, pg_url: str | None) -> None:
        self.workdir = workdir
        self.pg_url = pg_url
        self.pg_schema: str | None = None
        self.ts_pg_studies: list[str] = []

    # Optuna keeps its tables in a schema of its own (its "studies"/"trials" clash with
    # tunesmith's tables in the public schema).
    def pg_storage(self, library: str, sync_off: bool) -> str:
        """The URL for one library; libpq ``options`` set Optuna's schema and, for the
        informational configurations, ``synchronous_commit=off`` for the session."""
        assert self.pg_url is not None
        opts = []
        if library == "optuna":
            if self.pg_schema is None:
                import psycopg

                self.pg_schema = f"optuna_bench_{uuid.uuid4().hex[:8]}"
                with psycopg.connect(_libpq_url(self.pg_url), autocommit=True) as conn:
                    conn.execute(f'CREATE SCHEMA "{self.pg_schema}"')
            opts.append(f"-csearch_path%3D{self.pg_schema}")
        if sync_off:
            opts.append("-csynchronous_commit%3Doff")
        rest = self.pg_url.split("://", 1)[1]
        scheme = "postgresql+psycopg" if library == "optuna" else "postgresql"
        if not opts:
            return f"{scheme}://{rest}"
        sep = "&" if "?" in rest else "?"
        return f"{scheme}://{rest}{sep}options={'%20'.join(opts)}"

    def storage_for(self, cfg: Config, name: str) -> str:
        if cfg.backend == "postgresql":
            return self.pg_storage(cfg.library, cfg.sync_off)
        if cfg.backend == "journal":
            return "journal:" + str(self.workdir / f"{name}.log")
        if cfg.library == "tunesmith":
            return str(self.workdir / f"{name}.db")
        return f"sqlite:///{self.workdir / (name + '.db')}"

    def create(self, cfg: Config, name: str, storage: str, seed: int) -> None:
        if cfg.library == "tunesmith":
            import tunesmith as ts
            from tunesmith.storage import forget_cached, normalize_url

            study = ts.create_study(
                name, direction="minimize", storage=storage, sampler=ts.RandomSampler(seed=seed)
            )
            study.close()
            if cfg.backend == "postgresql":
                self.ts_pg_studies.append(name)
            forget_cached(normalize_url(storage))
            return
        import optuna

        st = _optuna_storage(storage)
        if isinstance(st, str):
            st = optuna.storages.RDBStorage(st)
        optuna.create_study(study_name=name, storage=st, direction="minimize")
        _release_optuna(st)

    def states(self, cfg: Config, name: str, storage: str) -> tuple[dict[str, int], list[int]]:
        """Trial counts per state, and the numbers of the COMPLETE trials."""
        if cfg.library == "tunesmith":
            import tunesmith as ts
            from tunesmith.storage import forget_cached, normalize_url

            study = ts.load_study(name, storage)
            trials = study.trials
            study.close()
            forget_cached(normalize_url(storage))
            complete = ts.TrialState.COMPLETE
        else:
            import optuna

            st = _optuna_storage(storage)
            if isinstance(st, str):
                st = optuna.storages.RDBStorage(st)
            trials = optuna.load_study(study_name=name, storage=st).get_trials(deepcopy=False)
            _release_optuna(st)
            complete = optuna.trial.TrialState.COMPLETE
        counts: dict[str, int] = {}
        for t in trials:
            counts[t.state.name] = counts.get(t.state.name, 0) + 1
        return counts, [t.number for t in trials if t.state == complete]

    def cleanup(self) -> None:
        if self.pg_url is None:
            return
        if self.ts_pg_studies:
            import tunesmith as ts

            for name in self.ts_pg_studies:
                try:
                    ts.delete_study(name, self.pg_url)
                except Exception as exc:
                    print(f"warning: could not delete study {name!r}: {exc}", file=sys.stderr)
        if self.pg_schema is not None:
            import psycopg

            with psycopg.connect(_libpq_url(self.pg_url), autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{self.pg_schema}" CASCADE')


def _release_optuna(st: Any) -> None:
    import optuna

    if isinstance(st, optuna.storages.RDBStorage):
        st.remove_session()
        st.engine.dispose()


def _libpq_url(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


def pg_available(url: str) -> str | None:
    """None if the server answers, else why not."""
    try:
        import psycopg

        with psycopg.connect(_libpq_url(url), connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}".strip()
    return None


def run_config(
    cfg: Config,
    repeat: int,
    backends: Backends,
    n_trials: int,
    n_workers: int,
    timeout: float,
    max_restarts: int,
) -> RunResult:
    name = f"par-{cfg.key}-{repeat}-{uuid.uuid4().hex[:8]}"
    storage = backends.storage_for(cfg, name)
    backends.create(cfg, name, storage, seed=repeat)
    if cfg.mode == "driver":
        roles = [("ts-driver", n_trials, 0)]
    else:
        role = "ts-worker" if cfg.library == "tunesmith" else "optuna-worker"
        share = [n_trials // n_workers + (i < n_trials % n_workers) for i in range(n_workers)]
        roles = [(role, share[i], 1000 * repeat + i) for i in range(n_workers)]
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"
    procs: list[subprocess.Popen[str]] = []
    logs = []
    t_spawn = time.monotonic()
    for i, (role, n, seed) in enumerate(roles):
        log = open(backends.workdir / f"{name}-{i}.stderr", "w+")  # noqa: SIM115
        logs.append(log)
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            role,
            "--storage",
            storage,
            "--study",
            name,
            "--n",
            str(n),
            "--seed",
            str(seed),
            "--workers",
            str(n_workers),
            "--max-restarts",
            str(max_restarts),
        ]
        procs.append(
            subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                env=env,
                cwd=str(C.REPO),
            )
        )
    problems: list[str] = []
    outputs: list[str] = []
    try:
        for p, log in zip(procs, logs):
            assert p.stdout is not None
            while True:
                line = p.stdout.readline()
                if not line:
                    p.wait()
                    log.seek(0)
                    raise RuntimeError(
                        f"process {p.pid} exited (code {p.returncode}) before it was ready; "
                        f"its stderr ends with: {log.read()[-1500:]}"
                    )
                if line.startswith(READY):
                    break
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        deadline = time.monotonic() + timeout
        for p in procs:
            try:
                out, _ = p.communicate(timeout=max(1.0, deadline - time.monotonic()))
                outputs.append(out)
            except subprocess.TimeoutExpired:
                p.kill()
                out, _ = p.communicate()
                outputs.append(out)
                problems.append(f"process {p.pid} killed after the {timeout:.0f} s timeout")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    t_exit = time.monotonic()
    results = []
    for p, out, log in zip(procs, outputs, logs):
        found = [ln for ln in out.splitlines() if ln.startswith(RESULT)]
        if found:
            results.append(json.loads(found[-1][len(RESULT) :]))
        else:
            log.seek(0)
            tail = log.read()[-1500:]
            problems.append(f"process {p.pid} (exit {p.returncode}) gave no result: {tail}")
        log.close()
    states, numbers = backends.states(cfg, name, storage)
    distinct = len(set(numbers))
    dupes = len(numbers) - distinct
    errors = [e for r in results for e in r["errors"]]
    restarts = sum(r["restarts"] for r in results)
    cpu_s = sum(r["cpu_s"] for r in results) if results else None
    completed_reported = sum(r["completed"] for r in results)
    if distinct != n_trials:
        problems.append(f"{distinct} distinct COMPLETE trials, expected {n_trials}")
    others = {k: v for k, v in states.items() if k != "COMPLETE"}
    if others:
        problems.append(f"trials not COMPLETE: {others}")
    if dupes:
        problems.append(f"{dupes} duplicated trial numbers among COMPLETE trials")
    window = None
    throughput = None
    if results:
        window = max(r["end"] for r in results) - min(r["start"] for r in results)
        throughput = distinct / window if window > 0 else None
    ok = not problems and not errors and len(results) == len(procs)
    return RunResult(
        config=cfg.key,
        repeat=repeat,
        n_trials=n_trials,
        ok=ok,
        throughput=throughput,
        window_s=window,
        wall_incl_startup_s=t_exit - t_spawn,
        cpu_s=cpu_s,
        completed_reported=completed_reported,
        states=states,
        distinct_complete=distinct,
        duplicate_numbers=dupes,
        errors=errors,
        restarts=restarts,
        problems=problems,
        per_process=results,
    )


# -- report ---------------------------------------------------------------------------
def _median_tp(runs: list[RunResult]) -> float | None:
    vals = [r.throughput for r in runs if r.throughput is not None]
    return statistics.median(vals) if vals else None


def render(
    runs: dict[str, list[RunResult]],
    skipped: dict[str, str],
    info: dict[str, Any],
    args: argparse.Namespace,
) -> tuple[str, dict[str, Any]]:
    out: list[str] = []
    out.append("# Parallel throughput on shared storage: tunesmith vs Optuna")
    out.append("")
    out.append(f"Command: `{C.command_line()}`")
    out.append("")
    out += C.machine_lines(info)
    out.append("")
    out.append(
        f"Method: {args.trials:,} trials of a 2-D quadratic (two `suggest_float`, no sleep), "
        f"{args.workers} worker processes sharing one storage. tunesmith (a): one process "
        f"runs `study.optimize(obj, n_trials={args.trials}, n_workers={args.workers})` "
        f"(driver + {args.workers} worker processes); (b) and Optuna: {args.workers} "
        f"independent processes each run `load_study(...).optimize(obj, "
        f"n_trials={args.trials // args.workers})`. Processes are released together "
        "after their imports; trials/s = COMPLETE trials / (last finish - first start), "
        "the time window including `load_study` (and, for (a), starting the worker "
        "processes). `wall incl. start-up` also counts interpreter start and imports. "
        f"Up to {args.repeats} runs per configuration (repeated while another run is "
        f"expected to keep it under {args.repeat_budget:g} s); the median is shown. "
        f"Each run is checked: exactly {args.trials:,} "
        "distinct COMPLETE trial numbers and no other trials. Exceptions escaping "
        "`optimize` are counted; the process then resumes for the trials it still owes. "
        "`client CPU ms/trial`: CPU time of all benchmark processes (for (a) including "
        "tunesmith's worker processes) per trial, not counting the PostgreSQL server; it "
        "is less sensitive than trials/s to other load on the machine."
    )
    out.append("")
    out.append("## Throughput")
    out.append("")
    rows = []
    for cfg in CONFIGS:
        if cfg.key in skipped:
            rows.append([cfg.label, "skipped", "-", "-", "-", "-", "-", skipped[cfg.key]])
            continue
        rs = runs.get(cfg.key)
        if not rs:
            continue
        tp = _median_tp(rs)
        window = statistics.median(r.window_s for r in rs if r.window_s is not None)
        wall = statistics.median(r.wall_incl_startup_s for r in rs if r.wall_incl_startup_s)
        each = ", ".join(f"{r.throughput:.0f}" if r.throughput else "-" for r in rs)
        cpus = [r.cpu_s / r.n_trials * 1e3 for r in rs if r.cpu_s is not None]
        cpu_ms = f"{statistics.median(cpus):.2f}" if cpus else "-"
        n_err = sum(len(r.errors) for r in rs)
        issues = sorted({p for r in rs for p in r.problems})
        if n_err:
            issues.append(f"{n_err} exception(s), see below")
        checks = "; ".join(issues) if issues else "ok"
        rows.append(
            [
                cfg.label,
                f"{tp:.0f}" if tp else "-",
                each,
                f"{window:.2f}",
                f"{wall:.2f}",
                cpu_ms,
                str(n_err),
                checks,
            ]
        )
    out.append(
        C.md_table(
            [
                "configuration",
                "trials/s",
                "trials/s of each run",
                "window (s)",
                "wall incl. start-up (s)",
                "client CPU ms/trial",
                "exceptions",
                "checks",
            ],
            rows,
            ["l", "r", "r", "r", "r", "r", "r", "l"],
        )
    )
    out.append("")
    out.append("## Ratios (throughput, tunesmith / Optuna; above 1 means tunesmith is faster)")
    out.append("")
    rows = []
    ratio_data = {}
    for label, num, den, target in RATIOS:
        a, b = _median_tp(runs.get(num, [])), _median_tp(runs.get(den, []))
        if a is None or b is None:
            rows.append([label, "-", f">= {target:g}x", "not run"])
            continue
        ratio = a / b
        ratio_data[label] = {"ratio": ratio, "target": target, "met": ratio >= target}
        rows.append(
            [label, C.fmt_ratio(ratio), f">= {target:g}x", "met" if ratio >= target else "NOT met"]
        )
    out.append(C.md_table(["ratio", "value", "target", "target met?"], rows, ["l", "r", "r", "l"]))
    out.append("")
    bad = [r for rs in runs.values() for r in rs if r.errors or r.problems]
    if bad:
        out.append("## Exceptions and check failures")
        out.append("")
        for r in bad:
            out.append(f"- {BY_KEY[r.config].label}, run {r.repeat + 1}: states {r.states}")
            for p in r.problems:
                out.append(f"  - check: {p}")
            distinct_errors: dict[str, int] = {}
            for e in r.errors:
                distinct_errors[e] = distinct_errors.get(e, 0) + 1
            for e, k in distinct_errors.items():
                out.append(f"  - {k} x `{e.splitlines()[0][:300]}`")
        out.append("")
    data = {
        "benchmark": "parallel_throughput",
        "command": C.command_line(),
        "machine": info,
        "settings": {
            "trials": args.trials,
            "workers": args.workers,
            "repeats": args.repeats,
            "repeat_budget_s": args.repeat_budget,
            "timeout_s": args.timeout,
            "pg_url": args.pg_url,
        },
        "skipped": skipped,
        "results": {
            k: {
                "label": BY_KEY[k].label,
                "trials_per_s_median": _median_tp(rs),
                "runs": [asdict(r) for r in rs],
            }
            for k, rs in runs.items()
        },
        "ratios": ratio_data,
    }
    return "\n".join(out), data


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--quick", action="store_true", help="short smoke run (< 1 minute)")
    p.add_argument("--trials", type=int, default=None, help="trials per run (default 1000)")
    p.add_argument("--workers", type=int, default=4, help="worker processes (default 4)")
    p.add_argument("--repeats", type=int, default=None, help="max runs per configuration")
    p.add_argument(
        "--repeat-budget",
        type=float,
        default=40.0,
        help="repeat a configuration only while its runs are expected to stay under this",
    )
    p.add_argument("--timeout", type=float, default=240.0, help="seconds before a run is killed")
    p.add_argument("--max-restarts", type=int, default=100, help="resumes per process")
    p.add_argument("--pg-url", default=os.environ.get("TUNESMITH_BENCH_PG", DEFAULT_PG))
    p.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL runs")
    p.add_argument(
        "--no-info", action="store_true", help="skip the informational synchronous_commit=off runs"
    )
    p.add_argument("--configs", default=None, help="comma-separated subset of configurations")
    p.add_argument("--out", default=None, help="output directory (default benchmarks/results)")
    # internal: the benchmark's own child processes
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--storage", default=None, help=argparse.SUPPRESS)
    p.add_argument("--study", default=None, help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return child_main(args)

    if args.quick:
        args.trials = args.trials or 24
        args.repeats = args.repeats or 1
        args.timeout = min(args.timeout, 20.0)
        args.no_info = True
        out_dir = Path(args.out) if args.out else C.RESULTS / "quick"
    else:
        args.trials = args.trials or 1000
        args.repeats = args.repeats or 3
        out_dir = Path(args.out) if args.out else C.RESULTS
    selected = CONFIGS
    if args.configs:
        keys = [k.strip() for k in args.configs.split(",")]
        for k in keys:
            if k not in BY_KEY:
                p.error(f"unknown configuration {k!r}; choose from {', '.join(BY_KEY)}")
        selected = [c for c in CONFIGS if c.key in keys]
    if args.no_info:
        selected = [c for c in selected if not c.sync_off]
    skipped: dict[str, str] = {}
    pg_url: str | None = args.pg_url
    if args.no_postgres:
        reason = "--no-postgres"
    else:
        reason = pg_available(args.pg_url) or ""
    if reason:
        pg_url = None
        for c in selected:
            if c.backend == "postgresql":
                skipped[c.key] = f"PostgreSQL unavailable ({reason})"
        print(f"skipping PostgreSQL: {reason}", flush=True)

    C.silence_optuna()
    workdir = Path(tempfile.mkdtemp(prefix="tunesmith-bench-parallel-"))
    backends = Backends(workdir, pg_url)
    runs: dict[str, list[RunResult]] = {}
    t0 = time.perf_counter()
    try:
        info = C.machine_info(str(workdir))
        for rep in range(args.repeats):
            for cfg in selected:
                if cfg.key in skipped:
                    continue
                done = runs.get(cfg.key, [])
                spent = sum(r.wall_incl_startup_s or args.timeout for r in done)
                if done and spent + spent / len(done) > args.repeat_budget:
                    continue  # slow configuration: one run (or fewer repeats) is enough
                try:
                    r = run_config(
                        cfg, rep, backends, args.trials, args.workers, args.timeout,
                        args.max_restarts,
                    )  # fmt: skip
                except Exception as exc:
                    traceback.print_exc()
                    r = RunResult(
                        cfg.key, rep, args.trials, False, None, None, None, None, 0, {}, 0, 0,
                        [], 0, [f"the run itself failed: {type(exc).__name__}: {exc}"],
                    )  # fmt: skip
                runs.setdefault(cfg.key, []).append(r)
                tp = f"{r.throughput:8.1f} trials/s" if r.throughput else "   -"
                print(
                    f"{cfg.label:<50} run {rep + 1}: {tp}  window {r.window_s or 0:6.2f} s  "
                    f"wall {r.wall_incl_startup_s or 0:6.2f} s  states {r.states}  "
                    f"exceptions {len(r.errors)}  {'ok' if r.ok else r.problems}",
                    flush=True,
                )
    finally:
        try:
            backends.cleanup()
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    info["loadavg_at_end"] = os.getloadavg()
    info["total_runtime_s"] = round(time.perf_counter() - t0, 1)
    md, data = render(runs, skipped, info, args)
    md += f"\nTotal benchmark time: {info['total_runtime_s']:.0f} s.\n"
    C.write_outputs(out_dir, "parallel_throughput", md, data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
