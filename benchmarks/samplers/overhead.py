"""Per-trial cost of the model-based samplers at a given study size, tunesmith vs Optuna.

``python -m benchmarks.samplers.overhead [--quick] [--out benchmarks/results/samplers]``

For each study size N the study is first filled with N finished trials (random points of
a 10-D objective, ``add_trial`` / ``add_trials``, not timed), then ``--asks`` trials are
run through the same define-by-run loop as the quality benchmark (``ask``, ten
``suggest_float``, ``tell``) and timed one by one. The first of them is reported apart
(it builds the sampler's caches for the whole history); the table gives the median of
the others: the marginal cost of one trial when the study holds N trials.

* TPE (``ts-tpe`` vs ``optuna-tpe``, defaults) at N = 100, 1,000, 10,000;
* GP (``ts-gp`` vs ``optuna-gp``, defaults) at N = 100, 300.

Writes ``<out>/overhead.md`` and ``overhead.json`` (the report embeds it).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import datetime as _dt  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks._common import module_command_line  # noqa: E402
from benchmarks.samplers.run import versions  # noqa: E402

D = 10
LOW, HIGH = -5.0, 5.0
NAMES = [f"x{i}" for i in range(D)]


def objective(x: np.ndarray) -> float:
    return float(np.sum((x - 1.0) ** 2) + np.sum(np.sin(3 * x)))


def _points(n: int, seed: int) -> tuple[np.ndarray, list[float]]:
    X = np.random.default_rng(seed).uniform(LOW, HIGH, size=(n, D))
    return X, [objective(x) for x in X]


def _ts_study(kind: str, n: int, seed: int) -> Any:
    import tunesmith as ts

    logging.getLogger("tunesmith").setLevel(logging.ERROR)
    if kind == "tpe":
        sampler = ts.TPESampler(seed=seed)
    else:
        from tunesmith.samplers.gp import GPSampler

        sampler = GPSampler(seed=seed)
    study = ts.create_study(direction="minimize", sampler=sampler, seed=seed)
    X, y = _points(n, seed)
    dists = {name: ts.Float(LOW, HIGH) for name in NAMES}
    for x, v in zip(X, y, strict=True):
        study.add_trial(dict(zip(NAMES, map(float, x), strict=True)), v, distributions=dists)
    return study


def _optuna_study(kind: str, n: int, seed: int) -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    if kind == "tpe":
        sampler = optuna.samplers.TPESampler(seed=seed)
    else:
        import torch

        torch.set_num_threads(1)
        sampler = optuna.samplers.GPSampler(seed=seed)
    study = optuna.create_study(direction="minimize", sampler=sampler)
    X, y = _points(n, seed)
    dists = {name: optuna.distributions.FloatDistribution(LOW, HIGH) for name in NAMES}
    study.add_trials(
        [
            optuna.trial.create_trial(
                params=dict(zip(NAMES, map(float, x), strict=True)), distributions=dists, value=v
            )
            for x, v in zip(X, y, strict=True)
        ]
    )
    return study


def time_asks(study: Any, asks: int, budget_s: float) -> list[float]:
    out = []
    t_start = time.perf_counter()
    for _ in range(asks):
        t0 = time.perf_counter()
        trial = study.ask()
        x = np.array([trial.suggest_float(n, LOW, HIGH) for n in NAMES])
        study.tell(trial, objective(x))
        out.append(time.perf_counter() - t0)
        if time.perf_counter() - t_start > budget_s:
            break
    return out


def measure(kind: str, sizes: list[int], asks: int, budget_s: float) -> list[dict[str, Any]]:
    rows = []
    for n in sizes:
        for lib, make in (("tunesmith", _ts_study), ("optuna", _optuna_study)):
            try:
                t0 = time.perf_counter()
                study = make(kind, n, seed=0)
                fill_s = time.perf_counter() - t0
                ts_ = time_asks(study, asks, budget_s)
                rows.append(
                    {
                        "sampler": kind,
                        "library": lib,
                        "n_trials": n,
                        "fill_s": fill_s,
                        "first_ms": ts_[0] * 1e3,
                        "median_ms": statistics.median(ts_[1:] or ts_) * 1e3,
                        "mean_ms": statistics.fmean(ts_[1:] or ts_) * 1e3,
                        "n_timed": len(ts_),
                    }
                )
            except Exception as exc:
                rows.append(
                    {"sampler": kind, "library": lib, "n_trials": n, "error": repr(exc)[:300]}
                )
            print(rows[-1], flush=True)
    return rows


def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.0f}" if x >= 100 else f"{x:.1f}" if x >= 1 else f"{x:.2f}"


def render(rows: list[dict[str, Any]], cmd: str) -> str:
    lines = [
        f"Command: `{cmd}` ({_dt.datetime.now(_dt.UTC):%Y-%m-%d %H:%M UTC}, load average "
        f"{'/'.join(f'{x:.2f}' for x in os.getloadavg())}). 10-D define-by-run objective; "
        "the study is pre-filled with N random finished trials, then each trial's "
        "ask + 10 suggest_float + tell is timed: mean (and median) of the timed trials "
        "after the first (first = cache build for the whole history). The mean includes "
        "amortized work (tunesmith's GP refits its kernel parameters every time the "
        "observations grow by 5 % from 100 on: at least one refit falls in the timed "
        "trials), so the ratio uses means.",
        "",
        "| sampler | trials in study | tunesmith ms/trial (mean) | Optuna ms/trial (mean) "
        "| ratio (Optuna / tunesmith) | tunesmith median | Optuna median "
        "| tunesmith first ask ms | Optuna first ask ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    keyed = {(r["sampler"], r["library"], r["n_trials"]): r for r in rows}
    for kind, n in sorted({(r["sampler"], r["n_trials"]) for r in rows}, key=lambda k: (k[0] != "tpe", k[1])):  # fmt: skip
        a, b = keyed.get((kind, "tunesmith", n), {}), keyed.get((kind, "optuna", n), {})
        ratio = f"{b['mean_ms'] / a['mean_ms']:.1f}x" if "mean_ms" in a and "mean_ms" in b else "-"
        lines.append(
            f"| {kind.upper()} | {n:,} | {_fmt(a.get('mean_ms')) if 'error' not in a else 'error'}"
            f" | {_fmt(b.get('mean_ms')) if 'error' not in b else 'error'} | {ratio} | "
            f"{_fmt(a.get('median_ms'))} | {_fmt(b.get('median_ms'))} | "
            f"{_fmt(a.get('first_ms'))} | {_fmt(b.get('first_ms'))} |"
        )
    errs = [r for r in rows if "error" in r]
    for r in errs:
        lines.append(f"\n- {r['library']} {r['sampler']} at {r['n_trials']}: {r['error']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.samplers.overhead")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/samplers"))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--asks", type=int, default=21)
    ap.add_argument("--budget", type=float, default=60.0, help="seconds per (size, library)")
    ap.add_argument("--tpe-sizes", default="100,1000,10000")
    ap.add_argument("--gp-sizes", default="100,300")
    args = ap.parse_args(argv)
    tpe_sizes = [int(x) for x in args.tpe_sizes.split(",") if x]
    gp_sizes = [int(x) for x in args.gp_sizes.split(",") if x]
    asks = args.asks
    if args.quick:
        tpe_sizes, gp_sizes, asks = [100, 1000], [100], 4

    cmd = module_command_line("benchmarks.samplers.overhead")
    rows = measure("tpe", tpe_sizes, asks, args.budget)
    # At least 21 GP asks: one kernel refit (5 % growth) falls in the timed trials at 300.
    rows += measure("gp", gp_sizes, max(asks, 21) if not args.quick else 4, args.budget)
    md = render(rows, cmd)
    out = args.out / "quick" if args.quick else args.out
    out.mkdir(parents=True, exist_ok=True)
    data = {"command": cmd, "versions": versions(), "rows": rows, "markdown": md}
    (out / "overhead.json").write_text(json.dumps(data, indent=1) + "\n")
    (out / "overhead.md").write_text(f"# Per-trial sampler overhead\n\n{md}\n")
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
