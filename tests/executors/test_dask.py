"""DaskExecutor on a real local Dask cluster (two worker processes, one thread each)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator

import pytest

import tunesmith as ts
from tunesmith.executors import DaskExecutor, EngineNotInstalledError, ExecutorConnectionError

from . import _scenarios as sc

distributed = pytest.importorskip(
    "distributed", reason='Dask is not installed (pip install "tunesmith[dask]")'
)

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def client() -> Iterator[distributed.Client]:
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@pytest.fixture
def executor(client: distributed.Client) -> DaskExecutor:
    return DaskExecutor(client)


def test_runs_trials_like_the_process_pool(executor, tmp_path):
    sc.runs_like_the_process_pool(executor, tmp_path)


def test_n_workers_defaults_to_the_cluster_threads(executor):
    executor._start()
    assert executor._default_workers() == 2
    # the workers declared no GPU: a trial that needs one could never start
    gpu = DaskExecutor(executor.client, resources_per_trial={"GPU": 1})
    gpu._start()
    with pytest.raises(ExecutorConnectionError, match=r"no worker that can run a trial.*GPU"):
        gpu._default_workers()
    with pytest.raises(ValueError, match="resources_per_trial"):
        DaskExecutor(executor.client, resources_per_trial={"GPU": -1})


def test_pruning_works_on_cluster_workers(executor):
    sc.prunes_remotely(executor)


def test_pbt_continues_copied_checkpoints_on_the_cluster(executor, tmp_path):
    sc.pbt_continues_copied_checkpoints(executor, tmp_path)


def test_user_attrs_and_checkpoints(executor, tmp_path):
    sc.attrs_and_checkpoints(executor, tmp_path)


def test_objective_errors_come_back_with_the_worker_traceback(executor):
    sc.objective_errors(executor, "Dask")


def test_objective_that_cannot_load_on_workers_gets_a_clear_error(executor):
    sc.unloadable_objective(executor, "Dask")


def test_timeout_stops_starting_tasks(executor):
    sc.timeout_budget(executor)


def test_killed_worker_fails_the_trial_once_and_it_is_retried(executor, tmp_path):
    sc.killed_worker(executor, tmp_path, "Dask")


def test_interrupt_fails_running_trials_and_stops_tasks(executor, tmp_path, client):
    sc.interrupted(executor, tmp_path)
    # the interrupted objective stopped at its next request to the driver
    end = time.monotonic() + 10
    while any(client.processing().values()) and time.monotonic() < end:
        time.sleep(0.05)
    assert not any(client.processing().values())
    # the cluster is usable right after
    study = ts.create_study(seed=0)
    study.optimize(sc.quadratic, n_trials=2, executor=executor)
    assert len(study.get_trials([ts.TrialState.COMPLETE])) == 2


def test_bad_scheduler_address_names_it_and_the_fix():
    study = ts.create_study()
    with pytest.raises(ExecutorConnectionError, match=r"tcp://127\.0\.0\.1:9.*dask scheduler"):
        study.optimize(
            sc.quadratic, n_trials=1, executor=DaskExecutor("tcp://127.0.0.1:9", connect_timeout=1)
        )
    assert study.trials == []


def test_unreachable_driver_address_names_it_and_the_fix(client):
    study = ts.create_study()
    ex = DaskExecutor(client, driver_address="192.0.2.254", connect_timeout=1)
    with pytest.raises(
        ExecutorConnectionError,
        match=r"connect back to the driver at 192\.0\.2\.254:\d+.*driver_address=",
    ):
        study.optimize(sc.quadratic, n_trials=2, executor=ex)
    assert not study.get_trials([ts.TrialState.RUNNING])


def test_missing_dask_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(EngineNotInstalledError, match=r'pip install "tunesmith\[dask\]"') as info:
        ts.create_study().optimize(sc.quadratic, n_trials=1, executor=DaskExecutor("tcp://x:1"))
    assert isinstance(info.value, ImportError)
