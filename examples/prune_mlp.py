"""Stop unpromising trials early: a small neural network on scikit-learn's digits.

* each trial trains an MLPClassifier epoch by epoch (``partial_fit``) and reports its
  validation accuracy after every epoch (``step`` = epochs trained so far);
* the study's pruner looks at those reports and stops trials that trail the others;
* at the end the script prints how many trials were pruned and how many epochs were
  trained, against the epochs the same number of trials needs without pruning.

Run:  python examples/prune_mlp.py                      (median pruning, 30 trials of 20 epochs)
      python examples/prune_mlp.py --pruner hyperband --n-trials 60
      python examples/prune_mlp.py --pruner hyperband --sampler bohb --n-trials 60   (BOHB)
      python examples/prune_mlp.py --pruner hyperband --sampler dehb --n-trials 60   (DEHB)
      python examples/prune_mlp.py --pruner none        (the baseline)

``--sampler bohb`` / ``dehb`` propose configurations from a model per budget (TPE per
budget, differential evolution per budget) on the same rungs the pruner judges at.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

import tunesmith as ts

X, y = load_digits(return_X_y=True)
X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
scaler = StandardScaler().fit(X_train)
X_train, X_val = scaler.transform(X_train), scaler.transform(X_val)
CLASSES = np.unique(y)


def make_objective(epochs: int):
    def objective(trial: ts.Trial) -> float:
        """Validation accuracy after ``epochs`` epochs, unless the pruner stops it sooner."""
        model = MLPClassifier(
            hidden_layer_sizes=(trial.suggest_int("hidden", 8, 128, log=True),),
            learning_rate_init=trial.suggest_float("lr", 1e-5, 1e-1, log=True),
            alpha=trial.suggest_float("alpha", 1e-6, 1e-1, log=True),
            batch_size=trial.suggest_categorical("batch_size", [32, 64, 128]),
            random_state=trial.number,
        )
        accuracy = 0.0
        for epoch in range(1, epochs + 1):
            model.partial_fit(X_train, y_train, classes=CLASSES)  # one pass over the data
            accuracy = float(model.score(X_val, y_val))
            trial.report(accuracy, step=epoch)
            if trial.should_prune():
                raise ts.TrialPruned()
        return accuracy

    return objective


def make_pruner(name: str, epochs: int) -> ts.Pruner:
    if name == "median":
        # Judge from the 3rd epoch on, once 5 trials have finished.
        return ts.MedianPruner(n_startup_trials=5, n_warmup_steps=3)
    if name == "sh":
        return ts.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    if name == "hyperband":
        return ts.HyperbandPruner(min_resource=1, max_resource=epochs, reduction_factor=3)
    return ts.NopPruner()


def make_sampler(name: str, pruner: str, epochs: int) -> str | ts.Sampler:
    """BOHB and DEHB are told the rungs of the pruner (first at epoch 1, eta = 3)."""
    if name == "bohb":
        return ts.BOHBSampler(min_resource=1, reduction_factor=3)
    if name == "dehb":
        top = epochs if pruner == "hyperband" else None
        return ts.DEHBSampler(min_resource=1, max_resource=top, reduction_factor=3)
    return name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-trials", type=int, default=30, help="trials to run (default 30)")
    parser.add_argument(
        "--pruner",
        choices=["none", "median", "sh", "hyperband"],
        default="median",
        help="how to stop trials early (default median)",
    )
    parser.add_argument(
        "--sampler",
        choices=["auto", "random", "tpe", "bohb", "dehb"],
        default="auto",
        help="what to try next (default auto; bohb/dehb: a model per budget)",
    )
    parser.add_argument(
        "--epochs", type=int, default=20, help="epochs of a full trial (default 20)"
    )
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    study = ts.create_study(
        direction="maximize",
        sampler=make_sampler(args.sampler, args.pruner, args.epochs),
        pruner=make_pruner(args.pruner, args.epochs),
        seed=args.seed,
    )
    print(
        f"Tuning an MLP on digits ({len(X_train)} training, {len(X_val)} validation images): "
        f"{args.n_trials} trials of up to {args.epochs} epochs, sampler: {study.sampler!r}, "
        f"pruner: {study.pruner!r}"
    )
    study.optimize(make_objective(args.epochs), n_trials=args.n_trials, n_workers=args.workers)

    trials = study.trials
    pruned = [t for t in trials if t.state == ts.TrialState.PRUNED]
    spent = sum(t.last_step or 0 for t in trials)
    full = len(trials) * args.epochs
    print(f"Trials pruned: {len(pruned)} of {len(trials)}")
    print(f"Epochs trained: {spent} of {full} without pruning ({100 * spent / full:.0f}%)")
    if not study.get_trials([ts.TrialState.COMPLETE]):
        print("No trial completed; run more trials or a gentler pruner.")
        return 1
    best = study.best_trial
    print(f"Best validation accuracy: {best.value:.4f} (trial #{best.number})")
    for name, value in best.params.items():
        print(f"  {name} = {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
