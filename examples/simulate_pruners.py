"""How much do pruners save? Simulate them on synthetic learning curves in seconds.

Nothing is trained: ``tunesmith.simulate`` runs each study against
``HartmannCurves`` (81-epoch curves whose final values follow the Hartmann-6
function) on a simulated clock with 4 virtual workers, the same simulated time for
every pruner. The script prints, per pruner, how many trials it started and stopped,
the epochs trained, the best fully trained value reached, and the speed-up: the
simulated time no pruning needs to reach its final quality, divided by the time the
pruner needs to reach that quality (mean curves over seeds).

Run:  python examples/simulate_pruners.py                  (random sampler, 5 seeds)
      python examples/simulate_pruners.py --sampler tpe --seeds 10 --budget 20
"""

from __future__ import annotations

import argparse
import math
import sys

import numpy as np

import tunesmith as ts
from tunesmith.simulate import HartmannCurves, SimulationResult, simulate

PRUNERS = {
    "none": lambda max_step: None,
    "median": lambda max_step: ts.MedianPruner(n_startup_trials=5),
    "sh": lambda max_step: ts.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3),
    "hyperband": lambda max_step: ts.HyperbandPruner(min_resource=1, max_resource=max_step),
}


def mean_curve(results: list[SimulationResult], grid: np.ndarray) -> np.ndarray:
    """Mean over seeds of the best fully trained value at each time of ``grid``."""
    return np.mean([r.best_final_at(grid) for r in results], axis=0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sampler", default="random", choices=["random", "tpe"])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--budget", type=float, default=10.0,
                    help="simulated time per run, in full trainings per worker")  # fmt: skip
    ap.add_argument("--workers", type=int, default=4)
    args = ap.parse_args(argv)

    bench = HartmannCurves(max_step=81)
    # A configuration's epochs take 0.3 to 3.2 simulated seconds; 81 s is a typical run.
    max_time = args.budget * 81.0
    print(
        f"{bench}: {args.workers} workers, {max_time:.0f} simulated s per run "
        f"({args.budget:g} full trainings per worker), {args.seeds} seeds, "
        f"{args.sampler} sampler"
    )
    runs: dict[str, list[SimulationResult]] = {}
    for name, make in PRUNERS.items():
        runs[name] = []
        for seed in range(args.seeds):
            study = ts.create_study(
                f"{name}-{seed}",  # Hyperband's brackets depend on the study name
                sampler=args.sampler,
                pruner=make(bench.max_step),
                seed=seed,
            )
            runs[name].append(simulate(study, bench, args.workers, max_time=max_time))

    grid = np.linspace(0.0, max_time, 2001)[1:]
    base = mean_curve(runs["none"], grid)
    target = float(base[-1])  # no pruning's final quality
    t_base = float(grid[np.flatnonzero(base <= target)[0]])
    print(
        f"{'pruner':10s} {'trials':>7s} {'pruned':>7s} {'epochs':>7s} {'best final':>11s} "
        f"{'time to ' + format(target, '.4f'):>15s} {'speed-up':>9s}"
    )
    for name, results in runs.items():
        curve = mean_curve(results, grid)
        hit = np.flatnonzero(curve <= target)
        t_hit = float(grid[hit[0]]) if hit.size else math.inf
        speedup = f"{t_base / t_hit:.2f}x" if hit.size else f"<{t_base / max_time:.2f}x"
        trials = np.mean([len(r.trials) for r in results])
        pruned = np.mean([r.count(ts.TrialState.PRUNED) / len(r.trials) for r in results])
        epochs = np.mean([r.total_resource for r in results])
        print(
            f"{name:10s} {trials:7.0f} {pruned:7.0%} {epochs:7.0f} {curve[-1]:11.4f} "
            f"{(f'{t_hit:.0f} s' if hit.size else 'not reached'):>15s} {speedup:>9s}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
