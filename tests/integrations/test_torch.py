"""tunesmith.integrations.torch: loop helpers (no PyTorch needed), and a real PyTorch loop."""

from __future__ import annotations

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.integrations.torch import Epoch, epochs, report_and_maybe_prune
from tunesmith.trial import TrialState

from ._data import run_one, with_good_finished_trials


def test_report_and_maybe_prune_reports_and_returns_the_float():
    def objective(trial: ts.Trial) -> float:
        for step in range(1, 4):
            got = report_and_maybe_prune(trial, np.float32(step / 4), step)
            assert type(got) is float
        return got

    ft = run_one(ts.create_study(), objective)
    assert ft.state == TrialState.COMPLETE
    assert dict(ft.intermediate) == {1: (0.25,), 2: (0.5,), 3: (0.75,)}


def test_epochs_steps_reports_and_pruning():
    def objective(trial: ts.Trial) -> float:
        for epoch in epochs(trial, 10):
            assert isinstance(epoch, Epoch)
            epoch.report(1.0 / epoch.step)
        return epoch.value

    ft = run_one(ts.create_study(), objective)
    assert sorted(ft.intermediate) == list(range(1, 11))
    pruned = ts.create_study(pruner=ts.ThresholdPruner(upper=0.3, n_warmup_steps=2))
    ft = run_one(pruned, objective)
    assert ft.state == TrialState.PRUNED
    assert max(ft.intermediate) == 2  # 1/2 > 0.3 at the first step checked


def test_epochs_start_and_missing_report():
    def objective(trial: ts.Trial) -> float:
        for epoch in epochs(trial, 3, start=0):
            if epoch.step < 2:
                epoch.report(0.0)
        return 0.0

    with pytest.raises(RuntimeError, match="epoch 2 ended without"):
        ts.create_study().optimize(objective, n_trials=1)
    with pytest.raises(ValueError, match="n_epochs"):
        epochs(None, -1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="start"):
        epochs(None, 3, start=1.5)  # type: ignore[arg-type]


def test_bad_values():
    trial = ts.create_study().ask()
    with pytest.raises(TypeError, match="number"):
        report_and_maybe_prune(trial, "0.5", 1)
    with pytest.raises(TypeError, match="number"):
        report_and_maybe_prune(trial, True, 1)


def test_a_real_pytorch_loop_is_pruned():
    torch = pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_digits

    torch.set_num_threads(1)
    X, y = load_digits(return_X_y=True)
    X = torch.tensor(X / 16.0, dtype=torch.float32)
    y = torch.tensor(y)
    X_train, y_train, X_valid, y_valid = X[:1200], y[:1200], X[1200:], y[1200:]

    def objective(trial: ts.Trial) -> float:
        torch.manual_seed(trial.number)
        hidden = trial.suggest_int("hidden", 8, 32)
        model = torch.nn.Sequential(
            torch.nn.Linear(64, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 10)
        )
        optimizer = torch.optim.SGD(model.parameters(), lr=trial.suggest_float("lr", 0.05, 0.5))
        for epoch in epochs(trial, 8):
            model.train()
            for i in range(0, len(X_train), 100):
                optimizer.zero_grad()
                loss = torch.nn.functional.cross_entropy(
                    model(X_train[i : i + 100]), y_train[i : i + 100]
                )
                loss.backward()
                optimizer.step()
            model.eval()
            with torch.no_grad():
                epoch.report(torch.nn.functional.cross_entropy(model(X_valid), y_valid))
        return epoch.value

    study = ts.create_study(seed=0)
    ft = run_one(study, objective)
    assert ft.state == TrialState.COMPLETE
    assert sorted(ft.intermediate) == list(range(1, 9))
    assert ft.intermediate[8][0] < ft.intermediate[1][0]  # it learns

    pruned = ts.create_study(seed=0, pruner=ts.MedianPruner(n_startup_trials=5, n_warmup_steps=3))
    with_good_finished_trials(pruned, 0.0, 8)
    ft = run_one(pruned, objective)
    assert ft.state == TrialState.PRUNED
    assert max(ft.intermediate) == 3
