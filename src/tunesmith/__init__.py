"""tunesmith: hyperparameter optimization with durable studies and real parallel workers.

Example:
    >>> import tunesmith as ts
    >>> def objective(trial):
    ...     x = trial.suggest_float("x", -10, 10)
    ...     return (x - 2) ** 2
    >>> study = ts.create_study(seed=0)
    >>> study.optimize(objective, n_trials=20)
    >>> round(study.best_params["x"]) in range(-10, 11)
    True
"""

from __future__ import annotations

from tunesmith.exceptions import (
    CheckpointError,
    DuplicatedStudyError,
    ObjectiveNotPicklableError,
    SamplerExhausted,
    SchemaVersionError,
    SpaceError,
    SpecError,
    StorageError,
    StudyNotFoundError,
    TrialFinishedError,
    TrialNotFoundError,
    TrialPruned,
    TunesmithError,
    WorkerError,
)
from tunesmith.pbt import PBT
from tunesmith.pruners import (
    HyperbandPruner,
    MedianPruner,
    NopPruner,
    PatientPruner,
    PercentilePruner,
    Pruner,
    SuccessiveHalvingPruner,
    ThresholdPruner,
    WilcoxonPruner,
)
from tunesmith.samplers import (
    AutoSampler,
    BOHBSampler,
    CmaEsSampler,
    DEHBSampler,
    DESampler,
    GASampler,
    GEGOSampler,
    GEOSampler,
    GPSampler,
    GridSampler,
    PSOSampler,
    RandomSampler,
    Sampler,
    SamplerContext,
    SobolSampler,
    TPESampler,
)
from tunesmith.space import Categorical, Float, Int, Space
from tunesmith.storage import InMemoryStorage, Storage, get_storage
from tunesmith.study import Study, create_study, delete_study, list_studies, load_study
from tunesmith.trial import FrozenTrial, Trial, TrialState

__version__ = "0.1.0"

__all__ = [
    "PBT",
    "AutoSampler",
    "BOHBSampler",
    "Categorical",
    "CheckpointError",
    "CmaEsSampler",
    "DEHBSampler",
    "DESampler",
    "DaskExecutor",
    "DuplicatedStudyError",
    "Float",
    "FrozenTrial",
    "GASampler",
    "GEGOSampler",
    "GEOSampler",
    "GPSampler",
    "GridSampler",
    "HyperbandPruner",
    "InMemoryStorage",
    "Int",
    "MedianPruner",
    "NopPruner",
    "ObjectiveNotPicklableError",
    "PSOSampler",
    "PatientPruner",
    "PercentilePruner",
    "Pruner",
    "RandomSampler",
    "RayExecutor",
    "Sampler",
    "SamplerContext",
    "SamplerExhausted",
    "SchemaVersionError",
    "SobolSampler",
    "Space",
    "SpaceError",
    "SpecError",
    "Storage",
    "StorageError",
    "Study",
    "StudyNotFoundError",
    "SuccessiveHalvingPruner",
    "TPESampler",
    "ThresholdPruner",
    "Trial",
    "TrialFinishedError",
    "TrialNotFoundError",
    "TrialPruned",
    "TrialState",
    "TunesmithError",
    "WilcoxonPruner",
    "WorkerError",
    "__version__",
    "create_study",
    "delete_study",
    "get_storage",
    "list_studies",
    "load_study",
]


def __getattr__(name: str) -> object:
    # The cluster executors load on first use: importing tunesmith stays light.
    if name in ("DaskExecutor", "RayExecutor"):
        from tunesmith import executors

        return getattr(executors, name)
    raise AttributeError(f"module 'tunesmith' has no attribute {name!r}")
