"""GEGO against a genetic algorithm on a real model, at an equal number of evaluations.

The problem: a small multi-layer perceptron on scikit-learn's bundled digits data,
4 hyperparameters (hidden units, L2 penalty and initial learning rate on log scales,
and a categorical batch size), validation accuracy on a held-out 30 % (higher is
better). Both population samplers get the same number of trials -- population
methods must be compared by evaluations, never by generations: GEGO's genetic block
costs extra evaluations (see docs/samplers/population.md).

Run:  python examples/population_search.py                 (about a minute)
      python examples/population_search.py --n-trials 96 --popsize 12
"""

from __future__ import annotations

import os

# Tiny models: one thread each is faster than oversubscribed BLAS threads.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import sys
import time
import warnings

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

import tunesmith as ts

X, y = load_digits(return_X_y=True)
X = X / 16.0
X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
SPACE = ts.Space(
    {
        "hidden": ts.Int(8, 64, log=True),
        "alpha": ts.Float(1e-6, 1e-1, log=True),
        "learning_rate_init": ts.Float(1e-4, 1e-1, log=True),
        "batch_size": ts.Categorical([32, 64, 128]),
    }
)


def objective(trial: ts.Trial) -> float:
    """Validation accuracy of one configuration (25 epochs)."""
    p = trial.params
    model = MLPClassifier(
        hidden_layer_sizes=(p["hidden"],),
        alpha=p["alpha"],
        learning_rate_init=p["learning_rate_init"],
        batch_size=p["batch_size"],
        max_iter=25,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings at 25 epochs
        model.fit(X_train, y_train)
    return float(model.score(X_val, y_val))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-trials", type=int, default=48, help="evaluations per sampler (48)")
    parser.add_argument("--popsize", type=int, default=8, help="population size, even (8)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    # GEO's propensity schedule spans the moves the budget allows (about n_trials / popsize).
    moves = max(1, args.n_trials // args.popsize - 1)
    samplers = {
        "GEGO": ts.GEGOSampler(popsize=args.popsize, n_generations=moves),
        "GA": ts.GASampler(popsize=args.popsize),
    }
    print(
        f"MLP on digits ({len(y_train)} train / {len(y_val)} validation rows); "
        f"{args.n_trials} evaluations per sampler, population {args.popsize}.\n"
    )
    print(f"{'sampler':8s} {'best acc':>9s} {'trials':>7s} {'batches':>8s} {'seconds':>8s}  best")
    for name, sampler in samplers.items():
        study = ts.create_study(direction="maximize", space=SPACE, sampler=sampler, seed=args.seed)
        t0 = time.perf_counter()
        study.optimize(objective, n_trials=args.n_trials)
        spent = time.perf_counter() - t0
        state = sampler.state(study)
        best = {
            k: (round(v, 5) if isinstance(v, float) else v) for k, v in study.best_params.items()
        }
        print(
            f"{name:8s} {study.best_value:9.4f} {len(study.trials):7d} "
            f"{state['n_batches']:8d} {spent:8.1f}  {best}"
        )
    print("\nHigher is better. One seed is one draw: compare several seeds before concluding.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
