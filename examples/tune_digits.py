"""Tune an SVM on scikit-learn's bundled digits data: the README's first command.

* 5-fold cross-validated accuracy on a training split is the objective;
* the study lives in a SQLite file, so re-running this script resumes it;
* two worker processes evaluate trials in parallel, with a live progress line;
* the held-out test split is scored once, at the very end, for the best setting.

Run:  python examples/tune_digits.py            (about a minute)
      python examples/tune_digits.py --timeout 20 --workers 2 --storage studies.db
Then: tunesmith show svm-digits --storage studies.db
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

import tunesmith as ts

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)

# A declared space with a conditional parameter: `degree` exists only for the poly kernel.
SPACE = ts.Space(
    {
        "kernel": ts.Categorical(["rbf", "poly", "sigmoid"]),
        "C": ts.Float(1e-2, 1e3, log=True),
        "gamma": ts.Float(1e-5, 1e-1, log=True),
        "degree": ts.Int(2, 5),
    },
    conditions={"degree": {"kernel": "poly"}},
)


def make_model(params: dict) -> object:
    return make_pipeline(
        StandardScaler(),
        SVC(
            kernel=params["kernel"],
            C=params["C"],
            gamma=params["gamma"],
            degree=params.get("degree", 3),
        ),
    )


def objective(trial: ts.Trial) -> float:
    """Mean 5-fold CV accuracy of one SVM configuration (training split only)."""
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    scores = cross_val_score(make_model(trial.params), X_train, y_train, cv=folds)
    trial.set_user_attr("cv_std", float(np.std(scores)))
    return float(np.mean(scores))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to tune (default 60)")
    parser.add_argument("--n-trials", type=int, default=None, help="trial budget (default: none)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--storage", default="studies.db", help="SQLite file or database URL")
    parser.add_argument("--study", default="svm-digits", help="study name")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    study = ts.create_study(
        args.study,
        direction="maximize",
        storage=args.storage,
        space=SPACE,
        seed=args.seed,
        load_if_exists=True,
    )
    before = len(study.trials)
    print(
        f"Tuning an SVM on digits ({len(X_train)} training images, 5-fold CV) for "
        f"{args.timeout:g} s with {args.workers} worker processes; study {study.name!r} in "
        f"{args.storage} ({before} earlier trials)."
    )
    study.optimize(
        objective,
        n_trials=args.n_trials,
        timeout=args.timeout,
        n_workers=args.workers,
        show_progress=True,
    )

    if not study.get_trials([ts.TrialState.COMPLETE]):
        print("\nNo trial completed yet; run again with a longer --timeout to continue.")
        return 1
    best = study.best_trial
    print(f"\nTrials: {len(study.trials)} in total, {len(study.trials) - before} in this run.")
    print(f"Best CV accuracy: {best.value:.4f} (trial #{best.number})")
    for name, value in best.params.items():
        print(f"  {name} = {value}")
    model = make_model(dict(best.params)).fit(X_train, y_train)
    test_acc = model.score(X_test, y_test)
    print(f"Held-out test accuracy of the best setting (scored once): {test_acc:.4f}")
    print(f"\nResume:  python {' '.join(sys.argv) if argv is None else 'examples/tune_digits.py'}")
    print(f"Inspect: tunesmith show {study.name} --storage {args.storage}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
