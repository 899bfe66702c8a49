"""Population engines, CMA-ES and the default sampler on the official CEC2017 suite.

Every method gets the **same number of function evaluations** (the GEGO paper matched
iterations instead, which gave GEGO about 40 % more evaluations; see the algorithm
dossier, section 1.7). The functions are the official ones (:mod:`benchmarks.cec2017`,
validated against the competition's C code): F1 and F3-F30 (F2 is excluded by the
competition), box ``[-100, 100]^D``, metric ``f(x_best) - f*`` with ``f* = 100 func``.

Methods (``--methods``; population size ``--popsize`` for all population engines):

=============  ==============================================================================
``gego``       :class:`~tunesmith.samplers.population.GEGO`, default mode (no re-evaluations)
``gego-paper`` GEGO with ``paper_exact=True`` (the authors' code: ``N + 1`` re-evaluations
               per genetic block, origin reset)
``geo``        :class:`~tunesmith.samplers.population.GEO`, default mode (original GEO)
``ga``         real-coded GA (SBX, polynomial mutation, 2 elites), defaults
``pso``        global-best PSO, constriction defaults
``de``         DE rand/1/bin, ``F = 0.5, CR = 0.9``
``jade``       DE current-to-pbest/1/bin with JADE adaptation (``adaptive=True``), the
               setting the docs recommend
``cmaes``      ``cmaes.CMA`` driven by ask/tell in the unit cube, default population
               ``4 + floor(3 ln D)``, mean uniform in the box, ``sigma0 = 0.3`` of the box
               width (Hansen's recommendation), IPOP restarts (population x2 whenever
               ``should_stop()``)
``auto``       tunesmith's default sampler (``AutoSampler``) through a real study
               ``ask``/``suggest_float``/``tell`` loop, one trial per evaluation
=============  ==============================================================================

GEO and GEGO get the largest schedule length ``T`` whose evaluation cost
(``engine.budget(T)``) fits the budget, so their propensity schedules end with the
budget. A batch that does not fit the budget is not evaluated (``minimize``); the
evaluations actually used are recorded per cell.

Usage (from the repository root)::

    .venv/bin/python -m benchmarks.population.official_cec2017 --dim 10 --budget 1000 \\
        --popsize 20 --seeds 10 --auto-seeds 5 --jobs 2
    .venv/bin/python -m benchmarks.population.official_cec2017 --dim 30 --budget 30000 \\
        --popsize 50 --seeds 10 --methods engines --jobs 2
    .venv/bin/python -m benchmarks.population.official_cec2017 --report-only

Each (regime, function, method, seed) cell is written to
``<out>/cells/D<dim>_B<budget>/F<func>/<method>/seed<k>.json`` as soon as it finishes,
so an interrupted run continues where it stopped. ``<out>/run_log.jsonl`` keeps one line
per invocation (command, machine, load average, versions, wall time); the report
(``<out>/report.md`` and ``report.json``) aggregates every regime found in the cells.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy is imported: one thread per process

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import math  # noqa: E402
import multiprocessing as mp  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks import _suite  # noqa: E402
from benchmarks._common import (  # noqa: E402
    REPO,
    fmt_load,
    machine_info,
    machine_lines,
    package_versions,
)
from benchmarks.cec2017 import cec2017  # noqa: E402

MODULE = "benchmarks.population.official_cec2017"
DEFAULT_OUT = REPO / "benchmarks" / "results" / "population" / "official"
FUNCS: tuple[int, ...] = (1, *range(3, 31))
LOWER, UPPER = -100.0, 100.0
ENGINES = ("gego", "gego-paper", "geo", "ga", "pso", "de", "jade", "cmaes")
METHODS = (*ENGINES, "auto")
METHOD_SETS = {"all": METHODS, "engines": ENGINES}
VERSION_PKGS = ("tunesmith", "numpy", "scipy", "cmaes", "scikit-learn")
#: fractions of the budget at which the best-so-far error is recorded (the curve).
CHECKPOINTS = (0.01, 0.03, 0.1, 0.3, 1.0)
#: methods with fewer seeds than this are shown but not ranked.
MIN_SEEDS = 5
#: CEC2017 function groups (official numbering).
GROUPS = {
    "unimodal (F1, F3)": (1, 3),
    "simple multimodal (F4-F10)": tuple(range(4, 11)),
    "hybrid (F11-F20)": tuple(range(11, 21)),
    "composition (F21-F30)": tuple(range(21, 31)),
}
LABELS = {
    "gego": "GEGO",
    "gego-paper": "GEGO paper_exact",
    "geo": "GEO",
    "ga": "GA",
    "pso": "PSO",
    "de": "DE rand/1/bin",
    "jade": "DE c-t-pbest/1 (JADE)",
    "cmaes": "CMA-ES (IPOP)",
    "auto": "tunesmith default (AutoSampler)",
}


# ----------------------------------------------------------------------------------------
# one cell
# ----------------------------------------------------------------------------------------


class Tracker:
    """A counting wrapper around a batch objective: best value and a best-so-far curve.

    Args:
        f: maps points ``(k, D)`` in the box to values ``(k,)``.
        budget: the evaluation budget, for the checkpoints of the curve.
        optimum: ``f*``, subtracted to report errors.
    """

    def __init__(self, f: Callable[[np.ndarray], np.ndarray], budget: int, optimum: float) -> None:
        self.f = f
        self.optimum = optimum
        self.n = 0
        self.best = math.inf
        self.best_x: np.ndarray | None = None
        self._marks = sorted({max(1, round(c * budget)) for c in CHECKPOINTS})
        self.curve: list[list[float]] = []

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Evaluate a batch, update the best value and the curve."""
        y = np.asarray(self.f(np.atleast_2d(x)), dtype=float)
        for i, v in enumerate(y):
            self.n += 1
            if v < self.best:
                self.best = float(v)
                self.best_x = np.array(x[i], dtype=float)
            while self._marks and self.n >= self._marks[0]:
                self.curve.append([self._marks.pop(0), self.best - self.optimum])
        return y


def _schedule_length(engine_factory: Callable[[int], Any], budget: int) -> int:
    """The largest ``T`` whose evaluation cost ``engine.budget(T)`` fits ``budget``."""
    probe = engine_factory(1)
    t = 1
    while probe.budget(t + 1) <= budget:
        t += 1
    return t


def _engine(method: str, dim: int, popsize: int, budget: int, rng: np.random.Generator) -> Any:
    """Build the population engine of ``method`` (schedules sized to the budget)."""
    from tunesmith.samplers.population import DE, GA, GEGO, GEO, PSO

    box = (LOWER, UPPER)
    if method in ("gego", "gego-paper"):
        paper = method == "gego-paper"

        def gego(t: int) -> Any:
            return GEGO(dim, popsize, rng, n_iter=t, bounds=box, paper_exact=paper)

        return gego(_schedule_length(gego, budget))
    if method == "geo":

        def geo(t: int) -> Any:
            return GEO(dim, popsize, rng, n_iter=t, bounds=box)

        return geo(_schedule_length(geo, budget))
    if method == "ga":
        return GA(dim, popsize, rng)
    if method == "pso":
        return PSO(dim, popsize, rng)
    if method == "de":
        return DE(dim, popsize, rng, strategy="rand1bin")
    if method == "jade":
        return DE(dim, popsize, rng, strategy="current_to_pbest1bin", adaptive=True)
    raise KeyError(f"unknown engine {method!r}")


def _run_cmaes(track: Tracker, dim: int, budget: int, rng: np.random.Generator) -> dict[str, Any]:
    """CMA-ES (``cmaes.CMA``) with IPOP restarts in the unit cube until the budget is spent.

    A generation that does not fit the remaining budget is not evaluated.
    """
    from cmaes import CMA

    width = UPPER - LOWER
    bounds = np.tile([0.0, 1.0], (dim, 1))
    popsize: int | None = None
    popsizes: list[int] = []
    while True:
        opt = CMA(
            mean=rng.uniform(0.0, 1.0, dim),
            sigma=0.3,
            bounds=bounds,
            seed=int(rng.integers(2**31 - 1)),
            population_size=popsize,
        )
        popsizes.append(opt.population_size)
        while True:
            lam = opt.population_size
            if track.n + lam > budget:
                return {"restarts": len(popsizes) - 1, "popsizes": popsizes}
            xs = np.array([opt.ask() for _ in range(lam)])
            ys = track(LOWER + xs * width)
            opt.tell(list(zip(xs, ys, strict=True)))
            if opt.should_stop():
                popsize = 2 * lam
                break


def _run_auto(track: Tracker, dim: int, budget: int, seed: int) -> dict[str, Any]:
    """tunesmith's default sampler through a study ask/tell loop, one trial per evaluation."""
    import tunesmith as ts

    logging.getLogger("tunesmith").setLevel(logging.ERROR)
    study = ts.create_study(direction="minimize", seed=seed)
    names = [f"x{j}" for j in range(dim)]
    for _ in range(budget):
        trial = study.ask()
        x = np.array([trial.suggest_float(n, LOWER, UPPER) for n in names])
        study.tell(trial, float(track(x[None, :])[0]))
    return {"auto_sampler_log": study.system_attrs.get("auto_sampler_log")}


def cell_seed(seed: int, func: int, dim: int) -> int:
    """The integer seed of one cell (distinct per function and dimension)."""
    return int(np.random.SeedSequence([seed, func, dim]).generate_state(1)[0])


def run_cell(task: dict[str, Any]) -> dict[str, Any]:
    """Run one (function, method, seed) cell and return its record."""
    from tunesmith.samplers.population import minimize

    dim, budget, func = task["dim"], task["budget"], task["func"]
    method, seed, popsize = task["method"], task["seed"], task["popsize"]
    f = cec2017(func, dim)
    track = Tracker(f, budget, f.optimum)
    s = cell_seed(seed, func, dim)
    rng = np.random.default_rng(s)
    extra: dict[str, Any] = {}
    t0, c0 = time.perf_counter(), time.process_time()
    if method == "cmaes":
        extra = _run_cmaes(track, dim, budget, rng)
    elif method == "auto":
        extra = _run_auto(track, dim, budget, s)
    else:
        eng = _engine(method, dim, popsize, budget, rng)
        minimize(eng, track, max_evals=budget, lower=LOWER, upper=UPPER)
        extra = {"iterations": int(eng.iteration)}
        if hasattr(eng, "n_iter"):
            extra["schedule_T"] = int(eng.n_iter)
    return {
        **task,
        "error": track.best - f.optimum,
        "n_evals": track.n,
        "curve": track.curve,
        "wall_s": round(time.perf_counter() - t0, 3),
        "cpu_s": round(time.process_time() - c0, 3),
        "host": platform.node(),
        **extra,
    }


# ----------------------------------------------------------------------------------------
# running
# ----------------------------------------------------------------------------------------


def regime_key(dim: int, budget: int) -> str:
    """The folder name of a regime."""
    return f"D{dim}_B{budget}"


def cell_path(out: Path, task: dict[str, Any]) -> Path:
    """Where a cell's record is kept."""
    return (
        out
        / "cells"
        / regime_key(task["dim"], task["budget"])
        / f"F{task['func']:02d}"
        / task["method"]
        / f"seed{task['seed']}.json"
    )


def plan(args: argparse.Namespace, out: Path) -> tuple[list[dict[str, Any]], int]:
    """The cells still to run (longest methods first) and how many are already done."""
    methods = _suite.expand_names(args.methods, METHOD_SETS, dict.fromkeys(METHODS), "method")
    tasks, done = [], 0
    for method in sorted(methods, key=lambda m: m != "auto"):
        n_seeds = args.auto_seeds if method == "auto" else args.seeds
        for seed in range(n_seeds):
            for func in args.funcs:
                task = {
                    "dim": args.dim,
                    "budget": args.budget,
                    "func": func,
                    "method": method,
                    "seed": seed,
                    "popsize": args.popsize,
                }
                if cell_path(out, task).exists():
                    done += 1
                else:
                    tasks.append(task)
    return tasks, done


def run(args: argparse.Namespace, out: Path) -> None:
    """Run the planned cells with ``--jobs`` processes, writing each record when done."""
    tasks, done = plan(args, out)
    print(f"{len(tasks)} cells to run ({done} already done), {args.jobs} jobs -> {out}", flush=True)
    meta = {
        "command": _suite.module_command_line(MODULE),
        "machine": machine_info(),
        "versions": package_versions(VERSION_PKGS),
        "tunesmith_src": _suite.src_state(with_untracked=True),
        "regime": regime_key(args.dim, args.budget),
        "cells_planned": len(tasks),
    }
    t0 = time.perf_counter()
    n = 0
    if tasks:
        with mp.get_context("fork").Pool(args.jobs, maxtasksperchild=200) as pool:
            for rec in pool.imap_unordered(run_cell, tasks):
                _suite.write_json_atomic(cell_path(out, rec), rec)
                n += 1
                if n % 50 == 0 or n == len(tasks):
                    print(f"  {n}/{len(tasks)} cells, {time.perf_counter() - t0:.0f} s", flush=True)
    meta["cells_run"] = n
    meta["wall_s"] = round(time.perf_counter() - t0, 1)
    meta["loadavg_at_end"] = os.getloadavg()
    _suite.append_run_log(out, meta)


# ----------------------------------------------------------------------------------------
# report
# ----------------------------------------------------------------------------------------


def load_cells(out: Path) -> dict[str, list[dict[str, Any]]]:
    """All cell records, by regime folder."""
    by: dict[str, list[dict[str, Any]]] = {}
    for path in sorted((out / "cells").glob("D*_B*/F*/*/seed*.json")):
        try:
            rec = json.loads(path.read_text())
        except json.JSONDecodeError:
            continue
        by.setdefault(path.parts[-4], []).append(rec)
    return by


def fmt_err(x: float) -> str:
    """An error value with 3 significant digits."""
    if x == 0:
        return "0"
    if 1e-2 <= abs(x) < 1e5:
        return f"{x:.3g}"
    return f"{x:.2e}"


def summarize(recs: list[dict[str, Any]], min_seeds: int = 1) -> dict[str, Any]:
    """Per-function statistics, ranks, wins and pairwise tests of one regime.

    Methods with fewer than ``min_seeds`` seeds get per-function statistics but take no
    part in the ranks, wins and tests (listed under ``unranked``).
    """
    from scipy.stats import mannwhitneyu, rankdata

    present = [m for m in METHODS if any(r["method"] == m for r in recs)]
    n_seeds = {m: len({r["seed"] for r in recs if r["method"] == m}) for m in present}
    methods = [m for m in present if n_seeds[m] >= min_seeds]
    unranked = [m for m in present if n_seeds[m] < min_seeds]
    funcs = sorted({r["func"] for r in recs})
    errs: dict[tuple[int, str], list[float]] = {}
    for r in recs:
        errs.setdefault((r["func"], r["method"]), []).append(float(r["error"]))
    # Only functions every method has a cell on take part in the ranking.
    full = [fn for fn in funcs if all((fn, m) in errs for m in methods)]
    per_func: dict[int, dict[str, Any]] = {}
    ranks: dict[str, list[float]] = {m: [] for m in methods}
    wins = dict.fromkeys(methods, 0.0)
    for fn in funcs:
        row = {}
        for m in present:
            e = np.array(errs.get((fn, m), []))
            if e.size:
                se = float(e.std(ddof=1) / math.sqrt(e.size)) if e.size > 1 else float("nan")
                row[m] = {"mean": float(e.mean()), "se": se, "median": float(np.median(e))}
                row[m]["n"] = int(e.size)
        per_func[fn] = row
        if fn in full:
            means = [row[m]["mean"] for m in methods]
            rk = rankdata(means, method="average")
            for m, v in zip(methods, rk, strict=True):
                ranks[m].append(float(v))
                row[m]["rank"] = float(v)
            best = [m for m, v in zip(methods, rk, strict=True) if v == rk.min()]
            for m in best:
                wins[m] += 1.0 / len(best)
    mean_rank = {m: float(np.mean(v)) if v else float("nan") for m, v in ranks.items()}
    group_rank = {
        g: {
            m: float(np.mean([per_func[fn][m]["rank"] for fn in fns if fn in full]))
            for m in methods
        }
        for g, fns in GROUPS.items()
        if any(fn in full for fn in fns)
    }
    pairwise: dict[str, dict[str, int]] = {}
    for ref in ("gego", "gego-paper"):
        if ref not in methods:
            continue
        for m in methods:
            if m == ref or (ref == "gego-paper" and m not in ("gego", "geo")):
                continue
            better = worse = tie = 0
            for fn in full:
                a, b = errs[(fn, ref)], errs[(fn, m)]
                same = len(a) == len(b) and np.allclose(a, b)
                p = 1.0 if same else float(mannwhitneyu(a, b).pvalue)
                if p >= 0.05:
                    tie += 1
                elif np.median(a) < np.median(b):
                    better += 1
                else:
                    worse += 1
            pairwise[f"{ref} vs {m}"] = {"better": better, "worse": worse, "no_sig_diff": tie}
    cost: dict[str, dict[str, Any]] = {}
    for m in present:
        rr = [r for r in recs if r["method"] == m]
        cost[m] = {
            "cells": len(rr),
            "seeds": len({r["seed"] for r in rr}),
            "cpu_s_mean": float(np.mean([r["cpu_s"] for r in rr])),
            "evals_min": int(min(r["n_evals"] for r in rr)),
            "evals_max": int(max(r["n_evals"] for r in rr)),
        }
        ts = sorted({r["schedule_T"] for r in rr if "schedule_T" in r})
        if ts:
            cost[m]["schedule_T"] = ts
    return {
        "methods": methods,
        "unranked": unranked,
        "functions": funcs,
        "ranked_functions": full,
        "per_function": {str(k): v for k, v in per_func.items()},
        "mean_rank": mean_rank,
        "wins": wins,
        "group_mean_rank": group_rank,
        "pairwise_mann_whitney_0.05": pairwise,
        "cost": cost,
    }


def regime_markdown(key: str, recs: list[dict[str, Any]], s: dict[str, Any]) -> list[str]:
    """The Markdown section of one regime."""
    dim, budget = recs[0]["dim"], recs[0]["budget"]
    popsize = recs[0]["popsize"]
    methods = s["methods"]
    order = sorted(methods, key=lambda m: s["mean_rank"][m])
    lines = [
        f"## D = {dim}, {budget:,} evaluations (`{key}`)",
        "",
        f"Population engines: N = {popsize}. Ranks are over the {len(s['ranked_functions'])} "
        "functions every method has cells for, by mean error within each function "
        "(1 = best; ties share the average rank); a win is a rank-1 place (shared wins are "
        "split).",
        "",
    ]
    rows = []
    for m in order:
        c = s["cost"][m]
        ev = (
            f"{c['evals_min']:,}"
            if c["evals_min"] == c["evals_max"]
            else f"{c['evals_min']:,}-{c['evals_max']:,}"
        )
        sched = f" (T = {', '.join(map(str, c['schedule_T']))})" if "schedule_T" in c else ""
        rows.append(
            [
                LABELS[m],
                f"{s['mean_rank'][m]:.2f}",
                f"{s['wins'][m]:g}",
                str(c["seeds"]),
                ev + sched,
                f"{c['cpu_s_mean']:.2f}",
            ]
        )
    lines += [
        _suite.pipe_table(
            ["method", "mean rank", "wins", "seeds", "evaluations used", "CPU s / run"], rows
        ),
        "",
        "Mean rank by function group:",
        "",
    ]
    groups = list(s["group_mean_rank"])
    rows = [[LABELS[m]] + [f"{s['group_mean_rank'][g][m]:.2f}" for g in groups] for m in order]
    lines += [_suite.pipe_table(["method", *groups], rows), ""]
    if s["pairwise_mann_whitney_0.05"]:
        lines += [
            "GEGO against each method, function by function (two-sided Mann-Whitney U test on "
            "the final errors, p < 0.05; better/worse by median): number of functions.",
            "",
        ]
        rows = [
            [k.replace(" vs ", " vs "), str(v["better"]), str(v["worse"]), str(v["no_sig_diff"])]
            for k, v in s["pairwise_mann_whitney_0.05"].items()
        ]
        lines += [
            _suite.pipe_table(["pair", "GEGO better", "GEGO worse", "no sig. diff."], rows),
            "",
        ]
    cols = order + s["unranked"]
    lines += [
        "Per-function error f(x_best) - f*, mean ± standard error over seeds (rank in "
        "brackets; bold: rank 1)"
        + (
            f"; the last column(s) ({', '.join(LABELS[m] for m in s['unranked'])}) have too "
            "few seeds to be ranked"
            if s["unranked"]
            else ""
        )
        + ":",
        "",
    ]
    rows = []
    for fn in s["functions"]:
        row = s["per_function"][str(fn)]
        cells = []
        for m in cols:
            st = row.get(m)
            if st is None:
                cells.append("-")
                continue
            se = "" if math.isnan(st["se"]) else f" ± {fmt_err(st['se'])}"
            rk = f" ({st['rank']:g})" if "rank" in st else ""
            txt = f"{fmt_err(st['mean'])}{se}{rk}"
            cells.append(f"**{txt}**" if st.get("rank") == 1 else txt)
        rows.append([f"F{fn}", *cells])
    lines += [_suite.pipe_table(["fn", *[LABELS[m] for m in cols]], rows), ""]
    return lines


def common_seed_markdown(recs: list[dict[str, Any]]) -> tuple[list[str], dict[str, Any] | None]:
    """Mean ranks and wins of every method over the seeds all methods share.

    A check that unequal seed counts do not drive the ranking (and the only ranking
    that includes a method run with few seeds). Empty when every method has the same
    seeds.
    """
    methods = {r["method"] for r in recs}
    seeds = {m: {r["seed"] for r in recs if r["method"] == m} for m in methods}
    common = set.intersection(*seeds.values())
    if not common or all(v == common for v in seeds.values()):
        return [], None
    sub = [r for r in recs if r["seed"] in common]
    s = summarize(sub)
    order = sorted(s["methods"], key=lambda m: s["mean_rank"][m])
    rows = [[LABELS[m], f"{s['mean_rank'][m]:.2f}", f"{s['wins'][m]:g}"] for m in order]
    lines = [
        f"Every method on the seeds all methods share ({', '.join(map(str, sorted(common)))}), "
        f"{len(s['ranked_functions'])} functions"
        + (" (a single run per function: a noisy ranking)" if len(common) == 1 else "")
        + ":",
        "",
        _suite.pipe_table(["method", "mean rank", "wins"], rows),
        "",
    ]
    return lines, {"seeds": sorted(common), "mean_rank": s["mean_rank"], "wins": s["wins"]}


def report(out: Path) -> None:
    """Aggregate every regime found under ``<out>/cells`` into ``report.md``/``.json``."""
    by = load_cells(out)
    runs = []
    log = out / _suite.RUN_LOG
    if log.exists():
        runs = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    lines = [
        "# Population engines on the official CEC2017 suite, at equal evaluations",
        "",
        "Produced by `benchmarks/population/official_cec2017.py` (see its docstring for the "
        "methods and settings). Functions: official CEC2017 F1, F3-F30 "
        "(`benchmarks/cec2017`, validated against the competition's C code), box "
        "[-100, 100]^D, metric: error f(x_best) - f* with f* = 100 func, lower is better. "
        "Every method gets the same number of function evaluations.",
        "",
    ]
    summary = out / "summary.md"
    if summary.exists():  # a hand-written reading of the tables below
        lines += ["## Summary", "", summary.read_text().strip(), ""]
    lines += [
        "## Commands (run log)",
        "",
        "```bash",
    ]
    for r in runs:
        lines.append(r["command"])
    lines += [f".venv/bin/python -m {MODULE} --report-only", "```", ""]
    for r in runs:
        le = r.get("loadavg_at_end")
        lines.append(
            f"- `{r['regime']}`: started {r['machine']['date_utc']}, {r['cells_run']} cells in "
            f"{r['wall_s']:.0f} s wall; load average at start "
            f"{fmt_load(r['machine']['loadavg_at_start'])}"
            + (f", at end {fmt_load(le)}" if le else "")
        )
    lines += ["", "Machine and software of each invocation:", ""]
    for r in runs:
        m = r["machine"]
        vs = ", ".join(f"{k} {v}" for k, v in r["versions"].items())
        lines.append(
            f"- `{r['regime']}`, `{r['command'].split(' -m ')[0]}`: {m['cpu_model']}, "
            f"{m['cpu_count']} logical CPUs, {m['platform']}, Python {m['python']}; {vs}; "
            f"tunesmith source {r['tunesmith_src']}"
        )
    if runs:
        lines += ["", "Machine of the first invocation, in full:", ""]
        lines += machine_lines(runs[0]["machine"])
    lines.append("")
    data: dict[str, Any] = {"runs": runs, "regimes": {}}
    for key in sorted(by, key=lambda k: int(k.split("_")[0][1:])):
        s = summarize(by[key], min_seeds=MIN_SEEDS)
        data["regimes"][key] = s
        lines += regime_markdown(key, by[key], s)
        extra, common = common_seed_markdown(by[key])
        lines += extra
        s["common_seeds"] = common
    notes = out / "notes.md"
    if notes.exists():
        lines += ["## Notes", "", notes.read_text().strip(), ""]
    _suite.write_report(out, "\n".join(lines) + "\n", data)


# ----------------------------------------------------------------------------------------
# command line
# ----------------------------------------------------------------------------------------


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dim", type=int, default=10)
    ap.add_argument("--budget", type=int, default=1000, help="evaluations per run")
    ap.add_argument("--popsize", type=int, default=20, help="population of the engines")
    ap.add_argument("--seeds", type=int, default=10, help="seeds of every method but auto")
    ap.add_argument("--auto-seeds", type=int, default=5, help="seeds of the default sampler")
    ap.add_argument(
        "--methods", nargs="+", default=["all"], help=f"names or sets {sorted(METHOD_SETS)}"
    )
    ap.add_argument("--funcs", type=int, nargs="+", default=list(FUNCS))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    _suite.add_report_flags(ap)
    return ap.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the requested cells, then write the report."""
    return _suite.run_then_report(parse(argv), run, report)


if __name__ == "__main__":
    sys.exit(main())
