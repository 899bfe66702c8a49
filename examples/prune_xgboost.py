"""Stop unpromising XGBoost trials early: gradient boosting on scikit-learn's breast cancer data.

* each trial trains up to ``--rounds`` boosting rounds with ``xgb.train``;
  ``XGBoostPruningCallback`` reports the validation log-loss after every round
  (``step`` = trees built so far) and stops the training when the pruner says so;
* the pruner (median by default) compares each trial with the finished ones at the
  same number of rounds;
* at the end the script prints how many trials were pruned and how many boosting
  rounds were trained, against the rounds the same trials need without pruning.

Needs XGBoost: pip install "tunesmith[xgboost]" scikit-learn

Run:  python examples/prune_xgboost.py                      (median pruning, 40 trials)
      python examples/prune_xgboost.py --pruner hyperband --n-trials 80
      python examples/prune_xgboost.py --pruner none        (the baseline)
"""

from __future__ import annotations

import argparse
import sys

import xgboost as xgb
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

import tunesmith as ts
from tunesmith.integrations.xgboost import XGBoostPruningCallback

X, y = load_breast_cancer(return_X_y=True)
X_train, X_valid, y_train, y_valid = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)


def make_objective(rounds: int):
    def objective(trial: ts.Trial) -> float:
        """Validation log-loss after ``rounds`` rounds, unless the pruner stops it sooner."""
        params = {
            "objective": "binary:logistic",
            "eval_metric": "logloss",
            "nthread": 1,
            "eta": trial.suggest_float("eta", 1e-3, 0.5, log=True),
            "max_depth": trial.suggest_int("max_depth", 1, 8),
            "min_child_weight": trial.suggest_float("min_child_weight", 0.1, 20.0, log=True),
            "subsample": trial.suggest_float("subsample", 0.5, 1.0),
            "lambda": trial.suggest_float("lambda", 1e-3, 10.0, log=True),
        }
        history: dict = {}
        # DMatrix objects hold native pointers and cannot travel to worker processes
        # (--workers): build them here, which costs little next to training.
        xgb.train(
            params,
            xgb.DMatrix(X_train, y_train),
            num_boost_round=rounds,
            evals=[(xgb.DMatrix(X_valid, y_valid), "validation")],
            evals_result=history,
            verbose_eval=False,
            callbacks=[XGBoostPruningCallback(trial, "validation-logloss")],
        )
        return float(history["validation"]["logloss"][-1])

    return objective


def make_pruner(name: str, rounds: int) -> ts.Pruner:
    if name == "median":
        # Judge from round 10 on, once 5 trials have completed.
        return ts.MedianPruner(n_startup_trials=5, n_warmup_steps=10)
    if name == "sh":
        return ts.SuccessiveHalvingPruner(min_resource=5, reduction_factor=3)
    if name == "hyperband":
        return ts.HyperbandPruner(min_resource=5, max_resource=rounds, reduction_factor=3)
    return ts.NopPruner()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-trials", type=int, default=40, help="trials to run (default 40)")
    parser.add_argument(
        "--pruner",
        choices=["none", "median", "sh", "hyperband"],
        default="median",
        help="how to stop trials early (default median)",
    )
    parser.add_argument(
        "--rounds", type=int, default=200, help="boosting rounds of a full trial (default 200)"
    )
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    study = ts.create_study(
        direction="minimize", pruner=make_pruner(args.pruner, args.rounds), seed=args.seed
    )
    print(
        f"Tuning XGBoost on breast cancer ({len(X_train)} training, {len(X_valid)} "
        f"validation rows): {args.n_trials} trials of up to {args.rounds} rounds, "
        f"pruner: {study.pruner!r}"
    )
    study.optimize(make_objective(args.rounds), n_trials=args.n_trials, n_workers=args.workers)

    trials = study.trials
    pruned = [t for t in trials if t.state == ts.TrialState.PRUNED]
    spent = sum(t.last_step or 0 for t in trials)
    full = len(trials) * args.rounds
    print(f"Trials pruned: {len(pruned)} of {len(trials)}")
    print(f"Boosting rounds trained: {spent} of {full} without pruning ({100 * spent / full:.0f}%)")
    if not study.get_trials([ts.TrialState.COMPLETE]):
        print("No trial completed; run more trials or a gentler pruner.")
        return 1
    best = study.best_trial
    print(f"Best validation log-loss: {best.value:.4f} (trial #{best.number})")
    for name, value in best.params.items():
        print(f"  {name} = {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
