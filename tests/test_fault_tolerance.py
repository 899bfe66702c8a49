"""Nothing is lost: killed workers and drivers, Ctrl-C, and racing workers.

These tests start real processes and send real signals.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import tunesmith as ts
from tunesmith.storage import forget_cached, normalize_url
from tunesmith.trial import TrialState

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


def _pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(
            "host=127.0.0.1 port=5432 dbname=test user=postgres", connect_timeout=3
        ):
            return True
    except Exception:
        return False


def _require_pg() -> None:
    if not _pg_available():
        if os.environ.get("TUNESMITH_REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL at 127.0.0.1:5432 is required (TUNESMITH_REQUIRE_POSTGRES=1)")
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is not reachable")


def _worker_pids(driver_pid: int) -> list[int]:
    """Local worker processes started by ``driver_pid`` (their last argv is its pid)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        argv = [a.decode(errors="replace") for a in argv if a]
        if "tunesmith.executors._worker" in argv and argv[-1] == str(driver_pid):
            found.append(int(entry.name))
    return found


def _wait_for(predicate, timeout: float = 30.0, every: float = 0.1) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(every)
    return False


def _states(db: str, name: str) -> dict[TrialState, int]:
    url = normalize_url(db) if "://" not in db else db
    forget_cached(url)
    trials = ts.load_study(name, db).trials
    out: dict[TrialState, int] = {}
    for t in trials:
        out[t.state] = out.get(t.state, 0) + 1
    return out


def _run_script(tmp_path: Path, body: str) -> subprocess.Popen[bytes]:
    script = tmp_path / "driver.py"
    script.write_text(textwrap.dedent(body))
    return subprocess.Popen(
        [sys.executable, str(script)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


# -- a worker killed mid-trial ---------------------------------------------------------
def make_self_killer(marker: str):
    def objective(trial: ts.Trial) -> float:
        x = trial.suggest_float("x", 0, 1)
        if trial.number == 3 and not os.path.exists(marker):
            Path(marker).touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return x

    return objective


@pytest.mark.parametrize("storage_kind", ["memory", "sqlite"])
def test_worker_killed_mid_trial_is_failed_and_retried(tmp_path, storage_kind):
    storage = None if storage_kind == "memory" else str(tmp_path / "s.db")
    study = ts.create_study("kill", storage=storage, seed=0, max_retries=1)
    study.optimize(make_self_killer(str(tmp_path / "marker")), n_trials=8, n_workers=2)
    trials = study.trials
    failed = [t for t in trials if t.state == TrialState.FAILED]
    assert len(failed) == 1
    assert failed[0].number == 3
    assert "SIGKILL" in (failed[0].error or "")
    retried = [t for t in trials if t.system_attrs.get("retry_of") == 3]
    assert len(retried) == 1
    assert retried[0].state == TrialState.COMPLETE
    assert retried[0].retries == 1
    assert retried[0].params["x"] == failed[0].params["x"]
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    assert [t.number for t in trials] == list(range(len(trials)))


# -- the driver killed mid-study -----------------------------------------------------------
DRIVER = """
import time, tunesmith as ts

def objective(trial):
    x = trial.suggest_float("x", 0, 1)
    time.sleep(0.2 if trial.number < 4 else 60)
    return x

if __name__ == "__main__":
    study = ts.create_study("driver-kill", storage={storage!r}, seed=0,
                            heartbeat_interval=0.3, max_retries=1)
    study.optimize(objective, n_trials=50, n_workers=2)
"""


def _kill_driver_and_resume(tmp_path: Path, storage: str) -> None:
    proc = _run_script(tmp_path, DRIVER.format(storage=storage))
    try:
        # Wait until 4 trials finished and two long ones are running, their parameters
        # already persisted by the heartbeat (suggestions are buffered, then flushed).
        def ready() -> bool:
            try:
                s = _states(storage, "driver-kill")
                running = ts.load_study("driver-kill", storage).get_trials([TrialState.RUNNING])
            except ts.TunesmithError:
                return False
            return (
                s.get(TrialState.COMPLETE, 0) >= 4
                and len(running) >= 2
                and all("x" in t.params for t in running)
            )

        assert _wait_for(ready, timeout=60), proc.stderr.read1().decode() if proc.stderr else ""
        workers = _worker_pids(proc.pid)
        assert len(workers) == 2
        proc.kill()  # SIGKILL: no cleanup at all
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    # Orphaned workers notice and exit by themselves.
    assert _wait_for(
        lambda: not any(Path(f"/proc/{p}").exists() and _alive(p) for p in workers), 15
    )

    before = _states(storage, "driver-kill")
    assert before[TrialState.COMPLETE] >= 4
    assert before[TrialState.RUNNING] >= 2

    study = ts.load_study("driver-kill", storage)
    assert study.heartbeat_interval == pytest.approx(0.3)
    time.sleep(3 * 0.3 + 0.5)  # the dead driver's heartbeats go stale
    failed = study.fail_stale_trials()
    assert len(failed) == before[TrialState.RUNNING]
    assert all("heartbeat lost" in (t.error or "") for t in failed)
    # Retries were queued with the same parameters; resuming runs them first.
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=len(failed) + 2)
    trials = study.trials
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    retried = {t.system_attrs.get("retry_of"): t for t in trials if "retry_of" in t.system_attrs}
    for f in failed:
        assert retried[f.number].params["x"] == f.params["x"]
        assert retried[f.number].state == TrialState.COMPLETE
    assert (
        len([t for t in trials if t.state == TrialState.COMPLETE])
        >= before[TrialState.COMPLETE] + len(failed) + 2
    )


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in status


def test_driver_killed_sqlite_loses_nothing_and_resumes(tmp_path):
    _kill_driver_and_resume(tmp_path, str(tmp_path / "killed.db"))


def _on_postgres(study_name: str, run) -> None:
    """Run ``run()`` against the PostgreSQL server with no leftover study of that name."""
    _require_pg()
    with contextlib.suppress(ts.StudyNotFoundError):
        ts.delete_study(study_name, PG_URL)
    try:
        run()
    finally:
        with contextlib.suppress(ts.StudyNotFoundError):
            ts.delete_study(study_name, PG_URL)


@pytest.mark.postgres
def test_driver_killed_postgres_loses_nothing_and_resumes(tmp_path):
    _on_postgres("driver-kill", lambda: _kill_driver_and_resume(tmp_path, PG_URL))


# -- Ctrl-C ------------------------------------------------------------------------------------
CTRL_C = """
import sys, time, tunesmith as ts

def objective(trial):
    x = trial.suggest_float("x", 0, 1)
    time.sleep(0.05 if trial.number < 3 else 60)
    return x

if __name__ == "__main__":
    study = ts.create_study("ctrl-c", storage={storage!r}, seed=0)
    try:
        study.optimize(objective, n_trials=50, n_workers={workers})
    except KeyboardInterrupt:
        print("INTERRUPTED", flush=True)
        sys.exit(130)
"""


@pytest.mark.parametrize("workers", [1, 2])
def test_ctrl_c_marks_running_trials_and_leaves_storage_consistent(tmp_path, workers):
    storage = str(tmp_path / "ctrlc.db")
    proc = _run_script(tmp_path, CTRL_C.format(storage=storage, workers=workers))
    try:

        def running() -> bool:
            try:
                s = _states(storage, "ctrl-c")
            except ts.TunesmithError:
                return False
            return s.get(TrialState.COMPLETE, 0) >= 3 and s.get(TrialState.RUNNING, 0) >= workers

        assert _wait_for(running, timeout=60)
        workers_before = _worker_pids(proc.pid)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err.decode()
    assert b"INTERRUPTED" in out
    s = _states(storage, "ctrl-c")
    assert TrialState.RUNNING not in s
    assert s[TrialState.COMPLETE] >= 3
    interrupted = [
        t for t in ts.load_study("ctrl-c", storage).trials if t.state == TrialState.FAILED
    ]
    assert len(interrupted) == workers
    assert all("interrupted" in (t.error or "") for t in interrupted)
    assert _wait_for(lambda: not any(_alive(p) for p in workers_before), 10)


# -- many independent workers on one queue -------------------------------------------------
CLAIMER = """
import os, sys, tunesmith as ts

def objective(trial):
    i = trial.suggest_int("i", 0, 10_000)
    trial.set_user_attr("pid", os.getpid())
    return float(i)

if __name__ == "__main__":
    study = ts.load_study("queue", sys.argv[1])
    study.optimize(objective, n_trials=int(sys.argv[2]))
"""


def _no_double_claims(tmp_path: Path, storage: str) -> None:
    study = ts.create_study("queue", storage=storage, seed=0)
    for i in range(40):
        study.enqueue({"i": i})
    script = tmp_path / "claimer.py"
    script.write_text(CLAIMER)
    procs = [
        subprocess.Popen([sys.executable, str(script), storage, "10"], stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    errors = [p.communicate(timeout=120)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    trials = ts.load_study("queue", storage).trials
    assert len(trials) == 40
    assert all(t.state == TrialState.COMPLETE for t in trials)
    assert sorted(t.params["i"] for t in trials) == list(range(40))
    assert len({t.user_attrs["pid"] for t in trials}) >= 2


def test_four_processes_never_share_a_queued_trial_sqlite(tmp_path):
    _no_double_claims(tmp_path, str(tmp_path / "queue.db"))


@pytest.mark.postgres
def test_four_processes_never_share_a_queued_trial_postgres(tmp_path):
    _on_postgres("queue", lambda: _no_double_claims(tmp_path, PG_URL))


def test_sequential_keyboard_interrupt_in_objective_marks_trial(tmp_path):
    study = ts.create_study(storage=tmp_path / "k.db", seed=0)

    def objective(trial: ts.Trial) -> float:
        trial.suggest_float("x", 0, 1)
        if trial.number == 2:
            raise KeyboardInterrupt
        return 1.0

    with pytest.raises(KeyboardInterrupt):
        study.optimize(objective, n_trials=10)
    states = [t.state for t in study.trials]
    assert states == [TrialState.COMPLETE, TrialState.COMPLETE, TrialState.FAILED]
    assert "interrupted" in study.trials[2].error
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    assert len(study.trials) == 5


# -- SIGTERM (a batch scheduler preempting the job) ---------------------------------------
SLOW = """
import time
from pathlib import Path

def objective(trial):
    x = trial.suggest_float("x", 0, 1)
    Path(f"started-{trial.number}").touch()
    time.sleep(60)
    return x
"""

TERM_SPEC = """
study: term
storage: term.db
seed: 0
space:
  x: {{type: float, low: 0, high: 1}}
objective: slow:objective
budget: {{n_trials: 2}}
workers: {workers}
max_retries: 1
"""


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_requeues_running_trials_for_the_next_worker(tmp_path, workers):
    from tunesmith.cli import EXIT_TERMINATED

    (tmp_path / "slow.py").write_text(SLOW)
    (tmp_path / "spec.yaml").write_text(TERM_SPEC.format(workers=workers))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tunesmith.cli", "run", "spec.yaml", "--no-progress"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert _wait_for(lambda: len(list(tmp_path.glob("started-*"))) >= workers, 60)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == EXIT_TERMINATED
    trials = ts.load_study("term", str(tmp_path / "term.db")).trials
    failed = [t for t in trials if t.state == TrialState.FAILED]
    queued = [t for t in trials if t.state == TrialState.WAITING]
    assert len(failed) == workers and all("SIGTERM" in (t.error or "") for t in failed)
    # Each one is queued again with its parameters, for the next worker or job.
    assert sorted(t.system_attrs["retry_of"] for t in queued) == sorted(t.number for t in failed)
    by_number = {t.number: t for t in trials}
    for t in queued:
        assert t.params == by_number[t.system_attrs["retry_of"]].params
    assert not [t for t in trials if t.state == TrialState.RUNNING]
