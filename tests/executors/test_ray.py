"""RayExecutor on a real local Ray cluster (``ray.init(address="local", num_cpus=2)``).

One cluster serves the whole module (Ray takes seconds to start); it is always shut
down with ``ray.shutdown()``. These tests never run ``ray stop``, which would stop
every Ray cluster on the machine.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest

import tunesmith as ts
from tunesmith.executors import EngineNotInstalledError, ExecutorConnectionError, RayExecutor

from . import _scenarios as sc

ray = pytest.importorskip("ray", reason='Ray is not installed (pip install "tunesmith[ray]")')

pytestmark = pytest.mark.timeout(120)


# These two run before the module's cluster starts (tests run in file order).
def test_bad_address_names_it_and_the_fix():
    if ray.is_initialized():
        pytest.skip("Ray is already initialized in this process")
    study = ts.create_study()
    ex = RayExecutor("127.0.0.1:9", connect_timeout=1)
    with pytest.raises(ExecutorConnectionError, match=r"'127\.0\.0\.1:9'.*ray start --head"):
        study.optimize(sc.quadratic, n_trials=1, executor=ex)
    assert study.trials == []
    assert not ray.is_initialized()


def test_missing_ray_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(EngineNotInstalledError, match=r'pip install "tunesmith\[ray\]"') as info:
        ts.create_study().optimize(sc.quadratic, n_trials=1, executor=RayExecutor("auto"))
    assert isinstance(info.value, ImportError)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
    )
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.fixture
def executor(cluster: Any) -> RayExecutor:
    return RayExecutor(resources_per_trial={"num_cpus": 1})


def test_runs_trials_like_the_process_pool(executor, tmp_path):
    sc.runs_like_the_process_pool(executor, tmp_path)


def test_n_workers_defaults_to_the_cluster_cpus(executor):
    executor._start()
    assert executor._default_workers() == 2
    assert RayExecutor(resources_per_trial={"num_cpus": 0.5})._default_workers() == 4
    with pytest.raises(ExecutorConnectionError, match="num_gpus"):
        RayExecutor(resources_per_trial={"num_cpus": 1, "num_gpus": 1})._default_workers()
    opts = RayExecutor(resources_per_trial={"num_gpus": 0, "TPU": 2, "resources": {"a": 1}}).options
    assert opts == {"num_gpus": 0, "num_cpus": 1, "resources": {"TPU": 2, "a": 1}}


def test_pruning_works_on_cluster_workers(executor):
    sc.prunes_remotely(executor)


def test_pbt_continues_copied_checkpoints_on_the_cluster(executor, tmp_path):
    sc.pbt_continues_copied_checkpoints(executor, tmp_path)


def test_user_attrs_and_checkpoints(executor, tmp_path):
    sc.attrs_and_checkpoints(executor, tmp_path)


def test_objective_errors_come_back_with_the_worker_traceback(executor):
    sc.objective_errors(executor, "Ray")


def test_objective_that_cannot_load_on_workers_gets_a_clear_error(executor):
    sc.unloadable_objective(executor, "Ray")


def test_timeout_stops_starting_tasks(executor):
    sc.timeout_budget(executor)


def test_killed_worker_fails_the_trial_once_and_it_is_retried(executor, tmp_path):
    sc.killed_worker(executor, tmp_path, "Ray")


def test_interrupt_fails_running_trials_and_stops_tasks(executor, tmp_path):
    sc.interrupted(executor, tmp_path)
    study = ts.create_study(seed=0)
    study.optimize(sc.quadratic, n_trials=2, executor=executor)
    assert len(study.get_trials([ts.TrialState.COMPLETE])) == 2


def test_unreachable_driver_address_names_it_and_the_fix(cluster):
    study = ts.create_study()
    ex = RayExecutor(driver_address="192.0.2.254", connect_timeout=1)
    with pytest.raises(
        ExecutorConnectionError,
        match=r"connect back to the driver at 192\.0\.2\.254:\d+.*driver_address=",
    ):
        study.optimize(sc.quadratic, n_trials=2, executor=ex)
    assert not study.get_trials([ts.TrialState.RUNNING])
