"""Scenarios shared by the Dask and Ray executor tests (real clusters, no mocks).

The objectives live in this importable module: cluster workers import them by name
(the driver's ``sys.path`` travels with the objective).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import tunesmith as ts
from tunesmith.trial import TrialState

# -- objectives ------------------------------------------------------------------------


def quadratic(trial: ts.Trial) -> float:
    x = trial.suggest_float("x", -5, 5)
    kind = trial.suggest_categorical("kind", ["a", "b"])
    y = trial.suggest_int("y", 1, 64, log=True) if kind == "b" else 0
    trial.report(x, 0)
    trial.set_user_attr("pid", os.getpid())
    return (x - 1) ** 2 + y / 64


def curves(trial: ts.Trial) -> float:
    """Learning curves that pruners can tell apart: the loss is ``x`` from step 1 on."""
    x = trial.suggest_float("x", 0, 1)
    for step in range(1, 9):
        trial.report(x + 1.0 / step, step)
        if trial.should_prune():
            raise ts.TrialPruned()
    return x


def odd_trials_raise(trial: ts.Trial) -> float:
    x = trial.suggest_float("x", 0, 1)
    if trial.number % 2 == 1:
        raise ValueError(f"odd trial {trial.number}")
    return x


class CustomError(Exception):
    pass


def raises_custom(trial: ts.Trial) -> float:
    trial.suggest_float("x", 0, 1)
    raise CustomError("boom on the cluster")


def with_checkpoints(trial: ts.Trial) -> float:
    state = trial.load_checkpoint({"epoch": 0, "loss": 10.0})
    x = trial.suggest_float("x", 0, 1)
    for epoch in range(state["epoch"], 3):
        state = {"epoch": epoch + 1, "loss": state["loss"] * x}
        trial.save_checkpoint(state)
    trial.set_user_attr("host_pid", [os.uname().nodename, os.getpid()])
    trial.set_user_attr("epochs", state["epoch"])
    return state["loss"]


def make_victim(folder: str, victim: int) -> Any:
    """Trial ``victim`` saves a checkpoint, writes its process id and waits to be killed;
    its retry resumes from the checkpoint."""

    def objective(trial: ts.Trial) -> float:
        x = trial.suggest_float("x", 0, 1)
        resumed = trial.load_checkpoint()
        trial.set_user_attr("resumed", resumed)
        if trial.number == victim:
            trial.save_checkpoint({"x": x, "stage": "before the kill"})
            pid_file = Path(folder) / "victim.pid"
            pid_file.with_suffix(".tmp").write_text(str(os.getpid()))
            pid_file.with_suffix(".tmp").rename(pid_file)
            for _ in range(600):  # the test kills this process; never finishes on its own
                time.sleep(0.1)
            raise RuntimeError("the victim was not killed")
        time.sleep(0.05)
        return x

    return objective


def make_slow(started: str) -> Any:
    """Trial 0 ends once trial 1 runs; the others run (asking the driver) until stopped."""

    def objective(trial: ts.Trial) -> float:
        x = trial.suggest_float("x", 0, 1)
        if trial.number == 0:
            end = time.monotonic() + 20
            while not Path(started).exists() and time.monotonic() < end:
                time.sleep(0.02)
            return x
        Path(started).touch()
        for _ in range(600):
            time.sleep(0.05)
            trial.should_prune()  # a request: fails once the driver closed the connection
        return x

    return objective


def _refuse_to_load() -> Any:
    raise RuntimeError("this objective cannot be loaded on a worker")


class LoadsOnlyInTheDriver:
    """Pickles fine; unpickling (on a worker) fails."""

    def __call__(self, trial: ts.Trial) -> float:
        return trial.suggest_float("x", 0, 1)

    def __reduce__(self) -> Any:
        return (_refuse_to_load, ())


def sleepy(trial: ts.Trial) -> float:
    x = trial.suggest_float("x", 0, 1)
    time.sleep(0.2)
    return x


def pbt_objective(trial: ts.Trial) -> float:
    lr = trial.suggest_float("lr", 1e-3, 1.0, log=True)
    state = trial.load_checkpoint(default={"step": 0, "loss": 1.0})
    trial.set_user_attr("start_step", state["step"])
    trial.set_user_attr("start_loss", state["loss"])
    while state["step"] < 12:
        state = {"step": state["step"] + 1, "loss": state["loss"] * (1 - lr) + lr * lr}
        trial.save_checkpoint(state)
        trial.report(state["loss"], step=state["step"])
        time.sleep(0.01)
        if trial.should_prune():
            raise ts.TrialPruned()
    return state["loss"]


# -- scenarios -------------------------------------------------------------------------


def runs_like_the_process_pool(executor: ts.executors.Executor, tmp_path: Path) -> None:
    seq = ts.create_study(sampler="random", seed=11)
    seq.optimize(quadratic, n_trials=10)
    study = ts.create_study(sampler="random", seed=11)
    study.optimize(quadratic, n_trials=10, n_workers=2, executor=executor)
    trials = study.trials
    assert [t.number for t in trials] == list(range(10))
    assert all(t.state == TrialState.COMPLETE for t in trials)
    # same seed -> same proposals for the same trial numbers, as with local processes
    assert {t.number: dict(t.params) for t in trials} == {
        t.number: dict(t.params) for t in seq.trials
    }
    assert [t.value for t in trials] == pytest.approx([t.value for t in seq.trials])
    pids = {t.user_attrs["pid"] for t in trials}
    assert os.getpid() not in pids
    assert all(t.intermediate[0] == (t.params["x"],) for t in trials)


def prunes_remotely(executor: ts.executors.Executor) -> None:
    study = ts.create_study(
        sampler="random",
        seed=3,
        pruner=ts.SuccessiveHalvingPruner(min_resource=1, reduction_factor=2),
    )
    study.optimize(curves, n_trials=12, executor=executor)
    states = [t.state for t in study.trials]
    assert len(states) == 12
    assert states.count(TrialState.PRUNED) >= 3
    assert states.count(TrialState.COMPLETE) >= 1
    for t in study.get_trials([TrialState.PRUNED]):
        last = max(t.intermediate)
        assert last < 8 and t.values == t.intermediate[last]


def attrs_and_checkpoints(executor: ts.executors.Executor, tmp_path: Path) -> None:
    study = ts.create_study("ckpt", storage=tmp_path / "s.db", seed=0)
    study.optimize(with_checkpoints, n_trials=4, executor=executor)
    for t in study.trials:
        assert t.state == TrialState.COMPLETE
        assert t.user_attrs["epochs"] == 3
        assert t.user_attrs["host_pid"][1] != os.getpid()
        saved = study.load_checkpoint(t)
        assert saved["epoch"] == 3 and saved["loss"] == pytest.approx(t.value)
        path = study.checkpoint_path(t)
        assert path is not None and str(path).startswith(str(tmp_path))


def objective_errors(executor: ts.executors.Executor, engine: str) -> None:
    study = ts.create_study(seed=0)
    study.optimize(odd_trials_raise, n_trials=6, n_workers=2, executor=executor, catch=ValueError)
    failed = study.get_trials([TrialState.FAILED])
    assert [t.number for t in failed] == [1, 3, 5]
    for t in failed:
        assert "ValueError" in t.error and f"odd trial {t.number}" in t.error
        assert "odd_trials_raise" in t.error  # the worker's traceback
    assert len(study.get_trials([TrialState.COMPLETE])) == 3

    study = ts.create_study(seed=0)
    with pytest.raises(CustomError, match="boom on the cluster") as info:
        study.optimize(raises_custom, n_trials=4, n_workers=2, executor=executor)
    assert any("raises_custom" in note for note in getattr(info.value, "__notes__", []))
    assert all(t.state == TrialState.FAILED for t in study.trials)
    assert not study.get_trials([TrialState.RUNNING])


def killed_worker(executor: ts.executors.Executor, tmp_path: Path, engine: str) -> None:
    n_trials, victim = 6, 2
    study = ts.create_study("kill", storage=tmp_path / "k.db", seed=0, max_retries=1)
    pid_file = tmp_path / "victim.pid"
    killed: list[int] = []

    def killer() -> None:
        end = time.monotonic() + 50
        while not pid_file.exists() and time.monotonic() < end:
            time.sleep(0.05)
        if pid_file.exists():
            pid = int(pid_file.read_text())
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    study.optimize(
        make_victim(str(tmp_path), victim), n_trials=n_trials, n_workers=2, executor=executor
    )
    thread.join(5)
    assert killed, "the victim never started"
    trials = study.trials
    assert [t.number for t in trials] == list(range(len(trials))), "numbers are dense"
    failed = [t for t in trials if t.state == TrialState.FAILED]
    assert [t.number for t in failed] == [victim]
    assert engine in failed[0].error and "while running this trial" in failed[0].error
    retried = [t for t in trials if t.system_attrs.get("retry_of") == victim]
    assert len(retried) == 1
    retry = retried[0]
    assert retry.state == TrialState.COMPLETE and retry.retries == 1
    assert retry.params["x"] == failed[0].params["x"]
    assert retry.user_attrs["resumed"] == {"x": failed[0].params["x"], "stage": "before the kill"}
    assert len([t for t in trials if t.state == TrialState.COMPLETE]) == n_trials
    assert len(trials) == n_trials + 1
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]


def interrupted(executor: ts.executors.Executor, tmp_path: Path) -> None:
    flag = tmp_path / "trial-1-runs"

    def stop_after_first(study: ts.Study, trial: ts.FrozenTrial) -> None:
        raise KeyboardInterrupt  # as if Ctrl-C was pressed while trial 1 runs

    study = ts.create_study(seed=0)
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        study.optimize(
            make_slow(str(flag)),
            n_trials=4,
            n_workers=2,
            executor=executor,
            callbacks=[stop_after_first],
        )
    assert time.monotonic() - t0 < 15
    trials = study.trials
    assert trials[0].state == TrialState.COMPLETE
    assert len(trials) >= 2
    assert not study.get_trials([TrialState.RUNNING])
    assert all("interrupted" in (t.error or "") for t in trials[1:])


def unloadable_objective(executor: ts.executors.Executor, engine: str) -> None:
    study = ts.create_study(seed=0)
    with pytest.raises(ts.ObjectiveNotPicklableError, match=f"a {engine} worker could not load"):
        study.optimize(LoadsOnlyInTheDriver(), n_trials=3, n_workers=2, executor=executor)
    assert not study.get_trials([TrialState.RUNNING])


def timeout_budget(executor: ts.executors.Executor) -> None:
    study = ts.create_study(seed=0)
    t0 = time.monotonic()
    study.optimize(sleepy, timeout=1.5, n_workers=2, executor=executor)
    assert time.monotonic() - t0 < 6
    trials = study.trials
    assert len(trials) >= 2
    assert all(t.state == TrialState.COMPLETE for t in trials)


def pbt_continues_copied_checkpoints(executor: ts.executors.Executor, tmp_path: Path) -> None:
    pbt = ts.PBT(population_size=4, perturbation_interval=3)
    study = ts.create_study("pbt", storage=tmp_path / "s.db", sampler="random", pruner=pbt, seed=1)
    study.optimize(pbt_objective, n_trials=12, n_workers=2, executor=executor)
    trials = study.trials
    assert not study.get_trials([TrialState.FAILED])
    by_number = {t.number: t for t in trials}
    children = [t for t in trials if "pbt_parent" in t.system_attrs and t.state.is_finished()]
    assert children
    for child in children:  # resumed the parent's copied checkpoint, on a cluster worker
        parent = by_number[child.system_attrs["pbt_parent"]]
        start = child.user_attrs["start_step"]
        assert start >= child.system_attrs["pbt_step"] > 0
        assert child.user_attrs["start_loss"] == pytest.approx(parent.intermediate[start][0])
