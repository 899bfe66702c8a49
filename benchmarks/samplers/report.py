"""Aggregate the cells of a benchmark run into tables, ranks and plots.

``python -m benchmarks.samplers.report --out benchmarks/results/samplers [--budget 50]``

writes ``<out>/report.md``, ``<out>/report.json`` and ``<out>/plots/*.png``.

Scoring
-------
* **log-regret** (synthetic problems, known f*): ``log10(max(f(best) - f*, 1e-12))`` of
  each run's best value after the budget, averaged over seeds. Lower is better.
* **normalized score** (every problem, bayesmark's definition, estimated from this run)::

      score = 100 * (R - best) / (R - B)

  where ``R`` is the random-search expected best at the same budget (the mean best of all
  ``ts-random`` and ``optuna-random`` runs of the problem) and ``B`` the best known value
  (f* where known, else the best value any run of any sampler found). 100 = the best
  known value, 0 = no better than random search, negative = worse than random search.
* **bbo score** (``bayesmark`` problems only): the same formula with the NeurIPS 2020 BBO
  challenge's own references from ``bbo_challenge/baseline-100-1.json`` - the random-search
  mean best at the same iteration for ``R``, the challenge's best known value for ``B``,
  values clipped at the challenge's clip value - as bayesmark computes it.
* **rank**: per problem, samplers are ranked by their mean primary metric (log-regret
  for synthetic problems, normalized score otherwise; 1 = best, ties share the mean
  rank); the overall rank is the mean over problems.
* **time per trial**: the wall time between the end of one evaluation and the start of
  the next (ask + suggest + tell, the sampler's own cost), averaged over evaluations.
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
from benchmarks.samplers.problems import DATA_ROOT, PROBLEMS, SETS, get_problem
from benchmarks.samplers.space import describe

RANDOM_SAMPLERS = ("ts-random", "optuna-random")
FAMILY_ORDER = ("synthetic", "sklearn", "bayesmark", "tabular")
LOG_FLOOR = 1e-12


def _family(problem: str) -> str:
    for fam in FAMILY_ORDER:
        if problem in SETS.get(fam, []):
            return fam
    return "other"


def _mean_se(xs: list[float]) -> tuple[float, float]:
    if not xs:
        return math.nan, math.nan
    m = statistics.fmean(xs)
    se = statistics.stdev(xs) / math.sqrt(len(xs)) if len(xs) > 1 else math.nan
    return m, se


def _ranks(values: dict[str, float], higher_is_better: bool) -> dict[str, float]:
    items = [(s, v) for s, v in values.items() if math.isfinite(v)]
    items.sort(key=lambda kv: -kv[1] if higher_is_better else kv[1])
    ranks: dict[str, float] = {}
    i = 0
    while i < len(items):
        j = i
        while j + 1 < len(items) and items[j + 1][1] == items[i][1]:
            j += 1
        for k in range(i, j + 1):
            ranks[items[k][0]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def _bbo_refs(key: str, budget: int) -> dict[str, float] | None:
    """(random mean at iteration budget-1, best known, clip) from the challenge files."""
    path = DATA_ROOT / "bbo_challenge" / "baseline-100-1.json"
    if not path.exists() or budget > 100:
        return None
    data = json.loads(path.read_text())["data"]
    funcs = data["coords"]["function"]["data"]
    if key not in funcs:
        return None
    i = funcs.index(key)
    dv = data["data_vars"]
    return {
        "random_mean": float(dv["mean"]["data"][budget - 1][i][0]),
        "best": float(dv["best"]["data"][i][0]),
        "clip": float(dv["clip"]["data"][i][0]),
    }


def analyse(recs: list[dict[str, Any]], budget: int) -> dict[str, Any]:
    by_prob: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    problems_meta: dict[str, dict[str, Any]] = {}
    failures: dict[str, list[str]] = defaultdict(list)
    for r in recs:
        if r.get("status") in ("ok", "timeout", "short") and r.get("best_curve"):
            by_prob[r["problem"]][r["sampler"]].append(r)
        else:
            failures[r["sampler"]].append(
                f"{r['problem']} seed {r['seed']}: {r.get('status')}: "
                f"{(r.get('error') or '').strip().splitlines()[0] if r.get('error') else ''}"
            )

    results: dict[str, Any] = {}
    for prob, runs in by_prob.items():
        fam = _family(prob)
        p = get_problem(prob) if prob in PROBLEMS else None
        fstar = p.fstar if p else None
        finals = {s: [rr["best_curve"][-1] for rr in rs] for s, rs in runs.items()}
        all_best = min(min(v) for v in finals.values())
        best_known = fstar if fstar is not None else all_best
        rand = [x for s in RANDOM_SAMPLERS for x in finals.get(s, [])]
        R = statistics.fmean(rand) if rand else math.nan
        denom = R - best_known
        bbo = _bbo_refs(p.bbo_key, budget) if p and p.bbo_key else None
        rows: dict[str, Any] = {}
        for s, rs in runs.items():
            fin = finals[s]
            scores = [100 * (R - f) / denom if denom > 0 else math.nan for f in fin]
            row: dict[str, Any] = {
                "n": len(fin),
                "n_timeout": sum(rr["status"] != "ok" for rr in rs),
                "best_mean": statistics.fmean(fin),
                "score": _mean_se(scores),
                "time_per_trial_ms": 1e3
                * statistics.fmean(statistics.fmean(rr["sampler_s"]) for rr in rs),
                "time_per_trial_after10_ms": 1e3
                * statistics.fmean(
                    statistics.fmean(rr["sampler_s"][10:] or rr["sampler_s"]) for rr in rs
                ),
                "eval_s_per_run": statistics.fmean(rr["eval_total_s"] for rr in rs),
            }
            if fstar is not None:
                logs = [math.log10(max(f - fstar, LOG_FLOOR)) for f in fin]
                row["log_regret"] = _mean_se(logs)
            if bbo:
                d = bbo["random_mean"] - bbo["best"]
                bs = [100 * (1 - (min(f, bbo["clip"]) - bbo["best"]) / d) for f in fin]
                row["bbo_score"] = _mean_se(bs)
            # curves: mean over seeds of the gap to the best known value, per evaluation
            n = min(len(rr["best_curve"]) for rr in rs)
            curves = np.array([rr["best_curve"][:n] for rr in rs]) - best_known
            if fam == "synthetic":
                curve = np.mean(np.log10(np.maximum(curves, LOG_FLOOR)), axis=0)
            else:
                curve = np.mean(curves, axis=0)
            row["curve"] = [float(x) for x in curve]
            rows[s] = row
        primary = "log_regret" if fam == "synthetic" and fstar is not None else "score"
        hib = primary == "score"
        ranks = _ranks({s: r[primary][0] for s, r in rows.items()}, higher_is_better=hib)
        for s in rows:
            rows[s]["rank"] = ranks.get(s, math.nan)
        problems_meta[prob] = {
            "family": fam,
            "note": p.note if p else "",
            "space": describe(p.space) if p else "",
            "dim": p.dim if p else None,
            "fstar": fstar,
            "best_known": best_known,
            "random_expected_best": R,
            "n_random_runs": len(rand),
            "primary": primary,
            "bbo_refs": bbo,
        }
        results[prob] = rows

    samplers = sorted({s for rows in results.values() for s in rows})
    overall: dict[str, Any] = {}
    for s in samplers:
        ranks = [results[p][s]["rank"] for p in results if s in results[p]]
        fam_ranks: dict[str, list[float]] = defaultdict(list)
        fam_scores: dict[str, list[float]] = defaultdict(list)
        for p in results:
            if s in results[p]:
                fam_ranks[problems_meta[p]["family"]].append(results[p][s]["rank"])
                fam_scores[problems_meta[p]["family"]].append(results[p][s]["score"][0])
        overall[s] = {
            "mean_rank": statistics.fmean(ranks) if ranks else math.nan,
            "n_problems": len(ranks),
            "family_rank": {f: statistics.fmean(v) for f, v in fam_ranks.items()},
            "family_score": {f: statistics.fmean(v) for f, v in fam_scores.items()},
            "mean_score": statistics.fmean(
                results[p][s]["score"][0] for p in results if s in results[p]
            ),
            "time_per_trial_ms": statistics.fmean(
                results[p][s]["time_per_trial_ms"] for p in results if s in results[p]
            ),
        }
    return {
        "budget": budget,
        "problems": problems_meta,
        "results": results,
        "overall": overall,
        "failures": dict(failures),
    }


# ----------------------------------------------------------------------------------------
# formatting
# ----------------------------------------------------------------------------------------


def _f(x: float, nd: int = 2) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:.{nd}f}"


def _ms(x: float) -> str:
    if not math.isfinite(x):
        return "-"
    return f"{x:.0f}" if x >= 100 else f"{x:.1f}" if x >= 1 else f"{x:.2f}"


def _g(x: float | None) -> str:
    return "-" if x is None else f"{x:.6g}"


def _pair(a: dict[str, Any] | None, b: dict[str, Any] | None, key: str, nd: int = 1) -> str:
    if not a or not b:
        return "-"
    return f"{_f(a[key][0], nd)} vs {_f(b[key][0], nd)}"


def _diff(a: dict[str, Any], b: dict[str, Any], key: str, nd: int = 1) -> str:
    """A - B with its standard error (unpaired); ** when |A - B| > 2 se."""
    (ma, sa), (mb, sb) = a[key], b[key]
    se = math.sqrt((sa if math.isfinite(sa) else 0) ** 2 + (sb if math.isfinite(sb) else 0) ** 2)
    star = " **" if se > 0 and abs(ma - mb) > 2 * se else ""
    return f"{ma - mb:+.{nd}f} ± {se:.{nd}f}{star}"


def render(an: dict[str, Any], runs_meta: list[dict[str, Any]], overhead: dict | None) -> str:
    budget = an["budget"]
    res, pm, ov = an["results"], an["problems"], an["overall"]
    lines = _suite.report_head(
        "Sampler-quality benchmark",
        "benchmarks.samplers.report",
        budget,
        runs_meta,
        "worker processes",
    )
    if runs_meta:
        m = runs_meta[-1]
        lines += [
            "- tunesmith source per invocation: "
            + "; ".join(
                f"{mm['started_utc']}: {mm.get('tunesmith_src', 'unknown')}" for mm in runs_meta
            ),
            "- Load average (1/5/15 min) at the start of each invocation: "
            + _suite.start_loads(runs_meta)
            + " (the machine was shared: sampler times are wall-clock and inflated by other jobs)",
            f"- Budget {budget} evaluations per run; seeds {m.get('seeds')} "
            f"(fewer where set: {m.get('seeds_for') or 'none'}); time limit "
            f"{m.get('time_limit')} s per run",
        ]
        skipped = _suite.skipped_in(runs_meta, "skipped_samplers")
        if skipped:
            lines.append("- Samplers skipped (not importable): " + "; ".join(
                f"`{k}` ({v})" for k, v in skipped.items()))  # fmt: skip
    lines += ["", "How the numbers are computed: see the docstring of "
              "`benchmarks/samplers/report.py` (summary at the end of this file).", ""]  # fmt: skip

    # overall
    order = sorted(ov, key=lambda s: ov[s]["mean_rank"])
    fams = [f for f in FAMILY_ORDER if any(p["family"] == f for p in pm.values())]
    lines += ["## Overall", ""]
    hdr = ["sampler", "mean rank", "problems"] + [f"rank: {f}" for f in fams]
    hdr += [f"score: {f}" for f in fams] + ["ms/trial"]
    rows = []
    for s in order:
        o = ov[s]
        rows.append(
            [f"`{s}`", _f(o["mean_rank"]), str(o["n_problems"])]
            + [_f(o["family_rank"].get(f, math.nan)) for f in fams]
            + [_f(o["family_score"].get(f, math.nan), 1) for f in fams]
            + [_ms(o["time_per_trial_ms"])]
        )
    lines.append(_suite.pipe_table(hdr, rows))
    lines += [
        "",
        "Mean rank over problems (1 = best); score = mean normalized score per family "
        "(100 = best known, 0 = random search); ms/trial = mean sampler time per evaluation.",
        "",
    ]

    # head-to-head
    lines += ["## Head to head", ""]
    h2h = []
    for a, b in (("ts-tpe", "optuna-tpe"), ("ts-gp", "optuna-gp"), ("ts-cmaes", "optuna-cmaes"),
                 ("ts-random", "optuna-random")):  # fmt: skip
        if a not in ov or b not in ov:
            continue
        wins = losses = 0
        for p in res:
            if a in res[p] and b in res[p]:
                key = pm[p]["primary"]
                va, vb = res[p][a][key][0], res[p][b][key][0]
                better = va > vb if key == "score" else va < vb
                worse = va < vb if key == "score" else va > vb
                wins += better
                losses += worse
        h2h.append(
            [
                f"`{a}` vs `{b}`",
                f"{wins}-{losses}",
                _f(ov[a]["mean_score"], 1),
                _f(ov[b]["mean_score"], 1),
                _ms(ov[a]["time_per_trial_ms"]),
                _ms(ov[b]["time_per_trial_ms"]),
            ]
        )
    lines.append(
        _suite.pipe_table(
            [
                "pair",
                "problems won-lost",
                "mean score A",
                "mean score B",
                "ms/trial A",
                "ms/trial B",
            ],
            h2h,
        )
    )
    lines.append("")
    gp_rows = []
    for p in res:
        a, b = res[p].get("ts-gp"), res[p].get("optuna-gp")
        if a and b:
            key = pm[p]["primary"]
            gp_rows.append(
                [
                    p,
                    key.replace("_", "-"),
                    _pair(a, b, key, 2),
                    _diff(a, b, key, 2),
                    f"{_ms(a['time_per_trial_after10_ms'])} vs {_ms(b['time_per_trial_after10_ms'])}",
                    f"{a['n']} / {b['n']}",
                ]
            )
    if gp_rows:
        lines += ["### GP: `ts-gp` vs `optuna-gp` per problem", ""]
        lines.append(
            "Difference = ts-gp - optuna-gp in the primary metric (log-regret: lower is better; "
            "score: higher is better); `**`: beyond twice its standard error. ms/trial after "
            "startup: mean over evaluations 11-50 (the GP phase)."
        )
        lines.append("")
        lines.append(
            _suite.pipe_table(
                [
                    "problem",
                    "metric",
                    "ts-gp vs optuna-gp",
                    "difference ± se",
                    "ms/trial after startup",
                    "seeds",
                ],
                gp_rows,
            )
        )
        lines.append("")
    tpe_rows = []
    for p in res:
        a, b = res[p].get("ts-tpe"), res[p].get("optuna-tpe")
        if a and b:
            tpe_rows.append(
                [
                    p,
                    _pair(a, b, "score"),
                    _diff(a, b, "score"),
                    _pair(a, b, "log_regret", 2) if "log_regret" in a else "-",
                    f"{_ms(a['time_per_trial_ms'])} vs {_ms(b['time_per_trial_ms'])}",
                ]
            )
    if tpe_rows:
        lines += ["### TPE: `ts-tpe` vs `optuna-tpe` per problem", ""]
        lines.append("`**`: the difference exceeds twice its standard error (unpaired seeds).")
        lines.append("")
        lines.append(
            _suite.pipe_table(
                ["problem", "normalized score", "difference ± se", "log-regret", "ms/trial"],
                tpe_rows,
            )
        )
        lines.append("")

    # per problem
    lines += ["## Per problem", ""]
    for fam in fams:
        lines += [f"### {fam}", ""]
        if fam == "synthetic":
            lines.append("Primary metric: mean log10 regret after the budget (lower is better).")
        else:
            lines.append("Primary metric: mean normalized score (higher is better).")
        if fam == "bayesmark":
            lines.append(
                "`bbo score` uses the challenge's references (random-search mean, best known, "
                "clip) instead of this run's; the problems re-create bayesmark's protocol with "
                "today's scikit-learn, so small differences in the objective are expected."
            )
        lines.append("")
        for p, meta in pm.items():
            if meta["family"] != fam:
                continue
            rows_p = res[p]
            lines.append(f"#### {p}")
            lines.append("")
            lines.append(
                f"{meta['note']}. Space: {meta['space']}. f* = {_g(meta['fstar'])}; best known "
                f"{_g(meta['best_known'])}; random-search expected best at {budget} evaluations "
                f"{_g(meta['random_expected_best'])} ({meta['n_random_runs']} random runs)."
            )
            if meta.get("bbo_refs"):
                b = meta["bbo_refs"]
                lines.append(
                    f"BBO challenge references: random mean {_g(b['random_mean'])}, best "
                    f"{_g(b['best'])}, clip {_g(b['clip'])}."
                )
            lines.append("")
            hdr = ["rank", "sampler", "n"]
            if meta["primary"] == "log_regret":
                hdr += ["log10 regret ± se"]
            hdr += ["score ± se", "mean best"]
            if meta.get("bbo_refs"):
                hdr += ["bbo score ± se"]
            hdr += ["ms/trial"]
            body = []
            for s in sorted(rows_p, key=lambda s: rows_p[s]["rank"]):
                r = rows_p[s]
                row = [_f(r["rank"], 1), f"`{s}`", str(r["n"]) + ("*" if r["n_timeout"] else "")]
                if meta["primary"] == "log_regret":
                    row.append(f"{_f(r['log_regret'][0])} ± {_f(r['log_regret'][1])}")
                row.append(f"{_f(r['score'][0], 1)} ± {_f(r['score'][1], 1)}")
                row.append(_g(r["best_mean"]))
                if meta.get("bbo_refs"):
                    row.append(f"{_f(r['bbo_score'][0], 1)} ± {_f(r['bbo_score'][1], 1)}")
                row.append(_ms(r["time_per_trial_ms"]))
                body.append(row)
            lines.append(_suite.pipe_table(hdr, body))
            lines.append("")
        lines.append(f"![{fam}](plots/{fam}.png)")
        lines.append("")

    if overhead:
        lines += ["## Per-trial sampler overhead", "", overhead.get("markdown", ""), ""]

    if an["failures"]:
        lines += ["## Failed runs", ""]
        for s, fl in an["failures"].items():
            lines.append(f"- `{s}`: {len(fl)} failed; first: {fl[0]}")
        lines.append("")
    lines += ["## Scoring", "", (__doc__ or "").split("Scoring\n-------\n", 1)[-1].strip(), ""]
    return "\n".join(lines)


def plot(an: dict[str, Any], out: Path) -> list[str]:
    plt = _suite.pyplot(out)
    res, pm = an["results"], an["problems"]
    samplers = sorted({s for rows in res.values() for s in rows})
    # one hue per algorithm, tunesmith solid, peers dashed: pairs are easy to compare
    hue = {"random": "tab:gray", "sobol": "tab:olive", "tpe": "tab:blue", "cmaes": "tab:green",
           "gp": "tab:red", "hyperopt": "tab:purple", "smac": "tab:brown", "smac-bb": "tab:pink",
           "hebo": "tab:cyan"}  # fmt: skip
    colors = {s: hue.get(s.split("-", 1)[-1] if s[:3] in ("ts-", "opt") else s, "black")
              for s in samplers}  # fmt: skip
    styles = {s: "-" if s.startswith("ts-") else "--" if s.startswith("optuna") else ":"
              for s in samplers}  # fmt: skip
    written = []
    for fam in FAMILY_ORDER:
        probs = [p for p in pm if pm[p]["family"] == fam]
        if not probs:
            continue
        ncol = min(4, len(probs))
        nrow = math.ceil(len(probs) / ncol)
        fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.3 * nrow), squeeze=False)
        for ax, p in zip(axes.flat, probs, strict=False):
            for s, r in sorted(res[p].items()):
                y = r["curve"]
                ax.plot(range(1, len(y) + 1), y, styles[s], color=colors[s], label=s, lw=1.3)
            ax.set_title(p, fontsize=9)
            ax.set_xlabel("evaluations", fontsize=8)
            if fam == "synthetic":
                ax.set_ylabel("mean log10 regret", fontsize=8)
            else:
                ax.set_ylabel("mean (best - best known)", fontsize=8)
                ax.set_yscale("symlog", linthresh=1e-3)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
        for ax in list(axes.flat)[len(probs) :]:
            ax.axis("off")
        handles, labels = axes.flat[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=min(7, len(labels)), fontsize=8)
        fig.suptitle(
            f"{fam}: best-so-far vs evaluations (solid: tunesmith, dashed: Optuna, dotted: others)"
        )
        fig.tight_layout(rect=(0, 0.07 if nrow > 1 else 0.12, 1, 0.96))
        written.append(_suite.save_plot(fig, out, fam))
    return written


def main(argv: list[str] | None = None) -> int:
    args = _suite.report_arguments(
        "python -m benchmarks.samplers.report", Path("benchmarks/results/samplers"), int, argv
    )
    cells = _suite.cells_of_one_budget(args.out, args.budget)
    if cells is None:
        return 1
    recs, budget = cells
    an = analyse(recs, budget)
    runs_meta = _suite.load_run_log(args.out, budget)
    overhead = None
    oh = args.out / "overhead.json"
    if oh.exists():
        overhead = json.loads(oh.read_text())
    if not args.no_plots:
        plot(an, args.out)
    md = render(an, runs_meta, overhead)
    slim = json.loads(json.dumps(an, default=str))
    for rows in slim["results"].values():
        for r in rows.values():
            r["curve"] = [round(x, 6) for x in r["curve"]]
    _suite.write_report(args.out, md, slim)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
