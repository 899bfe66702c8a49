"""XGBoostPruningCallback: reports every round, prunes, explains wrong keys."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import tunesmith as ts
from tunesmith.trial import TrialState

from ._data import breast_cancer, run_one, with_good_finished_trials

xgb = pytest.importorskip("xgboost")
from tunesmith.integrations.xgboost import XGBoostPruningCallback  # noqa: E402

ROUNDS = 12


def _train_objective(key: str = "validation-logloss", rounds: int = ROUNDS, metric="logloss"):
    X_train, X_valid, y_train, y_valid = breast_cancer()

    def objective(trial: ts.Trial) -> float:
        eta = trial.suggest_float("eta", 0.05, 0.3)
        evals_result: dict = {}
        xgb.train(
            {
                "objective": "binary:logistic",
                "eta": eta,
                "max_depth": 2,
                "eval_metric": metric,
                "nthread": 1,
            },
            xgb.DMatrix(X_train, y_train),
            num_boost_round=rounds,
            evals=[(xgb.DMatrix(X_valid, y_valid), "validation")],
            evals_result=evals_result,
            verbose_eval=False,
            callbacks=[XGBoostPruningCallback(trial, key)],
        )
        trial.set_user_attr("curve", evals_result["validation"][metric])
        return evals_result["validation"][metric][-1]

    return objective


def test_reports_every_round_with_step_round_plus_one():
    study = ts.create_study(seed=0)
    ft = run_one(study, _train_objective())
    assert ft.state == TrialState.COMPLETE
    assert sorted(ft.intermediate) == list(range(1, ROUNDS + 1))
    curve = ft.user_attrs["curve"]
    assert [ft.intermediate[s][0] for s in range(1, ROUNDS + 1)] == pytest.approx(curve)


def test_threshold_pruner_stops_training_early():
    # The validation logloss starts near 0.69; demanding below 0.01 from step 3 on prunes there.
    study = ts.create_study(seed=0, pruner=ts.ThresholdPruner(upper=0.01, n_warmup_steps=3))
    ft = run_one(study, _train_objective())
    assert ft.state == TrialState.PRUNED
    assert max(ft.intermediate) == 3
    assert "curve" not in ft.user_attrs  # training stopped inside xgb.train


def test_median_pruner_with_better_finished_trials_prunes():
    study = ts.create_study(seed=0, pruner=ts.MedianPruner(n_startup_trials=5, n_warmup_steps=2))
    with_good_finished_trials(study, 0.0, ROUNDS)
    ft = run_one(study, _train_objective())
    assert ft.state == TrialState.PRUNED
    assert max(ft.intermediate) == 2


def test_sklearn_api_and_its_default_names():
    X_train, X_valid, y_train, y_valid = breast_cancer()

    def objective(trial: ts.Trial) -> float:
        model = xgb.XGBClassifier(
            n_estimators=ROUNDS,
            max_depth=trial.suggest_int("depth", 2, 4),
            eval_metric="logloss",
            n_jobs=1,
            callbacks=[XGBoostPruningCallback(trial, "validation_0-logloss")],
        )
        model.fit(X_train, y_train, eval_set=[(X_valid, y_valid)], verbose=False)
        return model.evals_result()["validation_0"]["logloss"][-1]

    study = ts.create_study(seed=0)
    assert run_one(study, objective).intermediate.keys() == set(range(1, ROUNDS + 1))
    pruned = ts.create_study(seed=0, pruner=ts.ThresholdPruner(upper=0.01, n_warmup_steps=4))
    ft = run_one(pruned, objective)
    assert ft.state == TrialState.PRUNED
    assert max(ft.intermediate) == 4


def test_cv_reports_the_mean_over_folds():
    X_train, _, y_train, _ = breast_cancer()

    def objective(trial: ts.Trial) -> float:
        result = xgb.cv(
            {
                "objective": "binary:logistic",
                "eval_metric": "logloss",
                "nthread": 1,
                "eta": trial.suggest_float("eta", 0.05, 0.3),
            },
            xgb.DMatrix(X_train, y_train),
            num_boost_round=5,
            nfold=3,
            callbacks=[XGBoostPruningCallback(trial, "test-logloss")],
            as_pandas=False,
        )
        trial.set_user_attr("curve", [float(v) for v in result["test-logloss-mean"]])
        return result["test-logloss-mean"][-1]

    ft = run_one(ts.create_study(seed=0), objective)
    assert [ft.intermediate[s][0] for s in range(1, 6)] == pytest.approx(ft.user_attrs["curve"])


def test_wrong_key_names_the_available_ones():
    study = ts.create_study(seed=0)
    with pytest.raises(KeyError, match=r"validation-logloss"):
        study.optimize(_train_objective("validation_0-logloss"), n_trials=1)


def test_no_evaluation_set_says_so():
    X_train, _, y_train, _ = breast_cancer()

    def objective(trial: ts.Trial) -> float:
        xgb.train(
            {"objective": "binary:logistic", "nthread": 1},
            xgb.DMatrix(X_train, y_train),
            num_boost_round=2,
            callbacks=[XGBoostPruningCallback(trial)],
        )
        return 0.0

    with pytest.raises(KeyError, match="evals="):
        ts.create_study().optimize(objective, n_trials=1)


def test_direction_mismatch_is_an_error():
    study = ts.create_study(direction="maximize")
    with pytest.raises(ValueError, match="minimizes 'logloss'"):
        study.optimize(_train_objective(), n_trials=1)
    auc = ts.create_study(direction="maximize")
    ft = run_one(auc, _train_objective("validation-auc", rounds=3, metric="auc"))
    assert ft.state == TrialState.COMPLETE


def test_several_objectives_are_refused():
    study = ts.create_study(directions=["minimize", "minimize"])
    with pytest.raises(ValueError, match="2 directions"):
        study.optimize(_train_objective(), n_trials=1)


def test_bad_key_type():
    with pytest.raises(TypeError, match="observation_key"):
        XGBoostPruningCallback(None, 3)  # type: ignore[arg-type]


def test_prune_xgboost_example_runs():
    example = Path(__file__).resolve().parents[2] / "examples" / "prune_xgboost.py"
    cmd = [sys.executable, str(example), "--n-trials", "12", "--rounds", "30"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    rounds = next(line for line in lines if line.startswith("Boosting rounds trained:")).split()
    assert rounds[5] == "360"  # 12 trials x 30 rounds without pruning
    assert int(rounds[3]) < 360  # the median pruner stopped some
    assert any(line.startswith("Best validation log-loss:") for line in lines)
