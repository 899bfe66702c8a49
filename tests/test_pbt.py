"""Population-based training: exploit copies a top trial's checkpoint, explore stays in bounds."""

from __future__ import annotations

import time

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.pbt import perturb
from tunesmith.trial import TrialState

LR = ts.Float(1e-3, 1.0, log=True)


def _population(study: ts.Study, lrs: list[float], values: list[float], step: int = 4):
    """Ask one trial per lr, save a checkpoint naming it, and report ``values`` at ``step``."""
    trials = []
    for lr, value in zip(lrs, values, strict=True):
        trial = study.ask({"lr": lr})
        assert trial.suggest("lr", LR) == lr
        trial.save_checkpoint({"who": trial.number, "step": step})
        trial.report(value, step=step)
        trials.append(trial)
    return trials


def test_the_worst_trial_is_replaced_by_a_perturbed_copy_of_the_best():
    pbt = ts.PBT(population_size=4, perturbation_interval=4, resample_probability=0.0)
    study = ts.create_study(pruner=pbt, seed=0)
    lrs = [0.1, 0.2, 0.3, 0.4]
    trials = _population(study, lrs, [0.5, 0.1, 0.3, 0.9])  # 1 best, 3 worst (minimize)
    # Only the bottom quantile (1 of 4) stops; the others carry on.
    assert [t.should_prune() for t in trials[:3]] == [False, False, False]
    assert trials[3].should_prune() is True
    assert trials[3].should_prune() is True, "asking again at the same step changes nothing"
    donor = trials[1]
    # The donor trains on and saves a newer checkpoint: the copy was taken before.
    donor.save_checkpoint({"who": donor.number, "step": 5})
    study.tell(trials[3], state=TrialState.PRUNED)
    stopped = study.trials[3]
    assert stopped.state == TrialState.PRUNED
    assert stopped.user_attrs["pbt"]["donor"] == 1
    assert "bottom 25%" in stopped.user_attrs["pbt"]["reason"]
    (queued,) = study.get_trials([TrialState.WAITING])
    assert queued.number == stopped.user_attrs["pbt"]["replaced_by"]
    assert queued.system_attrs["pbt_parent"] == 1
    assert queued.system_attrs["checkpoint_from"] == 1
    assert queued.system_attrs["pbt_step"] == 4
    assert queued.params["lr"] in (pytest.approx(0.2 * 0.8), pytest.approx(0.2 * 1.2))
    child = study.ask()
    assert child.number == queued.number
    assert child.load_checkpoint() == {"who": 1, "step": 4}
    assert child.suggest("lr", LR) == queued.params["lr"]
    child.save_checkpoint({"who": child.number, "step": 5})
    assert study.load_checkpoint(1) == {"who": 1, "step": 5}, "the donor's files are untouched"
    for t in (*trials[:3], child):
        study.tell(t, 0.0)


def test_ready_points_are_multiples_of_the_interval():
    study = ts.create_study(pruner=ts.PBT(population_size=2, perturbation_interval=3), seed=0)
    a, b = _population(study, [0.1, 0.2], [0.0, 1.0], step=2)
    assert not b.should_prune(), "step 2 is not a ready point"
    for t, v in ((a, 0.0), (b, 1.0)):
        t.report(v, step=3)
    assert not a.should_prune()
    assert b.should_prune()
    study.tell(a, 0.0)
    study.tell(b, state=TrialState.PRUNED)


def test_maximize_ranks_the_other_way():
    pbt = ts.PBT(population_size=4, perturbation_interval=4)
    study = ts.create_study(direction="maximize", pruner=pbt, seed=0)
    trials = _population(study, [0.1, 0.2, 0.3, 0.4], [0.5, 0.1, 0.3, 0.9])
    assert [t.should_prune() for t in trials] == [False, True, False, False]
    assert study.get_trials([TrialState.WAITING])[0].system_attrs["pbt_parent"] == 3


def test_a_donor_without_a_checkpoint_is_a_clear_error():
    study = ts.create_study(pruner=ts.PBT(population_size=2, perturbation_interval=1), seed=0)
    a, b = (study.ask(), study.ask())
    for t, v in ((a, 0.0), (b, 1.0)):
        t.suggest("lr", LR)
        t.report(v, step=1)
    with pytest.raises(ts.CheckpointError, match="save_checkpoint"):
        b.should_prune()


def test_perturb_stays_within_bounds_and_steps():
    dists = {
        "lr": LR,
        "wd": ts.Float(0.0, 0.1, step=0.01),
        "depth": ts.Int(1, 9, step=2),
        "units": ts.Int(16, 512, log=True),
        "act": ts.Categorical(["relu", "tanh", "gelu", "silu"]),
    }
    params = {"lr": 0.9, "wd": 0.1, "depth": 9, "units": 500, "act": "relu"}
    rng = np.random.default_rng(0)
    seen_act = set()
    for prob in (0.0, 0.5, 1.0):
        for _ in range(300):
            new = perturb(params, dists, rng, resample_probability=prob)
            for name, value in new.items():
                assert dists[name].contains(value), (name, value)
            if prob == 0.0:
                assert new["lr"] in (pytest.approx(0.72), 1.0)  # 0.9 * 1.2 is clipped
                assert new["act"] in ("relu", "tanh"), "a neighbouring choice"
            seen_act.add(new["act"])
    assert seen_act == {"relu", "tanh", "gelu", "silu"}, "resampling reaches every choice"


def test_arguments_are_checked_and_the_pruner_is_stored(tmp_path):
    with pytest.raises(ValueError, match="population_size"):
        ts.PBT(population_size=1)
    with pytest.raises(ValueError, match="quantile_fraction"):
        ts.PBT(quantile_fraction=0.75)
    with pytest.raises(ValueError, match="perturbation_factors"):
        ts.PBT(perturbation_factors=(0.8, -1.0))
    pbt = ts.PBT(population_size=5, perturbation_interval=2, quantile_fraction=0.2)
    db = str(tmp_path / "s.db")
    ts.create_study("p", storage=db, pruner=pbt)
    assert ts.load_study("p", db).pruner == pbt
    with pytest.raises(ValueError, match="one objective"):
        study = ts.create_study(directions=["minimize", "minimize"], pruner=pbt)
        t = study.ask()
        t.report([1.0, 2.0], step=2)
        t.should_prune()


# -- a toy "training": the state is a number that each step improves -----------------------
def train_step(state: dict, lr: float) -> dict:
    """One step on a noisy quadratic: big steps converge fast, small ones settle lower
    (the loss tends to ``lr``), so a falling learning rate beats any fixed one."""
    return {"step": state["step"] + 1, "loss": state["loss"] * (1 - lr) + lr * lr}


def lockstep(study: ts.Study, population: int, max_step: int, budget: int) -> int:
    """Train ``population`` trials side by side, one step each in turn, until ``budget``
    steps were trained; a stopped or finished trial's place goes to the next ``ask``
    (PBT's replacement first). Returns the steps trained."""
    used = 0
    active = [study.ask() for _ in range(population)]
    while active and used < budget:
        running = []
        for trial in active:
            lr = trial.suggest("lr", LR)
            state = train_step(trial.load_checkpoint(default={"step": 0, "loss": 1.0}), lr)
            used += 1
            trial.save_checkpoint(state)
            trial.report(state["loss"], step=state["step"])
            if trial.should_prune():
                study.tell(trial, state=TrialState.PRUNED)
            elif state["step"] >= max_step:
                study.tell(trial, state["loss"])
            else:
                running.append(trial)
                continue
            if used < budget:
                running.append(study.ask())
        active = running
    for trial in active:
        study.tell(trial, state=TrialState.FAILED, error="out of budget")
    return used


def best_model(study: ts.Study) -> float:
    """The lowest loss any trial reached (finished or not): the best model trained."""
    return min(v[0] for t in study.trials for v in t.intermediate.values())


def test_pbt_beats_random_search_at_equal_steps():
    max_step, population = 80, 8
    budget = population * max_step
    results = []
    for seed in range(3):
        rs = ts.create_study(sampler="random", seed=seed)
        assert lockstep(rs, population, max_step, budget) == budget
        pbt = ts.PBT(population_size=population, perturbation_interval=4)
        pb = ts.create_study(sampler="random", pruner=pbt, seed=seed)
        assert lockstep(pb, population, max_step, budget) == budget
        assert any("pbt_parent" in t.system_attrs for t in pb.trials)
        results.append((best_model(rs), best_model(pb)))
    assert all(p < r for r, p in results), results


def make_objective(max_step: int):
    def objective(trial: ts.Trial) -> float:
        lr = trial.suggest_float("lr", 1e-3, 1.0, log=True)
        state = trial.load_checkpoint(default={"step": 0, "loss": 1.0})
        trial.set_user_attr("start_step", state["step"])
        trial.set_user_attr("start_loss", state["loss"])
        while state["step"] < max_step:
            state = {"step": state["step"] + 1, "loss": state["loss"] * (1 - lr) + lr * lr}
            trial.save_checkpoint(state)
            trial.report(state["loss"], step=state["step"])
            time.sleep(0.01)
            if trial.should_prune():
                raise ts.TrialPruned()
        return state["loss"]

    return objective


def test_pbt_in_worker_processes_continues_copied_checkpoints(tmp_path):
    pbt = ts.PBT(population_size=4, perturbation_interval=3)
    study = ts.create_study(
        "pbt", storage=str(tmp_path / "s.db"), sampler="random", pruner=pbt, seed=1
    )
    study.optimize(make_objective(15), n_trials=14, n_workers=4)
    trials = study.trials
    assert not study.get_trials([TrialState.FAILED])
    children = [t for t in trials if "pbt_parent" in t.system_attrs and t.state.is_finished()]
    assert children
    by_number = {t.number: t for t in trials}
    for child in children:
        parent = by_number[child.system_attrs["pbt_parent"]]
        start = child.user_attrs["start_step"]
        # The child resumed the parent's training where the copy was taken ...
        assert start >= child.system_attrs["pbt_step"] > 0
        assert child.user_attrs["start_loss"] == pytest.approx(parent.intermediate[start][0])
        if child.intermediate:
            assert min(child.intermediate) == start + 1
        # ... with a learning rate near the parent's, inside the bounds.
        assert LR.contains(child.params["lr"])
    stopped = [t for t in trials if t.state == TrialState.PRUNED]
    assert stopped and all("pbt" in t.user_attrs for t in stopped)


def test_a_retried_replacement_resumes_its_own_progress_not_the_copy():
    pbt = ts.PBT(population_size=2, perturbation_interval=4, resample_probability=0.0)
    study = ts.create_study(pruner=pbt, seed=0, max_retries=1)
    a, b = _population(study, [0.1, 0.2], [0.0, 1.0])
    assert b.should_prune()
    study.tell(b, state=TrialState.PRUNED)
    study.tell(a, 0.0)
    child = study.ask()
    assert child.load_checkpoint() == {"who": 0, "step": 4}
    child.save_checkpoint({"who": child.number, "step": 6})
    study._beat()
    # The child's process dies; its retry continues the child, not the old copy.
    study._live.pop(child.number)
    study.storage.fail_stale_trials(study.study_id, time.time() + 1, 1)
    retry = study.ask()
    assert study.trials[retry.number].system_attrs["retry_of"] == child.number
    assert retry.load_checkpoint() == {"who": child.number, "step": 6}
    study.tell(retry, 0.0)


PBT_DRIVER = """
import sys, time
import tunesmith as ts

def objective(trial):
    lr = trial.suggest_float("lr", 0.01, 0.5, log=True)
    state = trial.load_checkpoint(default={"step": 0, "x": 10.0})
    trial.set_user_attr("start_step", state["step"])
    for step in range(state["step"] + 1, 41):
        time.sleep(0.05)
        state = {"step": step, "x": state["x"] * (1.0 - lr)}
        trial.save_checkpoint(state)
        trial.report(state["x"], step)
        if trial.should_prune():
            raise ts.TrialPruned()
    return state["x"]

if __name__ == "__main__":
    study = ts.create_study(
        "pbt-kill", storage=sys.argv[1], sampler="random", seed=3, load_if_exists=True,
        pruner=ts.PBT(population_size=2, perturbation_interval=5), max_retries=1,
        heartbeat_interval=0.3,
    )
    study.optimize(objective, n_trials=int(sys.argv[2]), n_workers=2)
"""


def test_a_killed_pbt_run_resumes_from_its_checkpoints(tmp_path):
    """kill -9 of the driver mid-run: on restart the stale trials are retried and continue
    from their last checkpoints instead of starting again."""
    import os
    import signal
    import subprocess
    import sys

    script = tmp_path / "pbt_driver.py"
    script.write_text(PBT_DRIVER)
    db = str(tmp_path / "pbt.db")
    proc = subprocess.Popen([sys.executable, str(script), db, "8"], cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        deep = []
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            try:
                running = ts.load_study("pbt-kill", db).get_trials([TrialState.RUNNING])
            except ts.StudyNotFoundError:
                continue
            deep = [t for t in running if t.intermediate and max(t.intermediate) >= 12]
            if len(deep) >= 1:
                break
        assert deep, "no trial got far enough before the run ended"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    time.sleep(3 * 0.3 + 0.5)  # the dead driver's heartbeats go stale
    study = ts.load_study("pbt-kill", db)
    stale = study.fail_stale_trials()
    assert stale and all("heartbeat lost" in (t.error or "") for t in stale)
    out = subprocess.run([sys.executable, str(script), db, "4"], cwd=tmp_path, timeout=120)
    assert out.returncode == 0
    trials = ts.load_study("pbt-kill", db).trials
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    # Only replacements PBT queued after the budget was spent may still wait.
    assert all("pbt_parent" in t.system_attrs for t in trials if t.state == TrialState.WAITING)
    retries = {t.system_attrs["retry_of"]: t for t in trials if "retry_of" in t.system_attrs}
    for old in stale:
        new = retries[old.number]
        assert new.state in (TrialState.COMPLETE, TrialState.PRUNED)
        assert new.params == old.params
        # It resumed where the killed trial's last checkpoint was, not from step 0.
        last = max(old.intermediate) if old.intermediate else 0
        assert new.user_attrs["start_step"] >= min(last, 1)
        if last >= 1:
            assert new.user_attrs["start_step"] >= 1
            assert min(new.intermediate) == new.user_attrs["start_step"] + 1
