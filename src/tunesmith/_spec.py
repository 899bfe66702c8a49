"""Run specifications (the YAML/JSON files ``tunesmith run`` reads) and command objectives.

:func:`load_spec` parses and validates a spec file into a :class:`RunSpec`; every
problem raises :class:`~tunesmith.exceptions.SpecError` with a message that names the
file, the key and the fix. :class:`CommandObjective` turns a shell command into an
objective: parameters go in through ``{name}`` placeholders and environment
variables, results come back as JSON lines on the command's stdout. It holds only
plain data, so it pickles and runs in worker processes (``workers: 2``) as well.

Example spec::

    study: quadratic
    direction: minimize
    sampler: sobol
    space:
      x: {type: float, low: -10, high: 10}
    objective: quadratic:objective
    budget: {n_trials: 30}
"""

from __future__ import annotations

import collections
import difflib
import importlib
import json
import math
import os
import re
import shlex
import signal
import string
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tunesmith.exceptions import SpaceError, SpecError, TrialPruned, TunesmithError

__all__ = [
    "BUDGET_KEYS",
    "SPEC_KEYS",
    "CommandFailed",
    "CommandObjective",
    "RunSpec",
    "load_callable",
    "load_spec",
    "parse_duration",
    "resolve_storage",
]

#: Top-level keys of a spec, with a one-line description (used in error messages).
SPEC_KEYS: dict[str, str] = {
    "study": "the study's name (default: the spec file's name without extension)",
    "storage": "SQLite file path or database URL (default: tunesmith.db beside the spec)",
    "direction": "'minimize' (default) or 'maximize'",
    "directions": "one direction per objective, e.g. [minimize, maximize]",
    "sampler": "a sampler name (random, sobol, grid) or a mapping with 'name'",
    "pruner": "a pruner name (median, sh, hyperband, ...) or a mapping with 'name'",
    "seed": "an integer fixing every proposal",
    "space": "the search space: name -> {type: float|int|categorical, ...}",
    "objective": "a Python function as module:function, called with the trial",
    "command": "a shell command template run once per trial, e.g. 'python train.py --lr {lr}'",
    "metric": "the field of the command's JSON result that is the objective value",
    "metrics": "the fields of the command's JSON result, one per direction",
    "command_timeout": "seconds after which a command is killed and its trial fails",
    "env": "extra environment variables for the command (a mapping)",
    "workdir": "directory the command runs in (default: the spec file's directory)",
    "budget": "a mapping with n_trials, timeout and/or total_trials",
    "workers": "trials run in parallel, each in its own process (default 1)",
    "max_retries": "times a trial lost with a crashed worker is re-queued (default 0)",
    "heartbeat_interval": "seconds between heartbeats of running trials (default 10)",
    "load_if_exists": "continue an existing study of the same name (default true)",
    "fail_fast": "stop the run at the first failed trial (default false)",
}

#: Keys of the ``budget`` mapping.
BUDGET_KEYS: dict[str, str] = {
    "n_trials": "trials to run in each invocation",
    "timeout": "seconds (or '30m', '2h') after which no new trial starts",
    "total_trials": "stop once the study holds this many trials (across runs and workers)",
}

_COMMAND_ONLY = ("metric", "metrics", "command_timeout", "env", "workdir")
_EXTRA_PLACEHOLDERS = ("trial_number", "study", "python")
_DIRECTION_ALIASES = {
    "minimize": "minimize",
    "minimise": "minimize",
    "min": "minimize",
    "maximize": "maximize",
    "maximise": "maximize",
    "max": "maximize",
}


class CommandFailed(TunesmithError):
    """A command objective exited with an error, timed out, or broke the JSON protocol."""


# -- the spec -----------------------------------------------------------------------------
@dataclass(frozen=True)
class RunSpec:
    """A validated run specification.

    Relative paths in the file (``storage``, ``workdir``) are resolved against the
    directory of the spec file, so a spec works from any current directory.

    Attributes:
        path: the spec file.
        study: study name.
        storage: storage path or URL (relative paths already resolved).
        directions: one ``"minimize"``/``"maximize"`` per objective.
        sampler: sampler name or mapping (as :func:`tunesmith.samplers.make_sampler` takes).
        pruner: pruner name or mapping (as :func:`tunesmith.pruners.make_pruner` takes).
        seed: study seed, or None for a random one.
        space: the search space mapping (as :meth:`tunesmith.Space.from_dict` takes).
        objective: ``"module:function"``, or None when ``command`` is given.
        command: shell command template (a string) or an argument list, or None.
        metrics: result fields naming the objective value(s) of a command, or None.
        command_timeout: seconds after which a command is killed.
        env: extra environment variables for the command.
        workdir: directory the command runs in.
        n_trials, timeout, total_trials: the budget (None: no limit of that kind).
        workers: parallel worker processes.
        max_retries, heartbeat_interval, load_if_exists, fail_fast: see the docs.
    """

    path: Path
    study: str
    storage: str
    directions: tuple[str, ...] = ("minimize",)
    sampler: str | dict[str, Any] | None = None
    pruner: str | dict[str, Any] | None = None
    seed: int | None = None
    space: dict[str, Any] | None = None
    objective: str | None = None
    command: str | tuple[str, ...] | None = None
    metrics: tuple[str, ...] | None = None
    command_timeout: float | None = None
    env: dict[str, str] = field(default_factory=dict)
    workdir: Path | None = None
    n_trials: int | None = None
    timeout: float | None = None
    total_trials: int | None = None
    workers: int = 1
    max_retries: int = 0
    heartbeat_interval: float | None = None
    load_if_exists: bool = True
    fail_fast: bool = False

    @property
    def base_dir(self) -> Path:
        """The directory of the spec file (searched for objective modules)."""
        return self.path.resolve().parent

    def make_objective(self) -> Callable[..., Any]:
        """The objective this spec describes: the imported function or a :class:`CommandObjective`.

        Raises:
            SpecError: if the module or function cannot be found or imported.
        """
        if self.command is not None:
            return CommandObjective(
                self.command,
                n_objectives=len(self.directions),
                metrics=self.metrics,
                timeout=self.command_timeout,
                env=self.env,
                cwd=str(self.workdir or self.base_dir),
            )
        assert self.objective is not None
        return load_callable(self.objective, [self.base_dir, Path.cwd()], where=str(self.path))


def load_spec(path: str | os.PathLike[str]) -> RunSpec:
    """Read and validate a YAML (or ``.json``) run specification.

    Raises:
        SpecError: naming the problem (unknown or missing keys, wrong types, bad YAML
            with its line and column, an invalid space or sampler, ...) and its fix.
    """
    p = Path(path)
    where = str(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"spec file {where!r} does not exist") from None
    except IsADirectoryError:
        raise SpecError(f"spec path {where!r} is a directory; give a .yaml file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read spec file {where!r}: {exc}") from None
    data = _parse_text(text, where, json_only=p.suffix.lower() == ".json")
    return _validate(data, p, where)


def _parse_text(text: str, where: str, json_only: bool) -> Any:
    if json_only:
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError(f"{where}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    try:
        return yaml.load(text, Loader=_SpecLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or "syntax error"
        if exc.context and exc.problem:
            problem = f"{exc.problem} ({exc.context})"
        if mark is not None:
            raise SpecError(
                f"{where}:{mark.line + 1}:{mark.column + 1}: invalid YAML: {problem}"
            ) from None
        raise SpecError(f"{where}: invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{where}: invalid YAML: {exc}") from None


class _SpecLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys and reads ``1e-5`` as a float (YAML 1.2)."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            first = seen.get(key)
        except TypeError:
            continue  # unhashable key: construct_mapping reports it
        if first is not None:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first given on line {first + 1}); keep only one",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return yaml.SafeLoader.construct_mapping(loader, node, deep=True)


_SpecLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a mapping",
    }.get(type(value), type(value).__name__)


def _got(value: Any) -> str:
    return f"got {value!r} ({_type_name(value)})"


def _unknown_key_message(key: Any, known: Sequence[str], where: str, section: str) -> str:
    msg = f"{where}: unknown key {key!r}{section}"
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6) if isinstance(key, str) else []
    if close:
        return msg + f"; did you mean {close[0]!r}? Known keys: {', '.join(known)}"
    return msg + f"; known keys: {', '.join(known)}"


def _validate(data: Any, path: Path, where: str) -> RunSpec:
    if data is None:
        raise SpecError(f"{where}: the spec is empty; see 'tunesmith run --help' for an example")
    if not isinstance(data, dict):
        raise SpecError(
            f"{where}: a spec must be a mapping of keys (study:, space:, objective:, ...), "
            f"{_got(data)}"
        )
    for key in data:
        if key in SPEC_KEYS:
            continue
        if key in BUDGET_KEYS:
            raise SpecError(
                f"{where}: {key!r} belongs under 'budget:'; write: budget: {{{key}: {data[key]}}}"
            )
        raise SpecError(_unknown_key_message(key, list(SPEC_KEYS), where, ""))

    def fail(key: str, problem: str) -> SpecError:
        return SpecError(f"{where}: {key!r} {problem}")

    base = path.resolve().parent

    # study / storage
    study = data.get("study", path.stem)
    if not isinstance(study, str) or not study.strip():
        raise fail("study", f"must be a non-empty string (the study's name), {_got(study)}")
    storage_raw = data.get("storage")
    if storage_raw is None:
        env_storage = os.environ.get("TUNESMITH_STORAGE")
        storage = env_storage if env_storage else str(base / "tunesmith.db")
    else:
        if not isinstance(storage_raw, str) or not storage_raw.strip():
            raise fail(
                "storage",
                "must be a file path (studies.db) or a URL (postgresql://user@host/db), "
                + _got(storage_raw),
            )
        storage = resolve_storage(storage_raw, base)

    # directions
    if "direction" in data and "directions" in data:
        raise SpecError(
            f"{where}: give either 'direction' (one objective) or 'directions' (several), not both"
        )
    if "directions" in data:
        raw = data["directions"]
        if not isinstance(raw, list) or not raw:
            raise fail(
                "directions", f"must be a non-empty list like [minimize, maximize], {_got(raw)}"
            )
        directions = tuple(_direction("directions", d, fail) for d in raw)
    else:
        directions = (_direction("direction", data.get("direction", "minimize"), fail),)

    # sampler
    sampler = data.get("sampler")
    if sampler is not None:
        if not isinstance(sampler, str | dict):
            raise fail(
                "sampler",
                "must be a name (random, sobol, grid) or a mapping with 'name' "
                f"(e.g. {{name: grid, grid: {{x: [1, 2]}}}}), {_got(sampler)}",
            )
        from tunesmith.samplers import make_sampler

        try:
            make_sampler(sampler)
        except TunesmithError as exc:
            raise fail("sampler", f"is invalid: {exc}") from None

    # pruner
    pruner = data.get("pruner")
    if pruner is not None:
        if not isinstance(pruner, str | dict):
            raise fail(
                "pruner",
                "must be a name (median, sh, hyperband, ...) or a mapping with 'name' "
                f"(e.g. {{name: hyperband, min_resource: 1, max_resource: 81}}), {_got(pruner)}",
            )
        from tunesmith.pruners import make_pruner

        try:
            make_pruner(pruner)
        except (TunesmithError, ValueError) as exc:
            raise fail("pruner", f"is invalid: {exc}") from None

    seed = _opt_int(data, "seed", fail, minimum=None)

    # space
    space = data.get("space")
    if space is not None:
        space = _check_space(space, fail)
        if sampler is not None:
            _check_grid(sampler, space, fail)

    # objective / command
    objective = data.get("objective")
    command_raw = data.get("command")
    if objective is not None and command_raw is not None:
        raise SpecError(
            f"{where}: give either 'objective' (a Python function, module:function) or "
            "'command' (a shell command), not both"
        )
    if objective is None and command_raw is None:
        raise SpecError(
            f"{where}: missing 'objective' or 'command': add 'objective: module:function' "
            "(a Python function called with the trial) or 'command: python train.py "
            "--lr {lr}' (a shell command printing a JSON result)"
        )
    command: str | tuple[str, ...] | None = None
    metrics: tuple[str, ...] | None = None
    command_timeout: float | None = None
    env: dict[str, str] = {}
    workdir: Path | None = None
    if objective is not None:
        if not isinstance(objective, str):
            raise fail("objective", f"must be a string 'module:function', {_got(objective)}")
        _check_callable_ref(objective, fail)
        for key in _COMMAND_ONLY:
            if key in data:
                raise fail(key, "applies only to 'command' objectives; remove it")
    else:
        command = _check_command(command_raw, space, fail)
        if space is None:
            raise SpecError(
                f"{where}: 'command' needs a 'space' so that every parameter is known "
                "before the command starts; add space: {name: {type: float, low: .., high: ..}}"
            )
        metrics = _check_metrics(data, len(directions), fail)
        command_timeout = _opt_seconds(data, "command_timeout", fail)
        raw_env = data.get("env")
        if raw_env is not None:
            if not isinstance(raw_env, dict):
                raise fail("env", f"must be a mapping of NAME: value, {_got(raw_env)}")
            for k, v in raw_env.items():
                if not isinstance(k, str) or not k or "=" in k:
                    raise fail("env", f"has an invalid variable name {k!r}")
                if isinstance(v, dict | list) or v is None:
                    raise fail("env", f"value of {k} must be a string or number, {_got(v)}")
                env[k] = str(v).lower() if isinstance(v, bool) else str(v)
        raw_wd = data.get("workdir")
        if raw_wd is not None:
            if not isinstance(raw_wd, str) or not raw_wd:
                raise fail("workdir", f"must be a directory path, {_got(raw_wd)}")
            workdir = (base / Path(raw_wd).expanduser()).resolve()
            if not workdir.is_dir():
                raise fail("workdir", f"names {str(workdir)!r}, which is not a directory")

    # budget and execution
    budget = data.get("budget", {})
    if budget is None:
        budget = {}
    if not isinstance(budget, dict):
        raise fail(
            "budget", f"must be a mapping like {{n_trials: 50, timeout: 1h}}, {_got(budget)}"
        )
    for key in budget:
        if key not in BUDGET_KEYS:
            raise SpecError(_unknown_key_message(key, list(BUDGET_KEYS), where, " in 'budget'"))

    def bfail(key: str, problem: str) -> SpecError:
        return fail(f"budget.{key}", problem)

    n_trials = _opt_int(budget, "n_trials", bfail, minimum=0)
    timeout = _opt_seconds(budget, "timeout", bfail)
    total_trials = _opt_int(budget, "total_trials", bfail, minimum=1)
    workers = _opt_int(data, "workers", fail, minimum=1)
    max_retries = _opt_int(data, "max_retries", fail, minimum=0)
    heartbeat = _opt_seconds(data, "heartbeat_interval", fail)
    load_if_exists = _opt_bool(data, "load_if_exists", fail, True)
    fail_fast = _opt_bool(data, "fail_fast", fail, False)

    return RunSpec(
        path=path,
        study=study.strip(),
        storage=storage,
        directions=directions,
        sampler=sampler,
        pruner=pruner,
        seed=seed,
        space=space,
        objective=objective,
        command=command,
        metrics=metrics,
        command_timeout=command_timeout,
        env=env,
        workdir=workdir,
        n_trials=n_trials,
        timeout=timeout,
        total_trials=total_trials,
        workers=1 if workers is None else workers,
        max_retries=0 if max_retries is None else max_retries,
        heartbeat_interval=heartbeat,
        load_if_exists=load_if_exists,
        fail_fast=fail_fast,
    )


def _direction(key: str, value: Any, fail: Callable[[str, str], SpecError]) -> str:
    norm = _DIRECTION_ALIASES.get(value.lower()) if isinstance(value, str) else None
    if norm is None:
        raise fail(key, f"must be 'minimize' or 'maximize', {_got(value)}")
    return norm


def _opt_int(
    data: Mapping[str, Any],
    key: str,
    fail: Callable[[str, str], SpecError],
    minimum: int | None,
) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        bound = "" if minimum is None else f" >= {minimum}"
        raise fail(key, f"must be an integer{bound}, {_got(value)}")
    if minimum is not None and value < minimum:
        raise fail(key, f"must be an integer >= {minimum}, got {value}")
    return value


def _opt_bool(
    data: Mapping[str, Any], key: str, fail: Callable[[str, str], SpecError], default: bool
) -> bool:
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise fail(key, f"must be true or false, {_got(value)}")
    return value


def _opt_seconds(
    data: Mapping[str, Any], key: str, fail: Callable[[str, str], SpecError]
) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise fail(key, str(exc)) from None


_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(min|sec|d|h|m|s)?", re.IGNORECASE)
_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "min": 60.0, "s": 1.0, "sec": 1.0, None: 1.0}


def parse_duration(value: Any) -> float:
    """Seconds from a number or a string such as ``"90"``, ``"90s"``, ``"15m"``, ``"1h30m"``.

    Raises:
        ValueError: if the value is not a positive duration.
    """
    hint = "must be positive seconds or a duration like '90s', '15m', '2h', '1h30m'"
    if isinstance(value, bool):
        raise ValueError(f"{hint}, {_got(value)}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        pos, seconds, parts = 0, 0.0, 0
        while pos < len(text):
            m = _DURATION.match(text, pos)
            if m is None or m.end() == pos:
                raise ValueError(f"{hint}, {_got(value)}")
            unit = m.group(2).lower() if m.group(2) else None
            if unit is None and (m.end() != len(text) or parts):
                raise ValueError(f"{hint}, {_got(value)}")
            seconds += float(m.group(1)) * _UNITS[unit]
            pos = m.end()
            parts += 1
        if parts == 0:
            raise ValueError(f"{hint}, {_got(value)}")
    else:
        raise ValueError(f"{hint}, {_got(value)}")
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"{hint}, {_got(value)}")
    return seconds


def _check_space(space: Any, fail: Callable[[str, str], SpecError]) -> dict[str, Any]:
    from tunesmith.space import Space, distribution_from_dict

    if not isinstance(space, dict) or not space:
        raise fail(
            "space",
            "must be a non-empty mapping of parameter name -> {type: float|int|categorical, "
            f"...}}, {_got(space)}",
        )
    for name, pspec in space.items():
        key = f"space.{name}"
        if not isinstance(name, str) or not name:
            raise fail("space", f"has a parameter name {name!r} that is not a non-empty string")
        if not isinstance(pspec, dict):
            raise fail(
                key,
                "must be a mapping such as {type: float, low: 0.0, high: 1.0} or "
                f"{{type: categorical, choices: [a, b]}}, {_got(pspec)}",
            )
        if "type" not in pspec:
            raise fail(key, "is missing 'type' (float, int or categorical)")
        try:
            distribution_from_dict(pspec)
        except SpaceError as exc:
            raise fail(key, f"is invalid: {exc}") from None
        except (TypeError, ValueError) as exc:
            raise fail(key, f"is invalid: {exc}") from None
    try:
        Space.from_dict(space)
    except (SpaceError, TypeError, ValueError) as exc:
        raise fail("space", f"is invalid: {exc}") from None
    return space


def _check_grid(
    sampler: str | dict[str, Any], space: dict[str, Any], fail: Callable[[str, str], SpecError]
) -> None:
    """A grid sampler must fit the declared space (checked now rather than at the first ask)."""
    from tunesmith.samplers import GridSampler, make_sampler
    from tunesmith.space import Space

    grid = make_sampler(sampler)
    if not isinstance(grid, GridSampler):
        return
    if grid.grid is not None:
        unknown = [n for n in grid.grid if n not in space]
        if unknown:
            raise fail(
                "sampler",
                f"has a grid over {unknown}, which the space does not declare; "
                f"the space's parameters are {list(space)}",
            )
        return
    try:
        Space.from_dict(space).grid(grid.n_points)
    except SpaceError as exc:
        raise fail(
            "sampler",
            f"cannot build a grid from the space: {exc} (e.g. {{name: grid, n_points: 5}})",
        ) from None


def _check_callable_ref(ref: str, fail: Callable[[str, str], SpecError]) -> None:
    module, sep, attr = ref.partition(":")
    if not sep or not module or not attr:
        raise fail(
            "objective",
            f"must be 'module:function' (e.g. 'quadratic:objective' for def objective in "
            f"quadratic.py next to the spec), got {ref!r}",
        )
    if module.endswith(".py"):
        stem = module[:-3].replace("/", ".").replace("\\", ".")
        raise fail("objective", f"names a module, not a file: write {stem}:{attr}, not {ref}")
    ident = r"[A-Za-z_][A-Za-z0-9_]*"
    if not re.fullmatch(rf"{ident}(\.{ident})*", module) or not re.fullmatch(
        rf"{ident}(\.{ident})*", attr
    ):
        raise fail("objective", f"must be 'module:function' with Python names, got {ref!r}")


def load_callable(ref: str, search_path: Sequence[Path], where: str = "") -> Callable[..., Any]:
    """Import ``module:function``, with the directories in ``search_path`` first on sys.path.

    Raises:
        SpecError: if the module cannot be imported or has no such callable.
    """
    prefix = f"{where}: " if where else ""

    def fail(_key: str, problem: str) -> SpecError:
        return SpecError(f"{prefix}'objective' {problem}")

    _check_callable_ref(ref, fail)
    module_name, _, attr = ref.partition(":")
    for p in reversed([str(p) for p in search_path]):
        if p not in sys.path:
            sys.path.insert(0, p)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (module_name == missing or module_name.startswith(missing + ".")):
            dirs = ", ".join(dict.fromkeys(str(p) for p in search_path))
            raise fail(
                "objective",
                f"refers to module {module_name!r}, which cannot be found (searched {dirs} and the "
                f"installed packages); put {module_name.replace('.', '/')}.py next to the "
                "spec file",
            ) from None
        raise fail(
            "objective", f"is {ref!r}, but importing {module_name!r} failed: {exc}"
        ) from None
    except Exception as exc:
        detail = f"{type(exc).__name__}: {exc}"
        raise fail(
            "objective", f"is {ref!r}, but importing {module_name!r} failed: {detail}"
        ) from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            names = [n for n in dir(obj) if not n.startswith("_")]
            close = difflib.get_close_matches(part, names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise fail(
                "objective", f"is {ref!r}, but {module_name!r} has no attribute {part!r}{hint}"
            )
        obj = getattr(obj, part)
    if not callable(obj):
        raise fail("objective", f"{ref!r} is a {type(obj).__name__}, not a function")
    return obj  # type: ignore[no-any-return]


def _check_command(
    raw: Any, space: dict[str, Any] | None, fail: Callable[[str, str], SpecError]
) -> str | tuple[str, ...]:
    if isinstance(raw, str):
        if not raw.strip():
            raise fail("command", "is empty")
        parts: list[str] = [raw]
        command: str | tuple[str, ...] = raw
    elif isinstance(raw, list) and raw and all(isinstance(a, str | int | float) for a in raw):
        parts = [str(a) for a in raw]
        command = tuple(parts)
    else:
        raise fail(
            "command",
            "must be a shell command string (or a list of arguments), e.g. "
            f"'python train.py --lr {{lr}}', {_got(raw)}",
        )
    known = list(space or {}) + list(_EXTRA_PLACEHOLDERS)
    for part in parts:
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(part) if f is not None]
        except ValueError as exc:
            raise fail(
                "command",
                f"is not a valid template ({exc}); placeholders are {{name}}, and literal "
                "braces must be doubled: {{ and }} (e.g. ${{HOME}})",
            ) from None
        for f in fields:
            name = re.split(r"[.\[!:]", f, maxsplit=1)[0]
            if not name:
                raise fail(
                    "command",
                    "has an empty placeholder {}; name the parameter, e.g. {lr}, or write "
                    "literal braces as {{}}",
                )
            if name not in known:
                close = difflib.get_close_matches(name, known, n=1)
                hint = f"; did you mean {{{close[0]}}}?" if close else ""
                raise fail(
                    "command",
                    f"uses placeholder {{{name}}}, which is not a parameter of the space"
                    f"{hint}; available: {', '.join('{' + k + '}' for k in known)} (write "
                    "literal braces doubled, e.g. ${{HOME}})",
                )
    return command


def _check_metrics(
    data: Mapping[str, Any], n_objectives: int, fail: Callable[[str, str], SpecError]
) -> tuple[str, ...] | None:
    if "metric" in data and "metrics" in data:
        raise fail("metric", "and 'metrics' are both given; use metric (one objective) or metrics")
    if "metric" in data:
        m = data["metric"]
        if not isinstance(m, str) or not m:
            raise fail("metric", f"must be a field name such as 'loss', {_got(m)}")
        if n_objectives != 1:
            raise fail(
                "metric",
                f"names one field but the study has {n_objectives} directions; use "
                "metrics: [field1, field2] with one field per direction",
            )
        return (m,)
    if "metrics" in data:
        ms = data["metrics"]
        if not isinstance(ms, list) or not ms or not all(isinstance(m, str) and m for m in ms):
            raise fail("metrics", f"must be a list of field names like [loss, latency], {_got(ms)}")
        if len(ms) != n_objectives:
            raise fail(
                "metrics",
                f"has {len(ms)} field(s) but the study has {n_objectives} direction(s); give "
                "one field per direction, in the same order",
            )
        if len(set(ms)) != len(ms):
            raise fail("metrics", f"repeats a field: {ms}")
        return tuple(ms)
    if n_objectives != 1:
        raise fail(
            "metrics",
            f"is required with {n_objectives} directions: name the result field of each, "
            "e.g. metrics: [loss, latency]",
        )
    return None


def resolve_storage(storage: str, base: Path) -> str:
    """Resolve a relative SQLite path against ``base``; URLs and ``:memory:`` pass unchanged."""
    s = storage.strip()
    if "://" in s or s == ":memory:":
        return s
    p = Path(s).expanduser()
    return str(p if p.is_absolute() else base / p)


# -- command objectives -------------------------------------------------------------------
class _TemplateFormatter(string.Formatter):
    """Formats ``{name}`` placeholders; in shell mode each value is shell-quoted."""

    def __init__(self, quote: bool) -> None:
        self.quote = quote

    def format_field(self, value: Any, format_spec: str) -> str:
        if value is None:
            text = ""
        elif isinstance(value, bool) or not format_spec:
            text = str(value)
        else:
            text = format(value, format_spec)
        return shlex.quote(text) if self.quote else text


class CommandObjective:
    """An objective that runs a command once per trial and reads its JSON result.

    The protocol (see docs/cli.md):

    * ``{name}`` placeholders in the command are replaced by the trial's parameters
      (shell-quoted; an inactive conditional parameter becomes an empty string),
      ``{trial_number}``/``{study}`` by the trial's number and study name, and
      ``{python}`` by the Python interpreter running tunesmith;
    * environment: ``TUNESMITH_PARAMS`` (the parameters as JSON),
      ``TUNESMITH_TRIAL_NUMBER`` and ``TUNESMITH_STUDY``;
    * every stdout line that is a JSON object with a ``"step"`` key is reported as
      an intermediate value at that step, and the study's pruner is asked about it: if
      the trial should stop, the command is stopped (SIGTERM to its process group,
      then SIGKILL) and the trial is PRUNED; the last JSON object line is the result;
    * the objective value is the ``metrics`` field(s) of the result, or without
      ``metrics`` its only numeric field (``step`` aside); the result's other fields
      are stored as user attributes of the trial;
    * a nonzero exit code, a timeout, or a missing result fails the trial with
      :class:`CommandFailed` (the message ends with the tail of stderr).

    Args:
        command: a shell command string, or a sequence of arguments (run without a shell).
        n_objectives: values to return (the study's number of directions).
        metrics: names of the result fields, one per objective.
        timeout: seconds after which the command (and its children) are killed.
        env: extra environment variables.
        cwd: the command's working directory.
    """

    def __init__(
        self,
        command: str | Sequence[str],
        *,
        n_objectives: int = 1,
        metrics: Sequence[str] | None = None,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> None:
        self.command: str | tuple[str, ...] = (
            command if isinstance(command, str) else tuple(str(a) for a in command)
        )
        self.n_objectives = int(n_objectives)
        self.metrics = tuple(metrics) if metrics is not None else None
        if self.metrics is not None and len(self.metrics) != self.n_objectives:
            raise ValueError(
                f"metrics {list(self.metrics)} must name one field per objective "
                f"({self.n_objectives})"
            )
        self.timeout = timeout
        self.env = dict(env or {})
        self.cwd = cwd

    def __repr__(self) -> str:
        return f"CommandObjective({self.command!r}, metrics={self.metrics!r})"

    def render(self, params: Mapping[str, Any], number: int = 0, study: str = "") -> Any:
        """The command with its placeholders filled (a string, or a list of arguments)."""
        extras = {"trial_number": number, "study": study, "python": sys.executable}
        values = _Missing(params, extras)
        if isinstance(self.command, str):
            return _TemplateFormatter(quote=True).vformat(self.command, (), values)
        fmt = _TemplateFormatter(quote=False)
        return [fmt.vformat(a, (), values) for a in self.command]

    def __call__(self, trial: Any) -> float | list[float]:
        """Run the command for ``trial`` and return its objective value(s)."""
        params = trial.params
        number = int(trial.number)
        study = str(getattr(trial, "study_name", ""))
        cmd = self.render(params, number, study)
        env = dict(os.environ)
        env.update(self.env)
        env["TUNESMITH_PARAMS"] = json.dumps(params)
        env["TUNESMITH_TRIAL_NUMBER"] = str(number)
        env["TUNESMITH_STUDY"] = study
        mode = "shell" if isinstance(cmd, str) else "exec"
        argv = [sys.executable, "-I", "-S", "-c", _SUPERVISOR, str(os.getpid()), mode]
        argv += [cmd] if isinstance(cmd, str) else list(cmd)
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                cwd=self.cwd,
                text=True,
                encoding="utf-8",
                errors="replace",
                bufsize=1,
            )
        except OSError as exc:
            raise CommandFailed(f"cannot start the command {cmd!r}: {exc}") from None
        stderr_tail: collections.deque[str] = collections.deque(maxlen=40)
        stdout_tail: collections.deque[str] = collections.deque(maxlen=10)
        assert proc.stdout is not None and proc.stderr is not None
        err_thread = threading.Thread(
            target=_drain, args=(proc.stderr, stderr_tail), name="tunesmith-stderr", daemon=True
        )
        err_thread.start()
        timed_out = threading.Event()
        timer: threading.Timer | None = None
        if self.timeout is not None:
            timer = threading.Timer(self.timeout, _timeout_kill, args=(proc, timed_out))
            timer.daemon = True
            timer.start()
        result: dict[str, Any] | None = None
        try:
            for line in proc.stdout:
                obj = _json_object(line)
                if obj is None:
                    if line.strip():
                        stdout_tail.append(line.rstrip("\n"))
                    continue
                result = obj
                if "step" in obj and self._report(trial, obj) and trial.should_prune():
                    _stop(proc)
                    raise TrialPruned()
            rc = proc.wait()
        finally:
            if timer is not None:
                timer.cancel()
            if proc.poll() is None:  # interrupted or a protocol error: do not leave it running
                _stop(proc)
            err_thread.join(timeout=5.0)
            proc.stdout.close()
        tail = _tail_text(stderr_tail)
        if timed_out.is_set():
            raise CommandFailed(
                f"the command ran longer than command_timeout={self.timeout:g} s and was "
                f"killed{tail}"
            )
        if rc != 0:
            how = f"was killed by {_signal_name(-rc)}" if rc < 0 else f"exited with code {rc}"
            raise CommandFailed(f"the command {how}{tail}")
        if result is None:
            out = "\n".join(stdout_tail)
            seen = f"; its last stdout lines were:\n{out}" if out else "; it printed nothing"
            raise CommandFailed(
                "the command printed no JSON object on stdout; print the result as the last "
                'line, e.g. {"loss": 0.123}' + seen + tail
            )
        values = self._values(result, "result")
        used = set(self.metrics or ()) | {"step"}
        if self.metrics is None:
            used |= {k for k, v in result.items() if _is_number(v)}
        for key, value in result.items():
            if key not in used:
                try:
                    trial.set_user_attr(str(key), value)
                except TunesmithError:
                    pass
        return values[0] if self.n_objectives == 1 else values

    def _values(self, obj: Mapping[str, Any], what: str) -> list[float]:
        if self.metrics is not None:
            out = []
            for m in self.metrics:
                if m not in obj:
                    raise CommandFailed(
                        f"the {what} {json.dumps(obj)} has no field {m!r} (the spec's metric); "
                        f"fields: {sorted(obj)}"
                    )
                v = obj[m]
                if not _is_number(v):
                    raise CommandFailed(f"field {m!r} of the {what} is {v!r}, not a number")
                out.append(float(v))
            return out
        numeric = [k for k, v in obj.items() if k != "step" and _is_number(v)]
        if len(numeric) != 1:
            found = f"fields {numeric}" if numeric else "no numeric field"
            raise CommandFailed(
                f"the {what} {json.dumps(obj)} has {found}; set 'metric' in the spec to name "
                "the objective's field"
            )
        return [float(obj[numeric[0]])]

    def _report(self, trial: Any, obj: Mapping[str, Any]) -> bool:
        """Report a step line's value; False for a progress line without the metric."""
        step = obj["step"]
        if isinstance(step, float) and step.is_integer():
            step = int(step)
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise CommandFailed(
                f"the line {json.dumps(obj)} has step {step!r}; steps must be integers >= 0"
            )
        try:
            values = self._values(obj, "line")
        except CommandFailed:
            return False  # a progress line without the metric: nothing to report
        trial.report(values[0] if self.n_objectives == 1 else values, step)
        return True


class _Missing(dict):  # type: ignore[type-arg]
    """Template values: parameters (missing = inactive conditional → empty) and extras."""

    def __init__(self, params: Mapping[str, Any], extras: Mapping[str, Any]) -> None:
        super().__init__(extras)
        self.update(params)

    def __missing__(self, key: str) -> Any:
        return None


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _json_object(line: str) -> dict[str, Any] | None:
    text = line.strip()
    if not (text.startswith("{") and text.endswith("}")):
        return None
    try:
        obj = json.loads(text)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def _drain(stream: Any, tail: collections.deque[str]) -> None:
    try:
        for line in stream:
            tail.append(line.rstrip("\n"))
    except (OSError, ValueError):
        pass
    finally:
        try:
            stream.close()
        except OSError:
            pass


def _tail_text(tail: collections.deque[str]) -> str:
    lines = list(tail)
    if not lines:
        return ""
    text = "\n".join(lines)
    if len(text) > 4000:
        text = "..." + text[-4000:]
    return f"; stderr (last lines):\n{text}"


def _signal_name(num: int) -> str:
    try:
        return signal.Signals(num).name
    except ValueError:
        return f"signal {num}"


def _timeout_kill(proc: subprocess.Popen[str], flag: threading.Event) -> None:
    if proc.poll() is None:
        flag.set()
        _stop(proc)


def _stop(proc: subprocess.Popen[str]) -> None:
    """Stop a command: its supervisor stops the command's process group (SIGTERM, then
    SIGKILL after a grace period)."""
    try:
        proc.terminate()
        proc.wait(timeout=_GRACE + 2.0)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    except OSError:
        pass


_GRACE = 3.0

# Runs every command, as ``python -I -S -c _SUPERVISOR PARENT_PID shell|exec CMD...``.
# The command gets a process group of its own, which the supervisor stops as a whole
# (children of a shell included) when it is told to (SIGTERM/SIGINT/SIGHUP: timeout,
# Ctrl-C) or when the process that runs the objective disappears (a worker process
# killed by its driver), so no command outlives its trial. Exit code and signal of the
# command are passed on.
_SUPERVISOR = r"""
import os, signal, subprocess, sys, time
parent, shell, cmd = int(sys.argv[1]), sys.argv[2] == "shell", sys.argv[3:]
stop = []
def on_signal(sig, frame):
    stop.append(sig)
for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(s, on_signal)
try:
    p = subprocess.Popen(cmd[0] if shell else cmd, shell=shell, process_group=0)
except OSError as exc:
    sys.stderr.write(f"cannot start the command {cmd!r}: {exc}\n")
    sys.exit(127)
def kill(sig):
    try:
        os.killpg(p.pid, sig)
    except OSError:
        pass
deadline = None
while True:
    try:
        rc = p.wait(timeout=0.2)
        break
    except subprocess.TimeoutExpired:
        pass
    if deadline is None and (stop or os.getppid() != parent):
        kill(stop[0] if stop else signal.SIGTERM)
        deadline = time.monotonic() + GRACE
    elif deadline is not None and time.monotonic() > deadline:
        kill(signal.SIGKILL)
kill(signal.SIGKILL)
if rc < 0:  # die of the same signal, so that the exit status says what happened
    try:
        signal.signal(-rc, signal.SIG_DFL)
    except (OSError, ValueError):
        pass
    os.kill(os.getpid(), -rc)
    time.sleep(1.0)
sys.exit(128 - rc if rc < 0 else rc)
""".replace("GRACE", repr(_GRACE))
