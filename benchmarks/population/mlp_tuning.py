"""Tuning an MLP on the digits data: GEGO, GEO, GA and the default sampler at equal evaluations.

In the spirit of the GEGO paper's MNIST experiment (algorithm dossier, section 1.6),
with its flaws removed:

* **No test-set leakage.** The data (scikit-learn's bundled ``load_digits``, 1,797
  8x8 images, pixels divided by 16) is split once, stratified, with a fixed seed into
  train 60 % / validation 20 % / test 20 %. The samplers see only the validation
  accuracy; the configuration with the best validation accuracy of a run (the earliest
  trial on ties) is refitted once on the training set (same seed, so the same model)
  and scored on the test set **once**, at the end.
* **Equal evaluations.** Every method gets ``--budget`` trainings (default 100). The
  GEO/GEGO propensity schedules get the largest length ``T`` whose evaluation cost fits
  the budget. ``gego-paper``'s re-evaluations are real trainings and count.
* **One search space for everybody**, searched continuously by every method (the
  paper's GA had a one-bit learning rate).

Search space (a :class:`tunesmith.Space`; scikit-learn's ``MLPClassifier`` has no
dropout, so its single L2 penalty ``alpha`` is the regularization knob):

======================  ================================  ==================================
parameter               range                             ``MLPClassifier`` argument
======================  ================================  ==================================
``units1``              Int 8..128, log                   ``hidden_layer_sizes[0]``
``units2``              Int 8..128, log                   ``hidden_layer_sizes[1]``
``alpha``               Float 1e-6..1e-1, log             ``alpha`` (L2, all layers)
``batch_size``          Int 16..256, log                  ``batch_size``
``learning_rate_init``  Float 1e-4..1e-1, log             ``learning_rate_init`` (Adam)
``activation``          Categorical relu, tanh            ``activation``
======================  ================================  ==================================

Fixed: ``solver="adam"``, ``max_iter=40`` epochs (``--max-iter``),
``early_stopping=False``, ``random_state=0`` for every trial (a deterministic
objective: a configuration always gives the same model).

Methods (all through a real tunesmith study, ``study.optimize``, one worker):
``gego`` (``GEGOSampler``, default mode), ``gego-paper`` (``paper_exact=True``),
``geo`` (``GEOSampler``), ``ga`` (``GASampler``), all with ``popsize=10``;
``auto`` (the default ``AutoSampler``); ``random`` (``RandomSampler``, a baseline).

Usage (from the repository root)::

    .venv/bin/python -m benchmarks.population.mlp_tuning --budget 100 --seeds 5 --jobs 2
    .venv/bin/python -m benchmarks.population.mlp_tuning --report-only

Each (method, seed) cell is written to ``<out>/cells/B<budget>/<method>/seed<k>.json``
when it finishes (resumable); ``<out>/run_log.jsonl`` keeps one line per invocation;
``<out>/report.md`` and ``report.json`` aggregate the cells.
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
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Mapping, Sequence  # noqa: E402
from functools import cache  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks import _suite  # noqa: E402
from benchmarks._common import REPO, fmt_load, machine_info, machine_lines, package_versions  # noqa: E402

MODULE = "benchmarks.population.mlp_tuning"
DEFAULT_OUT = REPO / "benchmarks" / "results" / "population" / "mlp"
METHODS = ("gego", "gego-paper", "geo", "ga", "auto", "random")
LABELS = {
    "gego": "GEGO",
    "gego-paper": "GEGO paper_exact",
    "geo": "GEO",
    "ga": "GA",
    "auto": "tunesmith default (AutoSampler)",
    "random": "random search",
}
VERSION_PKGS = ("tunesmith", "numpy", "scipy", "scikit-learn")
POPSIZE = 10
SPLIT_SEED = 0
MODEL_SEED = 0


@cache
def data() -> tuple[np.ndarray, ...]:
    """``(X_train, X_val, X_test, y_train, y_val, y_test)``: one stratified 60/20/20 split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=0.2, random_state=SPLIT_SEED, stratify=y
    )
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=0.25, random_state=SPLIT_SEED, stratify=y_rest
    )
    return x_train, x_val, x_test, y_train, y_val, y_test


def space() -> Any:
    """The search space (see the module docstring)."""
    import tunesmith as ts

    return ts.Space(
        {
            "units1": ts.Int(8, 128, log=True),
            "units2": ts.Int(8, 128, log=True),
            "alpha": ts.Float(1e-6, 1e-1, log=True),
            "batch_size": ts.Int(16, 256, log=True),
            "learning_rate_init": ts.Float(1e-4, 1e-1, log=True),
            "activation": ts.Categorical(["relu", "tanh"]),
        }
    )


def fit(params: Mapping[str, Any], max_iter: int) -> Any:
    """Train the MLP of one configuration on the training set."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    x_train, _, _, y_train, _, _ = data()
    model = MLPClassifier(
        hidden_layer_sizes=(int(params["units1"]), int(params["units2"])),
        activation=params["activation"],
        alpha=float(params["alpha"]),
        batch_size=int(params["batch_size"]),
        learning_rate_init=float(params["learning_rate_init"]),
        solver="adam",
        max_iter=max_iter,
        early_stopping=False,
        random_state=MODEL_SEED,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x_train, y_train)
    return model


def schedule_length(method: str, budget: int) -> int:
    """The largest GEO/GEGO schedule length ``T`` whose evaluation cost fits ``budget``."""
    from tunesmith.samplers.population import GEGO, GEO

    d = 6
    probe: Any
    if method == "geo":
        probe = GEO(d, POPSIZE, 0)
    else:
        probe = GEGO(d, POPSIZE, 0, paper_exact=method == "gego-paper")
    t = 1
    while probe.budget(t + 1) <= budget:
        t += 1
    return t


def make_sampler(method: str, budget: int) -> tuple[Any, dict[str, Any]]:
    """The sampler of ``method`` and its settings (for the record)."""
    import tunesmith as ts

    if method in ("gego", "gego-paper", "geo"):
        t = schedule_length(method, budget)
        cfg: dict[str, Any] = {
            "popsize": POPSIZE,
            "n_generations": t,
            "paper_exact": method == "gego-paper",
        }
        cls = ts.GEOSampler if method == "geo" else ts.GEGOSampler
        return cls(**cfg), cfg
    if method == "ga":
        return ts.GASampler(popsize=POPSIZE), {"popsize": POPSIZE}
    if method == "auto":
        return None, {"sampler": "AutoSampler (create_study default)"}
    if method == "random":
        return ts.RandomSampler(), {}
    raise KeyError(f"unknown method {method!r}")


def run_cell(task: dict[str, Any]) -> dict[str, Any]:
    """One (method, seed) cell: a study of ``budget`` trials, then one test-set score."""
    import tunesmith as ts

    logging.getLogger("tunesmith").setLevel(logging.ERROR)
    method, seed, budget, max_iter = task["method"], task["seed"], task["budget"], task["max_iter"]
    _, x_val, x_test, _, y_val, y_test = data()
    sampler, cfg = make_sampler(method, budget)
    study = ts.create_study(direction="maximize", space=space(), sampler=sampler, seed=seed)
    fit_s: list[float] = []

    def objective(trial: Any) -> float:
        t = time.perf_counter()
        acc = float(fit(trial.params, max_iter).score(x_val, y_val))
        fit_s.append(time.perf_counter() - t)
        return acc

    t0, c0 = time.perf_counter(), time.process_time()
    study.optimize(objective, n_trials=budget)
    search_wall, search_cpu = time.perf_counter() - t0, time.process_time() - c0
    values = [float(t.value) for t in study.trials if t.value is not None]
    best = study.best_trial
    assert best.value is not None
    # The single look at the test set: refit the selected configuration, score it once.
    final = fit(best.params, max_iter)
    record = {
        **task,
        "settings": cfg,
        "n_evals": len(study.trials),
        "n_distinct_configs": len(
            {json.dumps(dict(t.params), sort_keys=True) for t in study.trials}
        ),
        "best_val_acc": float(best.value),
        "best_trial": int(best.number),
        "best_params": dict(best.params),
        "refit_val_acc": float(final.score(x_val, y_val)),
        "test_acc": float(final.score(x_test, y_test)),
        "val_acc_per_trial": values,
        "fit_s_mean": float(np.mean(fit_s)),
        "search_wall_s": round(search_wall, 2),
        "search_cpu_s": round(search_cpu, 2),
    }
    if method == "auto":
        record["auto_sampler_log"] = study.system_attrs.get("auto_sampler_log")
    return record


def cell_path(out: Path, task: dict[str, Any]) -> Path:
    """Where a cell's record is kept."""
    return out / "cells" / f"B{task['budget']}" / task["method"] / f"seed{task['seed']}.json"


def run(args: argparse.Namespace, out: Path) -> None:
    """Run the missing cells with ``--jobs`` processes."""
    for m in args.methods:
        if m not in METHODS:
            raise SystemExit(f"unknown method {m!r}; known: {list(METHODS)}")
    tasks, done = [], 0
    for seed in range(args.seeds):
        for method in args.methods:
            task = {
                "method": method,
                "seed": seed,
                "budget": args.budget,
                "max_iter": args.max_iter,
            }
            if cell_path(out, task).exists():
                done += 1
            else:
                tasks.append(task)
    print(f"{len(tasks)} cells to run ({done} already done), {args.jobs} jobs -> {out}", flush=True)
    meta = {
        "command": _suite.module_command_line(MODULE),
        "machine": machine_info(),
        "versions": package_versions(VERSION_PKGS),
        "tunesmith_src": _suite.src_state(with_untracked=True),
        "cells_planned": len(tasks),
    }
    t0 = time.perf_counter()
    n = 0
    if tasks:
        with mp.get_context("fork").Pool(args.jobs) as pool:
            for rec in pool.imap_unordered(run_cell, tasks):
                _suite.write_json_atomic(cell_path(out, rec), rec)
                n += 1
                print(
                    f"  {n}/{len(tasks)} {rec['method']} seed {rec['seed']}: val "
                    f"{rec['best_val_acc']:.4f} test {rec['test_acc']:.4f} "
                    f"({rec['search_wall_s']:.0f} s); {time.perf_counter() - t0:.0f} s",
                    flush=True,
                )
    meta["cells_run"] = n
    meta["wall_s"] = round(time.perf_counter() - t0, 1)
    meta["loadavg_at_end"] = os.getloadavg()
    _suite.append_run_log(out, meta)


def _mean_se(xs: Sequence[float]) -> tuple[float, float]:
    a = np.asarray(xs, dtype=float)
    se = float(a.std(ddof=1) / math.sqrt(a.size)) if a.size > 1 else float("nan")
    return float(a.mean()), se


def report(out: Path) -> None:
    """Aggregate the cells into ``report.md`` and ``report.json``."""
    recs = []
    for path in sorted((out / "cells").glob("B*/*/seed*.json")):
        recs.append(json.loads(path.read_text()))
    runs = []
    if (out / _suite.RUN_LOG).exists():
        lines_ = (out / _suite.RUN_LOG).read_text().splitlines()
        runs = [json.loads(line) for line in lines_ if line.strip()]
    x_train, x_val, x_test, *_ = data()
    lines = [
        "# MLP tuning on the digits data at equal evaluations",
        "",
        "Produced by `benchmarks/population/mlp_tuning.py` (its docstring gives the search "
        "space and every setting). scikit-learn `MLPClassifier` (2 hidden layers, Adam, "
        f"{recs[0]['max_iter'] if recs else '?'} epochs, early stopping off, `random_state=0`) "
        f"on `load_digits`, one stratified split (seed {SPLIT_SEED}): "
        f"{len(x_train)} train / {len(x_val)} validation / {len(x_test)} test rows. "
        "Samplers maximize validation accuracy; the selected configuration (best "
        "validation accuracy) is refitted and scored on the test set once, at the end.",
        "",
        "Search-space mapping (sklearn's MLP has no dropout; its one L2 penalty `alpha` "
        "stands in for the per-layer dropout of the paper's Keras model):",
        "",
        _suite.pipe_table(
            ["parameter", "range", "MLPClassifier argument"],
            [
                ["units1, units2", "Int 8..128, log", "hidden_layer_sizes"],
                ["alpha", "Float 1e-6..1e-1, log", "alpha (L2 on all weights)"],
                ["batch_size", "Int 16..256, log", "batch_size"],
                ["learning_rate_init", "Float 1e-4..1e-1, log", "learning_rate_init"],
                ["activation", "relu / tanh", "activation"],
            ],
        ),
        "",
    ]
    summary_file = out / "summary.md"
    if summary_file.exists():  # a hand-written reading of the tables below
        lines += ["## Summary", "", summary_file.read_text().strip(), ""]
    lines += [
        "## Commands (run log)",
        "",
        "```bash",
        *[r["command"] for r in runs],
        f".venv/bin/python -m {MODULE} --report-only",
        "```",
        "",
    ]
    for r in runs:
        le = r.get("loadavg_at_end")
        lines.append(
            f"- started {r['machine']['date_utc']}: {r['cells_run']} cells in {r['wall_s']:.0f} s "
            f"wall; load average at start {fmt_load(r['machine']['loadavg_at_start'])}"
            + (f", at end {fmt_load(le)}" if le else "")
            + f"; tunesmith source {r['tunesmith_src']}"
        )
    if runs:
        lines += ["", "Machine (first invocation):", "", *machine_lines(runs[0]["machine"])]
        vs = ", ".join(f"{k} {v}" for k, v in runs[-1]["versions"].items())
        lines.append(f"- Benchmark packages: {vs}")
    lines.append("")
    data_out: dict[str, Any] = {"runs": runs, "budgets": {}}
    for budget in sorted({r["budget"] for r in recs}):
        rb = [r for r in recs if r["budget"] == budget]
        methods = [m for m in METHODS if any(r["method"] == m for r in rb)]
        summary: dict[str, Any] = {}
        rows = []
        for m in methods:
            rr = sorted((r for r in rb if r["method"] == m), key=lambda r: r["seed"])
            val = _mean_se([r["best_val_acc"] for r in rr])
            test = _mean_se([r["test_acc"] for r in rr])
            # best-so-far validation accuracy after 25 %, 50 % of the budget
            halves = {
                f: _mean_se([max(r["val_acc_per_trial"][: max(1, int(f * budget))]) for r in rr])
                for f in (0.25, 0.5)
            }
            summary[m] = {
                "seeds": [r["seed"] for r in rr],
                "best_val_acc": {"mean": val[0], "se": val[1]},
                "test_acc": {"mean": test[0], "se": test[1]},
                "best_val_acc_at_25pct": halves[0.25][0],
                "best_val_acc_at_50pct": halves[0.5][0],
                "n_evals": sorted({r["n_evals"] for r in rr}),
                "distinct_configs_mean": float(np.mean([r["n_distinct_configs"] for r in rr])),
                "settings": rr[0]["settings"],
                "search_wall_s_mean": float(np.mean([r["search_wall_s"] for r in rr])),
                "fit_s_mean": float(np.mean([r["fit_s_mean"] for r in rr])),
                "per_seed": [
                    {
                        "seed": r["seed"],
                        "best_val_acc": r["best_val_acc"],
                        "test_acc": r["test_acc"],
                        "best_params": r["best_params"],
                    }
                    for r in rr
                ],
            }
            s = summary[m]
            rows.append(
                [
                    LABELS[m],
                    str(len(rr)),
                    f"{val[0]:.4f} ± {val[1]:.4f}",
                    f"{test[0]:.4f} ± {test[1]:.4f}",
                    f"{s['best_val_acc_at_25pct']:.4f} / {s['best_val_acc_at_50pct']:.4f}",
                    ", ".join(map(str, s["n_evals"])),
                    f"{s['distinct_configs_mean']:.1f}",
                    ", ".join(f"{k}={v}" for k, v in s["settings"].items() if k != "sampler")
                    or "-",
                    f"{s['search_wall_s_mean']:.0f}",
                ]
            )
        # Two-sided Mann-Whitney U tests against GEGO (default mode), over seeds.
        if "gego" in summary:
            from scipy.stats import mannwhitneyu

            ref = summary["gego"]["per_seed"]
            for m, row in zip(methods, rows, strict=True):
                ps = []
                for key in ("best_val_acc", "test_acc"):
                    a = [p[key] for p in ref]
                    b = [p[key] for p in summary[m]["per_seed"]]
                    pv = 1.0 if m == "gego" else float(mannwhitneyu(a, b).pvalue)
                    summary[m][f"p_vs_gego_{key}"] = pv
                    ps.append(f"{pv:.2f}")
                row.append(" / ".join(ps) if m != "gego" else "-")
        data_out["budgets"][str(budget)] = summary
        lines += [
            f"## Budget: {budget} evaluations per run",
            "",
            "Mean ± standard error over seeds. 'val @25 % / @50 %': best validation accuracy "
            "after a quarter / half of the budget. 'distinct': distinct configurations "
            "among the evaluations (re-evaluations and repeats do not count). 'p vs GEGO': "
            "two-sided Mann-Whitney U test against GEGO over seeds. One validation "
            f"sample is {1 / len(x_val):.4f} of accuracy, one test sample "
            f"{1 / len(x_test):.4f}.",
            "",
            _suite.pipe_table(
                [
                    "method",
                    "seeds",
                    "best validation acc.",
                    "test acc. of selected config",
                    "val @25 % / @50 %",
                    "evaluations",
                    "distinct",
                    "settings",
                    "wall s / run",
                    "p vs GEGO (val / test)",
                ],
                rows,
            ),
            "",
            "Per seed (validation / test accuracy of the selected configuration):",
            "",
        ]
        seeds = sorted({r["seed"] for r in rb})
        prow = []
        for m in methods:
            by_seed = {p["seed"]: p for p in summary[m]["per_seed"]}
            prow.append(
                [LABELS[m]]
                + [
                    f"{by_seed[s]['best_val_acc']:.4f} / {by_seed[s]['test_acc']:.4f}"
                    if s in by_seed
                    else "-"
                    for s in seeds
                ]
            )
        lines += [_suite.pipe_table(["method", *[f"seed {s}" for s in seeds]], prow), ""]
    _suite.write_report(out, "\n".join(lines) + "\n", data_out)


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budget", type=int, default=100, help="trainings per run (default 100)")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--methods", nargs="+", default=list(METHODS))
    ap.add_argument("--max-iter", type=int, default=40, help="epochs per training")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    _suite.add_report_flags(ap)
    return ap.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the requested cells, then write the report."""
    return _suite.run_then_report(parse(argv), run, report)


if __name__ == "__main__":
    sys.exit(main())
