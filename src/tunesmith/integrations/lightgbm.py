"""Report a LightGBM metric every boosting iteration and stop hopeless trials.

Importing this module imports LightGBM (``pip install "tunesmith[lightgbm]"``);
``import tunesmith`` alone does not.
"""

from __future__ import annotations

from typing import Any

from tunesmith.integrations._common import report_then_check, study_directions
from tunesmith.trial import Trial

try:
    import lightgbm  # noqa: F401  (fail here, with the extra's name, not mid-training)
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "tunesmith.integrations.lightgbm needs LightGBM: pip install 'tunesmith[lightgbm]'"
    ) from exc

__all__ = ["LightGBMPruningCallback"]


class LightGBMPruningCallback:
    """A LightGBM callback: report one validation metric per iteration; prune when told to.

    After iteration ``i`` (0-based, as LightGBM counts) it reports the metric at step
    ``i + 1``, the number of trees built so far, then raises
    :class:`tunesmith.TrialPruned` if ``trial.should_prune()`` is True, which stops
    training and, raised out of the objective, marks the trial PRUNED.

    Works with ``lgb.train(..., valid_sets=[...], callbacks=[cb])``, the scikit-learn
    API (``LGBMClassifier().fit(..., eval_X=..., eval_y=..., callbacks=[cb])``, or
    ``eval_set=[...]`` before LightGBM 4.7) and ``lgb.cv``
    (the mean over folds is reported; its data set is named ``"valid"`` there).

    Args:
        trial: the trial the objective received.
        metric: the metric's name as LightGBM logs it (``"binary_logloss"``,
            ``"auc"``, ``"l2"``, ``"multi_logloss"``, a custom ``feval``'s name, ...).
        valid_name: the validation set's name: ``valid_names`` entries in
            ``lgb.train`` (default ``"valid_0"``, ``"valid_1"``, ...), ``eval_names``
            in ``fit`` (default ``"valid_0"``, ...), ``"valid"`` for ``lgb.cv``.

    Raises:
        KeyError: (at the first iteration) if no evaluation result matches
            ``(valid_name, metric)``; the message lists the pairs LightGBM computed.
        ValueError: (at the first iteration) if the study's direction is known and
            disagrees with the metric's "higher is better" flag (for example a
            maximized study reporting ``binary_logloss``), or the study has several
            objectives.

    Example:
        >>> import lightgbm as lgb
        >>> def objective(trial):
        ...     params = {"objective": "binary", "metric": "binary_logloss", "verbose": -1,
        ...               "learning_rate": trial.suggest_float("lr", 1e-3, 0.3, log=True)}
        ...     booster = lgb.train(
        ...         params, lgb.Dataset(X_train, y_train), num_boost_round=200,
        ...         valid_sets=[lgb.Dataset(X_valid, y_valid)],
        ...         callbacks=[LightGBMPruningCallback(trial, "binary_logloss")],
        ...     )
        ...     return booster.best_score["valid_0"]["binary_logloss"]
    """

    # Run after LightGBM's own callbacks (early stopping has order 30).
    order = 40
    before_iteration = False

    def __init__(
        self, trial: Trial, metric: str = "binary_logloss", valid_name: str = "valid_0"
    ) -> None:
        for name, value in (("metric", metric), ("valid_name", valid_name)):
            if not isinstance(value, str) or not value:
                raise TypeError(f"{name} must be a non-empty string, got {value!r}")
        self.trial = trial
        self.metric = metric
        self.valid_name = valid_name
        self._checked = False

    def _find(self, results: list[Any]) -> Any:
        wanted = (self.valid_name, self.metric)
        for entry in results:
            if _pair(entry) == wanted:
                return entry
        if not results:
            raise KeyError(
                f"LightGBM computed no evaluation result, so {self.metric!r} on "
                f"{self.valid_name!r} cannot be reported; pass valid_sets=[...] to lgb.train "
                "or eval_X=/eval_y= (eval_set= before 4.7) to fit"
            )
        raise KeyError(
            f"{wanted!r} is not among the (valid_name, metric) pairs LightGBM computed: "
            f"{[_pair(entry) for entry in results]}"
        )

    def _check_direction(self, higher_is_better: bool) -> None:
        directions = study_directions(self.trial)
        if directions is None:
            return
        if len(directions) != 1:
            raise ValueError(
                f"LightGBMPruningCallback reports one value per iteration, but the study has "
                f"{len(directions)} directions; report a value per objective yourself"
            )
        if higher_is_better != (directions[0] == "maximize"):
            raise ValueError(
                f"LightGBM marks {self.metric!r} as "
                f"{'higher' if higher_is_better else 'lower'} is better, but the study's "
                f"direction is {directions[0]!r}: the pruner would stop the best trials; "
                "report a metric that goes the study's way, or change the direction"
            )

    def __call__(self, env: Any) -> None:
        """Report this iteration's value (step ``env.iteration + 1``); raise TrialPruned
        to stop."""
        entry = self._find(list(env.evaluation_result_list or []))
        if not self._checked:
            self._check_direction(bool(entry[3]))
            self._checked = True
        report_then_check(
            self.trial, float(entry[2]), env.iteration + 1, f"{self.valid_name} {self.metric}"
        )


def _pair(entry: Any) -> tuple[str, str]:
    """(data set name, metric name) of one evaluation result; LightGBM before 4.7
    named ``lgb.cv`` results ``("cv_agg", "valid binary_logloss", ...)``."""
    data_name, eval_name = entry[0], entry[1]
    if data_name == "cv_agg" and " " in eval_name:
        data_name, eval_name = eval_name.split(" ", 1)
    return (data_name, eval_name)
