"""The storage contract (see ``tunesmith/storage/base.py``), checked on every backend.

Every test takes the ``storage`` fixture, so it runs on the in-memory storage, a SQLite
file and PostgreSQL alike. The multi-process tests take ``storage_url`` instead, as the
in-memory storage cannot be shared between processes.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tunesmith.exceptions import (
    DuplicatedStudyError,
    SpaceError,
    StudyNotFoundError,
    TrialFinishedError,
    TrialNotFoundError,
    TunesmithError,
)
from tunesmith.space import Categorical, Float, Int
from tunesmith.storage import Storage
from tunesmith.trial import TrialState

W, R, C, P, F = (
    TrialState.WAITING,
    TrialState.RUNNING,
    TrialState.COMPLETE,
    TrialState.PRUNED,
    TrialState.FAILED,
)
FINISHED = [C, P, F]


def _study(storage: Storage, name: str = "s", directions: tuple[str, ...] = ("minimize",)) -> int:
    return storage.create_study(name, list(directions)).study_id


def _complete(storage: Storage, sid: int, *values: float) -> int:
    return storage.create_trial(sid, C, values=values).trial_id


# -- studies ----------------------------------------------------------------------------


def test_create_and_get_study(storage):
    rec = storage.create_study("alpha", ["minimize", "maximize"])
    got = storage.get_study("alpha")
    assert got.study_id == rec.study_id
    assert got.name == "alpha"
    assert got.directions == ("minimize", "maximize")
    assert got.created == pytest.approx(time.time(), abs=60)


def test_study_ids_are_distinct(storage):
    ids = {_study(storage, f"s{i}") for i in range(3)}
    assert len(ids) == 3


def test_duplicate_study_name_raises(storage):
    _study(storage, "dup")
    with pytest.raises(DuplicatedStudyError, match="dup"):
        _study(storage, "dup")
    # The failed attempt left nothing behind.
    assert [s.name for s in storage.list_studies()] == ["dup"]


def test_unknown_study_error_lists_existing_names(storage):
    _study(storage, "first")
    _study(storage, "second")
    with pytest.raises(StudyNotFoundError) as info:
        storage.get_study("missing")
    message = str(info.value)
    assert "'missing'" in message
    assert "'first'" in message and "'second'" in message
    assert isinstance(info.value, KeyError)  # except KeyError keeps working


def test_unknown_study_error_on_empty_storage_says_so(storage):
    with pytest.raises(StudyNotFoundError, match="no studies yet"):
        storage.get_study("anything")


def test_list_studies_counts_trials_and_best_values(storage):
    lo = _study(storage, "lo", ("minimize",))
    hi = _study(storage, "hi", ("maximize",))
    multi = _study(storage, "multi", ("maximize", "minimize"))
    _study(storage, "empty")
    for v in (3.0, 1.0, 2.0):
        _complete(storage, lo, v)
        _complete(storage, hi, v)
    storage.create_trial(lo, F, error="boom")
    storage.create_trial(lo, R)
    storage.create_trial(lo, W)
    storage.create_trial(lo, P, intermediate={1: [0.0]})  # a pruned 0.0 is not "best"
    _complete(storage, multi, 1.0, 100.0)
    _complete(storage, multi, 5.0, 500.0)

    summaries = {s.name: s for s in storage.list_studies()}
    assert set(summaries) == {"lo", "hi", "multi", "empty"}
    assert (summaries["lo"].n_trials, summaries["lo"].n_complete) == (7, 3)
    assert summaries["lo"].best_values == (1.0,)
    assert summaries["hi"].best_values == (3.0,)
    assert summaries["hi"].directions == ("maximize",)
    assert summaries["multi"].best_values == (5.0, 500.0)  # first objective decides
    assert summaries["empty"].best_values is None
    assert (summaries["empty"].n_trials, summaries["empty"].n_complete) == (0, 0)
    assert summaries["lo"].study_id == lo and summaries["hi"].study_id == hi


def test_delete_study_removes_it_and_its_trials(storage):
    keep = _study(storage, "keep")
    gone = _study(storage, "gone")
    kept_trial = _complete(storage, keep, 1.0)
    trial_ids = [_complete(storage, gone, 1.0), storage.create_trial(gone, W).trial_id]
    storage.report(storage.create_trial(gone, R).trial_id, 0, [1.0])
    storage.set_study_attr(gone, "k", 1)

    storage.delete_study("gone")

    with pytest.raises(StudyNotFoundError, match="'keep'"):
        storage.get_study("gone")
    for tid in trial_ids:
        with pytest.raises(TrialNotFoundError):
            storage.get_trial(tid)
    assert [s.name for s in storage.list_studies()] == ["keep"]
    assert storage.get_trial(kept_trial).values == (1.0,)
    # The name is free again, and the new study starts from scratch.
    new = _study(storage, "gone")
    assert storage.get_study_attrs(new) == {}
    assert storage.create_trial(new, R).number == 0


def test_delete_unknown_study_raises(storage):
    with pytest.raises(StudyNotFoundError):
        storage.delete_study("nope")


@pytest.mark.parametrize(
    "value",
    [
        0,
        -7,
        2.5,
        1e300,
        "text with ünïcode",
        "",
        True,
        False,
        None,
        [1, "two", None, [3.5]],
        {"nested": {"list": [1, 2], "flag": True}, "x": None},
        [],
        {},
    ],
    ids=repr,
)
def test_study_attrs_round_trip_json_values(storage, value):
    sid = storage.create_study("s", ["minimize"], {"at_create": value}).study_id
    storage.set_study_attr(sid, "later", value)
    attrs = storage.get_study_attrs(sid)
    assert attrs == {"at_create": value, "later": value}
    assert type(attrs["later"]) is type(value)


def test_study_attrs_come_back_as_json_would_return_them(storage):
    sid = _study(storage)
    storage.set_study_attr(sid, "tuple", (1, 2))
    storage.set_study_attr(sid, "int_keys", {1: "a"})
    attrs = storage.get_study_attrs(sid)
    assert attrs["tuple"] == [1, 2]
    assert attrs["int_keys"] == {"1": "a"}


def test_study_attr_is_a_copy_of_the_value_set(storage):
    sid = _study(storage)
    value = [1, 2]
    storage.set_study_attr(sid, "k", value)
    value.append(3)
    storage.get_study_attrs(sid)["k"].append(4)
    assert storage.get_study_attrs(sid)["k"] == [1, 2]


def test_set_study_attr_overwrites(storage):
    sid = _study(storage)
    storage.set_study_attr(sid, "k", 1)
    storage.set_study_attr(sid, "k", "two")
    assert storage.get_study_attrs(sid) == {"k": "two"}


def test_study_attrs_are_per_study(storage):
    a, b = _study(storage, "a"), _study(storage, "b")
    storage.set_study_attr(a, "k", 1)
    assert storage.get_study_attrs(b) == {}


def test_non_json_study_attr_is_rejected_with_its_name(storage):
    sid = _study(storage)
    with pytest.raises(TunesmithError, match=r"'bad'.*JSON"):
        storage.set_study_attr(sid, "bad", object())
    with pytest.raises(TunesmithError, match=r"'bad'.*JSON"):
        storage.create_study("other", ["minimize"], {"bad": {1, 2}})
    assert storage.get_study_attrs(sid) == {}


# -- trial creation and numbering -----------------------------------------------------------


def test_trial_numbers_are_dense_per_study(storage):
    a, b = _study(storage, "a"), _study(storage, "b")
    numbers: dict[int, list[int]] = {a: [], b: []}
    trial_ids = set()
    for i in range(12):
        sid = a if i % 3 else b
        state = [W, R, C, F][i % 4]
        ft = storage.create_trial(sid, state, values=[1.0] if state == C else None)
        numbers[sid].append(ft.number)
        trial_ids.add(ft.trial_id)
    assert numbers[a] == list(range(8))
    assert numbers[b] == list(range(4))
    assert len(trial_ids) == 12
    assert [t.number for t in storage.get_trials(a)] == list(range(8))


@pytest.mark.parametrize("state", list(TrialState), ids=lambda s: s.name)
def test_create_trial_in_each_state(storage, state):
    sid = _study(storage)
    values = [0.5] if state in (C, P) else None
    before = time.time()
    ft = storage.create_trial(sid, state, values=values, worker="w1", error="e")
    for got in (ft, storage.get_trial(ft.trial_id)):
        assert got.state == state
        assert got.number == 0
        assert got.values == (None if values is None else (0.5,))
        assert got.worker == "w1"
        assert got.error == "e"
        assert got.retries == 0
        if state == W:
            assert got.datetime_start is None
        else:
            assert got.datetime_start >= before - 1
        if state == R:
            assert got.heartbeat is not None and got.heartbeat >= before - 1
        if state.is_finished():
            assert got.datetime_complete >= before - 1
        else:
            assert got.datetime_complete is None


def test_create_finished_trial_with_given_times(storage):
    sid = _study(storage)
    ft = storage.create_trial(sid, C, values=[1.0], datetime_start=100.0, datetime_complete=160.0)
    got = storage.get_trial(ft.trial_id)
    assert (got.datetime_start, got.datetime_complete, got.duration) == (100.0, 160.0, 60.0)


def test_complete_trial_needs_finite_values(storage):
    sid = _study(storage)
    for bad in (None, [float("nan")], [float("inf")]):
        with pytest.raises(ValueError, match="COMPLETE"):
            storage.create_trial(sid, C, values=bad)
    running = storage.create_trial(sid, R)
    with pytest.raises(ValueError, match="COMPLETE"):
        storage.finish_trial(running.trial_id, C, values=[float("nan")])
    assert storage.get_trial(running.trial_id).state == R
    assert storage.count_trials(sid) == 1


def test_attrs_of_a_trial_round_trip(storage):
    sid = _study(storage)
    ft = storage.create_trial(
        sid,
        W,
        user_attrs={"note": "hi", "list": [1, 2], "n": None},
        system_attrs={"enqueued": True},
        retries=2,
    )
    got = storage.get_trial(ft.trial_id)
    assert dict(got.user_attrs) == {"note": "hi", "list": [1, 2], "n": None}
    assert dict(got.system_attrs) == {"enqueued": True}
    assert got.retries == 2


def test_non_json_user_attr_is_rejected(storage):
    sid = _study(storage)
    with pytest.raises(TunesmithError, match="JSON"):
        storage.create_trial(sid, R, user_attrs={"bad": object()})
    tid = storage.create_trial(sid, R).trial_id
    with pytest.raises(TunesmithError, match="JSON"):
        storage.update_running_trial(tid, user_attrs={"bad": {1}})


# -- parameters ----------------------------------------------------------------------------

DISTRIBUTIONS = {
    "f": Float(-1.5, 2.5),
    "f_log": Float(1e-6, 1.0, log=True),
    "f_step": Float(0.0, 1.0, step=0.1),
    "i": Int(-3, 7),
    "i_log": Int(1, 1024, log=True),
    "i_step": Int(0, 100, step=5),
    "c_mixed": Categorical([None, True, False, 0, 1, 2.5, "a", ""]),
    "c_single": Categorical(["only"]),
}

EXTERNAL_VALUES = [
    {
        "f": 0.1,
        "f_log": 3.3e-5,
        "f_step": 0.7,
        "i": -3,
        "i_log": 1024,
        "i_step": 35,
        "c_mixed": None,
        "c_single": "only",
    },
    {"f": -1.5, "f_log": 1.0, "f_step": 0.0, "i": 7, "c_mixed": True},
    {"f": 1 / 3, "i_log": 1, "c_mixed": 1},
    {"f": 2.5, "c_mixed": 2.5},
    {"c_mixed": "a"},
    {"c_mixed": ""},
    {"c_mixed": False},
    {"c_mixed": 0},
]


@pytest.mark.parametrize("external", EXTERNAL_VALUES, ids=lambda e: repr(e)[:40])
def test_params_and_distributions_round_trip_exactly(storage, external):
    sid = _study(storage)
    dists = {n: DISTRIBUTIONS[n] for n in external}
    internal = {n: dists[n].to_internal(v) for n, v in external.items()}
    created = storage.create_trial(sid, R, params=internal, distributions=dists)
    for ft in (created, storage.get_trial(created.trial_id)):
        assert dict(ft.distributions) == dists
        assert set(ft.params) == set(external)
        for name, value in external.items():
            got = ft.params[name]
            assert got == value and type(got) is type(value), (name, got, value)


def test_params_survive_claim_and_finish(storage):
    sid = _study(storage)
    dists = {"c": DISTRIBUTIONS["c_mixed"], "f": DISTRIBUTIONS["f"]}
    internal = {"c": dists["c"].to_internal(True), "f": 0.1}
    storage.create_trial(sid, W, params=internal, distributions=dists)
    claimed = storage.claim_waiting_trial(sid)
    assert dict(claimed.params) == {"c": True, "f": 0.1}
    done = storage.finish_trial(claimed.trial_id, C, values=[1.0])
    assert dict(done.params) == {"c": True, "f": 0.1}
    assert dict(done.distributions) == dists


def test_params_without_a_distribution_are_rejected(storage):
    sid = _study(storage)
    with pytest.raises(SpaceError, match="'x'"):
        storage.create_trial(sid, R, params={"x": 1.0})
    tid = storage.create_trial(sid, R).trial_id
    with pytest.raises(SpaceError, match="'y'"):
        storage.update_running_trial(tid, params={"y": 1.0})
    with pytest.raises(SpaceError, match="'z'"):
        storage.finish_trial(tid, C, values=[1.0], params={"z": 1.0})


def test_update_running_trial_merges_params_and_user_attrs(storage):
    sid = _study(storage)
    tid = storage.create_trial(
        sid, R, params={"a": 1.0}, distributions={"a": Float(0, 2)}, user_attrs={"u": 1}
    ).trial_id
    storage.update_running_trial(tid, params={"b": 3.0}, distributions={"b": Int(0, 5)})
    storage.update_running_trial(tid, user_attrs={"v": [2]}, heartbeat=12345.0)
    storage.update_running_trial(tid, params={"a": 1.5})  # distribution already known
    ft = storage.get_trial(tid)
    assert dict(ft.params) == {"a": 1.5, "b": 3}
    assert dict(ft.distributions) == {"a": Float(0, 2), "b": Int(0, 5)}
    assert dict(ft.user_attrs) == {"u": 1, "v": [2]}
    assert ft.heartbeat == 12345.0
    assert ft.state == R


def test_finish_trial_merges_everything_in_one_step(storage):
    sid = _study(storage, directions=("minimize", "maximize"))
    tid = storage.create_trial(sid, R, params={"a": 1.0}, distributions={"a": Float(0, 2)}).trial_id
    ft = storage.finish_trial(
        tid,
        C,
        values=[0.25, -3.0],
        params={"b": 2.0},
        distributions={"b": Int(0, 5)},
        user_attrs={"u": "x"},
        cpu_time=1.5,
    )
    for got in (ft, storage.get_trial(tid)):
        assert got.state == C
        assert got.values == (0.25, -3.0)
        assert dict(got.params) == {"a": 1.0, "b": 2}
        assert dict(got.user_attrs) == {"u": "x"}
        assert got.cpu_time == 1.5
        assert got.error is None
        assert got.datetime_complete >= got.datetime_start


def test_failed_trial_keeps_its_error_message(storage):
    sid = _study(storage)
    tid = storage.create_trial(sid, R).trial_id
    ft = storage.finish_trial(tid, F, error="ValueError: boom\nTraceback ...")
    assert storage.get_trial(tid).error == ft.error == "ValueError: boom\nTraceback ..."
    assert ft.values is None


def test_a_waiting_trial_can_be_finished_directly(storage):
    sid = _study(storage)
    tid = storage.create_trial(sid, W).trial_id
    ft = storage.finish_trial(tid, F, error="cancelled")
    assert ft.state == F
    assert ft.datetime_start is not None and ft.datetime_complete is not None
    assert storage.claim_waiting_trial(sid) is None


# -- reports -------------------------------------------------------------------------------


def test_report_stores_every_step(storage):
    sid = _study(storage)
    tid = storage.create_trial(sid, R).trial_id
    storage.report(tid, 0, [1.0])
    storage.report(tid, 10, [0.5])
    storage.report(tid, 3, [0.75])
    storage.report(tid, 10, [0.25])  # reporting a step again replaces it
    ft = storage.get_trial(tid)
    assert dict(ft.intermediate) == {0: (1.0,), 3: (0.75,), 10: (0.25,)}
    assert ft.last_step == 10
    done = storage.finish_trial(tid, P, values=[0.25])
    assert dict(done.intermediate) == dict(ft.intermediate)


def test_report_stores_value_vectors(storage):
    sid = _study(storage, directions=("minimize", "maximize"))
    tid = storage.create_trial(sid, R).trial_id
    storage.report(tid, 1, [1.0, -2.5])
    storage.report(tid, 2, (0.5, float("nan")))
    inter = storage.get_trial(tid).intermediate
    assert inter[1] == (1.0, -2.5)
    assert inter[2][0] == 0.5 and inter[2][1] != inter[2][1]  # NaN survives


def test_intermediate_values_given_at_creation(storage):
    sid = _study(storage)
    ft = storage.create_trial(sid, P, values=[0.3], intermediate={1: [0.9], 2: [0.3]})
    assert dict(storage.get_trial(ft.trial_id).intermediate) == {1: (0.9,), 2: (0.3,)}


def test_get_intermediate_at_a_step(storage):
    sid = _study(storage)
    other = _study(storage, "other")
    t0 = storage.create_trial(sid, R).trial_id
    t1 = storage.create_trial(sid, R).trial_id
    storage.create_trial(sid, R)  # never reports
    t3 = storage.create_trial(other, R).trial_id
    storage.report(t0, 1, [0.5])
    storage.report(t0, 2, [0.4])
    storage.report(t1, 2, [0.9])
    storage.report(t3, 2, [0.0])
    storage.finish_trial(t1, P, values=[0.9])
    assert storage.get_intermediate_at(sid, 2) == {0: (0.4,), 1: (0.9,)}
    assert storage.get_intermediate_at(sid, 1) == {0: (0.5,)}
    assert storage.get_intermediate_at(sid, 99) == {}


# -- immutability of finished trials -------------------------------------------------------


@pytest.mark.parametrize("state", FINISHED, ids=lambda s: s.name)
def test_finished_trials_are_immutable(storage, state):
    sid = _study(storage)
    tid = storage.create_trial(sid, R, params={"a": 1.0}, distributions={"a": Float(0, 2)}).trial_id
    storage.report(tid, 0, [2.0])
    first = storage.finish_trial(tid, state, values=[1.0] if state == C else None)

    with pytest.raises(TrialFinishedError, match=state.name):
        storage.finish_trial(tid, C, values=[0.0])
    with pytest.raises(TrialFinishedError):
        storage.finish_trial(tid, F)
    with pytest.raises(TrialFinishedError):
        storage.update_running_trial(tid, params={"a": 0.5})
    with pytest.raises(TrialFinishedError):
        storage.update_running_trial(tid, user_attrs={"u": 1})
    with pytest.raises(TrialFinishedError):
        storage.report(tid, 1, [0.0])

    after = storage.get_trial(tid)
    assert after.state == state
    assert after.values == first.values
    assert dict(after.params) == {"a": 1.0}
    assert dict(after.intermediate) == {0: (2.0,)}
    assert dict(after.user_attrs) == {}


def test_created_finished_trial_is_immutable(storage):
    sid = _study(storage)
    tid = _complete(storage, sid, 1.0)
    with pytest.raises(TrialFinishedError):
        storage.finish_trial(tid, F)
    with pytest.raises(TrialFinishedError):
        storage.report(tid, 0, [1.0])


def test_finish_trial_needs_a_finished_state(storage):
    sid = _study(storage)
    tid = storage.create_trial(sid, R).trial_id
    for state in (W, R):
        with pytest.raises(ValueError, match="finished state"):
            storage.finish_trial(tid, state)
    assert storage.get_trial(tid).state == R


def test_unknown_trial_ids_raise_trial_not_found(storage):
    _study(storage)
    missing = 987654
    with pytest.raises(TrialNotFoundError):
        storage.get_trial(missing)
    with pytest.raises(TrialNotFoundError):
        storage.finish_trial(missing, F)
    with pytest.raises(TrialNotFoundError):
        storage.report(missing, 0, [1.0])
    with pytest.raises(TrialNotFoundError):
        storage.update_running_trial(missing, user_attrs={"a": 1})


def test_frozen_trials_from_storage_are_read_only(storage):
    sid = _study(storage)
    ft = storage.create_trial(
        sid, C, values=[1.0], params={"a": 1.0}, distributions={"a": Float(0, 2)}
    )
    with pytest.raises(TypeError):
        ft.params["a"] = 2.0  # type: ignore[index]
    with pytest.raises(TypeError):
        ft.user_attrs["u"] = 1  # type: ignore[index]
    with pytest.raises(TypeError):
        ft.distributions["a"] = Float(0, 1)  # type: ignore[index]
    with pytest.raises(AttributeError):
        ft.state = F  # type: ignore[misc]


# -- the queue -----------------------------------------------------------------------------


def test_claim_waiting_trial_takes_the_oldest_first(storage):
    sid = _study(storage)
    storage.create_trial(sid, W, params={"x": 0.0}, distributions={"x": Float(0, 3)})
    storage.create_trial(sid, R)
    storage.create_trial(sid, W, params={"x": 2.0}, distributions={"x": Float(0, 3)})
    storage.create_trial(sid, C, values=[1.0])
    storage.create_trial(sid, W, params={"x": 3.0}, distributions={"x": Float(0, 3)})

    before = time.time()
    claimed = [storage.claim_waiting_trial(sid, worker=f"w{i}") for i in range(3)]
    assert [c.number for c in claimed] == [0, 2, 4]
    assert [c.params["x"] for c in claimed] == [0.0, 2.0, 3.0]
    for i, c in enumerate(claimed):
        assert c.state == R
        assert c.worker == f"w{i}"
        assert c.datetime_start >= before - 1
        assert c.heartbeat >= before - 1
        assert storage.get_trial(c.trial_id).state == R
    assert storage.claim_waiting_trial(sid) is None
    assert storage.count_trials(sid, [W]) == 0


def test_claim_waiting_trial_returns_none_when_nothing_is_queued(storage):
    sid = _study(storage)
    other = _study(storage, "other")
    assert storage.claim_waiting_trial(sid) is None
    storage.create_trial(sid, R)
    storage.create_trial(other, W)
    assert storage.claim_waiting_trial(sid) is None  # another study's queue is not ours
    assert storage.claim_waiting_trial(other).number == 0


def test_claimed_trial_keeps_its_attributes(storage):
    sid = _study(storage)
    storage.create_trial(sid, W, user_attrs={"u": 1}, system_attrs={"retry_of": 3}, retries=1)
    claimed = storage.claim_waiting_trial(sid, "me")
    assert dict(claimed.user_attrs) == {"u": 1}
    assert dict(claimed.system_attrs) == {"retry_of": 3}
    assert claimed.retries == 1


# -- change tracking -------------------------------------------------------------------------


def test_get_changes_returns_only_what_changed_since_a_cursor(storage):
    sid = _study(storage)
    other = _study(storage, "other")

    changes, c0 = storage.get_changes(sid, 0)
    assert changes == []
    assert storage.get_changes(sid, c0) == ([], c0)

    t0 = storage.create_trial(sid, R).trial_id
    storage.create_trial(sid, R)
    storage.create_trial(other, R)
    changes, c1 = storage.get_changes(sid, c0)
    assert sorted(t.number for t in changes) == [0, 1]
    assert c1 > c0

    # Nothing changed: nothing returned, same cursor.
    assert storage.get_changes(sid, c1) == ([], c1)

    storage.finish_trial(t0, C, values=[1.0])
    t2 = storage.create_trial(sid, W).trial_id
    storage.claim_waiting_trial(sid)
    storage.finish_trial(t2, C, values=[2.0])  # trial 2 changed three times
    changes, c2 = storage.get_changes(sid, c1)
    assert c2 > c1
    by_number = {t.number: t for t in changes}
    assert len(changes) == len(by_number) == 2  # each changed trial appears once
    assert set(by_number) == {0, 2}
    assert by_number[0].state == C and by_number[0].values == (1.0,)
    assert by_number[2].state == C and by_number[2].values == (2.0,)

    # Re-reading from an old cursor gives the latest state of everything since then.
    everything, c_all = storage.get_changes(sid, c0)
    assert c_all == c2
    assert sorted(t.number for t in everything) == [0, 1, 2]
    assert storage.get_changes(sid, c2) == ([], c2)


def test_get_changes_with_intermediate_carries_every_report(storage):
    sid = _study(storage, directions=("minimize", "maximize"))
    done = storage.create_trial(sid, R).trial_id
    storage.report(done, 0, [1.0, 2.0])
    storage.report(done, 5, [0.5, float("nan")])
    storage.report(done, 5, [0.25, 3.0])  # a step reported again keeps the last values
    storage.finish_trial(done, P)
    running = storage.create_trial(sid, R).trial_id
    storage.report(running, 1, [7.0, 8.0])
    storage.create_trial(sid, C, values=[1.0, 1.0], intermediate={2: [4.0, 4.0]})
    storage.create_trial(sid, C, values=[2.0, 2.0])  # no reports at all

    changes, cursor = storage.get_changes(sid, 0, with_intermediate=True)
    by_number = {t.number: dict(t.intermediate) for t in changes}
    assert by_number == {
        0: {0: (1.0, 2.0), 5: (0.25, 3.0)},
        1: {1: (7.0, 8.0)},
        2: {2: (4.0, 4.0)},
        3: {},
    }
    # Reports do not move the cursor: the running trial shows up again once it changes.
    storage.report(running, 2, [6.0, 9.0])
    assert storage.get_changes(sid, cursor, with_intermediate=True) == ([], cursor)
    storage.finish_trial(running, C, values=[6.0, 9.0])
    changes, _ = storage.get_changes(sid, cursor, with_intermediate=True)
    assert [(t.number, dict(t.intermediate)) for t in changes] == [
        (1, {1: (7.0, 8.0), 2: (6.0, 9.0)})
    ]
    # Without the flag, states and values are the same (reports may be left out).
    plain, _ = storage.get_changes(sid, 0)
    assert [(t.number, t.state, t.values) for t in plain] == [
        (t.number, t.state, t.values)
        for t in storage.get_changes(sid, 0, with_intermediate=True)[0]
    ]


def test_get_changes_with_intermediate_ignores_other_studies(storage):
    sid = _study(storage)
    other = _study(storage, "other")
    mine = storage.create_trial(sid, R).trial_id
    theirs = storage.create_trial(other, R).trial_id
    storage.report(mine, 0, [1.0])
    storage.report(theirs, 0, [2.0])
    changes, _ = storage.get_changes(sid, 0, with_intermediate=True)
    assert [dict(t.intermediate) for t in changes] == [{0: (1.0,)}]


def test_get_changes_sees_claims_and_stale_failures(storage):
    sid = _study(storage)
    storage.create_trial(sid, W)
    running = storage.create_trial(sid, R).trial_id
    _, cursor = storage.get_changes(sid, 0)

    storage.claim_waiting_trial(sid)
    changes, cursor2 = storage.get_changes(sid, cursor)
    assert [(t.number, t.state) for t in changes] == [(0, R)]

    storage.heartbeat([running], time.time() - 1000)
    storage.fail_stale_trials(sid, time.time() - 500)
    changes, _ = storage.get_changes(sid, cursor2)
    assert [(t.number, t.state) for t in changes] == [(1, F)]


def test_get_changes_cursor_never_goes_back(storage):
    sid = _study(storage)
    cursor = 0
    seen = []
    for i in range(10):
        ft = storage.create_trial(sid, R)
        if i % 2:
            storage.finish_trial(ft.trial_id, F)
        _, new = storage.get_changes(sid, cursor)
        assert new > cursor
        cursor = new
        seen.append(cursor)
    assert seen == sorted(seen)


# -- counting and listing ----------------------------------------------------------------------


def test_count_and_get_trials_filter_by_state(storage):
    sid = _study(storage)
    states = [W, R, C, P, F, C, W, F, C]
    for s in states:
        storage.create_trial(sid, s, values=[1.0] if s == C else None)
    assert storage.count_trials(sid) == len(states)
    for s in TrialState:
        assert storage.count_trials(sid, [s]) == states.count(s)
        got = storage.get_trials(sid, [s])
        assert [t.number for t in got] == [i for i, x in enumerate(states) if x == s]
    assert storage.count_trials(sid, [C, P]) == 4
    assert storage.count_trials(sid, []) == 0
    assert [t.number for t in storage.get_trials(sid)] == list(range(len(states)))


# -- heartbeats and stale trials -------------------------------------------------------------


def test_fail_stale_trials_fails_only_trials_without_recent_heartbeat(storage):
    sid = _study(storage)
    other = _study(storage, "other")
    now = time.time()
    stale = storage.create_trial(sid, R).trial_id
    fresh = storage.create_trial(sid, R).trial_id
    waiting = storage.create_trial(sid, W).trial_id
    done = _complete(storage, sid, 1.0)
    other_stale = storage.create_trial(other, R).trial_id
    storage.heartbeat([stale, other_stale], now - 100)
    storage.heartbeat([fresh], now)

    failed = storage.fail_stale_trials(sid, now - 50)

    assert [f.trial_id for f in failed] == [stale]
    assert failed[0].state == F
    assert "heartbeat" in failed[0].error
    got = storage.get_trial(stale)
    assert got.state == F and "heartbeat" in got.error
    assert got.datetime_complete is not None
    assert storage.get_trial(fresh).state == R
    assert storage.get_trial(waiting).state == W
    assert storage.get_trial(done).state == C
    assert storage.get_trial(other_stale).state == R  # another study is left alone
    assert storage.count_trials(sid, [W]) == 1  # no re-queue without max_retries
    assert storage.fail_stale_trials(sid, now - 50) == []


def test_heartbeat_keeps_a_trial_alive(storage):
    sid = _study(storage)
    tid = storage.create_trial(sid, R).trial_id
    storage.heartbeat([tid], time.time() - 100)
    storage.heartbeat([tid], time.time())
    assert storage.fail_stale_trials(sid, time.time() - 50) == []
    assert storage.get_trial(tid).state == R


def test_heartbeat_ignores_finished_trials_and_empty_lists(storage):
    sid = _study(storage)
    tid = _complete(storage, sid, 1.0)
    storage.heartbeat([tid], 5.0)
    storage.heartbeat([], 5.0)
    assert storage.get_trial(tid).heartbeat != 5.0


def test_stale_trial_is_requeued_until_retries_run_out(storage):
    sid = _study(storage)
    dists = {"x": Float(0, 1), "k": Categorical(["a", "b"])}
    first = storage.create_trial(
        sid, R, params={"x": 0.25, "k": 1.0}, distributions=dists, user_attrs={"u": 7}
    )

    def fail_everything_running() -> list:
        for t in storage.get_trials(sid, [R]):
            storage.heartbeat([t.trial_id], time.time() - 100)
        return storage.fail_stale_trials(sid, time.time() - 50, max_retries=2)

    # First loss: re-queued as retry 1.
    failed = fail_everything_running()
    assert [f.number for f in failed] == [first.number]
    queued = storage.get_trials(sid, [W])
    assert len(queued) == 1
    retry1 = queued[0]
    assert retry1.number == 1
    assert retry1.retries == 1
    assert retry1.system_attrs["retry_of"] == 0
    assert dict(retry1.params) == {"x": 0.25, "k": "b"}
    assert dict(retry1.distributions) == dists
    assert dict(retry1.user_attrs) == {"u": 7}

    # Second loss: re-queued as retry 2.
    assert storage.claim_waiting_trial(sid).number == 1
    fail_everything_running()
    retry2 = storage.claim_waiting_trial(sid)
    assert (retry2.number, retry2.retries, retry2.system_attrs["retry_of"]) == (2, 2, 1)

    # Third loss: retries exhausted, nothing queued.
    failed = fail_everything_running()
    assert [f.number for f in failed] == [2]
    assert storage.count_trials(sid, [W]) == 0
    assert storage.count_trials(sid, [F]) == 3
    assert storage.count_trials(sid) == 3


# -- concurrency: threads ---------------------------------------------------------------------


def _run_threads(n: int, target, *args) -> list:
    barrier = threading.Barrier(n)
    results: list = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = target(*args)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    return results


def _claim_until_empty(storage: Storage, sid: int) -> list[int]:
    got = []
    while (
        ft := storage.claim_waiting_trial(sid, worker=threading.current_thread().name)
    ) is not None:
        got.append(ft.number)
    return got


def test_threads_racing_to_claim_get_every_trial_exactly_once(storage):
    sid = _study(storage)
    for _ in range(50):
        storage.create_trial(sid, W)
    results = _run_threads(6, _claim_until_empty, storage, sid)
    claimed = [n for r in results for n in r]
    assert sorted(claimed) == list(range(50))
    assert storage.count_trials(sid, [R]) == 50


def test_threads_creating_trials_get_dense_distinct_numbers(storage):
    sid = _study(storage)

    def create_some() -> list[int]:
        return [storage.create_trial(sid, R).number for _ in range(10)]

    results = _run_threads(6, create_some)
    numbers = [n for r in results for n in r]
    assert sorted(numbers) == list(range(60))
    for r in results:
        assert r == sorted(r)  # each thread sees its own numbers increase


def test_threads_setting_the_same_new_study_attr_do_not_collide(storage):
    sid = _study(storage)

    def set_keys() -> None:
        for k in range(5):
            storage.set_study_attr(sid, f"key{k}", threading.get_ident())

    _run_threads(6, set_keys)
    attrs = storage.get_study_attrs(sid)
    assert sorted(attrs) == [f"key{k}" for k in range(5)]


# -- concurrency: processes -------------------------------------------------------------------
# Each worker process opens its own SQLStorage on the same URL and waits at a barrier
# shared by all four, so that they really race (and so that the four tasks necessarily run
# in four different processes); each reports its pid with its results.

N_PROCS = 4
_barrier: Any = None


def _init_worker(barrier: Any) -> None:
    global _barrier
    _barrier = barrier


def _proc_claim(url: str, study_name: str) -> tuple[int, list[int]]:
    from tunesmith.storage.sql import SQLStorage

    with SQLStorage(url) as st:
        sid = st.get_study(study_name).study_id
        _barrier.wait(timeout=60)
        return os.getpid(), _claim_until_empty(st, sid)


def _proc_create(url: str, study_name: str, n: int) -> tuple[int, list[int]]:
    from tunesmith.storage.sql import SQLStorage

    with SQLStorage(url) as st:
        sid = st.get_study(study_name).study_id
        _barrier.wait(timeout=60)
        return os.getpid(), [st.create_trial(sid, R).number for _ in range(n)]


@pytest.fixture(scope="module")
def process_pool() -> Iterator[multiprocessing.pool.Pool]:
    ctx = multiprocessing.get_context("spawn")
    pool = ctx.Pool(N_PROCS, initializer=_init_worker, initargs=(ctx.Barrier(N_PROCS),))
    try:
        yield pool
    finally:
        pool.terminate()
        pool.join()


def _run_in_processes(pool, func, *args) -> list[list[int]]:
    results = pool.starmap(func, [args] * N_PROCS, chunksize=1)
    assert len({pid for pid, _ in results}) == N_PROCS, "the tasks did not run in 4 processes"
    return [numbers for _, numbers in results]


def test_processes_racing_to_claim_get_every_trial_exactly_once(storage_url, process_pool):
    from tunesmith.storage.sql import SQLStorage

    with SQLStorage(storage_url) as st:
        sid = _study(st, "race")
        for _ in range(50):
            st.create_trial(sid, W)
        results = _run_in_processes(process_pool, _proc_claim, storage_url, "race")
        claimed = [n for r in results for n in r]
        assert sorted(claimed) == list(range(50))
        assert st.count_trials(sid, [R]) == 50
        assert st.claim_waiting_trial(sid) is None


def test_processes_creating_trials_get_dense_distinct_numbers(storage_url, process_pool):
    from tunesmith.storage.sql import SQLStorage

    with SQLStorage(storage_url) as st:
        sid = _study(st, "race")
        results = _run_in_processes(process_pool, _proc_create, storage_url, "race", 15)
        numbers = [n for r in results for n in r]
        assert sorted(numbers) == list(range(15 * N_PROCS))
        assert [t.number for t in st.get_trials(sid)] == list(range(15 * N_PROCS))
        _, cursor = st.get_changes(sid, 0)
        assert cursor >= 15 * N_PROCS
