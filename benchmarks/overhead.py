"""Per-trial ask+tell overhead of random search: tunesmith vs Optuna, in one process run.

What is measured
----------------
A 10-D define-by-run objective: every trial calls ``suggest_float("x0".."x9", -5, 5)``
and is told the sum of squares. The loop is the same code for both libraries (their
ask / suggest_float / tell APIs coincide)::

    trial = study.ask()
    value = sum(trial.suggest_float(f"x{k}", -5, 5) ** 2 for k in range(10))
    study.tell(trial, value)

so what is timed is the library's overhead per trial (the objective costs nothing).
Every (configuration, size) run uses a fresh study (and a fresh file for the file
backends, in one temporary directory); study creation is timed separately and not
counted. ``time.perf_counter()`` is read after every ``tell``, which gives

* **ms/trial**: the whole loop's time divided by the trials done;
* **last 10 %**: the time of the last tenth of the trials divided by their number,
  i.e. the marginal cost at that study size (it shows how the cost grows).

Configurations (random samplers, seeded): tunesmith in-memory; tunesmith SQLite
(temp file); Optuna in-memory; Optuna RDB on SQLite (``sqlite:///`` temp file, Optuna's
defaults); Optuna ``JournalStorage(JournalFileBackend(path))``. One extra configuration
is informational: Optuna RDB-SQLite with the SQLite settings tunesmith uses (WAL journal,
``synchronous=NORMAL``), to separate the cost of the storage layer from that of
durability settings (tunesmith SQLite does not fsync each commit; Optuna's default
SQLite and JournalFile do).

Budgets: a run stops when it has taken longer than ``--budget`` seconds (checked after
each trial). Such a cell is reported as "did not finish N trials in B s" with the
measured rate over the k trials it did, and a clearly labelled extrapolation. Its ratio
compares like with like: Optuna's time for those k trials against tunesmith's time for
its first k trials (the time after every trial is kept, as a 100-point trace in the
JSON). Cheap cells are repeated (up to ``--repeats`` runs, while another run is
expected to keep the cell under ``--repeat-budget`` seconds) and the median run is
reported; configurations are interleaved within each repetition to spread drift
across them. Every run is checked afterwards: the study must hold exactly as many
COMPLETE trials as were told.

Run ``.bench-venv/bin/python benchmarks/overhead.py [--quick] [--sizes 100,1000,10000]
[--out benchmarks/results]``; results go to ``<out>/overhead.md`` and ``overhead.json``
(``--quick`` writes to ``<out>/quick/`` by default).
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import _common as C

N_PARAMS = 10
LOW, HIGH = -5.0, 5.0
NAMES = tuple(f"x{k}" for k in range(N_PARAMS))

# (key, label, informational)
CONFIGS: list[tuple[str, str, bool]] = [
    ("ts-memory", "tunesmith in-memory", False),
    ("ts-sqlite", "tunesmith SQLite", False),
    ("optuna-memory", "Optuna in-memory", False),
    ("optuna-rdb-sqlite", "Optuna RDB-SQLite", False),
    ("optuna-journal", "Optuna JournalFile", False),
    ("optuna-rdb-sqlite-wal", "Optuna RDB-SQLite, WAL + synchronous=NORMAL (info)", True),
]
LABEL = {k: lab for k, lab, _ in CONFIGS}

# (label, numerator config, denominator config): > 1 means tunesmith is faster.
RATIOS = [
    ("Optuna in-memory / tunesmith in-memory", "optuna-memory", "ts-memory"),
    ("Optuna RDB-SQLite / tunesmith SQLite", "optuna-rdb-sqlite", "ts-sqlite"),
    ("Optuna JournalFile / tunesmith SQLite", "optuna-journal", "ts-sqlite"),
    ("Optuna RDB-SQLite WAL (info) / tunesmith SQLite", "optuna-rdb-sqlite-wal", "ts-sqlite"),
]


@dataclass
class Run:
    """One timed loop of one configuration at one size."""

    config: str
    size: int
    repeat: int
    done: int
    finished: bool
    seconds: float
    ms_per_trial: float
    cpu_ms_per_trial: float
    last10_ms: float | None
    first10_ms: float | None
    setup_s: float
    checked_complete: int
    #: (trials done, seconds since the loop started) at about 100 evenly spaced points
    trace: list[tuple[int, float]]

    def seconds_at(self, k: int) -> float | None:
        """Time the loop took for its first k trials (linear between trace points)."""
        prev = (0, 0.0)
        for n, t in self.trace:
            if n >= k:
                if n == prev[0]:
                    return t
                return prev[1] + (t - prev[1]) * (k - prev[0]) / (n - prev[0])
            prev = (n, t)
        return None


class Harness:
    """A study to time plus how to count its COMPLETE trials and release it."""

    def __init__(
        self, study: Any, count_complete: Callable[[], int], close: Callable[[], None]
    ) -> None:
        self.study = study
        self.count_complete = count_complete
        self.close = close


def make_harness(config: str, workdir: Path, seed: int) -> Harness:
    name = f"overhead-{config}-{uuid.uuid4().hex[:8]}"
    if config.startswith("ts-"):
        import tunesmith as ts
        from tunesmith.storage import forget_cached, normalize_url

        path = str(workdir / f"{name}.db") if config == "ts-sqlite" else None
        study = ts.create_study(
            name,
            direction="minimize",
            storage=path,
            sampler=ts.RandomSampler(seed=seed),
            seed=seed,
        )

        def count_ts() -> int:
            done = study.get_trials([ts.TrialState.COMPLETE])
            return len({t.number for t in done})

        def close_ts() -> None:
            study.close()
            if path is not None:
                forget_cached(normalize_url(path))

        return Harness(study, count_ts, close_ts)

    import optuna

    storage: Any = None
    dispose: Callable[[], None] = lambda: None  # noqa: E731
    if config == "optuna-journal":
        from optuna.storages.journal import JournalFileBackend

        storage = optuna.storages.JournalStorage(JournalFileBackend(str(workdir / f"{name}.log")))
    elif config.startswith("optuna-rdb-sqlite"):
        rdb = optuna.storages.RDBStorage(f"sqlite:///{workdir / (name + '.db')}")
        if config == "optuna-rdb-sqlite-wal":
            import sqlalchemy as sa

            def _pragmas(dbapi_conn: Any, _rec: Any) -> None:
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode = WAL")
                cur.execute("PRAGMA synchronous = NORMAL")
                cur.close()

            sa.event.listen(rdb.engine, "connect", _pragmas)
            rdb.remove_session()
            rdb.engine.dispose()  # reconnect so every pooled connection gets the pragmas
        storage = rdb

        def dispose() -> None:
            rdb.remove_session()
            rdb.engine.dispose()

    elif config != "optuna-memory":
        raise ValueError(config)
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        direction="minimize",
        sampler=optuna.samplers.RandomSampler(seed=seed),
    )

    def count_optuna() -> int:
        done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        return len({t.number for t in done})

    return Harness(study, count_optuna, dispose)


def timed_loop(study: Any, n: int, budget: float) -> tuple[list[float], bool, float]:
    """Run n ask/suggest/tell trials.

    Returns the clock after each trial (index 0: the start), whether all n were done
    within the budget, and the process CPU seconds the loop used.
    """
    marks = [0.0] * (n + 1)
    clock = time.perf_counter
    names = NAMES
    c0 = time.process_time()
    t0 = marks[0] = clock()
    deadline = t0 + budget
    for i in range(1, n + 1):
        trial = study.ask()
        s = 0.0
        for name in names:
            x = trial.suggest_float(name, LOW, HIGH)
            s += x * x
        study.tell(trial, s)
        now = marks[i] = clock()
        if now > deadline and i < n:
            return marks[: i + 1], False, time.process_time() - c0
    return marks, True, time.process_time() - c0


def run_once(config: str, size: int, repeat: int, workdir: Path, budget: float) -> Run:
    gc.collect()
    t_setup = time.perf_counter()
    h = make_harness(config, workdir, seed=repeat)
    setup_s = time.perf_counter() - t_setup
    try:
        marks, finished, cpu = timed_loop(h.study, size, budget)
        checked = h.count_complete()
    finally:
        h.close()
    done = len(marks) - 1
    if checked != done:
        raise RuntimeError(f"{config}: told {done} trials but the study has {checked} COMPLETE")
    seconds = marks[-1] - marks[0]
    tenth = max(1, done // 10)
    last10 = (marks[done] - marks[done - tenth]) / tenth * 1e3 if done >= 10 else None
    first10 = (marks[tenth] - marks[0]) / tenth * 1e3 if done >= 10 else None
    step = max(1, done // 100)
    points = sorted({*range(step, done + 1, step), done} - {0})
    trace = [(k, round(marks[k] - marks[0], 6)) for k in points]
    return Run(
        config=config,
        size=size,
        repeat=repeat,
        done=done,
        finished=finished,
        seconds=seconds,
        ms_per_trial=seconds / max(done, 1) * 1e3,
        cpu_ms_per_trial=cpu / max(done, 1) * 1e3,
        last10_ms=last10,
        first10_ms=first10,
        setup_s=setup_s,
        checked_complete=checked,
        trace=trace,
    )


@dataclass
class Cell:
    """The reported (median) result of one configuration at one size."""

    config: str
    size: int
    runs: list[Run]

    @property
    def median_run(self) -> Run:
        ordered = sorted(self.runs, key=lambda r: r.ms_per_trial)
        return ordered[(len(ordered) - 1) // 2]

    @property
    def finished(self) -> bool:
        return all(r.finished for r in self.runs)

    @property
    def ms(self) -> float:
        return statistics.median(r.ms_per_trial for r in self.runs)

    @property
    def cpu_ms(self) -> float:
        return statistics.median(r.cpu_ms_per_trial for r in self.runs)

    @property
    def last10(self) -> float | None:
        vals = [r.last10_ms for r in self.runs if r.last10_ms is not None]
        return statistics.median(vals) if vals else None

    def extrapolated_s(self) -> float | None:
        """Lower-bound estimate of the full run: the remaining trials at the last-10% rate."""
        r = self.median_run
        if r.finished or r.last10_ms is None:
            return None
        return r.seconds + (self.size - r.done) * r.last10_ms / 1e3


def measure(
    configs: list[str],
    sizes: list[int],
    repeats: int,
    repeat_budget: float,
    budget: float,
    info_budget: float,
    workdir: Path,
    warmup: int = 20,
) -> dict[tuple[str, int], Cell]:
    cells: dict[tuple[str, int], Cell] = {}
    info_keys = {k for k, _, info in CONFIGS if info}
    # Warm-up: imports, SQL statement caches, first-file creation; not recorded.
    for cfg in configs:
        run_once(cfg, warmup, 0, workdir, budget)
    for size in sizes:
        for rep in range(repeats):
            for cfg in configs:
                cell = cells.setdefault((cfg, size), Cell(cfg, size, []))
                spent = sum(r.seconds for r in cell.runs)
                expected = spent / len(cell.runs) if cell.runs else 0.0
                if rep > 0 and (spent + expected > repeat_budget or not cell.finished):
                    continue
                b = info_budget if cfg in info_keys else budget
                r = run_once(cfg, size, rep, workdir, b)
                cell.runs.append(r)
                status = "" if r.finished else f"  [stopped by the {b:.0f} s budget]"
                last = C.fmt_ms(r.last10_ms)
                print(
                    f"{LABEL[cfg]:<52} n={size:>6} rep={rep}: {r.done:>6} trials in "
                    f"{r.seconds:7.2f} s = {r.ms_per_trial:8.3f} ms/trial "
                    f"(last 10%: {last} ms){status}",
                    flush=True,
                )
    return cells


def _ms_cell(cell: Cell | None, marginal: bool = False, cpu: bool = False) -> str:
    if cell is None:
        return "not run"
    value = cell.cpu_ms if cpu else (cell.last10 if marginal else cell.ms)
    text = C.fmt_ms(value)
    if not cell.finished:
        text += " (DNF)"
    return text


def _ratio(num: Cell | None, den: Cell | None, marginal: bool = False) -> tuple[str, Any]:
    """Ratio text and raw value.

    When the numerator (Optuna) did not finish, the ratio compares like with like: its
    rate over the k trials it did against the denominator's rate over its own first k
    trials (from the per-trial trace), and says so.
    """
    if num is None or den is None:
        return "-", None
    if not den.finished:
        return "n/a (tunesmith DNF)", None
    if num.finished:
        a = num.last10 if marginal else num.ms
        b = den.last10 if marginal else den.ms
        if a is None or b is None or b <= 0:
            return "-", None
        return C.fmt_ratio(a / b), a / b
    r, d = num.median_run, den.median_run
    k = r.done
    if marginal:
        tenth = max(1, k // 10)
        a_s, b_hi, b_lo = r.seconds_at(k), d.seconds_at(k), d.seconds_at(k - tenth)
        a_lo = r.seconds_at(k - tenth)
        if None in (a_s, b_hi, b_lo, a_lo) or b_hi == b_lo:
            return "-", None
        value = (a_s - a_lo) / (b_hi - b_lo)  # type: ignore[operator]
        return f"{C.fmt_ratio(value)} @ trials {k - tenth:,}-{k:,}", value
    b_s = d.seconds_at(k)
    if not b_s:
        return "-", None
    value = r.seconds / b_s
    return f"{C.fmt_ratio(value)} over first {k:,}", value


def render(
    cells: dict[tuple[str, int], Cell],
    configs: list[str],
    sizes: list[int],
    info: dict[str, Any],
    args: argparse.Namespace,
) -> tuple[str, dict[str, Any]]:
    size_hdr = [f"{s:,}" for s in sizes]
    out: list[str] = []
    out.append("# Per-trial ask+tell overhead: tunesmith vs Optuna (random sampler, 10-D)")
    out.append("")
    out.append(f"Command: `{C.command_line()}`")
    out.append("")
    out += C.machine_lines(info)
    out.append("")
    out.append(
        "Method: one process runs every configuration. Each run is a fresh study; the loop "
        "asks a trial, suggests x0..x9 in [-5, 5] (`suggest_float`), and tells the sum of "
        "squares. Study creation is not timed. `ms/trial` is the whole loop's time divided "
        "by the trials done; `last 10%` is the cost per trial of the last tenth of the "
        f"trials (growth with study size). Runs stop after {args.budget:g} s "
        f"({min(args.budget, args.info_budget):g} s for the informational configuration); "
        '"DNF" marks such cells (the rate is over the trials done; see below). Cells are '
        f"repeated up to {args.repeats} times while another run is expected to keep the "
        f"cell under {args.repeat_budget:g} s, and the median run is shown. File backends "
        "write to a temporary directory on the local disk. Every run is checked: the "
        "study holds exactly as many COMPLETE trials as were told."
    )
    out.append("")
    out.append("## Milliseconds per trial (whole loop)")
    out.append("")
    rows = [[LABEL[c]] + [_ms_cell(cells.get((c, s))) for s in sizes] for c in configs]
    out.append(C.md_table(["configuration", *size_hdr], rows))
    out.append("")
    out.append("## Marginal milliseconds per trial (last 10% of the trials)")
    out.append("")
    rows = [[LABEL[c]] + [_ms_cell(cells.get((c, s)), True) for s in sizes] for c in configs]
    out.append(C.md_table(["configuration", *size_hdr], rows))
    out.append("")
    out.append("## CPU milliseconds per trial (process CPU time, whole loop)")
    out.append("")
    out.append(
        "Less sensitive than wall time to other load on the machine, but it leaves out "
        "time spent waiting for the disk (fsync), which is real cost for the file backends."
    )
    out.append("")
    rows = [[LABEL[c]] + [_ms_cell(cells.get((c, s)), cpu=True) for s in sizes] for c in configs]
    out.append(C.md_table(["configuration", *size_hdr], rows))
    out.append("")
    out.append("## Ratios (Optuna / tunesmith; above 1 means tunesmith is faster)")
    out.append("")
    out.append(
        "Where Optuna did not finish, the ratio compares the same trials: Optuna's time for "
        "the k trials it did against tunesmith's time for its first k trials of the same "
        "size run (and likewise for the last tenth of those k trials)."
    )
    out.append("")
    ratio_data: dict[str, dict[str, Any]] = {}
    rows = []
    for label, num, den in RATIOS:
        if num not in configs or den not in configs:
            continue
        row = [label]
        for s in sizes:
            text, val = _ratio(cells.get((num, s)), cells.get((den, s)))
            mtext, mval = _ratio(cells.get((num, s)), cells.get((den, s)), True)
            row.append(f"{text} (last 10%: {mtext})")
            ratio_data.setdefault(label, {})[str(s)] = {
                "whole_loop": val,
                "last10": mval,
                "numerator_finished": cells[(num, s)].finished if (num, s) in cells else None,
            }
        rows.append(row)
    out.append(C.md_table(["ratio", *size_hdr], rows))
    out.append("")
    out.append("## Targets")
    out.append("")
    out += _targets(cells, sizes)
    out.append("")
    dnf = [cells[k] for k in sorted(cells, key=lambda k: (k[1], k[0])) if not cells[k].finished]
    if dnf:
        out.append("## Runs stopped by the time budget")
        out.append("")
        for cell in dnf:
            r = cell.median_run
            est = cell.extrapolated_s()
            est_txt = (
                f"; extrapolated (the remaining trials at the last-10% rate; an estimate, not "
                f"a measurement): about {est:.0f} s for {cell.size:,} trials"
                if est is not None
                else ""
            )
            out.append(
                f"- {LABEL[cell.config]}: did not finish {cell.size:,} trials in "
                f"{r.seconds:.0f} s; it did {r.done:,} trials at {r.ms_per_trial:.2f} ms/trial "
                f"(last 10%: {C.fmt_ms(r.last10_ms)} ms/trial){est_txt}."
            )
        out.append("")
    out.append("## Runs")
    out.append("")
    rows = []
    for c in configs:
        for s in sizes:
            found = cells.get((c, s))
            if found is None:
                continue
            per = ", ".join(C.fmt_ms(r.ms_per_trial) for r in found.runs)
            setup = statistics.median(r.setup_s for r in found.runs) * 1e3
            rows.append([LABEL[c], f"{s:,}", str(len(found.runs)), per, f"{setup:.1f}"])
    out.append(
        C.md_table(
            ["configuration", "trials", "runs", "ms/trial of each run", "create_study (ms)"], rows
        )
    )
    out.append("")
    data = {
        "benchmark": "overhead",
        "command": C.command_line(),
        "machine": info,
        "settings": {
            "sizes": sizes,
            "configs": configs,
            "repeats": args.repeats,
            "repeat_budget_s": args.repeat_budget,
            "budget_s": args.budget,
            "info_budget_s": min(args.budget, args.info_budget),
            "n_params": N_PARAMS,
        },
        "cells": [
            {
                "config": c.config,
                "label": LABEL[c.config],
                "size": c.size,
                "finished": c.finished,
                "ms_per_trial_median": c.ms,
                "cpu_ms_per_trial_median": c.cpu_ms,
                "last10_ms_median": c.last10,
                "extrapolated_s": c.extrapolated_s(),
                "runs": [asdict(r) for r in c.runs],
            }
            for c in cells.values()
        ],
        "ratios": ratio_data,
    }
    return "\n".join(out), data


def _targets(cells: dict[tuple[str, int], Cell], sizes: list[int]) -> list[str]:
    lines = []
    for s in sizes:
        tm, om = cells.get(("ts-memory", s)), cells.get(("optuna-memory", s))
        if tm and om:
            ok = tm.ms <= om.ms
            lines.append(
                f"- In-memory overhead <= Optuna in-memory at {s:,} trials: "
                f"{'met' if ok else 'NOT met'} ({C.fmt_ms(tm.ms)} vs {C.fmt_ms(om.ms)} ms/trial; "
                f"CPU {C.fmt_ms(tm.cpu_ms)} vs {C.fmt_ms(om.cpu_ms)} ms/trial)"
            )
    for s in sizes:
        text, ratio = _ratio(cells.get(("optuna-rdb-sqlite", s)), cells.get(("ts-sqlite", s)))
        if ratio is not None:
            lines.append(
                f"- SQLite >= 10x faster than Optuna RDB-SQLite at {s:,} trials: "
                f"{'met' if ratio >= 10 else 'NOT met'} ({text})"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--quick", action="store_true", help="short smoke run (< 1 minute)")
    p.add_argument("--sizes", default=None, help="comma-separated trial counts")
    p.add_argument("--out", default=None, help="output directory (default benchmarks/results)")
    p.add_argument("--budget", type=float, default=None, help="seconds per run (default 100)")
    p.add_argument(
        "--info-budget",
        type=float,
        default=60.0,
        help="seconds per run of the informational configuration (default 60)",
    )
    p.add_argument("--repeats", type=int, default=None, help="max runs per cell (default 3)")
    p.add_argument(
        "--repeat-budget",
        type=float,
        default=10.0,
        help="repeat a cell only while its runs are expected to stay under this many seconds",
    )
    p.add_argument(
        "--configs",
        default=None,
        help="comma-separated subset of: " + ", ".join(k for k, _, _ in CONFIGS),
    )
    p.add_argument("--no-info", action="store_true", help="skip the informational config")
    args = p.parse_args(argv)

    if args.quick:
        sizes = [50, 200]
        args.budget = args.budget or 3.0
        args.info_budget = min(args.info_budget, 2.0)
        args.repeats = args.repeats or 1
        out_dir = Path(args.out) if args.out else C.RESULTS / "quick"
    else:
        sizes = [100, 1000, 10000]
        args.budget = args.budget or 100.0
        args.repeats = args.repeats or 3
        out_dir = Path(args.out) if args.out else C.RESULTS
    if args.sizes:
        sizes = [int(x.replace("_", "")) for x in args.sizes.split(",") if x.strip()]
    known = [k for k, _, _ in CONFIGS]
    configs = known if args.configs is None else [c.strip() for c in args.configs.split(",")]
    for c in configs:
        if c not in known:
            p.error(f"unknown configuration {c!r}; choose from {', '.join(known)}")
    if args.no_info:
        configs = [c for c in configs if c != "optuna-rdb-sqlite-wal"]

    C.silence_optuna()
    workdir = Path(tempfile.mkdtemp(prefix="tunesmith-bench-overhead-"))
    t0 = time.perf_counter()
    try:
        info = C.machine_info(str(workdir))
        print(f"sizes={sizes} configs={configs} budget={args.budget}s workdir={workdir}")
        cells = measure(
            configs,
            sizes,
            args.repeats,
            args.repeat_budget,
            args.budget,
            min(args.budget, args.info_budget),
            workdir,
            warmup=3 if args.quick else 20,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    info["loadavg_at_end"] = os.getloadavg()
    info["total_runtime_s"] = round(time.perf_counter() - t0, 1)
    md, data = render(cells, configs, sizes, info, args)
    md += f"\nTotal benchmark time: {info['total_runtime_s']:.0f} s.\n"
    C.write_outputs(out_dir, "overhead", md, data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
