"""Tune a gradient-boosting classifier on a Dask or Ray cluster, with pruning.

* the objective trains scikit-learn's HistGradientBoostingClassifier on the bundled
  digits data, ten boosting rounds at a time, and reports the validation accuracy
  after each block: successive halving (ASHA) stops the weak trials early, from the
  driver, while the trials run on the cluster's workers;
* the same study runs on Dask or Ray by changing one argument of ``optimize``:
  ``executor=DaskExecutor(...)`` or ``executor=RayExecutor(...)``;
* without ``--address`` a small local cluster is started (two worker processes).

Run:  python examples/dask_ray.py --engine dask            (needs "tunesmith[dask]")
      python examples/dask_ray.py --engine ray             (needs "tunesmith[ray]")
      python examples/dask_ray.py --engine dask --address tcp://scheduler:8786
      python examples/dask_ray.py --engine ray --address auto   (on a node of a Ray cluster)
See docs/executors.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import tunesmith as ts

BLOCK = 10  # boosting rounds between reports
BLOCKS = 8  # at most 80 rounds per trial


def load_split() -> tuple[Any, Any, Any, Any, Any, Any]:
    """Digits, split 60/20/20 into train, validation (for tuning) and test (scored once)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_rest, X_test, y_rest, y_test = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=0
    )
    X_train, X_val, y_train, y_val = train_test_split(
        X_rest, y_rest, test_size=0.25, stratify=y_rest, random_state=0
    )
    return X_train, X_val, X_test, y_train, y_val, y_test


def make_model(params: dict[str, Any]) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        learning_rate=params["learning_rate"],
        max_leaf_nodes=params["max_leaf_nodes"],
        min_samples_leaf=params["min_samples_leaf"],
        l2_regularization=params["l2_regularization"],
        max_iter=BLOCK,
        early_stopping=False,
        warm_start=True,
        random_state=0,
    )


def objective(trial: ts.Trial) -> float:
    """Validation accuracy after up to 80 boosting rounds; runs on a cluster worker."""
    params = {
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.5, log=True),
        "max_leaf_nodes": trial.suggest_int("max_leaf_nodes", 4, 64, log=True),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 2, 40, log=True),
        "l2_regularization": trial.suggest_float("l2_regularization", 1e-6, 10.0, log=True),
    }
    X_train, X_val, _, y_train, y_val, _ = load_split()
    model = make_model(params)
    accuracy = 0.0
    for block in range(1, BLOCKS + 1):
        model.set_params(max_iter=block * BLOCK)
        model.fit(X_train, y_train)  # warm start: adds BLOCK rounds
        accuracy = float(model.score(X_val, y_val))
        trial.report(accuracy, block)
        if trial.should_prune():  # decided by the driver, from every worker's reports
            raise ts.TrialPruned()
    return accuracy


def make_executor(engine: str, address: str | None, workers: int) -> tuple[Any, Any]:
    """The executor, and a local cluster to close afterwards (None with --address)."""
    from tunesmith.executors import DaskExecutor, RayExecutor

    if engine == "dask":
        if address:
            return DaskExecutor(address), None
        from distributed import LocalCluster

        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
        return DaskExecutor(cluster), cluster
    if address:
        return RayExecutor(address), None
    ex = RayExecutor(
        "local",
        resources_per_trial={"num_cpus": 1},
        init_kwargs={"num_cpus": workers, "include_dashboard": False, "log_to_driver": False},
    )
    return ex, None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["dask", "ray"], default="dask")
    parser.add_argument("--address", default=None, help="cluster address (default: local)")
    parser.add_argument("--workers", type=int, default=2, help="local cluster size (default 2)")
    parser.add_argument("--n-trials", type=int, default=30)
    parser.add_argument("--storage", default=None, help="SQLite file or database URL")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    study = ts.create_study(
        f"hgb-digits-{args.engine}",
        direction="maximize",
        storage=args.storage,
        seed=args.seed,
        pruner=ts.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3),
        load_if_exists=True,
    )
    executor, cluster = make_executor(args.engine, args.address, args.workers)
    where = args.address or f"a local cluster of {args.workers} workers"
    print(f"Tuning HistGradientBoostingClassifier on digits with {args.engine} ({where}).")
    t0 = time.monotonic()
    try:
        with executor:
            study.optimize(objective, n_trials=args.n_trials, executor=executor)
    finally:
        if cluster is not None:
            cluster.close()
    elapsed = time.monotonic() - t0

    trials = study.trials
    done = study.get_trials([ts.TrialState.COMPLETE])
    pruned = study.get_trials([ts.TrialState.PRUNED])
    rounds = sum(max(t.intermediate, default=0) for t in trials) * BLOCK
    print(
        f"Trials: {len(done)} complete, {len(pruned)} pruned, {len(trials)} in all ({elapsed:.1f} s)"
    )
    print(f"Boosting rounds trained: {rounds} of {len(trials) * BLOCKS * BLOCK} without pruning")
    if not done:
        print("No trial completed.")
        return 1
    best = study.best_trial
    print(f"Best validation accuracy: {best.value:.4f} (trial #{best.number})")
    for name, value in best.params.items():
        print(f"  {name} = {value:.4g}" if isinstance(value, float) else f"  {name} = {value}")
    X_train, _, X_test, y_train, _, y_test = load_split()
    model = make_model(dict(best.params)).set_params(max_iter=BLOCKS * BLOCK, warm_start=False)
    model.fit(X_train, y_train)
    print(
        f"Held-out test accuracy of the best setting (scored once): {model.score(X_test, y_test):.4f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
