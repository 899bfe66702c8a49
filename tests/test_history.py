"""The columnar history: incremental sync, growth, views and distribution checks."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import numpy as np
import pytest

from tunesmith.exceptions import SpaceError
from tunesmith.history import History
from tunesmith.space import Categorical, Float, Int, Space
from tunesmith.trial import FrozenTrial, TrialState

W, R, C, P, F = (
    TrialState.WAITING,
    TrialState.RUNNING,
    TrialState.COMPLETE,
    TrialState.PRUNED,
    TrialState.FAILED,
)
X = Float(0.0, 10.0)
K = Categorical(["a", "b", "c"])


def _trial(number: int, state: TrialState = C, values: Any = None, **params: Any) -> FrozenTrial:
    dists = {"x": X, "k": K, "n": Int(0, 1000)}
    if state == C and values is None:
        values = (float(number),)
    return FrozenTrial(
        number=number,
        trial_id=number + 100,
        state=state,
        values=None if values is None else tuple(values),
        params=MappingProxyType(params),
        distributions=MappingProxyType({n: dists[n] for n in params}),
    )


def test_empty_history():
    h = History(None, 1, ["minimize"])
    assert h.n == 0
    assert h.n_objectives == 1
    assert h.sync() is False
    assert h.best_number() is None
    assert h.n_complete == 0
    assert not h.has_waiting()
    assert h.column("x").shape == (0,)
    assert h.matrix(["x", "k"]).shape == (0, 2)
    assert h.intersection_space() == {}
    assert h.first_space() is None


def test_apply_writes_states_values_and_internal_params():
    h = History(None, 1, ["minimize"])
    h.apply(_trial(0, C, (2.0,), x=1.5, k="c"))
    h.apply(_trial(1, R, x=3.0))
    h.apply(_trial(2, W))
    h.apply(_trial(3, F, k="a"))
    assert h.n == 4
    assert h.states[:4].tolist() == [C, R, W, F]
    np.testing.assert_array_equal(h.values[:4, 0], [2.0, np.nan, np.nan, np.nan])
    np.testing.assert_array_equal(h.column("x"), [1.5, 3.0, np.nan, np.nan])
    np.testing.assert_array_equal(h.column("k"), [2.0, np.nan, np.nan, 0.0])  # choice index
    np.testing.assert_array_equal(h.column("never"), [np.nan] * 4)
    assert h.mask(C).tolist() == [True, False, False, False]
    assert h.mask(R, W).tolist() == [False, True, True, False]
    assert h.has_waiting()
    assert h.n_complete == 1
    m = h.matrix(["x", "k"], rows=h.mask(C, F))
    np.testing.assert_array_equal(m, [[1.5, 2.0], [np.nan, 0.0]])


def test_apply_updates_a_trial_in_place_and_bumps_the_version():
    h = History(None, 1, ["minimize"])
    h.apply(_trial(0, R, x=1.0))
    v = h.version
    h.apply(_trial(0, C, (0.5,), x=1.0, k="b"))
    assert h.version > v
    assert h.n == 1
    assert h.states[0] == C
    assert h.values[0, 0] == 0.5
    assert h.column("k")[0] == 1.0


def test_pruned_trials_keep_their_last_reported_value_apart():
    h = History(None, 1, ["minimize"])
    pruned = FrozenTrial(
        number=0,
        trial_id=1,
        state=P,
        values=None,
        intermediate=MappingProxyType({1: (0.9,), 5: (0.4,), 3: (0.6,)}),
    )
    h.apply(pruned)
    assert h.pruned_values[0, 0] == 0.4
    assert np.isnan(h.values[0, 0])
    assert h.best_number() is None


def test_history_grows_past_its_initial_capacity_keeping_everything():
    h = History(None, 1, ["minimize"])
    # Out of order, with a parameter that first appears after a growth step.
    order = [5, 0, 70, 3, 199, 64, 63, *range(6, 63), *range(65, 70), *range(71, 199), 1, 2, 4]
    for i in order:
        params: dict[str, Any] = {"x": i / 20.0}
        if i >= 150:
            params["n"] = i
        h.apply(_trial(i, C, (float(i),), **params))
    assert h.n == 200
    assert len(h.states) >= 200 and h.values.shape[0] == len(h.states)
    assert h.pruned_values.shape == h.values.shape
    assert h.states[:200].tolist() == [C] * 200
    np.testing.assert_array_equal(h.values[:200, 0], np.arange(200.0))
    np.testing.assert_allclose(h.column("x"), np.arange(200) / 20.0)
    n_col = h.column("n")
    assert len(n_col) == 200
    assert np.isnan(n_col[:150]).all()
    np.testing.assert_array_equal(n_col[150:], np.arange(150, 200))
    assert h.best_number() == 0


def test_signed_values_and_best_number_follow_directions():
    h = History(None, 1, ["maximize"])
    for i, v in enumerate([1.0, 5.0, 3.0]):
        h.apply(_trial(i, C, (v,)))
    h.apply(_trial(3, R))
    np.testing.assert_array_equal(h.signed_values()[:, 0], [-1.0, -5.0, -3.0, np.nan])
    assert h.best_number() == 1

    h2 = History(None, 1, ["minimize", "maximize"])
    h2.apply(_trial(0, C, (1.0, 2.0)))
    np.testing.assert_array_equal(h2.signed_values(), [[1.0, -2.0]])
    with pytest.raises(ValueError, match="single-objective"):
        h2.best_number()


def test_best_number_ignores_unfinished_and_failed_trials():
    h = History(None, 1, ["minimize"])
    h.apply(_trial(0, F))
    h.apply(_trial(1, R))
    assert h.best_number() is None
    h.apply(_trial(2, C, (4.0,)))
    h.apply(_trial(3, C, (2.0,)))
    assert h.best_number() == 3


def test_intersection_space_keeps_parameters_shared_by_all_complete_trials():
    h = History(None, 1, ["minimize"])
    h.apply(_trial(0, C, x=1.0, k="a", n=3))
    assert h.first_space() == ("x", "k", "n")
    h.apply(_trial(1, C, x=2.0, k="b"))
    h.apply(_trial(2, F, x=2.0))  # only COMPLETE trials count
    h.apply(_trial(3, R))
    assert h.intersection_space() == {"x": X, "k": K}
    # The same name with another distribution leaves the intersection.
    h.apply(
        FrozenTrial(
            number=4,
            trial_id=4,
            state=C,
            values=(1.0,),
            params=MappingProxyType({"x": 1.0, "k": "a"}),
            distributions=MappingProxyType({"x": Float(0.0, 5.0), "k": K}),
        )
    )
    assert h.intersection_space() == {"k": K}
    assert h.first_space() == ("x", "k", "n")
    # Re-applying an already complete trial changes nothing.
    h.apply(_trial(0, C, x=1.0, k="a", n=3))
    assert h.intersection_space() == {"k": K}


def test_newest_compatible_bounds_win():
    h = History(None, 1, ["minimize"])
    h.apply(_trial(0, C, x=1.0))
    wider = Float(-5.0, 20.0)
    h.apply(
        FrozenTrial(
            number=1,
            trial_id=1,
            state=C,
            values=(1.0,),
            params=MappingProxyType({"x": -4.0}),
            distributions=MappingProxyType({"x": wider}),
        )
    )
    assert h.distributions["x"] == wider
    np.testing.assert_array_equal(h.column("x"), [1.0, -4.0])


def test_check_distribution():
    h = History(None, 1, ["minimize"])
    h.apply(_trial(0, C, x=1.0, k="a", n=5))
    h.check_distribution("x", Float(-1.0, 1.0), None)  # other bounds: fine
    h.check_distribution("new", Int(0, 1), None)
    with pytest.raises(SpaceError, match=r"'x' was suggested as Float.*and now as Int"):
        h.check_distribution("x", Int(0, 10), None)
    with pytest.raises(SpaceError, match="keep its type, scale and choices"):
        h.check_distribution("x", Float(0.1, 10.0, log=True), None)
    with pytest.raises(SpaceError, match="'k'"):
        h.check_distribution("k", Categorical(["a", "b"]), None)
    with pytest.raises(SpaceError):
        h.check_distribution("n", Int(0, 1000, step=10), None)


def test_check_distribution_against_a_declared_space():
    h = History(None, 1, ["minimize"])
    space = Space({"x": Float(0.0, 1.0)})
    h.check_distribution("x", Float(0.0, 1.0), space)
    with pytest.raises(SpaceError, match="declared in the study's space"):
        h.check_distribution("x", Float(0.0, 2.0), space)
    h.check_distribution("other", Int(0, 3), space)  # not declared: history rules apply


# -- incremental sync against real storages ---------------------------------------------------


def test_sync_pulls_only_changes(storage):
    sid = storage.create_study("s", ["minimize"]).study_id
    h = History(storage, sid, ["minimize"])
    assert h.sync() is False

    running = storage.create_trial(sid, R, params={"x": 2.0}, distributions={"x": X})
    for i in range(3):
        storage.create_trial(
            sid, C, values=[float(i)], params={"x": float(i)}, distributions={"x": X}
        )
    assert h.sync() is True
    assert h.n == 4
    assert h.states[:4].tolist() == [R, C, C, C]
    version, seq = h.version, h.snapshot()["seq"]
    assert h.sync() is False  # nothing new
    assert (h.version, h.snapshot()["seq"]) == (version, seq)

    storage.finish_trial(running.trial_id, C, values=[-1.0])
    assert h.sync() is True
    assert h.states[0] == C
    assert h.best_number() == 0
    assert h.snapshot() == {"n": 4, "seq": h.snapshot()["seq"], "params": ["x"]}
    assert h.snapshot()["seq"] > seq


def test_sync_handles_many_trials_in_batches(storage):
    sid = storage.create_study("s", ["maximize"]).study_id
    h = History(storage, sid, ["maximize"])
    for batch in range(3):
        for i in range(50):
            n = batch * 50 + i
            storage.create_trial(
                sid, C, values=[float(n % 37)], params={"x": n / 15.0}, distributions={"x": X}
            )
        assert h.sync() is True
        assert h.n == 50 * (batch + 1)
    np.testing.assert_allclose(h.column("x"), np.arange(150) / 15.0)
    assert h.best_number() == 36
    assert h.n_complete == 150


# -- finished trials' reports (for pruners) -----------------------------------------------


def test_reports_are_tracked_only_once_asked_for_and_backfilled(storage):
    sid = storage.create_study("s", ["minimize"]).study_id
    storage.create_trial(sid, C, values=[1.0], intermediate={0: [3.0], 2: [1.0]})
    h = History(storage, sid, ["minimize"])
    h.sync()
    assert h.reports is None
    running = storage.create_trial(sid, R).trial_id
    storage.report(running, 1, [2.0])
    reports = h.track_reports()  # the finished trial is loaded now
    assert h.track_reports() is reports
    assert 0 in reports and 1 not in reports
    steps, values = reports.curve(0)
    assert steps.tolist() == [0, 2] and values.tolist() == [[3.0], [1.0]]
    storage.report(running, 4, [0.5])
    storage.finish_trial(running, P)
    h.sync()  # the running trial finished: its reports come with the change
    steps, values = reports.curve(1)
    assert steps.tolist() == [1, 4] and values.tolist() == [[2.0], [0.5]]
    storage.create_trial(sid, F, intermediate={9: [7.0]})
    storage.create_trial(sid, R)
    h.sync()
    assert len(reports) == 3  # finished trials of every kind; never running ones


def test_reports_cross_sections_grow_incrementally():
    from tunesmith.history import Reports

    r = Reports(2)
    r.add(0, {0: (1.0, 1.0), 3: (2.0, 2.0)})
    r.add(1, {1: (5.0, 5.0)})
    numbers, values = r.at_step(3)
    assert numbers.tolist() == [0] and values.tolist() == [[2.0, 2.0]]
    numbers, values = r.first_at_or_after(1)
    assert numbers.tolist() == [0, 1] and values.tolist() == [[2.0, 2.0], [5.0, 5.0]]
    r.add(2, {2: (9.0, float("nan")), 3: (8.0, 8.0)})
    r.add(0, {0: (0.0, 0.0)})  # already recorded: finished trials never change
    r.add(3, {})
    assert r.at_step(3)[0].tolist() == [0, 2]
    assert r.first_at_or_after(1)[0].tolist() == [0, 1, 2]
    numbers, values = r.first_at_or_after(2)
    assert numbers.tolist() == [0, 2] and np.isnan(values[1, 1])
    assert r.at_step(99)[1].shape == (0, 2)
    assert r.curve(3)[0].size == 0 and r.curve(7) is None
    assert len(r) == 4


def test_reports_cross_sections_past_the_buffer_capacity_stay_valid_snapshots():
    from tunesmith.history import Reports

    r = Reports(1)
    r.add(0, {1: (0.0,)})
    first_numbers, first_values = r.at_step(1)
    with pytest.raises(ValueError):
        first_values[0, 0] = 1.0  # handed-out arrays are read-only
    for n in range(1, 40):  # several doublings of the column's buffers
        r.add(n, {1: (float(n),), 2: (-float(n),)})
        numbers, values = r.at_step(1)
        assert numbers.tolist() == list(range(n + 1))
        assert values[:, 0].tolist() == [float(i) for i in range(n + 1)]
    assert first_numbers.tolist() == [0] and first_values.tolist() == [[0.0]]
    assert r.at_step(2)[1][:, 0].tolist() == [-float(i) for i in range(1, 40)]
