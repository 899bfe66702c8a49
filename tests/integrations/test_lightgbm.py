"""LightGBMPruningCallback: reports every iteration, prunes, explains mismatches."""

from __future__ import annotations

import inspect

import pytest

import tunesmith as ts
from tunesmith.trial import TrialState

from ._data import breast_cancer, run_one, with_good_finished_trials

lgb = pytest.importorskip("lightgbm")
from tunesmith.integrations.lightgbm import LightGBMPruningCallback  # noqa: E402

ROUNDS = 12
PARAMS = {"objective": "binary", "verbose": -1, "num_threads": 1, "num_leaves": 4, "seed": 0}


def _train_objective(metric: str = "binary_logloss", valid_name: str = "valid_0"):
    X_train, X_valid, y_train, y_valid = breast_cancer()

    def objective(trial: ts.Trial) -> float:
        params = dict(PARAMS, metric=["binary_logloss", "auc"])
        params["learning_rate"] = trial.suggest_float("lr", 0.05, 0.3)
        record: dict = {}
        train = lgb.Dataset(X_train, y_train)
        booster = lgb.train(
            params,
            train,
            num_boost_round=ROUNDS,
            valid_sets=[lgb.Dataset(X_valid, y_valid, reference=train)],
            callbacks=[
                LightGBMPruningCallback(trial, metric, valid_name),
                lgb.record_evaluation(record),
            ],
        )
        trial.set_user_attr("curve", record["valid_0"][metric])
        return booster.best_score["valid_0"][metric]

    return objective


def test_reports_every_iteration_with_step_iteration_plus_one():
    study = ts.create_study(seed=0)
    ft = run_one(study, _train_objective())
    assert ft.state == TrialState.COMPLETE
    assert sorted(ft.intermediate) == list(range(1, ROUNDS + 1))
    curve = ft.user_attrs["curve"]
    assert [ft.intermediate[s][0] for s in range(1, ROUNDS + 1)] == pytest.approx(curve)


def test_threshold_pruner_stops_training_early():
    study = ts.create_study(seed=0, pruner=ts.ThresholdPruner(upper=0.01, n_warmup_steps=3))
    ft = run_one(study, _train_objective())
    assert ft.state == TrialState.PRUNED
    assert max(ft.intermediate) == 3
    assert "curve" not in ft.user_attrs


def test_median_pruner_on_a_maximized_metric():
    study = ts.create_study(
        direction="maximize", seed=0, pruner=ts.MedianPruner(n_startup_trials=5, n_warmup_steps=2)
    )
    with_good_finished_trials(study, 1.0 + 1e-9, ROUNDS)  # AUC can get to 1.0, not past it
    ft = run_one(study, _train_objective("auc"))
    assert ft.state == TrialState.PRUNED
    assert max(ft.intermediate) == 2


def _eval_kwargs(X_valid, y_valid) -> dict:
    # LightGBM 4.7 replaced fit's eval_set=[(X, y)] by eval_X= and eval_y= (and warns).
    if "eval_X" in inspect.signature(lgb.LGBMClassifier.fit).parameters:
        return {"eval_X": (X_valid,), "eval_y": (y_valid,)}
    return {"eval_set": [(X_valid, y_valid)]}


def test_sklearn_api():
    X_train, X_valid, y_train, y_valid = breast_cancer()

    def objective(trial: ts.Trial) -> float:
        model = lgb.LGBMClassifier(
            n_estimators=ROUNDS,
            learning_rate=trial.suggest_float("lr", 0.05, 0.3),
            num_leaves=4,
            n_jobs=1,
            verbose=-1,
        )
        model.fit(
            X_train,
            y_train,
            callbacks=[LightGBMPruningCallback(trial, "binary_logloss")],
            **_eval_kwargs(X_valid, y_valid),
        )
        return model.best_score_["valid_0"]["binary_logloss"]

    assert run_one(ts.create_study(seed=0), objective).intermediate.keys() == set(
        range(1, ROUNDS + 1)
    )
    pruned = ts.create_study(seed=0, pruner=ts.ThresholdPruner(upper=0.01, n_warmup_steps=5))
    ft = run_one(pruned, objective)
    assert ft.state == TrialState.PRUNED
    assert max(ft.intermediate) == 5


def test_cv_reports_the_mean_over_folds():
    X_train, _, y_train, _ = breast_cancer()

    def objective(trial: ts.Trial) -> float:
        params = dict(PARAMS, metric="binary_logloss")
        params["learning_rate"] = trial.suggest_float("lr", 0.05, 0.3)
        result = lgb.cv(
            params,
            lgb.Dataset(X_train, y_train),
            num_boost_round=ROUNDS,
            nfold=3,
            callbacks=[LightGBMPruningCallback(trial, "binary_logloss", "valid")],
        )
        trial.set_user_attr("curve", result["valid binary_logloss-mean"])
        return result["valid binary_logloss-mean"][-1]

    ft = run_one(ts.create_study(seed=0), objective)
    assert [ft.intermediate[s][0] for s in range(1, ROUNDS + 1)] == pytest.approx(
        ft.user_attrs["curve"]
    )


@pytest.mark.parametrize(
    ("metric", "valid_name"), [("binary_error", "valid_0"), ("binary_logloss", "valid_1")]
)
def test_mismatch_lists_the_available_pairs(metric, valid_name):
    with pytest.raises(KeyError, match=r"\('valid_0', 'binary_logloss'\), \('valid_0', 'auc'\)"):
        ts.create_study().optimize(_train_objective(metric, valid_name), n_trials=1)


def test_no_validation_set_says_so():
    X_train, _, y_train, _ = breast_cancer()

    def objective(trial: ts.Trial) -> float:
        lgb.train(
            PARAMS,
            lgb.Dataset(X_train, y_train),
            num_boost_round=2,
            callbacks=[LightGBMPruningCallback(trial)],
        )
        return 0.0

    with pytest.raises(KeyError, match="valid_sets="):
        ts.create_study().optimize(objective, n_trials=1)


def test_direction_mismatch_is_an_error():
    with pytest.raises(ValueError, match=r"lower is better.*'maximize'"):
        ts.create_study(direction="maximize").optimize(_train_objective(), n_trials=1)
    with pytest.raises(ValueError, match=r"higher is better.*'minimize'"):
        ts.create_study(direction="minimize").optimize(_train_objective("auc"), n_trials=1)


def test_bad_argument_types():
    with pytest.raises(TypeError, match="metric"):
        LightGBMPruningCallback(None, metric="")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="valid_name"):
        LightGBMPruningCallback(None, valid_name=0)  # type: ignore[arg-type]
