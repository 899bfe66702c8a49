"""The ``tunesmith`` command line.

Subcommands::

    tunesmith run SPEC.yaml            run (or resume) the study a spec file describes
    tunesmith worker --study NAME ...  join a study on shared storage and run trials
    tunesmith studies                  list the studies in a storage
    tunesmith show NAME                a study's best trial(s) and a table of trials
    tunesmith export NAME --format csv write the trials as CSV or JSON
    tunesmith delete NAME              delete a study and its trials
    tunesmith storage upgrade URL      migrate a storage to this version's schema

Errors a user can cause print ``error: <message>`` and exit with code 2; a run whose
trials all failed exits with 1; Ctrl-C exits with 130 (the study stays saved).
Also runnable as ``python -m tunesmith.cli``.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import io
import json
import logging
import math
import os
import re
import shlex
import signal
import socket
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from tunesmith import __version__
from tunesmith.exceptions import (
    DuplicatedStudyError,
    StudyNotFoundError,
    Terminated,
    TunesmithError,
)
from tunesmith.trial import FrozenTrial, TrialState

__all__ = ["CLIError", "build_parser", "main"]

DEFAULT_STORAGE = "tunesmith.db"
STORAGE_ENV = "TUNESMITH_STORAGE"

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143

_SPEC_EXAMPLE = """\
example spec (quadratic.yaml):

  study: quadratic               # default: the file name
  storage: tunesmith.db          # path (relative to the spec) or postgresql://...
  direction: minimize            # or directions: [minimize, maximize]
  sampler: sobol                 # random | sobol | {name: grid, grid: {...}}
  seed: 0
  space:
    x: {type: float, low: -10, high: 10}
    n: {type: int, low: 1, high: 5}
    kernel: {type: categorical, choices: [rbf, linear]}
    gamma: {type: float, low: 1e-4, high: 1, log: true, condition: {kernel: rbf}}
  objective: quadratic:objective # def objective(trial) in quadratic.py beside the spec
  # or: command: python train.py --x {x} --kernel {kernel}   (prints {"loss": 0.1})
  budget: {n_trials: 50, timeout: 30m}
  workers: 2

Running the same spec again continues the study. Full reference: docs/cli.md.
"""


class CLIError(TunesmithError):
    """A usage problem reported as ``error: ...`` with an exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


# -- argument types ----------------------------------------------------------------------
def _nonneg_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def _pos_int(text: str) -> int:
    value = _nonneg_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def _duration(text: str) -> float:
    from tunesmith._spec import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


_STATE_NAMES = {s.name.lower(): s for s in TrialState}


def _states(text: str) -> list[TrialState]:
    out = []
    for part in text.split(","):
        name = part.strip().lower()
        if name not in _STATE_NAMES:
            raise argparse.ArgumentTypeError(
                f"unknown state {part!r}; use one of {', '.join(_STATE_NAMES)} "
                "(several separated by commas)"
            )
        out.append(_STATE_NAMES[name])
    return out


# -- the parser ----------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``tunesmith`` command."""
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="tunesmith",
        description="tunesmith: hyperparameter optimization with durable studies.",
        epilog=(
            "Storage: a SQLite file path (studies.db) or a URL (sqlite:///path.db, "
            "postgresql://user@host:5432/db).\nDefault: $TUNESMITH_STORAGE, else "
            "tunesmith.db. Run 'tunesmith COMMAND --help' for details."
        ),
        formatter_class=raw,
    )
    parser.add_argument("--version", action="version", version=f"tunesmith {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    storage_help = f"SQLite file or database URL (default: ${STORAGE_ENV}, else {DEFAULT_STORAGE})"

    # run
    p = sub.add_parser(
        "run",
        help="run (or resume) the study described by a YAML/JSON spec",
        description=(
            "Run the study a spec file describes. The study is created on the first run and "
            "continued by later runs (load_if_exists: true), so running the same command "
            "again resumes. Options given here override the spec."
        ),
        epilog=_SPEC_EXAMPLE,
        formatter_class=raw,
    )
    p.add_argument("spec", metavar="SPEC", help="the spec file (.yaml, .yml or .json)")
    p.add_argument("--n-trials", type=_nonneg_int, metavar="N", help="trials to run now")
    p.add_argument(
        "--timeout", type=_duration, metavar="S", help="start no trial after S seconds (or 30m, 2h)"
    )
    p.add_argument(
        "--total-trials",
        type=_pos_int,
        metavar="N",
        help="stop once the study holds N trials (counting earlier runs and other workers)",
    )
    p.add_argument("--workers", type=_pos_int, metavar="K", help="parallel worker processes")
    p.add_argument("--storage", metavar="URL", help="storage (overrides the spec's)")
    p.add_argument("--study", metavar="NAME", help="study name (overrides the spec's)")
    p.add_argument("--seed", type=int, metavar="S", help="seed of a new study")
    p.add_argument(
        "--fail-fast", action="store_true", help="stop at the first failed trial (exit 1)"
    )
    p.add_argument("--no-progress", action="store_true", help="no live progress line")
    p.set_defaults(func=_cmd_run)

    # worker
    p = sub.add_parser(
        "worker",
        help="join a study on shared storage and run trials in this process",
        description=(
            "Join a study on shared storage (a SQLite file on one machine, PostgreSQL across "
            "machines) and run trials one at a time until the budget is spent. Start any "
            "number of workers, on any number of machines. With --spec the study is created "
            "if it does not exist yet, and the spec's space must match the stored one."
        ),
    )
    p.add_argument("--study", metavar="NAME", help="the study (default: the spec's)")
    p.add_argument("--storage", metavar="URL", help=storage_help + "; the spec's with --spec")
    p.add_argument("--spec", metavar="SPEC", help="spec file: objective/command, space, sampler")
    p.add_argument(
        "--objective", metavar="MODULE:FUNCTION", help="the objective (instead of the spec's)"
    )
    p.add_argument("--n-trials", type=_nonneg_int, metavar="N", help="trials this worker runs")
    p.add_argument("--timeout", type=_duration, metavar="S", help="start no trial after S seconds")
    p.add_argument(
        "--total-trials", type=_pos_int, metavar="N", help="stop once the study holds N trials"
    )
    p.add_argument("--fail-fast", action="store_true", help="stop at the first failed trial")
    p.add_argument("--no-progress", action="store_true", help="no live progress line")
    p.set_defaults(func=_cmd_worker)

    # studies
    p = sub.add_parser("studies", help="list the studies in a storage")
    p.add_argument("--storage", metavar="URL", help=storage_help)
    p.set_defaults(func=_cmd_studies)

    # show
    p = sub.add_parser(
        "show",
        help="show a study: its best trial(s) and a table of trials",
        description="Show a study's settings, its best trial(s), and a table of its trials.",
    )
    p.add_argument("name", metavar="NAME", help="the study")
    p.add_argument("--storage", metavar="URL", help=storage_help)
    p.add_argument(
        "--limit", type=_nonneg_int, default=50, metavar="N", help="rows to show (0: all; 50)"
    )
    p.add_argument(
        "--state",
        type=_states,
        metavar="STATE",
        help="only trials in this state: complete, failed, pruned, running, waiting "
        "(comma-separated for several)",
    )
    p.add_argument(
        "--sort",
        choices=["number", "value", "duration"],
        default="number",
        help="row order: number (default), value (best first), duration (longest first)",
    )
    p.add_argument("--trial", type=_nonneg_int, metavar="N", help="show trial N in full")
    p.set_defaults(func=_cmd_show)

    # export
    p = sub.add_parser(
        "export",
        help="write a study's trials as CSV or JSON",
        description="Write a study's trials as CSV (one row per trial) or JSON.",
    )
    p.add_argument("name", metavar="NAME", help="the study")
    p.add_argument("--storage", metavar="URL", help=storage_help)
    p.add_argument("--format", choices=["csv", "json"], default="csv", help="csv (default) or json")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE (default: stdout)")
    p.add_argument("--state", type=_states, metavar="STATE", help="only trials in this state")
    p.set_defaults(func=_cmd_export)

    # delete
    p = sub.add_parser(
        "delete",
        help="delete a study and all of its trials",
        description="Delete a study and its trials. Asks first unless --yes is given.",
    )
    p.add_argument("name", metavar="NAME", help="the study")
    p.add_argument("--storage", metavar="URL", help=storage_help)
    p.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=_cmd_delete)

    # storage upgrade
    p = sub.add_parser("storage", help="storage maintenance (upgrade)")
    ssub = p.add_subparsers(dest="storage_command", metavar="ACTION")
    u = ssub.add_parser(
        "upgrade",
        help="migrate a storage to this tunesmith's schema version",
        description=(
            "Migrate a storage to this tunesmith's schema version, in place. Stop every "
            "worker and back the database up first."
        ),
    )
    u.add_argument("url", metavar="URL", nargs="?", help=storage_help)
    u.set_defaults(func=_cmd_storage_upgrade)
    p.set_defaults(func=lambda _args: _usage(p))
    return parser


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_USAGE


# -- main ------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        return _usage(parser)
    log_handler = _LogHandler(logging.WARNING)
    logger = logging.getLogger("tunesmith")
    logger.addHandler(log_handler)
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            return func(args)
        except CLIError as exc:
            _error(str(exc))
            return exc.code
        except (TunesmithError, StudyNotFoundError) as exc:
            _error(str(exc))
            return EXIT_USAGE
        except KeyboardInterrupt:
            _error("interrupted")
            return EXIT_INTERRUPTED
        except BrokenPipeError:  # e.g. `tunesmith export ... | head`
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
            except (OSError, ValueError, io.UnsupportedOperation):
                pass
            return EXIT_FAILED
        finally:
            logger.removeHandler(log_handler)


class _LogHandler(logging.Handler):
    """Prints tunesmith's warnings (e.g. a failed trial) as one line each on stderr.

    A multi-line message (a command's stderr tail) is shortened to its first and last
    lines; ``tunesmith show NAME --trial N`` shows the whole error.
    """

    def emit(self, record: logging.LogRecord) -> None:
        try:
            lines = [ln for ln in record.getMessage().splitlines() if ln.strip()]
        except Exception:
            return
        if not lines:
            return
        text = lines[0] if len(lines) == 1 else f"{lines[0]} ... {lines[-1].strip()}"
        print(f"{record.levelname.lower()}: {text}", file=sys.stderr)


def _error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    print(f"warning: {message}", file=file or sys.stderr)


# -- storage helpers ---------------------------------------------------------------------
def _storage_arg(value: str | None) -> str:
    return value or os.environ.get(STORAGE_ENV) or DEFAULT_STORAGE


def _sqlite_path(storage: str) -> Path | None:
    """The file of a SQLite storage (None for other databases or in-memory SQLite)."""
    s = storage.strip()
    if s == ":memory:":
        return None
    if "://" not in s:
        return Path(s).expanduser()
    if s.split("://", 1)[0].split("+", 1)[0].lower() != "sqlite":
        return None
    db = s.split("://", 1)[1]
    db = db[1:] if db.startswith("/") else db
    db = db.split("?", 1)[0]
    if db in ("", ":memory:"):
        return None
    return Path(db)


def _open_existing(storage: str) -> Any:
    """Open a storage for reading without creating a new SQLite file by mistake."""
    from tunesmith.storage import get_storage

    path = _sqlite_path(storage)
    if path is not None and not path.exists():
        raise CLIError(
            f"no storage at {str(path)!r}: the file does not exist. Check --storage (or "
            f"${STORAGE_ENV}); for a study run from a spec, the default storage is "
            "tunesmith.db next to the spec file"
        )
    return get_storage(storage)


def _display_storage(storage: str) -> str:
    """A storage as a user should type it: a short path, or the URL without its password."""
    s = storage.strip()
    if "://" in s:
        return re.sub(r"(://[^/:@]*:)[^@/]*@", r"\1***@", s)
    if s == ":memory:":
        return s
    p = Path(s).expanduser().absolute()
    try:
        rel = os.path.relpath(p)
    except ValueError:
        return str(p)
    return str(p) if rel.startswith("..") else rel


# -- formatting --------------------------------------------------------------------------------
def _fmt_num(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        return f"{v:.6g}" if math.isfinite(v) else str(v)
    return str(v)


def _fmt_values(values: Sequence[float] | None) -> str:
    if values is None:
        return "-"
    if len(values) == 1:
        return _fmt_num(values[0])
    return "(" + ", ".join(_fmt_num(v) for v in values) + ")"


def _fmt_time(ts: float | None) -> str:
    if ts is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def _fmt_duration(sec: float | None) -> str:
    if sec is None:
        return "-"
    if sec < 60:
        return f"{sec:.2f}s"
    m, s = divmod(int(round(sec)), 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m{s:02d}s"


def _fmt_params(params: Any) -> str:
    return ", ".join(f"{k}={_fmt_num(v)}" for k, v in params.items())


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=UTC).isoformat()


def _short_error(error: str | None, width: int = 60) -> str:
    if not error:
        return ""
    first = error.strip().splitlines()[0] if error.strip() else ""
    return first if len(first) <= width else first[: width - 3] + "..."


def _error_message(error: str | None) -> str:
    """A stored error without its Python traceback."""
    if not error:
        return ""
    return error.split("\nTraceback (most recent call last):", 1)[0].strip()


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> str:
    widths = [len(h) for h in headers]
    for r in rows:
        for i, cell in enumerate(r):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        out = [
            c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(cells)
        ]
        return "  ".join(out).rstrip()

    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), sep, *(line(r) for r in rows)])


def _describe_dist(d: Any) -> str:
    from tunesmith.space import Categorical, Float, Int

    if isinstance(d, Categorical):
        return "categorical [" + ", ".join(_fmt_num(c) for c in d.choices) + "]"
    if isinstance(d, Float | Int):
        kind = "float" if isinstance(d, Float) else "int"
        text = f"{kind} [{_fmt_num(d.low)}, {_fmt_num(d.high)}]"
        if d.log:
            text += " log"
        if d.step is not None and not (isinstance(d, Int) and d.step == 1):
            text += f" step {_fmt_num(d.step)}"
        return text
    return repr(d)


# -- studies and budgets --------------------------------------------------------------------
def _counted_states() -> list[TrialState]:
    return [TrialState.RUNNING, TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAILED]


class _RunStats:
    """Callback that counts how this invocation's trials ended (and enforces total_trials)."""

    def __init__(self, total_trials: int | None) -> None:
        self.total_trials = total_trials
        self.by_state: dict[TrialState, int] = {}
        self.last_failed: FrozenTrial | None = None

    @property
    def n(self) -> int:
        return sum(self.by_state.values())

    def __call__(self, study: Any, ft: FrozenTrial) -> None:
        self.by_state[ft.state] = self.by_state.get(ft.state, 0) + 1
        if ft.state == TrialState.FAILED:
            self.last_failed = ft
        if self.total_trials is not None:
            done = study.storage.count_trials(study.study_id, _counted_states())
            if done >= self.total_trials:
                study.stop()

    def summary(self) -> str:
        parts = [
            f"{self.by_state.get(s, 0)} {s.name.lower()}"
            for s in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAILED)
        ]
        return ", ".join(parts)


def _is_grid(sampler: Any) -> bool:
    from tunesmith.samplers import GridSampler, make_sampler

    try:
        obj = make_sampler(sampler)
    except TunesmithError:
        return False
    return isinstance(obj, GridSampler)


def _check_budget(
    n_trials: int | None, timeout: float | None, total: int | None, grid: bool, hint: str
) -> None:
    if n_trials is None and timeout is None and total is None and not grid:
        raise CLIError(
            f"no budget: without one the study would run until Ctrl-C. {hint}", EXIT_USAGE
        )


def _check_same_space(study: Any, spec: Any) -> None:
    from tunesmith.space import Space

    if spec.space is None:
        return
    wanted = Space.from_dict(spec.space)
    if study.space != wanted:
        stored = "no declared space" if study.space is None else f"space {study.space.to_dict()}"
        raise CLIError(
            f"study {study.name!r} exists in {_display_storage(spec.storage)} with {stored}, "
            f"which differs from the spec's space {wanted.to_dict()}. Use another study name "
            "(study: in the spec, or --study), or delete the old study with "
            f"'tunesmith delete {study.name} --storage {_display_storage(spec.storage)}'"
        )


def _open_spec_study(spec: Any, load_if_exists: bool) -> tuple[Any, bool]:
    """Create or load the spec's study. Returns (study, created)."""
    import tunesmith as ts
    from tunesmith.storage import get_storage

    storage = get_storage(spec.storage)
    try:
        storage.get_study(spec.study)
        existed = True
    except StudyNotFoundError:
        existed = False
    try:
        study = ts.create_study(
            spec.study,
            directions=list(spec.directions),
            storage=storage,
            sampler=spec.sampler,
            pruner=spec.pruner,
            seed=spec.seed,
            space=spec.space,
            load_if_exists=load_if_exists,
            max_retries=spec.max_retries,
            heartbeat_interval=spec.heartbeat_interval,
        )
    except DuplicatedStudyError:
        raise CLIError(
            f"a study named {spec.study!r} already exists in {_display_storage(spec.storage)} "
            "and the spec says load_if_exists: false; remove that line to continue the "
            "study, or choose another name with --study"
        ) from None
    except TunesmithError:
        raise
    except ValueError as exc:  # e.g. the stored directions differ
        raise CLIError(str(exc)) from None
    if existed:
        _check_same_space(study, spec)
    return study, not existed


def _print_best(study: Any, out: TextIO) -> None:
    if study.is_multi_objective:
        front = study.best_trials
        if not front:
            print("No trial has completed yet.", file=out)
            return
        print(f"Pareto front: {len(front)} trial(s)", file=out)
        for t in front[:10]:
            print(
                f"  #{t.number}  values {_fmt_values(t.values)}  {_fmt_params(t.params)}", file=out
            )
        if len(front) > 10:
            print(f"  ... and {len(front) - 10} more", file=out)
        return
    try:
        best = study.best_trial
    except ValueError:
        print("No trial has completed yet.", file=out)
        return
    print(f"Best trial #{best.number}: value {_fmt_values(best.values)}", file=out)
    width = max((len(k) for k in best.params), default=0)
    for k, v in best.params.items():
        print(f"  {k.ljust(width)} = {_fmt_num(v)}", file=out)


def _run_study(
    study: Any,
    objective: Callable[..., Any],
    *,
    n_trials: int | None,
    timeout: float | None,
    total_trials: int | None,
    workers: int,
    fail_fast: bool,
    show_progress: bool | None,
) -> _RunStats:
    stats = _RunStats(total_trials)
    if total_trials is not None:
        remaining = total_trials - study.storage.count_trials(study.study_id, _counted_states())
        if remaining <= 0:
            print(
                f"The study already holds {total_trials} or more trials (total_trials); "
                "nothing to run.",
                file=sys.stdout,
            )
            return stats
        n_trials = remaining if n_trials is None else min(n_trials, remaining)
    try:
        study.optimize(
            objective,
            n_trials=n_trials,
            timeout=timeout,
            n_workers=workers,
            catch=() if fail_fast else (Exception,),
            callbacks=[stats],
            show_progress=show_progress,
        )
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        if fail_fast and stats.last_failed is not None:
            raise CLIError(
                f"trial #{stats.last_failed.number} failed and fail_fast is set: "
                f"{_error_message(stats.last_failed.error) or exc}",
                EXIT_FAILED,
            ) from None
        raise
    return stats


def _report_failures(stats: _RunStats) -> int:
    if stats.n and stats.by_state.get(TrialState.FAILED, 0) == stats.n:
        assert stats.last_failed is not None
        text = (stats.last_failed.error or "").strip()
        if text.startswith("CommandFailed:"):  # its traceback is tunesmith's, not the user's
            text = _error_message(text)
        lines = text.splitlines()
        if len(lines) > 40:
            text = "\n".join(["...", *lines[-40:]])
        _error(
            f"all {stats.n} trial(s) of this run failed; the last one "
            f"(#{stats.last_failed.number}) with:\n{text}"
        )
        return EXIT_FAILED
    return EXIT_OK


# -- run --------------------------------------------------------------------------------------
def _cmd_run(args: argparse.Namespace) -> int:
    from tunesmith._spec import load_spec

    spec = load_spec(args.spec)
    overrides: dict[str, Any] = {}
    for key in ("n_trials", "timeout", "total_trials", "workers", "seed", "study"):
        value = getattr(args, key)
        if value is not None:
            overrides[key] = value
    if args.storage is not None:
        overrides["storage"] = args.storage
    if args.fail_fast:
        overrides["fail_fast"] = True
    spec = dataclasses.replace(spec, **overrides)
    _check_budget(
        spec.n_trials,
        spec.timeout,
        spec.total_trials,
        _is_grid(spec.sampler),
        "Add budget: {n_trials: 50} (or timeout: 30m, total_trials: 200) to the spec, or "
        "pass --n-trials N / --timeout 30m",
    )
    objective = spec.make_objective()
    resume = ["tunesmith", "run", args.spec]
    if args.storage is not None:
        resume += ["--storage", _display_storage(args.storage)]
    if args.study is not None:
        resume += ["--study", args.study]
    resume_cmd = shlex.join(resume)
    storage_shown = _display_storage(spec.storage)

    study, created = _open_spec_study(spec, spec.load_if_exists)
    before = study.storage.count_trials(study.study_id)
    what = (
        f"Created study {study.name!r}"
        if created
        else f"Resuming study {study.name!r} ({before} trial(s) so far)"
    )
    budget = []
    if spec.n_trials is not None:
        budget.append(f"{spec.n_trials} trials")
    if spec.timeout is not None:
        budget.append(f"at most {spec.timeout:g} s")
    if spec.total_trials is not None:
        budget.append(f"up to {spec.total_trials} in total")
    plan = " / ".join(budget) if budget else "until the grid is done"
    workers = f" with {spec.workers} workers" if spec.workers > 1 else ""
    print(f"{what} in {storage_shown}: running {plan}{workers}.", flush=True)

    t0 = time.monotonic()
    try:
        with _sigterm_as_interrupt():
            stats = _run_study(
                study,
                objective,
                n_trials=spec.n_trials,
                timeout=spec.timeout,
                total_trials=spec.total_trials,
                workers=spec.workers,
                fail_fast=spec.fail_fast,
                show_progress=False if args.no_progress else None,
            )
    except KeyboardInterrupt as exc:
        what, code = _interrupt_code(exc)
        _error(
            f"{what}: study {study.name!r} is saved in {storage_shown}{_safe_count(study)} "
            "(trials that were running are marked FAILED).\nResume with: " + resume_cmd
        )
        return code
    finally:
        study.close()
    elapsed = time.monotonic() - t0
    total = study.storage.count_trials(study.study_id)
    print(
        f"Ran {stats.n} trial(s) in {_fmt_duration(elapsed)} ({stats.summary()}); "
        f"the study has {total} trial(s)."
    )
    _print_best(study, sys.stdout)
    print(f"Resume:  {resume_cmd}")
    inspect = shlex.join(["tunesmith", "show", study.name, "--storage", storage_shown])
    print(f"Inspect: {inspect}")
    return _report_failures(stats)


def _safe_count(study: Any) -> str:
    try:
        return f" with {study.storage.count_trials(study.study_id)} trial(s)"
    except Exception:
        return ""


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise Terminated()

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _interrupt_code(exc: KeyboardInterrupt) -> tuple[str, int]:
    if isinstance(exc, Terminated):
        return "terminated (SIGTERM)", EXIT_TERMINATED
    return "interrupted", EXIT_INTERRUPTED


# -- worker -----------------------------------------------------------------------------------
def _cmd_worker(args: argparse.Namespace) -> int:
    import tunesmith as ts
    from tunesmith._spec import load_callable, load_spec

    spec = load_spec(args.spec) if args.spec else None
    name = args.study or (spec.study if spec is not None else None)
    if not name:
        raise CLIError("give the study to join: --study NAME (or --spec SPEC.yaml)")
    if args.storage:
        storage = args.storage
    elif spec is not None:
        storage = spec.storage
    else:
        storage = _storage_arg(None)
    if spec is not None:
        spec = dataclasses.replace(spec, study=name, storage=storage)

    if args.objective:
        paths = [Path.cwd()] if spec is None else [spec.base_dir, Path.cwd()]
        objective = load_callable(args.objective, paths, where="--objective")
    elif spec is not None:
        objective = spec.make_objective()
    else:
        raise CLIError(
            "the worker needs an objective: --objective module:function, or --spec SPEC.yaml "
            "(its objective or command)"
        )

    n_trials = args.n_trials if args.n_trials is not None else getattr(spec, "n_trials", None)
    timeout = args.timeout if args.timeout is not None else getattr(spec, "timeout", None)
    total = args.total_trials if args.total_trials is not None else None
    if total is None and spec is not None:
        total = spec.total_trials
    fail_fast = args.fail_fast or bool(spec is not None and spec.fail_fast)

    if spec is not None:
        if not _is_grid(spec.sampler):
            _check_budget(n_trials, timeout, total, False, _WORKER_BUDGET_HINT)
        study, created = _open_spec_study(spec, load_if_exists=True)
    else:
        _open_existing(storage)
        study = ts.load_study(name, storage)
        created = False
        from tunesmith.samplers import GridSampler

        _check_budget(
            n_trials, timeout, total, isinstance(study.sampler, GridSampler), _WORKER_BUDGET_HINT
        )
    storage_shown = _display_storage(storage)
    before = study.storage.count_trials(study.study_id)
    state = "created" if created else f"{before} trials so far"
    print(
        f"Worker {socket.gethostname()}:{os.getpid()} joined study {study.name!r} in {storage_shown} ({state}).",
        flush=True,
    )
    try:
        with _sigterm_as_interrupt():
            stats = _run_study(
                study,
                objective,
                n_trials=n_trials,
                timeout=timeout,
                total_trials=total,
                workers=1,
                fail_fast=fail_fast,
                show_progress=False if args.no_progress else None,
            )
    except KeyboardInterrupt as exc:
        what, code = _interrupt_code(exc)
        _error(
            f"{what}: the worker stopped; study {study.name!r} is saved in "
            f"{storage_shown}{_safe_count(study)}. Start a worker again to continue."
        )
        return code
    finally:
        study.close()
    total_now = study.storage.count_trials(study.study_id)
    print(f"Worker ran {stats.n} trial(s) ({stats.summary()}); the study has {total_now} trial(s).")
    _print_best(study, sys.stdout)
    return _report_failures(stats)


_WORKER_BUDGET_HINT = (
    "Give --n-trials N, --timeout 30m or --total-trials N (or a budget in the spec)"
)


# -- studies / show / export / delete ---------------------------------------------------------
def _cmd_studies(args: argparse.Namespace) -> int:
    storage_arg = _storage_arg(args.storage)
    storage = _open_existing(storage_arg)
    summaries = storage.list_studies()
    if not summaries:
        print(f"No studies in {_display_storage(storage_arg)}.")
        return EXIT_OK
    rows = [
        [
            s.name,
            ",".join(s.directions),
            str(s.n_trials),
            str(s.n_complete),
            _fmt_values(s.best_values),
            _fmt_time(s.created),
        ]
        for s in summaries
    ]
    headers = ["name", "directions", "trials", "complete", "best", "created"]
    print(_table(headers, rows, right={2, 3, 4}))
    return EXIT_OK


def _sort_trials(trials: list[FrozenTrial], how: str, directions: Sequence[str]) -> list[Any]:
    if how == "value":
        sign = -1.0 if directions[0] == "maximize" else 1.0

        def key(t: FrozenTrial) -> tuple[int, float, int]:
            if t.state == TrialState.COMPLETE and t.values:
                return (0, sign * t.values[0], t.number)
            return (1, 0.0, t.number)

        return sorted(trials, key=key)
    if how == "duration":
        return sorted(
            trials,
            key=lambda t: (t.duration is None, -(t.duration or 0.0), t.number),
        )
    return sorted(trials, key=lambda t: t.number)


def _cmd_show(args: argparse.Namespace) -> int:
    import tunesmith as ts

    storage_arg = _storage_arg(args.storage)
    storage = _open_existing(storage_arg)
    study = ts.load_study(args.name, storage)
    trials = study.trials
    if args.trial is not None:
        return _show_trial(study, trials, args.trial)
    record = storage.get_study(args.name)
    attrs = study.system_attrs
    out = sys.stdout
    print(f"Study:       {study.name}", file=out)
    print(f"Storage:     {_display_storage(storage_arg)}", file=out)
    print(f"Directions:  {', '.join(study.directions)}", file=out)
    print(f"Created:     {_fmt_time(record.created)}", file=out)
    sampler = attrs.get("sampler")
    if isinstance(sampler, dict):
        extra = {k: v for k, v in sampler.items() if k != "name"}
        text = str(sampler.get("name", "?"))
        if extra:
            args_text = json.dumps(extra)
            text += " " + (args_text if len(args_text) <= 70 else args_text[:67] + "...")
        print(f"Sampler:     {text}", file=out)
    for entry in attrs.get("auto_sampler_log") or []:
        print(
            f"  from trial {entry.get('trial')}: {entry.get('sampler')} ({entry.get('reason')})",
            file=out,
        )
    if study.pruner is not None:
        print(f"Pruner:      {study.pruner!r}", file=out)
    if "seed" in attrs:
        print(f"Seed:        {attrs['seed']}", file=out)
    if study.space is not None:
        print("Space:", file=out)
        width = max(len(n) for n in study.space)
        for n in study.space:
            cond = study.space.conditions.get(n)
            when = ""
            if cond:
                when = "  if " + " and ".join(
                    f"{p} in [{', '.join(_fmt_num(a) for a in allowed)}]"
                    for p, allowed in cond.items()
                )
            print(f"  {n.ljust(width)}  {_describe_dist(study.space[n])}{when}", file=out)
    counts = {s: 0 for s in TrialState}
    for t in trials:
        counts[t.state] += 1
    detail = ", ".join(f"{counts[s]} {s.name.lower()}" for s in TrialState if counts[s])
    print(f"Trials:      {len(trials)}" + (f" ({detail})" if detail else ""), file=out)
    _print_best(study, out)

    shown = trials
    if args.state:
        wanted = set(args.state)
        shown = [t for t in shown if t.state in wanted]
    shown = _sort_trials(shown, args.sort, study.directions)
    n_match = len(shown)
    if args.limit:
        shown = shown[: args.limit]
    print(file=out)
    if not shown:
        print("No trials to show." if not trials else "No trials match.", file=out)
        return EXIT_OK
    param_names: list[str] = list(study.space) if study.space is not None else []
    for t in shown:
        for k in t.params:
            if k not in param_names:
                param_names.append(k)
    multi = len(study.directions) > 1
    value_headers = [f"value{j}" for j in range(len(study.directions))] if multi else ["value"]
    with_errors = any(t.error for t in shown)
    headers = ["#", "state", *value_headers, *param_names, "duration"]
    if with_errors:
        headers.append("error")
    rows = []
    for t in shown:
        vals = (
            [_fmt_num(v) for v in t.values] if t.values is not None else ["-"] * len(value_headers)
        )
        row = [str(t.number), t.state.name.lower(), *vals]
        row += [_fmt_num(t.params[k]) if k in t.params else "" for k in param_names]
        row.append(_fmt_duration(t.duration))
        if with_errors:
            row.append(_short_error(_error_message(t.error)))
        rows.append(row)
    nv = len(value_headers)
    right = {0, *range(2, 2 + nv), 2 + nv + len(param_names)}
    for i, k in enumerate(param_names):
        if all(isinstance(t.params.get(k, 0), int | float) for t in shown):
            right.add(2 + nv + i)
    print(_table(headers, rows, right), file=out)
    if n_match > len(shown):
        hint = "" if args.sort == "value" else ", --sort value shows the best first"
        print(f"({len(shown)} of {n_match} trials shown; --limit 0 shows all{hint})", file=out)
    return EXIT_OK


def _show_trial(study: Any, trials: list[FrozenTrial], number: int) -> int:
    found = [t for t in trials if t.number == number]
    if not found:
        raise CLIError(
            f"study {study.name!r} has no trial #{number} (it has {len(trials)} trials, "
            f"numbered 0 to {len(trials) - 1})"
            if trials
            else f"study {study.name!r} has no trials yet"
        )
    t = found[0]
    out = sys.stdout
    print(f"Trial #{t.number} of study {study.name!r}", file=out)
    print(f"State:       {t.state.name.lower()}", file=out)
    print(f"Value(s):    {_fmt_values(t.values)}", file=out)
    print("Params:", file=out)
    for k, v in t.params.items():
        print(f"  {k} = {v!r}", file=out)
    if t.user_attrs:
        print("User attrs:", file=out)
        for k, v in t.user_attrs.items():
            print(f"  {k} = {json.dumps(v)}", file=out)
    print(f"Started:     {_fmt_time(t.datetime_start)}", file=out)
    print(f"Completed:   {_fmt_time(t.datetime_complete)}", file=out)
    print(f"Duration:    {_fmt_duration(t.duration)}", file=out)
    if t.worker:
        print(f"Worker:      {t.worker}", file=out)
    if t.retries:
        print(f"Retries:     {t.retries}", file=out)
    if t.intermediate:
        print(f"Intermediate values ({len(t.intermediate)} steps):", file=out)
        for step in sorted(t.intermediate):
            print(f"  step {step}: {_fmt_values(t.intermediate[step])}", file=out)
    if t.error:
        print("Error:", file=out)
        for line in t.error.rstrip().splitlines():
            print(f"  {line}", file=out)
    return EXIT_OK


def _json_safe(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, list | tuple):
        return [_json_safe(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _json_safe(x) for k, x in v.items()}
    return v


def _csv_cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, dict | list | tuple):
        return json.dumps(v)
    return v


def _export_csv(study: Any, trials: list[FrozenTrial], out: TextIO) -> None:
    multi = len(study.directions) > 1
    value_cols = [f"values_{j}" for j in range(len(study.directions))] if multi else ["value"]
    params: list[str] = list(study.space) if study.space is not None else []
    attrs: list[str] = []
    for t in trials:
        params += [k for k in t.params if k not in params]
        attrs += [k for k in t.user_attrs if k not in attrs]
    headers = [
        "number",
        "state",
        *value_cols,
        *(f"params_{k}" for k in params),
        *(f"user_attrs_{k}" for k in attrs),
        "datetime_start",
        "datetime_complete",
        "duration",
        "cpu_time",
        "worker",
        "retries",
        "error",
    ]
    w = csv.writer(out, lineterminator="\n")
    w.writerow(headers)
    for t in trials:
        vals = list(t.values) if t.values is not None else [None] * len(value_cols)
        row = [t.number, t.state.name, *vals]
        row += [t.params.get(k) for k in params]
        row += [t.user_attrs.get(k) for k in attrs]
        row += [
            _iso(t.datetime_start),
            _iso(t.datetime_complete),
            t.duration,
            t.cpu_time,
            t.worker,
            t.retries,
            t.error,
        ]
        w.writerow([_csv_cell(v) for v in row])


def _export_json(study: Any, trials: list[FrozenTrial], out: TextIO) -> None:
    doc = {
        "study": study.name,
        "directions": list(study.directions),
        "space": study.space.to_dict() if study.space is not None else None,
        "trials": [
            {
                "number": t.number,
                "state": t.state.name,
                "values": list(t.values) if t.values is not None else None,
                "params": dict(t.params),
                "user_attrs": dict(t.user_attrs),
                "intermediate": {str(k): list(v) for k, v in sorted(t.intermediate.items())},
                "datetime_start": _iso(t.datetime_start),
                "datetime_complete": _iso(t.datetime_complete),
                "duration": t.duration,
                "cpu_time": t.cpu_time,
                "worker": t.worker,
                "retries": t.retries,
                "error": t.error,
            }
            for t in trials
        ],
    }
    json.dump(_json_safe(doc), out, indent=2, allow_nan=False)
    out.write("\n")


def _cmd_export(args: argparse.Namespace) -> int:
    import tunesmith as ts

    storage = _open_existing(_storage_arg(args.storage))
    study = ts.load_study(args.name, storage)
    trials = study.trials
    if args.state:
        wanted = set(args.state)
        trials = [t for t in trials if t.state in wanted]
    write = _export_csv if args.format == "csv" else _export_json
    if args.output and args.output != "-":
        try:
            with open(args.output, "w", encoding="utf-8", newline="") as fh:
                write(study, trials, fh)
        except OSError as exc:
            raise CLIError(f"cannot write {args.output!r}: {exc.strerror or exc}") from None
        print(f"Wrote {len(trials)} trial(s) of {study.name!r} to {args.output}.", file=sys.stderr)
    else:
        write(study, trials, sys.stdout)
        sys.stdout.flush()
    return EXIT_OK


def _cmd_delete(args: argparse.Namespace) -> int:
    storage_arg = _storage_arg(args.storage)
    storage = _open_existing(storage_arg)
    record = storage.get_study(args.name)
    n = storage.count_trials(record.study_id)
    shown = _display_storage(storage_arg)
    if not args.yes:
        if not _stdin_is_tty():
            raise CLIError(
                f"refusing to delete study {args.name!r} ({n} trials) without confirmation: "
                "stdin is not a terminal. Pass --yes to delete it"
            )
        try:
            answer = input(f"Delete study {args.name!r} and its {n} trial(s) from {shown}? [y/N] ")
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            print("Not deleted.")
            return EXIT_FAILED
    from tunesmith.study import delete_study

    delete_study(args.name, storage)
    print(f"Deleted study {args.name!r} ({n} trials) from {shown}.")
    return EXIT_OK


def _stdin_is_tty() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def _cmd_storage_upgrade(args: argparse.Namespace) -> int:
    import sqlalchemy as sa

    from tunesmith.storage import forget_cached, normalize_url
    from tunesmith.storage.sql import SQLStorage

    storage_arg = _storage_arg(args.url)
    shown = _display_storage(storage_arg)
    if storage_arg.strip() == ":memory:":
        raise CLIError("an in-memory storage has nothing to upgrade")
    path = _sqlite_path(storage_arg)
    if path is not None and not path.exists():
        raise CLIError(f"no storage at {str(path)!r}: the file does not exist")
    url = normalize_url(storage_arg)
    forget_cached(url)
    try:
        before, after = SQLStorage.upgrade(url)
    except sa.exc.SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()
        raise CLIError(
            f"cannot upgrade {shown}: {reason[0] if reason else type(exc).__name__}. Is it "
            "a tunesmith storage, and is the database reachable?"
        ) from None
    except ImportError as exc:
        raise CLIError(f"cannot upgrade {shown}: {exc}") from None
    finally:
        forget_cached(url)
    if before == after:
        print(f"{shown} is already at schema version {after}; nothing to do.")
    else:
        print(f"Upgraded {shown} from schema version {before} to {after}.")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
