"""The pruner protocol: names and descriptions, storage with the study, trials without reports."""

from __future__ import annotations

import pickle

import pytest

import tunesmith as ts
from tunesmith.pruners import make_pruner

from ._helpers import finished

ALL = [
    ts.NopPruner(),
    ts.MedianPruner(n_startup_trials=0),
    ts.PercentilePruner(10.0, n_startup_trials=0, n_warmup_steps=2, interval_steps=3),
    ts.ThresholdPruner(lower=[0.0], upper=[1.0]),
    ts.PatientPruner(ts.MedianPruner(), patience=2, min_delta=0.1),
    ts.PatientPruner(None, patience=1),
    ts.WilcoxonPruner(p_threshold=0.05, n_startup_steps=3),
    ts.SuccessiveHalvingPruner(min_resource=2, reduction_factor=4, bootstrap_count=1),
    ts.SuccessiveHalvingPruner(),
    ts.HyperbandPruner(min_resource=1, max_resource=27),
    ts.HyperbandPruner(),
]


@pytest.mark.parametrize("pruner", ALL, ids=repr)
def test_description_rebuilds_an_equal_pruner(pruner):
    desc = pruner.describe()
    assert make_pruner(desc) == pruner
    assert make_pruner(pickle.loads(pickle.dumps(desc))).describe() == desc
    assert repr(pruner).startswith(type(pruner).__name__ + "(")


@pytest.mark.parametrize("pruner", ALL, ids=repr)
def test_a_trial_without_reports_is_never_pruned(pruner):
    study = ts.create_study(pruner=pruner)
    finished(study, {0: 1.0, 1: 1.0, 2: 1.0}, {0: 0.0, 1: 0.0, 2: 0.0})
    trial = study.ask()
    assert trial.should_prune() is False
    assert pruner.should_prune(study, trial.number) is False


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("none", ts.NopPruner),
        ("median", ts.MedianPruner),
        ("MedianPruner", ts.MedianPruner),
        ("sh", ts.SuccessiveHalvingPruner),
        ("asha", ts.SuccessiveHalvingPruner),
        ("successive-halving", ts.SuccessiveHalvingPruner),
        ("hyperband", ts.HyperbandPruner),
        ("wilcoxon", ts.WilcoxonPruner),
    ],
)
def test_names(name, cls):
    assert type(make_pruner(name)) is cls


def test_names_with_arguments_and_errors():
    assert make_pruner({"name": "percentile", "percentile": 25}) == ts.PercentilePruner(25.0)
    assert make_pruner(None) is None
    with pytest.raises(
        ts.TunesmithError, match=r"unknown pruner 'mediam'; known pruners: .*median"
    ):
        make_pruner("mediam")
    with pytest.raises(ts.TunesmithError, match="bad arguments for pruner 'median'"):
        make_pruner({"name": "median", "percentile": 3})
    with pytest.raises(ts.TunesmithError, match="a pruner must be"):
        make_pruner(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="percentile must be"):
        ts.create_study(pruner={"name": "percentile", "percentile": 200})


def test_the_study_stores_its_pruner_and_loading_rebuilds_it(tmp_path):
    url = str(tmp_path / "s.db")
    study = ts.create_study("p", storage=url, pruner="median")
    assert isinstance(study.pruner, ts.MedianPruner)
    assert study.system_attrs["pruner"] == ts.MedianPruner().describe()
    assert ts.load_study("p", url).pruner == ts.MedianPruner()
    assert ts.create_study("p", storage=url, load_if_exists=True).pruner == ts.MedianPruner()
    # An explicit pruner wins; "none" switches the stored one off.
    assert isinstance(ts.load_study("p", url, pruner="sh").pruner, ts.SuccessiveHalvingPruner)
    assert isinstance(ts.load_study("p", url, pruner="none").pruner, ts.NopPruner)
    assert ts.create_study("q", storage=url).pruner is None
    assert ts.load_study("q", url).pruner is None


def test_a_pruner_of_ones_own_works_and_is_not_stored():
    calls = []

    class EveryOther:
        def should_prune(self, study, trial_number):
            calls.append(trial_number)
            return len(calls) % 2 == 0

    study = ts.create_study(pruner=EveryOther())
    trial = study.ask()
    trial.report(1.0, 0)
    assert [trial.should_prune(), trial.should_prune()] == [False, True]
    assert calls == [0, 0]
    assert "pruner" not in study.system_attrs


def test_pruners_pickle_after_use():
    study = ts.create_study(pruner=ts.SuccessiveHalvingPruner())
    finished(study, {0: 0.0, 100: 0.0})
    trial = study.ask()
    trial.report(1.0, 1)
    trial.should_prune()
    copy = pickle.loads(pickle.dumps(study.pruner))
    assert copy == study.pruner


def test_pruned_trials_from_should_prune_keep_their_reports(storage):
    study = ts.create_study(storage=storage, pruner=ts.ThresholdPruner(upper=1.0))

    def objective(trial: ts.Trial) -> float:
        for step in range(10):
            trial.report(step * 0.4, step)
            if trial.should_prune():
                raise ts.TrialPruned()
        return 0.0

    study.optimize(objective, n_trials=2)
    for t in study.trials:
        assert t.state == ts.TrialState.PRUNED
        assert dict(t.intermediate) == {s: (s * 0.4,) for s in range(4)}
        assert t.values == (1.2000000000000002,)
