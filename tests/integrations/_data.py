"""Small, fixed data sets for the integration tests (scikit-learn's bundled data)."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.trial import TrialState


@cache
def breast_cancer() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(X_train, X_valid, y_train, y_valid): a stratified 70/30 split."""
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    X, y = load_breast_cancer(return_X_y=True)
    return tuple(train_test_split(X, y, test_size=0.3, stratify=y, random_state=0))  # type: ignore[return-value]


def run_one(study: ts.Study, objective) -> ts.FrozenTrial:
    """Run one trial of ``objective`` in this process; its stored record."""
    study.optimize(objective, n_trials=1)
    return study.trials[-1]


def with_good_finished_trials(study: ts.Study, value: float, steps: int, n: int = 5) -> None:
    """Add ``n`` COMPLETE trials that reported ``value`` at steps 1..steps: a real
    trial far from ``value`` trails the median at once."""
    for _ in range(n):
        curve = {s: value for s in range(1, steps + 1)}
        study.add_trial({}, value, state=TrialState.COMPLETE, intermediate=curve)
