"""A real (not simulated) multi-fidelity run: ASHA vs no pruning on an MLP, 2 workers.

The objective is ``examples/prune_mlp.py``'s: scikit-learn's ``MLPClassifier`` trained
epoch by epoch on the bundled digits data, validation accuracy reported after every
epoch (the budget is epochs). Each method runs the same number of trials with two
worker processes; the table gives wall-clock time, epochs trained, the best validation
accuracy and the held-out test accuracy of the best configuration retrained for the
full number of epochs.

Run:  .bench-venv/bin/python -m benchmarks.multifidelity.real_mlp [--n-trials 40 --epochs 30]
Writes benchmarks/results/multifidelity/real_mlp.md (and .json).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks._common import module_command_line

REPO = Path(__file__).resolve().parents[2]


def _example() -> Any:
    spec = importlib.util.spec_from_file_location("prune_mlp", REPO / "examples" / "prune_mlp.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["prune_mlp"] = mod  # worker processes unpickle the objective by module
    spec.loader.exec_module(mod)
    return mod


def test_accuracy(ex: Any, params: dict[str, Any], epochs: int) -> float:
    """Held-out accuracy of ``params`` trained for ``epochs`` on train+validation."""
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    # The example's split is 70/30 train/validation; the test set here is a separate
    # 20 % carved out with another seed, never seen by the tuning runs' choices.
    X_rest, X_test, y_rest, y_test = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=1
    )
    sc = StandardScaler().fit(X_rest)
    model = MLPClassifier(
        hidden_layer_sizes=(params["hidden"],),
        learning_rate_init=params["lr"],
        alpha=params["alpha"],
        batch_size=params["batch_size"],
        random_state=0,
    )
    classes = np.unique(y)
    for _ in range(epochs):
        model.partial_fit(sc.transform(X_rest), y_rest, classes=classes)
    return float(model.score(sc.transform(X_test), y_test))


def run(method: str, n_trials: int, epochs: int, seed: int, workers: int) -> dict[str, Any]:
    import tunesmith as ts

    ex = _example()
    pruner = ex.make_pruner("sh" if method == "asha" else "none", epochs)
    study = ts.create_study(direction="maximize", sampler="random", pruner=pruner, seed=seed)
    t0 = time.perf_counter()
    study.optimize(ex.make_objective(epochs), n_trials=n_trials, n_workers=workers)
    wall = time.perf_counter() - t0
    trials = study.trials
    best = study.best_trial
    return {
        "method": method,
        "seed": seed,
        "wall_s": wall,
        "epochs": sum(t.last_step or 0 for t in trials),
        "pruned": sum(t.state == ts.TrialState.PRUNED for t in trials),
        "best_val": best.value,
        "best_params": dict(best.params),
        "test_acc": test_accuracy(ex, dict(best.params), epochs),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.multifidelity.real_mlp")
    ap.add_argument("--n-trials", type=int, default=40)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks/results/multifidelity")
    args = ap.parse_args(argv)
    rows = []
    for seed in range(args.seeds):
        for method in ("none", "asha"):
            rows.append(run(method, args.n_trials, args.epochs, seed, args.workers))
            print({k: v for k, v in rows[-1].items() if k != "best_params"}, flush=True)
    lines = [
        "# Real run: ASHA (successive halving pruner) vs no pruning",
        "",
        f"Command: `{module_command_line('benchmarks.multifidelity.real_mlp')}` "
        f"(load average at the end {os.getloadavg()[0]:.2f}).",
        "",
        f"scikit-learn MLPClassifier on digits, epochs as the budget ({args.epochs} per full "
        f"trial), {args.n_trials} random-search trials per run, {args.workers} worker "
        "processes, SuccessiveHalvingPruner(min_resource=1, reduction_factor=3). Test "
        "accuracy: the best configuration retrained on a separate split and scored on "
        "held-out data.",
        "",
        "| method | seed | wall-clock s | epochs trained | trials pruned | best val. acc. "
        "| test acc. of best |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['method']} | {r['seed']} | {r['wall_s']:.1f} | {r['epochs']} | "
            f"{r['pruned']} | {r['best_val']:.4f} | {r['test_acc']:.4f} |"
        )
    summary = []
    for method in ("none", "asha"):
        mine = [r for r in rows if r["method"] == method]
        summary.append(
            f"- {method}: mean wall-clock {statistics.fmean(r['wall_s'] for r in mine):.1f} s, "
            f"epochs {statistics.fmean(r['epochs'] for r in mine):.0f}, best val. "
            f"{statistics.fmean(r['best_val'] for r in mine):.4f}, test "
            f"{statistics.fmean(r['test_acc'] for r in mine):.4f}"
        )
    lines += ["", *summary, ""]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "real_mlp.md").write_text("\n".join(lines))
    (args.out / "real_mlp.json").write_text(json.dumps(rows, indent=1) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
