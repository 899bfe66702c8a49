"""The ``tunesmith`` command line, in this process (main(argv)) and as real processes."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import tunesmith as ts
from tunesmith import cli
from tunesmith.cli import main
from tunesmith.trial import TrialState

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "specs"

OBJECTIVE = """\
import math

def objective(trial):
    p = trial.params
    if p.get("kernel") == "bad":
        raise ValueError("bad kernel")
    trial.set_user_attr("double", 2 * p["x"])
    return (p["x"] - 0.25) ** 2 + p["n"]
"""

COMMAND = """\
import json, os, sys
x = float(sys.argv[1])
if os.environ.get("FAIL"):
    print("something went wrong: x =", x, file=sys.stderr)
    sys.exit(4)
for step in range(3):
    print(json.dumps({"step": step, "loss": x * x + 1.0 / (step + 1)}))
print(json.dumps({"loss": x * x, "acc": 1 - x * x}))
"""


class Project:
    """A temporary directory with an objective module, a command script and spec files."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.module = f"cliobj_{uuid.uuid4().hex[:10]}"  # unique: no sys.modules clash
        (root / f"{self.module}.py").write_text(OBJECTIVE)
        (root / "train.py").write_text(COMMAND)
        self.db = root / "studies.db"
        self.n = 0

    def spec(self, body: str = "", *, kind: str = "module", **keys: Any) -> Path:
        """Write a spec; ``keys`` are extra top-level YAML lines (values as YAML text)."""
        self.n += 1
        if kind == "module":
            text = textwrap.dedent(
                f"""\
                study: demo
                storage: studies.db
                seed: 0
                space:
                  x: {{type: float, low: -1, high: 1}}
                  n: {{type: int, low: 0, high: 2}}
                objective: {self.module}:objective
                budget: {{n_trials: 4}}
                """
            )
        else:
            text = textwrap.dedent(
                """\
                study: cmd
                storage: studies.db
                seed: 0
                space:
                  x: {type: float, low: -1, high: 1}
                command: "{python} train.py {x}"
                metric: loss
                budget: {n_trials: 3}
                """
            )
        for key, value in keys.items():
            text = "\n".join(line for line in text.splitlines() if not line.startswith(key + ":"))
            text += f"\n{key}: {value}\n"
        path = self.root / f"spec{self.n}.yaml"
        path.write_text(text + textwrap.dedent(body))
        return path

    def trials(self, name: str = "demo", storage: str | None = None) -> list[ts.FrozenTrial]:
        return ts.load_study(name, storage or str(self.db)).trials


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    monkeypatch.delenv("TUNESMITH_STORAGE", raising=False)
    monkeypatch.chdir(tmp_path)
    return Project(tmp_path)


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def run_proc(*argv: str, cwd: Path, **kw: Any) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "TUNESMITH_STORAGE"}
    return subprocess.run(
        [sys.executable, "-m", "tunesmith.cli", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        **kw,
    )


# -- basics -----------------------------------------------------------------------------------
def test_version_and_help(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run_cli(capsys, "--version")
    assert code == 0 and out.strip() == f"tunesmith {ts.__version__}"
    code, out, _ = run_cli(capsys, "run", "--help")
    assert code == 0 and "example spec" in out and "--n-trials" in out
    code, _, err = run_cli(capsys)
    assert code == 2 and "COMMAND" in err
    code, _, err = run_cli(capsys, "run")
    assert code == 2 and "SPEC" in err
    proc = run_proc("--version", cwd=tmp_path)  # python -m tunesmith.cli works
    assert proc.returncode == 0 and proc.stdout.strip() == f"tunesmith {ts.__version__}"


# -- run ----------------------------------------------------------------------------------------
def test_run_module_objective(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    spec = project.spec()
    code, out, err = run_cli(capsys, "run", spec, "--no-progress")
    assert code == 0, err
    trials = project.trials()
    assert len(trials) == 4
    assert all(t.state == TrialState.COMPLETE for t in trials)
    for t in trials:
        assert -1 <= t.params["x"] <= 1 and t.params["n"] in (0, 1, 2)
        assert t.user_attrs["double"] == pytest.approx(2 * t.params["x"])
        assert t.values == pytest.approx(((t.params["x"] - 0.25) ** 2 + t.params["n"],))
    best = min(trials, key=lambda t: t.values[0])  # type: ignore[index]
    assert "Created study 'demo'" in out
    assert f"Best trial #{best.number}: value" in out
    assert f"Resume:  tunesmith run {spec}" in out
    assert "Inspect: tunesmith show demo --storage studies.db" in out
    assert "Traceback" not in err


def test_run_twice_resumes(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    spec = project.spec()
    assert run_cli(capsys, "run", spec, "--no-progress")[0] == 0
    code, out, _ = run_cli(capsys, "run", spec, "--no-progress", "--n-trials", "2")
    assert code == 0
    assert "Resuming study 'demo' (4 trial(s) so far)" in out
    trials = project.trials()
    assert [t.number for t in trials] == list(range(6))
    assert "the study has 6 trial(s)" in out


def test_run_overrides(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    spec = project.spec()
    other = project.root / "other.db"
    code, out, _ = run_cli(
        capsys, "run", spec, "--no-progress", "--n-trials", "2", "--study", "alt",
        "--storage", other, "--seed", "5",
    )  # fmt: skip
    assert code == 0
    assert len(project.trials("alt", str(other))) == 2
    assert ts.load_study("alt", str(other)).system_attrs["seed"] == 5
    assert "--storage other.db --study alt" in out  # the resume command keeps them
    assert not project.db.exists()


def test_run_total_trials(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    spec = project.spec(budget="{n_trials: 3, total_trials: 5}")
    assert run_cli(capsys, "run", spec, "--no-progress")[0] == 0
    assert len(project.trials()) == 3
    assert run_cli(capsys, "run", spec, "--no-progress")[0] == 0
    assert len(project.trials()) == 5
    code, out, _ = run_cli(capsys, "run", spec, "--no-progress")
    assert code == 0 and "nothing to run" in out
    assert len(project.trials()) == 5


def test_run_with_two_workers(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    spec = project.spec(workers="2")
    code, out, err = run_cli(capsys, "run", spec, "--no-progress")
    assert code == 0, err
    assert "with 2 workers" in out
    trials = project.trials()
    assert len(trials) == 4 and all(t.state == TrialState.COMPLETE for t in trials)
    assert all("double" in t.user_attrs for t in trials)


def test_run_command_objective(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    spec = project.spec(kind="command")
    code, _, err = run_cli(capsys, "run", spec, "--no-progress")
    assert code == 0, err
    trials = project.trials("cmd")
    assert len(trials) == 3
    for t in trials:
        x = t.params["x"]
        assert t.state == TrialState.COMPLETE
        assert t.values == pytest.approx((x * x,))
        assert sorted(t.intermediate) == [0, 1, 2]
        for s in range(3):
            assert t.intermediate[s] == pytest.approx((x * x + 1.0 / (s + 1),))
        assert t.user_attrs["acc"] == pytest.approx(1 - x * x)


def test_run_command_objective_with_workers(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = project.spec(kind="command", workers="2", budget="{n_trials: 4}")
    code, _, err = run_cli(capsys, "run", spec, "--no-progress")
    assert code == 0, err
    trials = project.trials("cmd")
    assert len(trials) == 4 and all(len(t.intermediate) == 3 for t in trials)


def test_run_failing_command(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    spec = project.spec(kind="command", env="{FAIL: 1}", budget="{n_trials: 2}")
    code, out, err = run_cli(capsys, "run", spec, "--no-progress")
    assert code == 1
    trials = project.trials("cmd")
    assert [t.state for t in trials] == [TrialState.FAILED] * 2
    for t in trials:
        assert "the command exited with code 4" in (t.error or "")
        assert f"something went wrong: x = {t.params['x']}" in (t.error or "")
    assert "error: all 2 trial(s) of this run failed" in err
    assert "something went wrong" in err
    assert "Traceback" not in err
    assert "No trial has completed yet." in out


def test_failing_trials_do_not_stop_the_run(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    body = "  kernel: {type: categorical, choices: [good, bad]}\n"
    spec = project.spec(budget="{n_trials: 8}")
    text = spec.read_text().replace("objective:", body.rstrip("\n") + "\nobjective:", 1)
    spec.write_text(text)
    code, _, err = run_cli(capsys, "run", spec, "--no-progress")
    trials = project.trials()
    states = {t.params["kernel"]: t.state for t in trials}
    assert len(trials) == 8 and set(states) == {"good", "bad"}
    assert states["bad"] == TrialState.FAILED and states["good"] == TrialState.COMPLETE
    assert code == 0, err
    bad = next(t for t in trials if t.params["kernel"] == "bad")
    assert "ValueError: bad kernel" in (bad.error or "")
    # --fail-fast stops at the first failure, with exit code 1
    code, _, err = run_cli(capsys, "run", spec, "--no-progress", "--fail-fast", "--n-trials", "20")
    assert code == 1 and "fail_fast" in err and "bad kernel" in err
    assert len(project.trials()) < 28


def test_run_grid_needs_no_budget(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    spec = project.spec(sampler="{name: grid, grid: {x: [0.0, 0.5], n: [0, 1, 2]}}", budget="{}")
    code, _, err = run_cli(capsys, "run", spec, "--no-progress")
    assert code == 0, err
    assert len(project.trials()) == 6
    code, _, err = run_cli(capsys, "run", project.spec(budget="{}"))
    assert code == 2 and "error: no budget" in err


def test_run_existing_study_conflicts(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(capsys, "run", project.spec(), "--no-progress")[0] == 0
    code, _, err = run_cli(capsys, "run", project.spec(load_if_exists="false"))
    assert code == 2 and "already exists" in err and "load_if_exists" in err
    code, _, err = run_cli(capsys, "run", project.spec(direction="maximize"))
    assert code == 2 and "directions" in err
    spec = project.spec()
    spec.write_text(spec.read_text().replace("high: 2}", "high: 3}"))
    code, _, err = run_cli(capsys, "run", spec)
    assert code == 2 and "differs from the spec's space" in err
    assert len(project.trials()) == 4
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("study: [unclosed\n", "spec.yaml:2:1: invalid YAML"),
        ("space: {x: {type: float, low: 0, high: 1}}\n", "missing 'objective' or 'command'"),
        (
            "space: {x: {type: float, low: 0, high: 1}}\nobjective: m:f\ncommand: echo\n",
            "not both",
        ),
        ("objective: m:f\nbudgte: {n_trials: 1}\n", "unknown key 'budgte'; did you mean 'budget'"),
        ("objective: m:f\nworkers: many\n", "'workers' must be an integer >= 1"),
        ("objective: m:f\nspace: {x: {type: float, low: 2, high: 1}}\n", "'space.x' is invalid"),
        ("objective: no_such_module_abc:f\nbudget: {n_trials: 1}\n", "cannot be found"),
    ],
)
def test_malformed_spec_exits_2(
    project: Project, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    path = project.root / "spec.yaml"
    path.write_text(text)
    code, out, err = run_cli(capsys, "run", path)
    assert code == 2
    assert err.startswith("error: ") and expected in err
    assert "Traceback" not in err and out == ""
    assert not project.db.exists() and not (project.root / "tunesmith.db").exists()


def test_malformed_spec_in_a_real_process(project: Project) -> None:
    (project.root / "bad.yaml").write_text("objective: m:f\nspace:\n  x: [1\n")
    proc = run_proc("run", "bad.yaml", cwd=project.root)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: bad.yaml:4:1: invalid YAML")
    assert "Traceback" not in proc.stderr


def test_missing_spec_file(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "run", "missing.yaml")
    assert code == 2 and err == "error: spec file 'missing.yaml' does not exist\n"


# -- worker -------------------------------------------------------------------------------------
def test_worker_joins_study(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(capsys, "run", project.spec(), "--no-progress")[0] == 0
    code, out, err = run_cli(
        capsys, "worker", "--study", "demo", "--storage", project.db,
        "--objective", f"{project.module}:objective", "--n-trials", "3", "--no-progress",
    )  # fmt: skip
    assert code == 0, err
    assert "joined study 'demo'" in out and "Worker ran 3 trial(s)" in out
    trials = project.trials()
    assert len(trials) == 7 and all(t.state == TrialState.COMPLETE for t in trials)
    # the stored space is used: every trial has both declared parameters
    assert all(set(t.params) == {"x", "n"} for t in trials)


def test_worker_with_spec_creates_and_checks_space(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = project.spec(kind="command")
    code, out, err = run_cli(capsys, "worker", "--spec", spec, "--n-trials", "2", "--no-progress")
    assert code == 0, err
    assert "(created)" in out and len(project.trials("cmd")) == 2
    changed = project.spec(kind="command")
    changed.write_text(changed.read_text().replace("low: -1", "low: -2"))
    code, _, err = run_cli(capsys, "worker", "--spec", changed, "--n-trials", "1")
    assert code == 2 and "differs from the spec's space" in err


def test_worker_errors(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(capsys, "run", project.spec(), "--no-progress")[0] == 0
    objective = f"{project.module}:objective"
    code, _, err = run_cli(
        capsys, "worker", "--study", "nope", "--storage", project.db, "--objective", objective,
        "--n-trials", "1",
    )  # fmt: skip
    assert code == 2 and "no study named 'nope'; existing studies: 'demo'" in err
    code, _, err = run_cli(capsys, "worker", "--study", "demo", "--storage", project.db)
    assert code == 2 and "needs an objective" in err
    code, _, err = run_cli(capsys, "worker", "--storage", project.db, "--objective", objective)
    assert code == 2 and "--study NAME" in err
    code, _, err = run_cli(
        capsys, "worker", "--study", "demo", "--storage", project.db, "--objective", objective
    )
    assert code == 2 and "no budget" in err
    code, _, err = run_cli(
        capsys, "worker", "--study", "demo", "--storage", project.root / "missing.db",
        "--objective", objective, "--n-trials", "1",
    )  # fmt: skip
    assert code == 2 and "does not exist" in err


def test_concurrent_worker_processes(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    spec = project.spec()
    assert run_cli(capsys, "run", spec, "--no-progress", "--n-trials", "1")[0] == 0
    env = {k: v for k, v in os.environ.items() if k != "TUNESMITH_STORAGE"}
    argv = [sys.executable, "-m", "tunesmith.cli", "worker", "--spec", str(spec)]
    procs = [
        subprocess.Popen(
            [*argv, "--n-trials", "4", "--no-progress"],
            cwd=project.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        assert "Worker ran 4 trial(s)" in out
    trials = project.trials()
    assert [t.number for t in trials] == list(range(9))
    assert all(t.state == TrialState.COMPLETE for t in trials)
    assert len({t.worker for t in trials}) == 3  # run + two workers


@pytest.mark.postgres
def test_worker_on_postgresql(
    project: Project, capsys: pytest.CaptureFixture[str], pg_url: str
) -> None:
    """``run`` creates the study on PostgreSQL, a worker process joins it."""
    name = f"cli-test-{uuid.uuid4().hex[:8]}"
    spec = project.spec()
    try:
        code, _, err = run_cli(
            capsys, "run", spec, "--storage", pg_url, "--study", name, "--n-trials", "2",
            "--no-progress",
        )  # fmt: skip
        assert code == 0, err
        env = {k: v for k, v in os.environ.items() if k != "TUNESMITH_STORAGE"}
        proc = subprocess.run(
            [sys.executable, "-m", "tunesmith.cli", "worker", "--study", name,
             "--storage", pg_url, "--objective", f"{project.module}:objective",
             "--n-trials", "3", "--no-progress"],
            cwd=project.root, capture_output=True, text=True, timeout=60, env=env,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        trials = ts.load_study(name, pg_url).trials
        assert len(trials) == 5 and all(t.state == TrialState.COMPLETE for t in trials)
        code, out, _ = run_cli(capsys, "studies", "--storage", pg_url)
        assert code == 0 and name in out
    finally:
        main(["delete", name, "--storage", pg_url, "--yes"])
        capsys.readouterr()
    assert name not in [s.name for s in ts.list_studies(pg_url)]


# -- studies / show / export / delete ----------------------------------------------------------
@pytest.fixture(scope="module")
def filled_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Studies 'demo' (4 complete) and 'cmd' (3 complete + 1 failed), built once."""
    from tunesmith.storage import forget_cached, normalize_url

    project = Project(tmp_path_factory.mktemp("filled"))
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["run", str(project.spec()), "--no-progress"]) == 0
        assert main(["run", str(project.spec(kind="command")), "--no-progress"]) == 0
        spec = project.spec(kind="command", env="{FAIL: 1}", budget="{n_trials: 1}")
        assert main(["run", str(spec), "--no-progress"]) == 1
    forget_cached(normalize_url(str(project.db)))  # closes it: the WAL is checkpointed
    return project.db


@pytest.fixture
def filled(project: Project, filled_db: Path) -> Project:
    """A project whose studies.db is a fresh copy of ``filled_db``."""
    shutil.copyfile(filled_db, project.db)
    return project


def test_studies(filled: Project, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "studies", "--storage", filled.db)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["name", "directions", "trials", "complete", "best", "created"]
    demo = next(line.split() for line in lines if line.startswith("demo"))
    cmd = next(line.split() for line in lines if line.startswith("cmd"))
    assert demo[1:4] == ["minimize", "4", "4"] and cmd[1:4] == ["minimize", "4", "3"]
    best = min(t.values[0] for t in filled.trials() if t.values)
    assert float(demo[4]) == pytest.approx(best, rel=1e-5)


def test_storage_from_env_and_missing(
    filled: Project, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUNESMITH_STORAGE", str(filled.db))
    code, out, _ = run_cli(capsys, "studies")
    assert code == 0 and "demo" in out
    monkeypatch.delenv("TUNESMITH_STORAGE")
    code, _, err = run_cli(capsys, "studies")  # default tunesmith.db does not exist here
    assert code == 2 and "tunesmith.db" in err and "does not exist" in err
    assert not (filled.root / "tunesmith.db").exists()
    empty = filled.root / "empty.db"
    ts.get_storage(str(empty))
    code, out, _ = run_cli(capsys, "studies", "--storage", empty)
    assert code == 0 and "No studies" in out


def test_show(filled: Project, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "show", "cmd", "--storage", filled.db)
    assert code == 0
    assert "Study:       cmd" in out and "Directions:  minimize" in out
    assert "Trials:      4 (3 complete, 1 failed)" in out
    assert "x  float [-1, 1]" in out
    assert "Best trial #" in out
    header = next(line for line in out.splitlines() if line.startswith("#"))
    assert header.split() == ["#", "state", "value", "x", "duration", "error"]
    assert "the command exited with code 4" in out

    code, out, _ = run_cli(capsys, "show", "cmd", "--storage", filled.db, "--state", "failed")
    rows = [line for line in out.splitlines() if line.strip().startswith("3 ")]
    assert len(rows) == 1 and "failed" in rows[0]
    assert " complete " not in out.split("---")[-1]

    code, out, _ = run_cli(
        capsys, "show", "demo", "--storage", filled.db, "--sort", "value", "--limit", "2"
    )
    table = out.split("\n\n")[-1].splitlines()
    numbers = [int(line.split()[0]) for line in table[2:4]]
    ranked = sorted(filled.trials(), key=lambda t: t.values[0])  # type: ignore[index]
    assert numbers == [ranked[0].number, ranked[1].number]
    assert "(2 of 4 trials shown; --limit 0 shows all)" in out


def test_show_prints_the_stored_pruner(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "p.db"
    ts.create_study("pruned", storage=str(db), pruner=ts.SuccessiveHalvingPruner(min_resource=2))
    ts.create_study("plain", storage=str(db))
    code, out, _ = run_cli(capsys, "show", "pruned", "--storage", db)
    assert code == 0
    assert "Pruner:      SuccessiveHalvingPruner(min_resource=2, reduction_factor=3" in out
    code, out, _ = run_cli(capsys, "show", "plain", "--storage", db)
    assert code == 0 and "Pruner:" not in out


def test_show_trial_detail(filled: Project, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "show", "cmd", "--storage", filled.db, "--trial", "0")
    assert code == 0
    assert "Trial #0 of study 'cmd'" in out and "Intermediate values (3 steps)" in out
    assert "acc = " in out
    code, out, _ = run_cli(capsys, "show", "cmd", "--storage", filled.db, "--trial", "3")
    assert "Error:" in out and "something went wrong" in out
    code, _, err = run_cli(capsys, "show", "cmd", "--storage", filled.db, "--trial", "9")
    assert code == 2 and "no trial #9" in err


def test_show_unknown_study(filled: Project, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "show", "dmeo", "--storage", filled.db)
    assert code == 2 and out == ""
    assert err.strip() == "error: no study named 'dmeo'; existing studies: 'cmd', 'demo'"
    for argv in (["export", "dmeo"], ["delete", "dmeo", "--yes"]):
        code, _, err = run_cli(capsys, *argv, "--storage", filled.db)
        assert code == 2 and "existing studies: 'cmd', 'demo'" in err


def test_export_csv(filled: Project, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "export", "cmd", "--storage", filled.db, "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 4
    assert list(rows[0]) == [
        "number", "state", "value", "params_x", "user_attrs_acc", "datetime_start",
        "datetime_complete", "duration", "cpu_time", "worker", "retries", "error",
    ]  # fmt: skip
    trials = {t.number: t for t in filled.trials("cmd")}
    for row in rows:
        t = trials[int(row["number"])]
        assert row["state"] == t.state.name
        assert float(row["params_x"]) == t.params["x"]
        start = datetime.fromisoformat(row["datetime_start"])
        assert start.timestamp() == pytest.approx(t.datetime_start)
        if t.state == TrialState.COMPLETE:
            assert float(row["value"]) == t.values[0]  # type: ignore[index]
            assert row["error"] == ""
        else:
            assert row["value"] == "" and "exited with code 4" in row["error"]


def test_export_json_and_file(filled: Project, capsys: pytest.CaptureFixture[str]) -> None:
    target = filled.root / "out.json"
    code, out, err = run_cli(
        capsys, "export", "cmd", "--storage", filled.db, "--format", "json", "-o", target
    )
    assert code == 0 and out == "" and "Wrote 4 trial(s)" in err
    doc = json.loads(target.read_text())
    assert doc["study"] == "cmd" and doc["directions"] == ["minimize"]
    assert [t["number"] for t in doc["trials"]] == [0, 1, 2, 3]
    first = doc["trials"][0]
    assert first["state"] == "COMPLETE" and set(first["intermediate"]) == {"0", "1", "2"}
    assert first["params"]["x"] == filled.trials("cmd")[0].params["x"]
    assert datetime.fromisoformat(first["datetime_complete"]).tzinfo is not None
    code, out, _ = run_cli(
        capsys, "export", "cmd", "--storage", filled.db, "--format", "json", "--state", "failed"
    )
    assert [t["number"] for t in json.loads(out)["trials"]] == [3]


def test_delete(
    filled: Project, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "_stdin_is_tty", lambda: False)
    code, _, err = run_cli(capsys, "delete", "demo", "--storage", filled.db)
    assert code == 2 and "refusing to delete" in err and "--yes" in err
    monkeypatch.setattr(cli, "_stdin_is_tty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    code, out, _ = run_cli(capsys, "delete", "demo", "--storage", filled.db)
    assert code == 1 and "Not deleted" in out
    assert len(filled.trials()) == 4
    monkeypatch.setattr("builtins.input", lambda prompt: "y")
    code, out, _ = run_cli(capsys, "delete", "demo", "--storage", filled.db)
    assert code == 0 and "Deleted study 'demo' (4 trials)" in out
    code, out, _ = run_cli(capsys, "delete", "cmd", "--storage", filled.db, "--yes")
    assert code == 0
    assert ts.list_studies(str(filled.db)) == []


def test_delete_without_tty_in_a_real_process(filled: Project) -> None:
    proc = run_proc("delete", "demo", "--storage", "studies.db", cwd=filled.root, input="y\n")
    assert proc.returncode == 2 and "stdin is not a terminal" in proc.stderr
    assert len(filled.trials()) == 4


def test_storage_upgrade(
    filled: Project, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlalchemy as sa

    from tunesmith.storage import _schema, forget_cached, normalize_url

    code, out, _ = run_cli(capsys, "storage", "upgrade", filled.db)
    assert code == 0 and "already at schema version" in out
    url = normalize_url(str(filled.db))
    forget_cached(url)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            _schema.meta.update()
            .where(_schema.meta.c.key == "schema_version")
            .values(value=str(_schema.SCHEMA_VERSION - 1))
        )
    engine.dispose()
    code, _, err = run_cli(capsys, "studies", "--storage", filled.db)
    assert code == 2 and "tunesmith storage upgrade" in err
    code, _, err = run_cli(capsys, "storage", "upgrade", filled.db)  # no migration registered
    assert code == 2 and "no migration from schema version" in err
    monkeypatch.setitem(_schema.MIGRATIONS, _schema.SCHEMA_VERSION - 1, lambda conn: None)
    code, out, _ = run_cli(capsys, "storage", "upgrade", filled.db)
    assert code == 0 and "Upgraded" in out
    assert run_cli(capsys, "studies", "--storage", filled.db)[0] == 0
    code, _, err = run_cli(capsys, "storage", "upgrade", filled.root / "missing.db")
    assert code == 2 and "does not exist" in err
    code, _, err = run_cli(capsys, "storage")
    assert code == 2


def test_multi_objective_command(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    spec = project.spec(kind="command", directions="[minimize, maximize]", metrics="[loss, acc]")
    text = spec.read_text().replace("metric: loss\n", "")
    spec.write_text(text)
    code, out, err = run_cli(capsys, "run", spec, "--no-progress")
    assert code == 0, err
    assert "Pareto front:" in out
    code, out, _ = run_cli(capsys, "export", "cmd", "--storage", project.db)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {"values_0", "values_1"} <= set(rows[0])
    code, out, _ = run_cli(capsys, "show", "cmd", "--storage", project.db, "--sort", "value")
    assert code == 0 and "value0" in out and "value1" in out


# -- examples and signals -----------------------------------------------------------------------
@pytest.mark.parametrize("name", ["quadratic.yaml", "command.yaml"])
def test_examples(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "examples.db"
    code, _, err = run_cli(
        capsys, "run", EXAMPLES / name, "--storage", db, "--n-trials", "3", "--no-progress"
    )
    assert code == 0, err
    summaries = ts.list_studies(str(db))
    assert len(summaries) == 1 and summaries[0].n_complete == 3


def _wait_for(predicate: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purposes
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


@pytest.mark.parametrize(("sig", "workers", "code"), [("INT", 2, 130), ("TERM", 1, 143)])
def test_interrupt_saves_study_and_stops_commands(
    project: Project, sig: str, workers: int, code: int
) -> None:
    pids = project.root / "pids"
    pids.mkdir()
    spec = project.spec(
        kind="command",
        command='"echo $$ > pids/$TUNESMITH_TRIAL_NUMBER; sleep 30; echo \'{{\\"v\\": 1}}\'"',
        workers=str(workers),
    )
    env = {k: v for k, v in os.environ.items() if k != "TUNESMITH_STORAGE"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tunesmith.cli", "run", str(spec), "--no-progress"],
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        _wait_for(lambda: len(list(pids.iterdir())) >= workers)
        time.sleep(0.2)
        proc.send_signal(getattr(signal, f"SIG{sig}"))
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == code, err
    assert "is saved in studies.db" in err and f"Resume with: tunesmith run {spec}" in err
    assert "Traceback" not in err
    trials = project.trials("cmd")
    assert len(trials) == workers
    assert all(t.state == TrialState.FAILED for t in trials)
    shells = [int(p.read_text()) for p in pids.iterdir()]
    _wait_for(lambda: not any(_alive(pid) for pid in shells), timeout=10)
