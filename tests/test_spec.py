"""Run specifications (tunesmith._spec): parsing, validation, and command objectives."""

from __future__ import annotations

import json
import pickle
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import cloudpickle
import pytest

import tunesmith as ts
from tunesmith._spec import (
    CommandFailed,
    CommandObjective,
    RunSpec,
    load_callable,
    load_spec,
    parse_duration,
    resolve_storage,
)
from tunesmith.exceptions import SpecError

BASE = """\
space:
  x: {type: float, low: -1, high: 1}
objective: mod:objective
"""


def write(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def spec_error(tmp_path: Path, text: str, name: str = "spec.yaml") -> str:
    with pytest.raises(SpecError) as info:
        load_spec(write(tmp_path, text, name))
    return str(info.value)


# -- parsing and defaults -------------------------------------------------------------------
def test_full_spec(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    path = write(
        tmp_path,
        """\
        study: demo
        storage: sub.db
        directions: [min, maximize]
        sampler: {name: grid, grid: {x: [0.0, 0.5]}}
        seed: 3
        space:
          x: {type: float, low: 0, high: 1}
          k: {type: categorical, choices: [a, b]}
        command: "{python} train.py --x {x} --k {k}"
        metrics: [loss, acc]
        command_timeout: 2m
        env: {A: 1, B: true}
        workdir: run
        budget: {n_trials: 7, timeout: 1h30m, total_trials: 20}
        workers: 3
        max_retries: 2
        heartbeat_interval: 5
        load_if_exists: false
        fail_fast: true
        """,
    )
    spec = load_spec(path)
    assert isinstance(spec, RunSpec)
    assert spec.study == "demo"
    assert spec.storage == str(tmp_path.resolve() / "sub.db")
    assert spec.directions == ("minimize", "maximize")
    assert spec.sampler == {"name": "grid", "grid": {"x": [0.0, 0.5]}}
    assert spec.seed == 3
    assert list(spec.space or {}) == ["x", "k"]
    assert spec.command == "{python} train.py --x {x} --k {k}"
    assert spec.metrics == ("loss", "acc")
    assert spec.command_timeout == 120.0
    assert spec.env == {"A": "1", "B": "true"}
    assert spec.workdir == (tmp_path / "run").resolve()
    assert (spec.n_trials, spec.timeout, spec.total_trials) == (7, 5400.0, 20)
    assert (spec.workers, spec.max_retries, spec.heartbeat_interval) == (3, 2, 5.0)
    assert spec.load_if_exists is False and spec.fail_fast is True
    obj = spec.make_objective()
    assert isinstance(obj, CommandObjective)
    assert obj.cwd == str((tmp_path / "run").resolve())


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TUNESMITH_STORAGE", raising=False)
    spec = load_spec(write(tmp_path, BASE, "my-study.yaml"))
    assert spec.study == "my-study"
    assert spec.storage == str(tmp_path.resolve() / "tunesmith.db")
    assert spec.directions == ("minimize",)
    assert spec.workers == 1 and spec.max_retries == 0
    assert spec.load_if_exists is True and spec.fail_fast is False
    assert spec.n_trials is None and spec.timeout is None and spec.total_trials is None
    monkeypatch.setenv("TUNESMITH_STORAGE", "postgresql://u@h/db")
    assert load_spec(tmp_path / "my-study.yaml").storage == "postgresql://u@h/db"


def test_storage_resolution(tmp_path: Path) -> None:
    assert resolve_storage("a.db", tmp_path) == str(tmp_path / "a.db")
    assert resolve_storage("/abs/a.db", tmp_path) == "/abs/a.db"
    assert resolve_storage("sqlite:///x.db", tmp_path) == "sqlite:///x.db"
    assert resolve_storage("postgresql://u@h/db", tmp_path) == "postgresql://u@h/db"
    assert resolve_storage(":memory:", tmp_path) == ":memory:"


def test_json_spec(tmp_path: Path) -> None:
    doc = {"space": {"x": {"type": "int", "low": 0, "high": 3}}, "objective": "m:f"}
    spec = load_spec(write(tmp_path, json.dumps(doc), "s.json"))
    assert spec.space == doc["space"] and spec.objective == "m:f"


def test_bad_json_reports_line_and_column(tmp_path: Path) -> None:
    msg = spec_error(tmp_path, '{\n  "objective": "m:f",\n}\n', "s.json")
    assert "s.json:3:1: invalid JSON" in msg


def test_bad_yaml_reports_line_and_column(tmp_path: Path) -> None:
    msg = spec_error(tmp_path, "objective: m:f\nspace:\n  x: {type: float, low: 0\n")
    assert "spec.yaml:4:1: invalid YAML" in msg
    msg = spec_error(tmp_path, "objective: m:f\n  bad: indentation\n")
    assert "spec.yaml:2:6: invalid YAML" in msg


def test_duplicate_key_is_an_error(tmp_path: Path) -> None:
    msg = spec_error(tmp_path, BASE + "objective: other:f\n")
    assert "duplicate key 'objective'" in msg and "line 3" in msg


def test_exponent_floats_without_dot(tmp_path: Path) -> None:
    text = "space:\n  lr: {type: float, low: 1e-5, high: 1E-1, log: true}\nobjective: m:f\n"
    spec = load_spec(write(tmp_path, text))
    assert spec.space == {"lr": {"type": "float", "low": 1e-5, "high": 0.1, "log": True}}


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="does not exist"):
        load_spec(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "the spec is empty"),
        ("- a\n- b\n", "must be a mapping"),
        (BASE + "sampeler: sobol\n", "unknown key 'sampeler'; did you mean 'sampler'?"),
        (BASE + "n_trials: 5\n", "'n_trials' belongs under 'budget:'"),
        (BASE + "budget: {n_trial: 3}\n", "unknown key 'n_trial' in 'budget'"),
        (BASE + "budget: 5\n", "'budget' must be a mapping"),
        (BASE + "budget: {n_trials: -1}\n", "'budget.n_trials' must be an integer >= 0"),
        (BASE + "budget: {timeout: soon}\n", "'budget.timeout' must be positive seconds"),
        (BASE + "workers: two\n", "'workers' must be an integer >= 1, got 'two'"),
        (BASE + "workers: 0\n", "'workers' must be an integer >= 1, got 0"),
        (BASE + "seed: 1.5\n", "'seed' must be an integer"),
        (BASE + "max_retries: true\n", "'max_retries' must be an integer"),
        (BASE + "heartbeat_interval: -2\n", "'heartbeat_interval' must be positive"),
        (BASE + "load_if_exists: yes please\n", "'load_if_exists' must be true or false"),
        (BASE + "study: ''\n", "'study' must be a non-empty string"),
        (BASE + "storage: 5\n", "'storage' must be a file path"),
        (BASE + "direction: up\n", "'direction' must be 'minimize' or 'maximize'"),
        (BASE + "directions: minimize\n", "'directions' must be a non-empty list"),
        (BASE + "direction: min\ndirections: [min]\n", "either 'direction'"),
        (BASE + "sampler: sobl\n", "'sampler' is invalid: unknown sampler 'sobl'"),
        (BASE + "sampler: [sobol]\n", "'sampler' must be a name"),
        (BASE + "sampler: grid\n", "'sampler' cannot build a grid from the space"),
        (
            BASE + "sampler: {name: grid, grid: {y: [1, 2]}}\n",
            "'sampler' has a grid over ['y'], which the space does not declare",
        ),
        ("objective: m:f\nspace: [x]\n", "'space' must be a non-empty mapping"),
        ("objective: m:f\nspace: {x: 3}\n", "'space.x' must be a mapping"),
        ("objective: m:f\nspace: {x: {low: 0, high: 1}}\n", "'space.x' is missing 'type'"),
        (
            "objective: m:f\nspace: {x: {type: float, low: 1, high: 0}}\n",
            "'space.x' is invalid: Float low=1.0 is greater than high=0.0",
        ),
        (
            "objective: m:f\nspace: {x: {type: float, low: 0, hihg: 1}}\n",
            "'space.x' is invalid: unknown key(s) ['hihg']",
        ),
        (
            "objective: m:f\nspace:\n  x: {type: float, low: 0, high: 1, condition: {k: a}}\n",
            "'space' is invalid: parameter 'x' is conditioned on 'k'",
        ),
        ("space: {x: {type: int, low: 0, high: 1}}\n", "missing 'objective' or 'command'"),
        (BASE + "command: echo\n", "either 'objective'"),
        ("objective: 3\n", "'objective' must be a string"),
        ("objective: mod\n", "'objective' must be 'module:function'"),
        ("objective: mod.py:f\n", "write mod:f, not mod.py:f"),
        ("objective: 'my mod:f'\n", "with Python names"),
        (BASE + "metric: loss\n", "'metric' applies only to 'command'"),
        (BASE + "command_timeout: 3\n", "'command_timeout' applies only to 'command'"),
        ("command: echo 1\n", "'command' needs a 'space'"),
        ("command: 5\nspace: {x: {type: int, low: 0, high: 1}}\n", "'command' must be a shell"),
        ("command: '  '\nspace: {x: {type: int, low: 0, high: 1}}\n", "'command' is empty"),
        (
            "command: echo {y}\nspace: {x: {type: int, low: 0, high: 1}}\n",
            "placeholder {y}, which is not a parameter",
        ),
        (
            "command: echo {xx}\nspace: {x: {type: int, low: 0, high: 1}}\n",
            "did you mean {x}?",
        ),
        (
            "command: echo {\nspace: {x: {type: int, low: 0, high: 1}}\n",
            "is not a valid template",
        ),
        (
            "command: echo {}\nspace: {x: {type: int, low: 0, high: 1}}\n",
            "has an empty placeholder",
        ),
        (
            "command: echo\nspace: {x: {type: int, low: 0, high: 1}}\ndirections: [min, max]\n",
            "'metrics' is required with 2 directions",
        ),
        (
            "command: echo\nspace: {x: {type: int, low: 0, high: 1}}\ndirections: [min, max]\n"
            "metric: loss\n",
            "'metric' names one field but the study has 2 directions",
        ),
        (
            "command: echo\nspace: {x: {type: int, low: 0, high: 1}}\nmetrics: [a, b]\n",
            "'metrics' has 2 field(s) but the study has 1 direction(s)",
        ),
        (
            "command: echo\nspace: {x: {type: int, low: 0, high: 1}}\nmetric: [a]\n",
            "'metric' must be a field name",
        ),
        (
            "command: echo\nspace: {x: {type: int, low: 0, high: 1}}\nenv: [A]\n",
            "'env' must be a mapping",
        ),
        (
            "command: echo\nspace: {x: {type: int, low: 0, high: 1}}\nworkdir: nowhere\n",
            "'workdir' names",
        ),
        (
            "command: echo\nspace: {x: {type: int, low: 0, high: 1}}\ncommand_timeout: 0\n",
            "'command_timeout' must be positive seconds",
        ),
    ],
)
def test_malformed_specs(tmp_path: Path, text: str, expected: str) -> None:
    msg = spec_error(tmp_path, text)
    assert expected in msg
    assert msg.startswith(str(tmp_path / "spec.yaml"))


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (5, 5.0),
        (2.5, 2.5),
        ("90", 90.0),
        ("90s", 90.0),
        ("15m", 900.0),
        ("2h", 7200.0),
        ("1h30m", 5400.0),
        ("1d", 86400.0),
        ("1.5h", 5400.0),
        ("10min", 600.0),
    ],
)
def test_parse_duration(value: Any, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", [0, -1, "", "abc", "5 minutes", "1h30", True, None, [1]])
def test_parse_duration_rejects(value: Any) -> None:
    with pytest.raises(ValueError, match="positive seconds"):
        parse_duration(value)


# -- importing objectives ---------------------------------------------------------------------
def module(tmp_path: Path, body: str) -> str:
    name = f"specmod_{uuid.uuid4().hex[:10]}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(body))
    return name


def test_load_callable(tmp_path: Path) -> None:
    name = module(tmp_path, "def objective(trial):\n    return 1.0\nVALUE = 3\n")
    f = load_callable(f"{name}:objective", [tmp_path])
    assert f(None) == 1.0
    with pytest.raises(SpecError, match="has no attribute 'objectve'; did you mean 'objective'"):
        load_callable(f"{name}:objectve", [tmp_path])
    with pytest.raises(SpecError, match="is a int, not a function"):
        load_callable(f"{name}:VALUE", [tmp_path])
    with pytest.raises(SpecError, match="which cannot be found"):
        load_callable("no_such_module_xyz:f", [tmp_path])


def test_load_callable_import_error(tmp_path: Path) -> None:
    broken = module(tmp_path, "raise RuntimeError('broken at import')\n")
    with pytest.raises(SpecError, match=r"importing .* failed: RuntimeError: broken at import"):
        load_callable(f"{broken}:f", [tmp_path])
    deps = module(tmp_path, "import no_such_dependency_xyz\n")
    with pytest.raises(SpecError, match="No module named 'no_such_dependency_xyz'"):
        load_callable(f"{deps}:f", [tmp_path])


def test_spec_objective_found_beside_spec(tmp_path: Path) -> None:
    name = module(tmp_path, "def objective(trial):\n    return 2.0\n")
    spec = load_spec(write(tmp_path, BASE.replace("mod:objective", f"{name}:objective")))
    assert spec.make_objective()(None) == 2.0


def test_spec_pruner_key(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, BASE + "pruner: {name: hyperband, max_resource: 27}\n"))
    assert spec.pruner == {"name": "hyperband", "max_resource": 27}
    assert load_spec(write(tmp_path, BASE + "pruner: median\n")).pruner == "median"
    msg = spec_error(tmp_path, BASE + "pruner: medain\n")
    assert "'pruner'" in msg and "median" in msg
    msg = spec_error(tmp_path, BASE + "pruner: {name: sh, reduction_factor: 1}\n")
    assert "'pruner'" in msg and "reduction_factor" in msg
    msg = spec_error(tmp_path, BASE + "pruner: [median]\n")
    assert "'pruner'" in msg and "mapping with 'name'" in msg


# -- command objectives -----------------------------------------------------------------------
SCRIPT = """\
import json, os, sys
params = json.loads(os.environ["TUNESMITH_PARAMS"])
mode = sys.argv[1]
if mode == "steps":
    for step in range(3):
        print(json.dumps({"step": step, "loss": float(sys.argv[2]) + 1.0 / (step + 1)}))
        print("plain text is ignored")
    print(json.dumps({"loss": float(sys.argv[2]), "acc": 0.5, "tag": "t"}))
elif mode == "env":
    print(json.dumps({"v": 1.0, "params": params, "n": os.environ["TUNESMITH_TRIAL_NUMBER"],
                      "study": os.environ["TUNESMITH_STUDY"], "argv": sys.argv[2:],
                      "extra": os.environ.get("EXTRA")}))
elif mode == "fail":
    print("some output")
    print("line one\\nthe real problem", file=sys.stderr)
    sys.exit(3)
elif mode == "nojson":
    print("done, loss=3")
elif mode == "two":
    print(json.dumps({"a": 1, "b": 2}))
elif mode == "multi":
    print(json.dumps({"step": 0, "loss": 2.0, "lat": 3.0}))
    print(json.dumps({"loss": 1.0, "lat": 2.0}))
elif mode == "badstep":
    print(json.dumps({"step": "one", "v": 1}))
elif mode == "sleep":
    import time
    time.sleep(30)
elif mode == "epochs":
    import time
    for step in range(1, 6):
        print(json.dumps({"step": step, "loss": float(sys.argv[2]) / step}), flush=True)
        time.sleep(0.4)  # room for the driver to stop it, even on a busy machine
    open(sys.argv[3], "w").write("finished")
    print(json.dumps({"loss": float(sys.argv[2]) / 5}))
"""

SPACE = {"x": {"type": "float", "low": 0.0, "high": 1.0}}


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "script.py"
    path.write_text(SCRIPT)
    return path


def run_one(
    obj: Any, space: dict[str, Any] | None = None, directions: int = 1, seed: int = 0
) -> ts.FrozenTrial:
    study = ts.create_study(space=space or SPACE, seed=seed, directions=["minimize"] * directions)
    study.optimize(obj, n_trials=1, catch=(Exception,), show_progress=False)
    return study.trials[0]


def test_command_steps_result_and_attrs(script: Path) -> None:
    obj = CommandObjective(f"{{python}} {script} steps 0.25", metrics=["loss"])
    t = run_one(obj)
    assert t.state == ts.TrialState.COMPLETE, t.error
    assert t.values == (0.25,)
    assert dict(t.intermediate) == {0: (1.25,), 1: (0.75,), 2: (0.25 + 1 / 3,)}
    assert dict(t.user_attrs) == {"acc": 0.5, "tag": "t"}


@pytest.mark.parametrize("seed", [0, 2])  # seed 0: name='a b' (k inactive); 2: name="it's"
def test_command_env_placeholders_and_quoting(script: Path, tmp_path: Path, seed: int) -> None:
    space = {
        "x": {"type": "float", "low": 0.0, "high": 1.0},
        "name": {"type": "categorical", "choices": ["a b", "it's"]},
        "k": {"type": "int", "low": 1, "high": 1, "condition": {"name": "it's"}},
    }
    obj = CommandObjective(
        f"{{python}} {script} env {{name}} {{x:.2f}} {{trial_number}} {{k}} {{study}}",
        env={"EXTRA": "yes"},
        cwd=str(tmp_path),
    )
    t = run_one(obj, space, seed=seed)
    assert t.state == ts.TrialState.COMPLETE, t.error
    attrs = t.user_attrs
    assert attrs["params"] == dict(t.params)
    assert attrs["n"] == "0" and attrs["extra"] == "yes"
    name = t.params["name"]
    k = "1" if name == "it's" else ""  # an inactive conditional parameter gives ""
    # shell-quoted: a value with spaces or quotes stays one argument
    assert attrs["argv"] == [name, f"{t.params['x']:.2f}", "0", k, attrs["study"]]


def test_command_argv_list_runs_without_shell(script: Path) -> None:
    obj = CommandObjective([sys.executable, str(script), "env", "{x}", "$HOME"])
    t = run_one(obj)
    assert t.state == ts.TrialState.COMPLETE, t.error
    assert t.user_attrs["argv"] == [str(t.params["x"]), "$HOME"]


def test_command_nonzero_exit_fails_with_stderr(script: Path) -> None:
    t = run_one(CommandObjective(f"{{python}} {script} fail"))
    assert t.state == ts.TrialState.FAILED
    assert t.error is not None
    assert "CommandFailed: the command exited with code 3" in t.error
    assert "the real problem" in t.error


def test_command_without_json_result(script: Path) -> None:
    t = run_one(CommandObjective(f"{{python}} {script} nojson"))
    assert t.state == ts.TrialState.FAILED
    assert "printed no JSON object" in (t.error or "")
    assert "done, loss=3" in (t.error or "")


def test_command_is_stopped_when_the_pruner_says_so(script: Path, tmp_path: Path) -> None:
    marker = tmp_path / "finished.txt"
    obj = CommandObjective(f"{{python}} {script} epochs 2.0 {marker}", metrics=["loss"])
    study = ts.create_study(space=SPACE, seed=0, pruner=ts.ThresholdPruner(upper=1.5))
    study.optimize(obj, n_trials=1, show_progress=False)
    t = study.trials[0]
    assert t.state == ts.TrialState.PRUNED
    assert dict(t.intermediate) == {1: (2.0,)}  # stopped after its first report
    assert not marker.exists()  # the command did not run to its end
    # Without a pruner the same command runs to the end.
    study = ts.create_study(space=SPACE, seed=0)
    study.optimize(obj, n_trials=1, show_progress=False)
    assert study.trials[0].state == ts.TrialState.COMPLETE and marker.exists()


def test_command_ambiguous_and_missing_metric(script: Path) -> None:
    t = run_one(CommandObjective(f"{{python}} {script} two"))
    assert "set 'metric' in the spec" in (t.error or "")
    t = run_one(CommandObjective(f"{{python}} {script} two", metrics=["c"]))
    assert "has no field 'c'" in (t.error or "")
    t = run_one(CommandObjective(f"{{python}} {script} two", metrics=["b"]))
    assert t.values == (2.0,)


def test_command_multi_objective(script: Path) -> None:
    obj = CommandObjective(f"{{python}} {script} multi", n_objectives=2, metrics=["loss", "lat"])
    t = run_one(obj, directions=2)
    assert t.values == (1.0, 2.0)
    assert dict(t.intermediate) == {0: (2.0, 3.0)}


def test_command_bad_step(script: Path) -> None:
    t = run_one(CommandObjective(f"{{python}} {script} badstep"))
    assert "steps must be integers" in (t.error or "")


def test_command_timeout_kills(script: Path) -> None:
    t0 = time.monotonic()
    t = run_one(CommandObjective(f"{{python}} {script} sleep", timeout=0.5))
    assert time.monotonic() - t0 < 8
    assert t.state == ts.TrialState.FAILED
    assert "longer than command_timeout=0.5 s" in (t.error or "")


def test_command_killed_by_signal() -> None:
    t = run_one(CommandObjective("kill -9 $$"))
    assert t.state == ts.TrialState.FAILED
    assert "the command was killed by SIGKILL" in (t.error or "")


def test_command_missing_program() -> None:
    t = run_one(CommandObjective(["/no/such/program-xyz", "{x}"]))
    assert t.state == ts.TrialState.FAILED
    assert "exited with code 127" in (t.error or "")
    assert "cannot start the command" in (t.error or "")


def test_command_objective_pickles(script: Path) -> None:
    obj = CommandObjective(f"{{python}} {script} steps 1", metrics=["loss"], timeout=3.0)
    for dumps, loads in ((pickle.dumps, pickle.loads), (cloudpickle.dumps, cloudpickle.loads)):
        copy = loads(dumps(obj))
        assert copy.command == obj.command and copy.metrics == obj.metrics
        assert copy.timeout == 3.0
    assert isinstance(pickle.loads(pickle.dumps(CommandFailed("x"))), CommandFailed)
