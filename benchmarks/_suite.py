"""Helpers shared by the cell-based benchmark suites (``samplers``, ``multifidelity``).

Both suites run every (problem, method, seed) cell into its own JSON file under
``<out>/cells/``, resumably, keep one line per invocation in ``<out>/run_log.jsonl`` and
aggregate the cells into ``<out>/report.md`` and ``<out>/report.json``. What they do the
same way lives here: the problem registries, the run's description, planning which
cells still need running, and reading cells and the run log back for the report.

Not a benchmark itself; imported as ``benchmarks._suite`` (the suites run as modules,
``python -m benchmarks.<suite>.run``, from the repository root).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import os
import platform
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from benchmarks._common import REPO, fmt_load, module_command_line

T = TypeVar("T")
B = TypeVar("B", int, float)  # a budget: evaluations (int) or simulated full trainings (float)

RUN_LOG = "run_log.jsonl"


# ----------------------------------------------------------------------------------------
# registries of problems and methods
# ----------------------------------------------------------------------------------------


def lookup(registry: Mapping[str, Callable[[], T]], name: str, kind: str = "problem") -> T:
    """Build the ``kind`` registered under ``name`` by calling its factory.

    Raises:
        KeyError: for a name the registry does not hold, listing the known ones.
    """
    try:
        factory = registry[name]
    except KeyError:
        raise KeyError(f"unknown {kind} {name!r}; known: {sorted(registry)}") from None
    return factory()


def expand_names(
    names: Sequence[str],
    sets: Mapping[str, Sequence[str]],
    known: Mapping[str, Any],
    kind: str,
    *,
    mention_sets: bool = False,
) -> list[str]:
    """Replace set names by their members, keeping the first occurrence of each name.

    Args:
        names: names and set names, as given on the command line.
        sets: set name -> member names.
        known: the registry the expanded names must be in.
        kind: what the names are (``problem``, ``method``), for the error message.
        mention_sets: also list the set names in the error message.

    Raises:
        KeyError: for a name that is neither a set nor registered.
    """
    out: list[str] = []
    for name in names:
        for member in sets.get(name, [name]):
            if member not in known:
                hint = f" or {sorted(sets)}" if mention_sets else ""
                raise KeyError(f"unknown {kind} {member!r}; known: {sorted(known)}{hint}")
            if member not in out:
                out.append(member)
    return out


def drop_unavailable(
    names: Sequence[str], availability: Callable[[str], str | None]
) -> tuple[list[str], dict[str, str]]:
    """Split ``names`` into those that can run here and ``{name: why not}`` for the rest.

    Each name left out is announced on stderr as ``skipping <name>: <why>``.
    """
    skipped: dict[str, str] = {}
    for name in names:
        why = availability(name)
        if why:
            skipped[name] = why
            print(f"skipping {name}: {why}", file=sys.stderr)
    return [n for n in names if n not in skipped], skipped


# ----------------------------------------------------------------------------------------
# running cells
# ----------------------------------------------------------------------------------------


def src_state(*, with_untracked: bool = False) -> str:
    """The tunesmith commit, plus a short hash of uncommitted changes under ``src/`` if any.

    The hash covers ``git diff HEAD -- src`` and, with ``with_untracked``, also the names
    of untracked files under ``src/`` (it is then labelled ``sha1`` instead of
    ``diff sha1``). ``unknown`` when git cannot be run.
    """

    def git(*cmd: str) -> str:
        return subprocess.run(["git", *cmd], cwd=REPO, capture_output=True, text=True).stdout

    try:
        head = git("rev-parse", "--short", "HEAD").strip()
        changes = git("diff", "HEAD", "--", "src")
        if with_untracked:
            changes += git("ls-files", "--others", "--exclude-standard", "src")
    except OSError:
        return "unknown"
    if not changes:
        return head
    digest = hashlib.sha1(changes.encode()).hexdigest()[:10]
    label = "sha1" if with_untracked else "diff sha1"
    return f"{head} + uncommitted src/ changes ({label} {digest})"


def run_description(
    module: str, versions: Callable[[], dict[str, str]], *, untracked_src: bool = False
) -> dict[str, Any]:
    """The first entries of a run-log line: command, start time, interpreter, machine,
    package versions and the state of the tunesmith source.

    Args:
        module: the runner's module (``benchmarks.samplers.run``), for the command line.
        versions: returns the package versions to record (called after the start time
            is taken).
        untracked_src: let untracked files under ``src/`` count as changes
            (see :func:`src_state`).
    """
    return {
        "command": module_command_line(module),
        "started_utc": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "loadavg_at_start": os.getloadavg(),
        "versions": versions(),
        "tunesmith_src": src_state(with_untracked=untracked_src),
    }


def append_run_log(out: Path, meta: Mapping[str, Any]) -> None:
    """Add one invocation's description as a line of ``<out>/run_log.jsonl``."""
    with (out / RUN_LOG).open("a") as fh:
        fh.write(json.dumps(meta) + "\n")


def run_parser(
    prog: str,
    description: str | None,
    *,
    problems_default: Sequence[str],
    problem_sets: Mapping[str, Any],
    kind: str,
    kind_default: Sequence[str],
    kind_sets: Mapping[str, Any],
    seeds_default: int,
) -> argparse.ArgumentParser:
    """A runner's parser holding its first options: ``--problems``, ``--<kind>s`` (the
    methods compared, e.g. ``--samplers``) and ``--seeds``.

    Args:
        prog: the program name shown in the usage line.
        description: the help text (the runner's docstring, shown as written).
        problems_default: ``--problems`` when not given.
        problem_sets: the problem sets, named in the help.
        kind: what the runs compare, singular (``sampler``, ``method``).
        kind_default: ``--<kind>s`` when not given.
        kind_sets: the sets of those, named in the help.
        seeds_default: ``--seeds`` when not given.
    """
    ap = argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--problems",
        nargs="+",
        default=list(problems_default),
        help=f"problem names or sets {sorted(problem_sets)}",
    )
    ap.add_argument(
        f"--{kind}s",
        nargs="+",
        default=list(kind_default),
        help=f"{kind} names or sets {sorted(kind_sets)}",
    )
    ap.add_argument("--seeds", type=int, default=seeds_default, help="seeds 0..N-1 per cell")
    return ap


def add_output_options(ap: argparse.ArgumentParser, *, jobs_help: str, quick_help: str) -> None:
    """Add the options every runner ends with: ``--jobs``, ``--out``, ``--quick``,
    ``--rerun-errors`` and ``--no-report``."""
    ap.add_argument("--jobs", type=int, default=2, help=jobs_help)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--quick", action="store_true", help=quick_help)
    ap.add_argument("--rerun-errors", action="store_true")
    ap.add_argument("--no-report", action="store_true")


def output_dir(
    args: argparse.Namespace,
    parser: argparse.ArgumentParser,
    default_out: Path,
    *,
    quick_problems: Sequence[str],
    quick_budget: float,
) -> Path:
    """The folder a run writes to (created), after ``--quick`` has cut the run down.

    With ``--quick``: ``<out>/quick``, the problems ``quick_problems`` unless some were
    named, at most 2 seeds and a budget of at most ``quick_budget`` (``args`` is changed
    in place).
    """
    out: Path = args.out or default_out
    if args.quick:
        out = out / "quick"
        if args.problems == parser.get_default("problems"):
            args.problems = list(quick_problems)
        args.seeds = min(args.seeds, 2)
        args.budget = min(args.budget, quick_budget)
    out.mkdir(parents=True, exist_ok=True)
    return out


def cell_path(out: Path, problem: str, method: str, seed: int) -> Path:
    """Where the record of one (problem, method, seed) cell is kept."""
    return out / "cells" / problem / method / f"seed{seed}.json"


def write_json_atomic(path: Path, data: Any, *, indent: int | None = None) -> None:
    """Write ``data`` as JSON to ``path`` through a temporary file (parents created).

    ``indent=None`` writes it compact, without spaces after separators.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    separators = (",", ":") if indent is None else None
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=indent, separators=separators, default=str) + "\n")
    tmp.replace(path)


def plan_cells(
    out: Path,
    seeds: int,
    problems: Sequence[str],
    methods: Sequence[str],
    *,
    method_key: str,
    settings: Mapping[str, Any],
    same_keys: Sequence[str],
    is_failed: Callable[[Mapping[str, Any]], bool],
    rerun_errors: bool,
    wanted: Callable[[int, str, str], bool] | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """The cells still to run, seed by seed, and how many are already done.

    A cell whose file exists is done when its record has the same values as
    ``settings`` under ``same_keys``, unless it failed (``is_failed``) and
    ``rerun_errors`` is set.

    Args:
        out: the run's folder.
        seeds: seeds ``0 .. seeds - 1``.
        problems: problem names.
        methods: method (sampler) names.
        method_key: the key that names the method in a task (``sampler``, ``method``).
        settings: run settings copied into every task (``budget``...).
        same_keys: the settings a finished cell must share to be kept.
        is_failed: whether an earlier record counts as failed.
        rerun_errors: run failed cells again.
        wanted: ``(seed, problem, method) -> bool``; cells it refuses are neither run
            nor counted.

    Returns:
        The tasks (``problem``, ``method_key``, ``seed``, the settings and ``path``) and
        the number of cells skipped as done.
    """
    tasks: list[dict[str, Any]] = []
    n_done = 0
    for seed in range(seeds):
        for problem in problems:
            for method in methods:
                if wanted is not None and not wanted(seed, problem, method):
                    continue
                path = cell_path(out, problem, method, seed)
                if path.exists():
                    try:
                        old = json.loads(path.read_text())
                    except json.JSONDecodeError:
                        old = {}
                    same = all(old.get(k) == settings[k] for k in same_keys)
                    if same and not (is_failed(old) and rerun_errors):
                        n_done += 1
                        continue
                tasks.append(
                    {
                        "problem": problem,
                        method_key: method,
                        "seed": seed,
                        **settings,
                        "path": str(path),
                    }
                )
    return tasks, n_done


# ----------------------------------------------------------------------------------------
# reporting
# ----------------------------------------------------------------------------------------


def report_arguments(
    prog: str, default_out: Path, budget_type: type, argv: list[str] | None
) -> argparse.Namespace:
    """Parse a report's command line: ``--out``, ``--budget`` and ``--no-plots``."""
    ap = argparse.ArgumentParser(prog=prog)
    ap.add_argument("--out", type=Path, default=default_out)
    ap.add_argument("--budget", type=budget_type, default=None, help="only cells of this budget")
    ap.add_argument("--no-plots", action="store_true")
    return ap.parse_args(argv)


def load_cells(out: Path, budget: float | None) -> list[dict[str, Any]]:
    """The readable cell records under ``<out>/cells``, of ``budget`` only unless None."""
    recs = []
    for path in sorted((out / "cells").glob("*/*/seed*.json")):
        try:
            rec = json.loads(path.read_text())
        except json.JSONDecodeError:
            continue
        if budget is not None and rec.get("budget") != budget:
            continue
        recs.append(rec)
    return recs


def cells_of_one_budget(out: Path, budget: B | None) -> tuple[list[dict[str, Any]], B] | None:
    """The cells of ``budget`` (by default the largest budget present) and that budget.

    None, after saying so, when there are no cells.
    """
    recs = load_cells(out, budget)
    if not recs:
        print(f"no cells under {out / 'cells'}")
        return None
    if budget is None:
        budget = max(r["budget"] for r in recs)
    return [r for r in recs if r.get("budget") == budget], budget


def load_run_log(out: Path, budget: float) -> list[dict[str, Any]]:
    """The run-log lines of the invocations that ran with ``budget`` (empty without log)."""
    log = out / RUN_LOG
    if not log.exists():
        return []
    lines = [json.loads(x) for x in log.read_text().splitlines() if x.strip()]
    return [m for m in lines if m.get("budget") == budget]


def produced_by(runs_meta: Sequence[Mapping[str, Any]], report_command: str) -> list[str]:
    """Markdown lines naming the distinct commands of the run log, then the report's."""
    lines = ["Produced by:", "", "```"]
    seen: set[str] = set()
    for meta in runs_meta:
        if meta["command"] not in seen:
            seen.add(meta["command"])
            lines.append(meta["command"])
    return [*lines, report_command, "```", ""]


def invocation_summary(runs_meta: Sequence[Mapping[str, Any]], processes: str) -> list[str]:
    """Markdown bullets on the invocations of the run log: when they started, the last
    one's CPUs, ``jobs`` (called ``processes``) and Python, and its package versions.

    Empty when there is no run log.
    """
    if not runs_meta:
        return []
    last = runs_meta[-1]
    versions = ", ".join(f"{k} {v}" for k, v in last.get("versions", {}).items())
    return [
        f"- Started {runs_meta[0]['started_utc']} (last invocation {last['started_utc']}); "
        f"{last.get('cpu_count')} CPUs, {last.get('jobs')} {processes}, Python {last['python']}",
        f"- Packages: {versions}",
    ]


def start_loads(runs_meta: Sequence[Mapping[str, Any]]) -> str:
    """The load averages at the start of each invocation, ``;``-separated."""
    return "; ".join(fmt_load(meta.get("loadavg_at_start", [])) for meta in runs_meta)


def skipped_in(runs_meta: Sequence[Mapping[str, Any]], key: str) -> dict[str, str]:
    """``{name: why}`` of what any invocation skipped (its entry ``key``); later ones win."""
    return {k: v for meta in runs_meta for k, v in meta.get(key, {}).items()}


def report_head(
    title: str, module: str, budget: object, runs_meta: Sequence[Mapping[str, Any]], processes: str
) -> list[str]:
    """The first Markdown lines of a report: the title, the commands that produced it
    (:func:`produced_by`, ending with ``python -m <module> --budget <budget>``) and the
    summary of the invocations (:func:`invocation_summary`)."""
    lines = [f"# {title}", ""]
    lines += produced_by(runs_meta, f".bench-venv/bin/python -m {module} --budget {budget}")
    return lines + invocation_summary(runs_meta, processes)


def add_report_flags(ap: argparse.ArgumentParser) -> None:
    """``--report-only`` (rebuild the report from the cells) and ``--no-report``."""
    ap.add_argument("--report-only", action="store_true", help="only rebuild the report")
    ap.add_argument("--no-report", action="store_true", help="run the cells, skip the report")


def run_then_report(
    args: argparse.Namespace,
    run: Callable[[argparse.Namespace, Path], Any],
    report: Callable[[Path], Any],
) -> int:
    """The main of a resumable benchmark: run the missing cells into ``args.out``, then
    write the report (as ``--report-only`` / ``--no-report`` say)."""
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    if not args.report_only:
        run(args, out)
    if not args.no_report:
        report(out)
    return 0


def pipe_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table whose columns all use the plain ``---`` separator."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def pyplot(out: Path) -> Any:
    """``matplotlib.pyplot`` on the non-interactive Agg backend, with ``<out>/plots``
    created for the figures."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    (out / "plots").mkdir(parents=True, exist_ok=True)
    return plt


def save_plot(fig: Any, out: Path, name: str) -> str:
    """Save ``fig`` as ``<out>/plots/<name>.png`` (90 dpi), close it and return the path."""
    import matplotlib.pyplot as plt

    path = out / "plots" / f"{name}.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return str(path)


def write_report(out: Path, markdown: str, data: Any) -> None:
    """Write ``<out>/report.md`` and ``<out>/report.json`` (``data``, indented)."""
    (out / "report.md").write_text(markdown)
    (out / "report.json").write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {out / 'report.md'}, report.json and plots/")
