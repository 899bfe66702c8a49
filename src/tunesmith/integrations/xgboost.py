"""Report an XGBoost metric every boosting round and stop hopeless trials.

Importing this module imports XGBoost (``pip install "tunesmith[xgboost]"``, which
installs the CPU-only ``xgboost-cpu`` wheel); ``import tunesmith`` alone does not.
"""

from __future__ import annotations

from typing import Any

from tunesmith.integrations._common import report_then_check, study_directions
from tunesmith.trial import Trial

try:
    from xgboost.callback import TrainingCallback
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "tunesmith.integrations.xgboost needs XGBoost: pip install 'tunesmith[xgboost]' "
        "(the CPU-only xgboost-cpu wheel) or pip install xgboost"
    ) from exc

__all__ = ["XGBoostPruningCallback"]

# XGBoost's built-in metrics by the way they improve (as its early stopping reads them);
# the direction check skips custom metrics, whose way XGBoost does not record.
_MAXIMIZED = frozenset({"auc", "aucpr", "map", "ndcg", "pre", "interval-regression-accuracy"})
_MINIMIZED = frozenset(
    {
        "rmse", "rmsle", "mae", "mape", "mphe", "logloss", "error", "merror", "mlogloss",
        "poisson-nloglik", "gamma-nloglik", "cox-nloglik", "gamma-deviance",
        "tweedie-nloglik", "aft-nloglik",
    }
)  # fmt: skip


class XGBoostPruningCallback(TrainingCallback):
    """Report one evaluation metric after every boosting round; prune when told to.

    After round ``r`` (0-based) the callback reports the latest value of
    ``observation_key`` at step ``r + 1``, the number of trees built so far, and then
    raises :class:`tunesmith.TrialPruned` if ``trial.should_prune()`` is True. The
    exception ends training and, raised out of the objective, marks the trial PRUNED.

    ``observation_key`` is ``"<data name>-<metric>"``, as XGBoost prints it:
    ``xgb.train(..., evals=[(dvalid, "validation")])`` with ``eval_metric="logloss"``
    gives ``"validation-logloss"``; the scikit-learn API names the ``eval_set`` entries
    ``validation_0``, ``validation_1``, ... (``"validation_0-logloss"``). With several
    metrics, prune on one of them; XGBoost's default metric for the objective counts
    too (``logloss`` for ``binary:logistic``, ``rmse`` for regression, ...).

    Args:
        trial: the trial the objective received.
        observation_key: which data set and metric to report.

    Raises:
        KeyError: (during training) if no data set and metric match ``observation_key``;
            the message lists the keys XGBoost computed.
        ValueError: (during training) if the study's direction is known and disagrees
            with a built-in metric (e.g. a maximized study reporting ``logloss``), or
            the study has several objectives.

    Example:
        >>> import xgboost as xgb
        >>> def objective(trial):
        ...     model = xgb.XGBClassifier(
        ...         n_estimators=200,
        ...         learning_rate=trial.suggest_float("eta", 1e-3, 0.3, log=True),
        ...         eval_metric="logloss",
        ...         callbacks=[XGBoostPruningCallback(trial, "validation_0-logloss")],
        ...     )
        ...     model.fit(X_train, y_train, eval_set=[(X_valid, y_valid)], verbose=False)
        ...     return model.evals_result()["validation_0"]["logloss"][-1]
    """

    def __init__(self, trial: Trial, observation_key: str = "validation_0-logloss") -> None:
        super().__init__()
        if not isinstance(observation_key, str) or not observation_key:
            raise TypeError(
                f"observation_key must be a string like 'validation_0-logloss', "
                f"got {observation_key!r}"
            )
        self.trial = trial
        self.observation_key = observation_key
        self._checked = False

    def _lookup(self, evals_log: dict[str, dict[str, Any]]) -> tuple[str, list[Any]]:
        # Match on the whole "<data>-<metric>" string: data names may contain "-".
        for data_name, metrics in evals_log.items():
            for metric, history in metrics.items():
                if f"{data_name}-{metric}" == self.observation_key:
                    return metric, history
        available = [f"{d}-{m}" for d, metrics in evals_log.items() for m in metrics]
        if not available:
            raise KeyError(
                f"XGBoost computed no evaluation metric, so {self.observation_key!r} cannot "
                "be reported; pass evals=[(dvalid, 'validation')] to xgb.train or "
                "eval_set=[(X_valid, y_valid)] to fit"
            )
        raise KeyError(
            f"observation_key {self.observation_key!r} is not among the metrics XGBoost "
            f"computed: {available}"
        )

    def _check_direction(self, metric: str) -> None:
        directions = study_directions(self.trial)
        if directions is None:
            return
        if len(directions) != 1:
            raise ValueError(
                f"XGBoostPruningCallback reports one value per round, but the study has "
                f"{len(directions)} directions; report a value per objective yourself"
            )
        base = metric.split("@", 1)[0].split(":", 1)[0]  # "error@0.7", "tweedie-nloglik@1.5"
        if base not in _MAXIMIZED and base not in _MINIMIZED:
            return
        higher_is_better = base in _MAXIMIZED
        if higher_is_better != (directions[0] == "maximize"):
            raise ValueError(
                f"XGBoost {'maximizes' if higher_is_better else 'minimizes'} {metric!r} but "
                f"the study's direction is {directions[0]!r}: the pruner would stop the best "
                "trials; report a metric that goes the study's way, or change the direction"
            )

    def after_iteration(self, model: Any, epoch: int, evals_log: dict[str, Any]) -> bool:
        """Report this round's value (step ``epoch + 1``); raise TrialPruned to stop."""
        metric, history = self._lookup(evals_log)
        if not self._checked:
            self._check_direction(metric)
            self._checked = True
        latest = history[-1]
        if isinstance(latest, tuple):  # xgb.cv logs (mean, std): report the mean
            latest = latest[0]
        report_then_check(self.trial, float(latest), epoch + 1, self.observation_key)
        return False
