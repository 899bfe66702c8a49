"""Trial checkpoints: save/load, atomic writes, where they live, resume after a kill, delete."""

from __future__ import annotations

import gc
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import tunesmith as ts
from tunesmith.storage import InMemoryStorage, Storage
from tunesmith.trial import TrialState


def _study(storage: Storage, tmp_path: Path, **kw) -> ts.Study:
    """A study on ``storage``; PostgreSQL needs a checkpoint folder, the others have one."""
    if getattr(storage, "dialect", None) == "postgresql":
        kw.setdefault("artifact_dir", tmp_path / "artifacts")
    return ts.create_study("ckpt", storage=storage, seed=0, **kw)


def test_save_and_load_round_trip_on_every_backend(storage, tmp_path):
    study = _study(storage, tmp_path)
    trial = study.ask()
    assert trial.load_checkpoint() is None
    assert trial.load_checkpoint(default={"epoch": 0}) == {"epoch": 0}
    assert trial.latest_checkpoint is None
    first = trial.save_checkpoint({"epoch": 1, "w": [1.0, 2.0]})
    second = trial.save_checkpoint({"epoch": 2, "w": [3.0]})
    assert trial.load_checkpoint() == {"epoch": 2, "w": [3.0]}
    assert trial.latest_checkpoint == second
    assert not first.exists(), "only the latest checkpoint is kept"
    assert sorted(p.name for p in second.parent.iterdir()) == [second.name]
    study.tell(trial, 1.0)
    # After the study: read any trial's checkpoint, e.g. the best one's.
    assert study.load_checkpoint(study.best_trial) == {"epoch": 2, "w": [3.0]}
    assert study.checkpoint_path(0) == second
    # Another process's view of the same study finds the same files.
    if not isinstance(storage, InMemoryStorage):
        again = ts.load_study("ckpt", storage)
        assert again.load_checkpoint(0) == {"epoch": 2, "w": [3.0]}


def test_file_checkpoints_are_atomic(storage, tmp_path):
    study = _study(storage, tmp_path)
    trial = study.ask()
    with trial.checkpoint() as folder:
        (folder / "model.bin").write_bytes(b"epoch-1")
        (folder / "sub").mkdir()
        (folder / "sub" / "opt.bin").write_bytes(b"opt-1")
        assert trial.latest_checkpoint is None, "nothing is visible before the block ends"
    latest = trial.latest_checkpoint
    assert latest is not None
    assert (latest / "model.bin").read_bytes() == b"epoch-1"
    assert (latest / "sub" / "opt.bin").read_bytes() == b"opt-1"
    # An error while writing discards the new checkpoint; the previous one stays.
    with pytest.raises(RuntimeError, match="disk full"), trial.checkpoint() as folder:
        (folder / "model.bin").write_bytes(b"half")
        raise RuntimeError("disk full")
    assert trial.latest_checkpoint == latest
    assert (latest / "model.bin").read_bytes() == b"epoch-1"
    assert not list(latest.parent.glob(".tmp-*"))
    # Files are not a pickled object: load_checkpoint says where to read them.
    with pytest.raises(ts.CheckpointError, match="latest_checkpoint"):
        trial.load_checkpoint()
    study.tell(trial, 0.0)


def test_a_writer_killed_mid_write_leaves_the_previous_checkpoint(tmp_path):
    db = tmp_path / "s.db"
    study = ts.create_study("ckpt", storage=str(db), seed=0)
    trial = study.ask()
    trial.save_checkpoint({"epoch": 1})
    folder = trial.latest_checkpoint
    assert folder is not None
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from tunesmith._checkpoints import CheckpointLocation, writing
        loc = CheckpointLocation(Path({str(folder.parent)!r}))
        with writing(loc) as tmp:
            (tmp / "state.pkl").write_bytes(b"not a pickle: cut off mid-write")
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    assert list(folder.parent.glob(".tmp-*")), "the cut-off write is left in its temp folder"
    assert trial.load_checkpoint() == {"epoch": 1}
    trial.save_checkpoint({"epoch": 2})  # the next save clears the leftover
    assert not list(folder.parent.glob(".tmp-*"))
    assert trial.load_checkpoint() == {"epoch": 2}
    study.tell(trial, 0.0)


def test_concurrent_saves_never_expose_a_partial_checkpoint(tmp_path):
    study = ts.create_study("ckpt", storage=str(tmp_path / "s.db"), seed=0)
    trial = study.ask()
    trial.save_checkpoint(list(range(1000)))
    stop = threading.Event()
    seen: list[object] = []

    def read() -> None:
        while not stop.is_set():
            seen.append(trial.load_checkpoint())

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(50):
            trial.save_checkpoint(list(range(i, i + 1000)))
    finally:
        stop.set()
        reader.join()
    assert seen and all(isinstance(s, list) and len(s) == 1000 for s in seen)
    study.tell(trial, 0.0)


def test_layout_beside_a_sqlite_file(tmp_path):
    db = tmp_path / "runs.db"
    study = ts.create_study("my study/1", storage=str(db), seed=0)
    trial = study.ask()
    path = trial.save_checkpoint(3)
    study_folder = tmp_path / "runs.db.checkpoints" / f"my_study_1-{study.study_id}"
    assert path.parent == study_folder / "trial-0"
    assert pickle.loads((path / "state.pkl").read_bytes()) == 3
    study.tell(trial, 0.0)


def test_in_memory_checkpoints_live_as_long_as_the_storage():
    storage = InMemoryStorage()
    study = ts.create_study(storage=storage, seed=0)
    trial = study.ask()
    path = trial.save_checkpoint("state")
    study.tell(trial, 0.0)
    assert path.exists()
    root = path.parents[2]
    del study, trial, storage
    gc.collect()
    assert not root.exists()


def test_studies_that_save_nothing_create_no_folder(tmp_path):
    from tunesmith import _checkpoints

    storage = InMemoryStorage()
    study = ts.create_study(storage=storage, seed=0)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    assert not _checkpoints._temp_roots[storage].exists()
    db = tmp_path / "s.db"
    ts.create_study(storage=str(db), seed=0).optimize(
        lambda t: t.suggest_float("x", 0, 1), n_trials=3
    )
    assert not (tmp_path / "s.db.checkpoints").exists()


def test_postgres_without_a_folder_gets_a_clear_error(pg_url, tmp_path, monkeypatch):
    monkeypatch.delenv("TUNESMITH_ARTIFACTS", raising=False)
    study = ts.create_study("pg", storage=pg_url, seed=0)  # creating works as before
    trial = study.ask()
    with pytest.raises(ts.CheckpointError, match=r"artifact_dir.*TUNESMITH_ARTIFACTS"):
        trial.save_checkpoint(1)
    with pytest.raises(ts.CheckpointError, match="PostgreSQL"):
        trial.load_checkpoint()
    study.tell(trial, 0.0)
    # The environment variable gives every process the root.
    monkeypatch.setenv("TUNESMITH_ARTIFACTS", str(tmp_path / "env-root"))
    study = ts.load_study("pg", pg_url)
    trial = study.ask()
    path = trial.save_checkpoint(2)
    assert path.is_relative_to(tmp_path / "env-root")
    study.tell(trial, 0.0)
    # artifact_dir= is stored with the study and wins over the variable.
    study2 = ts.create_study("pg2", storage=pg_url, seed=0, artifact_dir=tmp_path / "mine")
    t2 = study2.ask()
    assert t2.save_checkpoint(3).is_relative_to(tmp_path / "mine")
    study2.tell(t2, 0.0)
    monkeypatch.delenv("TUNESMITH_ARTIFACTS")
    assert ts.load_study("pg2", pg_url).load_checkpoint(0) == 3


def test_artifact_dir_is_validated(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="not a folder"):
        ts.create_study(artifact_dir=tmp_path / "file")
    with pytest.raises(ValueError, match="folder path"):
        ts.create_study(artifact_dir="  ")


def test_unpicklable_state_gets_a_clear_error(tmp_path):
    study = ts.create_study(storage=str(tmp_path / "s.db"), seed=0)
    trial = study.ask()
    trial.save_checkpoint(1)
    with pytest.raises(ts.CheckpointError, match="could not pickle"):
        trial.save_checkpoint(threading.Lock())
    assert trial.load_checkpoint() == 1
    study.tell(trial, 0.0)


def test_trial_not_from_a_study_has_no_checkpoints():
    trial = ts.Trial(None, 0, 0, "x")  # type: ignore[arg-type]
    with pytest.raises(ts.CheckpointError, match="not created by a study"):
        trial.save_checkpoint(1)


def _lose(study: ts.Study, trial: ts.Trial) -> None:
    """Make ``trial`` look like its process died: no handle, no heartbeats."""
    study._live.pop(trial.number)
    study.close()


def test_a_retry_resumes_from_the_checkpoint_of_the_trial_it_retries(storage, tmp_path):
    study = _study(storage, tmp_path, max_retries=2)
    trial = study.ask()
    trial.suggest_float("lr", 0.0, 1.0)
    trial.save_checkpoint({"epoch": 4})
    study._beat()  # persist the parameters, as the heartbeat thread does
    _lose(study, trial)
    failed = storage.fail_stale_trials(study.study_id, time.time() + 1, study.max_retries)
    assert [f.number for f in failed] == [0]
    retry = study.ask()
    assert retry.number == 1
    assert study.trials[1].system_attrs["retry_of"] == 0
    assert retry.load_checkpoint() == {"epoch": 4}, "inherited from trial 0"
    assert retry.latest_checkpoint is not None
    # A retry of a retry that saved nothing still reaches trial 0's checkpoint.
    _lose(study, retry)
    storage.fail_stale_trials(study.study_id, time.time() + 1, study.max_retries)
    second = study.ask()
    assert second.load_checkpoint() == {"epoch": 4}
    second.save_checkpoint({"epoch": 6})
    assert second.load_checkpoint() == {"epoch": 6}, "its own checkpoint comes first"
    assert study.load_checkpoint(0) == {"epoch": 4}, "the failed trial's files stay as they were"
    study.tell(second, 1.0)


def make_resumable_objective(marker: str, n_epochs: int = 6, kill_at: int = 3):
    def objective(trial: ts.Trial) -> float:
        lr = trial.suggest_float("lr", 0.1, 1.0)
        state = trial.load_checkpoint(default={"epoch": 0, "loss": 10.0})
        trial.set_user_attr("start_epoch", state["epoch"])
        for epoch in range(state["epoch"], n_epochs):
            if trial.number == 0 and epoch == kill_at and not os.path.exists(marker):
                Path(marker).touch()
                with trial.checkpoint() as folder:
                    # SIGKILL in the middle of writing the next checkpoint.
                    (folder / "state.pkl").write_bytes(b"cut off")
                    os.kill(os.getpid(), signal.SIGKILL)
            state = {"epoch": epoch + 1, "loss": state["loss"] * (1 - lr / 2)}
            trial.save_checkpoint(state)
            trial.report(state["loss"], step=epoch + 1)
            time.sleep(0.05)
        return float(state["epoch"] * 100 + trial.user_attrs["start_epoch"])

    return objective


def test_worker_killed_mid_training_resumes_from_its_checkpoint(tmp_path):
    db = str(tmp_path / "s.db")
    study = ts.create_study("resume", storage=db, seed=0, max_retries=1)
    study.optimize(make_resumable_objective(str(tmp_path / "marker")), n_trials=3, n_workers=2)
    trials = study.trials
    failed = [t for t in trials if t.state == TrialState.FAILED]
    assert [t.number for t in failed] == [0]
    assert "SIGKILL" in (failed[0].error or "")
    (retry,) = [t for t in trials if t.system_attrs.get("retry_of") == 0]
    assert retry.state == TrialState.COMPLETE
    assert retry.params["lr"] == failed[0].params["lr"]
    # The retry started at epoch 3 (the last complete checkpoint), not at 0.
    assert retry.user_attrs["start_epoch"] == 3
    assert retry.value == 603
    assert sorted(retry.intermediate) == [4, 5, 6]
    assert set(failed[0].intermediate) == {1, 2, 3}
    others = [t for t in trials if t.state == TrialState.COMPLETE and t is not retry]
    assert others and all(t.user_attrs["start_epoch"] == 0 and t.value == 600 for t in others)
    assert study.load_checkpoint(retry)["epoch"] == 6


def test_delete_study_removes_its_checkpoints(storage, tmp_path):
    study = _study(storage, tmp_path)
    other = ts.create_study(
        "other", storage=storage, seed=0, artifact_dir=study._artifact_dir or None
    )
    for s in (study, other):
        t = s.ask()
        t.save_checkpoint(1)
        s.tell(t, 0.0)
    folder = study.checkpoint_path(0)
    assert folder is not None
    study_folder = folder.parents[1]
    assert study_folder.exists()
    ts.delete_study("ckpt", storage)
    assert not study_folder.exists()
    assert other.load_checkpoint(0) == 1, "other studies keep theirs"


def test_cli_delete_removes_checkpoints(tmp_path):
    from tunesmith.cli import main

    db = str(tmp_path / "s.db")
    study = ts.create_study("gone", storage=db, seed=0)
    t = study.ask()
    folder = t.save_checkpoint(1).parents[1]
    study.tell(t, 0.0)
    assert main(["delete", "gone", "--storage", db, "--yes"]) == 0
    assert not folder.exists()


def test_snapshots_of_a_trial_that_keeps_saving_are_whole(tmp_path):
    study = ts.create_study("snap", storage=str(tmp_path / "s.db"), seed=0)
    trial = study.ask()

    def write(i: int) -> None:
        with trial.checkpoint() as folder:
            for j in range(20):
                (folder / f"part{j}").write_text(str(i))

    write(0)
    stop = threading.Event()

    def keep_saving() -> None:
        i = 1
        while not stop.is_set():
            write(i)
            i += 1

    writer = threading.Thread(target=keep_saving)
    writer.start()
    try:
        copies = [study._snapshot_checkpoint(0) for _ in range(30)]
    finally:
        stop.set()
        writer.join()
    root = study._checkpoint_folder()
    assert isinstance(root, Path)
    for name in copies:
        assert name is not None
        (version,) = (root / name).iterdir()
        texts = {(version / f"part{j}").read_text() for j in range(20)}
        assert len(texts) == 1, "every copy is one whole checkpoint"
    study.tell(trial, 0.0)
