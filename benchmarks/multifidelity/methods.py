"""The methods compared: a sampler plus a pruner, from tunesmith or Optuna.

Every method is driven by the same loop, :func:`tunesmith.simulate.simulate`: tunesmith
studies directly, Optuna studies through :class:`OptunaAdapter` (ask, ``suggest_*``,
``trial.report``, ``trial.should_prune``, tell), so both see the same curves, the same
workers and the same clock.

Pruner arguments are the same on both sides (those are also each library's defaults
except where noted):

* median: ``MedianPruner(n_startup_trials=5, n_warmup_steps=0)``;
* sh: ``SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)`` (both default to
  ``"auto"`` for the first rung, and Optuna to a reduction factor of 4);
* hb: ``HyperbandPruner(min_resource=1, max_resource=<the problem's max_step>,
  reduction_factor=3)``.

tunesmith's multi-fidelity samplers have no Optuna counterpart: ``bohb`` is
``BOHBSampler(min_resource=1, reduction_factor=3)`` (TPE per budget) and ``dehb`` is
``DEHBSampler(min_resource=1, max_resource=<max_step under hb, else None>,
reduction_factor=3)``, each run with the ``sh`` or ``hb`` pruner above.

Samplers are each library's defaults with the run's seed: ``RandomSampler`` and
``TPESampler`` (Optuna's: independent TPE, 10 start-up trials, constant liar; tunesmith's:
see docs/samplers/tpe.md). Studies are named ``<problem>-<method>-<seed>`` (Hyperband
assigns brackets by hashing the study name and trial number).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import tunesmith as ts
from benchmarks._suite import expand_names
from tunesmith.trial import TrialState

PRUNERS = ("none", "median", "sh", "hb")
SAMPLERS = ("random", "tpe")
#: multi-fidelity samplers of tunesmith (no Optuna counterpart), run with sh and hb.
MF_SAMPLERS = ("bohb", "dehb")


@dataclass(frozen=True)
class Method:
    """A library, a sampler and a pruner."""

    name: str
    library: str  # "tunesmith" or "optuna"
    sampler: str  # "random" or "tpe"
    pruner: str  # "none", "median", "sh" or "hb"

    @property
    def peer(self) -> str | None:
        """The same sampler and pruner in the other library (None for the full-budget runs
        and for samplers only tunesmith has)."""
        if self.pruner == "none" or self.sampler in MF_SAMPLERS:
            return None
        other = "optuna" if self.library == "tunesmith" else "ts"
        return f"{other}-{self.pruner}-{self.sampler}"


def _all_methods() -> dict[str, Method]:
    out = {
        "random-full": Method("random-full", "tunesmith", "random", "none"),
        "ts-tpe-full": Method("ts-tpe-full", "tunesmith", "tpe", "none"),
        "optuna-tpe-full": Method("optuna-tpe-full", "optuna", "tpe", "none"),
    }
    for lib, prefix in (("tunesmith", "ts"), ("optuna", "optuna")):
        for pruner in ("median", "sh", "hb"):
            for sampler in SAMPLERS:
                name = f"{prefix}-{pruner}-{sampler}"
                out[name] = Method(name, lib, sampler, pruner)
    for pruner in ("sh", "hb"):
        for sampler in MF_SAMPLERS:
            name = f"ts-{pruner}-{sampler}"
            out[name] = Method(name, "tunesmith", sampler, pruner)
    return out


METHODS = _all_methods()
METHOD_SETS: dict[str, list[str]] = {
    "default": [
        "random-full",
        "ts-tpe-full",
        "optuna-tpe-full",
        *(f"ts-{p}-{s}" for s in SAMPLERS for p in ("median", "sh", "hb")),
        *(f"optuna-{p}-{s}" for s in SAMPLERS for p in ("median", "sh", "hb")),
    ],
}
#: the long-horizon comparison (``--budget 100``): tunesmith's schedulers, with Optuna's
#: Hyperband beside them. Optuna's successive halving and TPE are left out here: at
#: thousands of trials per run their per-trial cost grows with the study (a minute per
#: cell); the default set compares them at ``--budget 10``.
METHOD_SETS["long"] = [
    "random-full",
    "ts-sh-random",
    "ts-hb-random",
    "ts-hb-tpe",
    "ts-hb-bohb",
    "ts-sh-bohb",
    "ts-hb-dehb",
    "optuna-hb-random",
]
METHOD_SETS["all"] = list(METHODS)


def expand(names: list[str]) -> list[str]:
    """Expand set names (``default``, ``all``) into method names, keeping order."""
    return expand_names(names, METHOD_SETS, METHODS, "method")


def availability(name: str) -> str | None:
    """Why method ``name`` cannot run here, or None."""
    if METHODS[name].library == "optuna":
        try:
            import optuna  # noqa: F401
        except ImportError as exc:
            return f"optuna is not installed ({exc})"
    return None


# ----------------------------------------------------------------------------------------
# tunesmith
# ----------------------------------------------------------------------------------------


def _ts_pruner(pruner: str, max_step: int) -> ts.Pruner | None:
    if pruner == "none":
        return None
    if pruner == "median":
        return ts.MedianPruner(n_startup_trials=5, n_warmup_steps=0)
    if pruner == "sh":
        return ts.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    return ts.HyperbandPruner(min_resource=1, max_resource=max_step, reduction_factor=3)


def _ts_sampler(method: Method, max_step: int) -> str | ts.Sampler:
    """The sampler by name; BOHB and DEHB with the rungs of the method's pruner."""
    if method.sampler == "bohb":
        return ts.BOHBSampler(min_resource=1, reduction_factor=3)
    if method.sampler == "dehb":
        top = max_step if method.pruner == "hb" else None
        return ts.DEHBSampler(min_resource=1, max_resource=top, reduction_factor=3)
    return method.sampler


def tunesmith_study(method: Method, study_name: str, max_step: int, seed: int) -> ts.Study:
    return ts.create_study(
        study_name,
        direction="minimize",
        sampler=_ts_sampler(method, max_step),
        pruner=_ts_pruner(method.pruner, max_step),
        seed=seed,
    )


# ----------------------------------------------------------------------------------------
# Optuna
# ----------------------------------------------------------------------------------------


class OptunaAdapter:
    """Drives an Optuna study for :func:`tunesmith.simulate.simulate` (an ``AskTellAdapter``).

    tunesmith distributions map one to one: ``Float`` to ``suggest_float`` (log, step),
    ``Int`` to ``suggest_int``, ``Categorical`` to ``suggest_categorical``.
    """

    def __init__(self, study: Any) -> None:
        import optuna

        self._optuna = optuna
        self.study = study
        self.direction = (
            "minimize" if study.direction == optuna.study.StudyDirection.MINIMIZE else "maximize"
        )
        self._trials: dict[int, Any] = {}

    def ask(self, space: ts.Space) -> tuple[int, dict[str, Any]]:
        trial = self.study.ask()
        params: dict[str, Any] = {}
        for name in space:
            if not space.is_active(name, params):
                continue
            d = space[name]
            if isinstance(d, ts.Float):
                params[name] = trial.suggest_float(name, d.low, d.high, log=d.log, step=d.step)
            elif isinstance(d, ts.Int):
                params[name] = trial.suggest_int(name, d.low, d.high, log=d.log, step=d.step)
            else:
                params[name] = trial.suggest_categorical(name, list(d.choices))
        self._trials[trial.number] = trial
        return trial.number, params

    def report(self, number: int, value: float, step: int) -> None:
        self._trials[number].report(value, step)

    def should_prune(self, number: int) -> bool:
        return bool(self._trials[number].should_prune())

    def tell(
        self, number: int, state: TrialState, value: float | None, reason: str | None = None
    ) -> None:
        states = self._optuna.trial.TrialState
        trial = self._trials.pop(number)
        if state == TrialState.COMPLETE:
            self.study.tell(trial, value)
        elif state == TrialState.PRUNED:
            self.study.tell(trial, state=states.PRUNED)
        else:
            self.study.tell(trial, state=states.FAIL)


def optuna_adapter(method: Method, study_name: str, max_step: int, seed: int) -> OptunaAdapter:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = (
        optuna.samplers.RandomSampler(seed=seed)
        if method.sampler == "random"
        else optuna.samplers.TPESampler(seed=seed)
    )
    pruner: Any
    if method.pruner == "none":
        pruner = optuna.pruners.NopPruner()
    elif method.pruner == "median":
        pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0)
    elif method.pruner == "sh":
        pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    else:
        pruner = optuna.pruners.HyperbandPruner(
            min_resource=1, max_resource=max_step, reduction_factor=3
        )
    study = optuna.create_study(
        study_name=study_name, direction="minimize", sampler=sampler, pruner=pruner
    )
    return OptunaAdapter(study)


def build(method_name: str, problem_name: str, max_step: int, seed: int) -> Any:
    """The study (tunesmith) or adapter (Optuna) that runs ``method_name`` for one seed."""
    method = METHODS[method_name]
    study_name = f"{problem_name}-{method_name}-{seed}"
    if method.library == "tunesmith":
        return tunesmith_study(method, study_name, max_step, seed)
    return optuna_adapter(method, study_name, max_step, seed)
