"""Pruners: when to stop a running trial, from its intermediate reports."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tunesmith._registry import build
from tunesmith.pruners.base import NopPruner, Pruner
from tunesmith.pruners.hyperband import Bracket, HyperbandPruner, hyperband_brackets
from tunesmith.pruners.patient import PatientPruner
from tunesmith.pruners.percentile import MedianPruner, PercentilePruner
from tunesmith.pruners.successive_halving import SuccessiveHalvingPruner
from tunesmith.pruners.threshold import ThresholdPruner
from tunesmith.pruners.wilcoxon import WilcoxonPruner

__all__ = [
    "Bracket",
    "HyperbandPruner",
    "MedianPruner",
    "NopPruner",
    "PatientPruner",
    "PercentilePruner",
    "Pruner",
    "SuccessiveHalvingPruner",
    "ThresholdPruner",
    "WilcoxonPruner",
    "hyperband_brackets",
    "make_pruner",
]

_REGISTRY: dict[str, type[Pruner]] = {
    "none": NopPruner,
    "nop": NopPruner,
    "noppruner": NopPruner,
    "median": MedianPruner,
    "medianpruner": MedianPruner,
    "percentile": PercentilePruner,
    "percentilepruner": PercentilePruner,
    "threshold": ThresholdPruner,
    "thresholdpruner": ThresholdPruner,
    "patient": PatientPruner,
    "patientpruner": PatientPruner,
    "wilcoxon": WilcoxonPruner,
    "wilcoxonpruner": WilcoxonPruner,
    "sh": SuccessiveHalvingPruner,
    "asha": SuccessiveHalvingPruner,
    "successive_halving": SuccessiveHalvingPruner,
    "successivehalving": SuccessiveHalvingPruner,
    "successivehalvingpruner": SuccessiveHalvingPruner,
    "hyperband": HyperbandPruner,
    "hyperbandpruner": HyperbandPruner,
}


def _register_pbt() -> None:
    # Population-based training lives in tunesmith.pbt (it also queues trials), but a
    # study stores it as a pruner: register it so load_study rebuilds it.
    from tunesmith.pbt import PBT

    _REGISTRY.update({"pbt": PBT, "populationbasedtraining": PBT})


def make_pruner(spec: str | Mapping[str, Any] | Pruner | None) -> Pruner | None:
    """Build a pruner from a name (``"median"``), a description (``{"name": "percentile",
    "percentile": 25}``, as stored in study metadata) or return a pruner unchanged.

    Any object with a ``should_prune(study, trial_number)`` method is accepted as a
    pruner and returned as is.

    Raises:
        TunesmithError: for an unknown name or bad arguments.

    Example:
        >>> make_pruner({"name": "sh", "min_resource": 1})
        SuccessiveHalvingPruner(min_resource=1, reduction_factor=3, min_early_stopping_rate=0, bootstrap_count=0)
    """
    if spec is None or isinstance(spec, Pruner):
        return spec
    if not isinstance(spec, str | Mapping) and callable(getattr(spec, "should_prune", None)):
        return spec  # a pruner of the user's own
    if "pbt" not in _REGISTRY:
        _register_pbt()  # late: tunesmith.pbt imports this package
    return build(  # type: ignore[no-any-return]
        "pruner", _REGISTRY, spec, expected="a Pruner, a name or a mapping with 'name'", dashes=True
    )
