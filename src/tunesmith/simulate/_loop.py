"""The simulator's event loop: virtual workers replay learning curves on a simulated clock."""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from tunesmith.exceptions import SamplerExhausted
from tunesmith.space import Space
from tunesmith.trial import TrialState

if TYPE_CHECKING:
    from tunesmith.study import Study
    from tunesmith.trial import Trial

__all__ = [
    "AskTellAdapter",
    "CurveBenchmark",
    "SimulatedTrial",
    "SimulationResult",
    "simulate",
]


@runtime_checkable
class CurveBenchmark(Protocol):
    """What the simulator needs from a benchmark.

    Attributes:
        space: the search space; every configuration the study proposes comes from it.
        max_step: the number of steps (epochs) of a fully trained configuration.

    A benchmark may also define ``direction`` (``"minimize"`` or ``"maximize"``, what
    its values mean); the simulator then checks that the study optimizes the same way.
    """

    space: Space
    max_step: int

    def curve(self, params: Mapping[str, Any]) -> tuple[Sequence[float], float | Sequence[float]]:
        """The learning curve of one configuration.

        Returns:
            ``(values, seconds)``: ``values[i]`` is the value after step ``i + 1``
            (between 1 and ``max_step`` values; fewer means training ends early), and
            ``seconds`` the simulated duration of each step: one positive number for
            all steps or one per value.
        """
        ...


@runtime_checkable
class AskTellAdapter(Protocol):
    """The optimizer side of the simulator, for driving something other than a tunesmith
    :class:`~tunesmith.Study` (another library's study, a custom scheduler).

    A tunesmith study is wrapped in an adapter of this kind automatically. Trials are
    identified by the integer the adapter returns from :meth:`ask`.
    """

    direction: str

    def ask(self, space: Space) -> tuple[int, dict[str, Any]]:
        """Start a trial; return its number and its parameters (the active ones of ``space``)."""
        ...

    def report(self, number: int, value: float, step: int) -> None:
        """Record the value the trial reached after ``step`` steps."""
        ...

    def should_prune(self, number: int) -> bool:
        """Whether the trial should stop now."""
        ...

    def tell(
        self, number: int, state: TrialState, value: float | None, reason: str | None = None
    ) -> None:
        """Finish the trial: COMPLETE with its final value, PRUNED, or FAILED (``reason`` says why)."""
        ...


@dataclass(frozen=True, slots=True)
class SimulatedTrial:
    """What happened to one trial in a simulation.

    Attributes:
        number: the trial's number in the study.
        params: its configuration.
        worker: the virtual worker (0 to ``n_workers - 1``) that ran it.
        start: simulated time at which it started.
        end: simulated time at which it finished (or the simulation ended).
        steps: how many steps it ran (and reported).
        state: COMPLETE, PRUNED, or FAILED (a non-finite final value, or still running
            when the simulation ended).
        value: its last reported value (NaN if it reported nothing).
        seconds: simulated worker time it used (the sum of its steps' durations).
    """

    number: int
    params: Mapping[str, Any]
    worker: int
    start: float
    end: float
    steps: int
    state: TrialState
    value: float
    seconds: float


def _best_at(times: np.ndarray, values: np.ndarray, at: Any) -> np.ndarray:
    idx = np.searchsorted(times, np.asarray(at, dtype=float), side="right") - 1
    out = np.where(idx >= 0, values[np.maximum(idx, 0)], np.nan)
    return out


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """The outcome of :func:`simulate`: every trial, and a trace with one row per event.

    An event is the end of one step of one trial (a report). The trace arrays all have
    one entry per event, in the order the events happened (by simulated time):

    Attributes:
        direction: ``"minimize"`` or ``"maximize"``.
        n_workers: the number of virtual workers.
        max_step: the benchmark's full number of steps.
        trials: one :class:`SimulatedTrial` per trial started, by number.
        time: simulated time of each event (non-decreasing).
        best_final: best final value of a COMPLETE (fully trained) trial so far; NaN
            before the first one completes.
        best_any: best value reported at any step by any trial so far.
        resource: total steps run so far (all workers).
        busy_seconds: total simulated worker time spent on steps so far.
        n_started, n_pruned, n_completed: trial counts so far.
        end_time: simulated time at which the simulation stopped.
        optimizer_seconds: real (wall-clock) seconds spent in the optimizer's ask,
            report, should_prune and tell calls: what the study itself costs.
        wall_seconds: real seconds the whole simulation took.
    """

    direction: str
    n_workers: int
    max_step: int
    trials: tuple[SimulatedTrial, ...]
    time: np.ndarray
    best_final: np.ndarray
    best_any: np.ndarray
    resource: np.ndarray
    busy_seconds: np.ndarray
    n_started: np.ndarray
    n_pruned: np.ndarray
    n_completed: np.ndarray
    end_time: float
    optimizer_seconds: float = 0.0
    wall_seconds: float = 0.0

    # -- summaries ------------------------------------------------------------------
    @property
    def best_value(self) -> float:
        """The best final value of a fully trained trial (NaN if none completed)."""
        return float(self.best_final[-1]) if self.best_final.size else math.nan

    @property
    def total_resource(self) -> int:
        """Steps run in total."""
        return int(self.resource[-1]) if self.resource.size else 0

    def count(self, state: TrialState) -> int:
        """The number of trials that ended in ``state``."""
        return sum(t.state == state for t in self.trials)

    def best_final_at(self, t: float | Sequence[float] | np.ndarray) -> np.ndarray:
        """Best final value at simulated time(s) ``t`` (NaN before the first completion)."""
        return _best_at(self.time, self.best_final, t)

    def best_any_at(self, t: float | Sequence[float] | np.ndarray) -> np.ndarray:
        """Best value reported at any step up to simulated time(s) ``t``."""
        return _best_at(self.time, self.best_any, t)

    def time_to_reach(self, target: float) -> float:
        """The first simulated time at which a fully trained trial is at least as good as
        ``target`` (``inf`` if none is)."""
        bf = self.best_final
        ok = bf <= target if self.direction == "minimize" else bf >= target
        ok &= ~np.isnan(bf)
        hits = np.flatnonzero(ok)
        return float(self.time[hits[0]]) if hits.size else math.inf

    def to_dict(self, trials: bool = True) -> dict[str, Any]:
        """A JSON-friendly dict of the result (NaN becomes None)."""

        def js(a: np.ndarray) -> list[Any]:
            return [None if isinstance(x, float) and math.isnan(x) else x for x in a.tolist()]

        out: dict[str, Any] = {
            "direction": self.direction,
            "n_workers": self.n_workers,
            "max_step": self.max_step,
            "end_time": self.end_time,
            "optimizer_seconds": self.optimizer_seconds,
            "wall_seconds": self.wall_seconds,
            "time": js(self.time),
            "best_final": js(self.best_final),
            "best_any": js(self.best_any),
            "resource": js(self.resource),
            "busy_seconds": js(self.busy_seconds),
            "n_started": js(self.n_started),
            "n_pruned": js(self.n_pruned),
            "n_completed": js(self.n_completed),
        }
        if trials:
            out["trials"] = [
                {
                    "number": t.number,
                    "params": dict(t.params),
                    "worker": t.worker,
                    "start": t.start,
                    "end": t.end,
                    "steps": t.steps,
                    "state": t.state.name,
                    "value": None if math.isnan(t.value) else t.value,
                    "seconds": t.seconds,
                }
                for t in self.trials
            ]
        return out


class _StudyAdapter:
    """Drives a tunesmith :class:`~tunesmith.Study` through ask/tell."""

    def __init__(self, study: Study) -> None:
        if study.is_multi_objective:
            raise ValueError(
                f"simulate needs a single-objective study; {study.name!r} has directions "
                f"{list(study.directions)}"
            )
        self.study = study
        self.direction = study.direction
        self._trials: dict[int, Trial] = {}

    def ask(self, space: Space) -> tuple[int, dict[str, Any]]:
        trial = self.study.ask()
        params: dict[str, Any] = {}
        for name in space:
            if space.is_active(name, params):
                params[name] = trial.suggest(name, space[name])
        self._trials[trial.number] = trial
        return trial.number, params

    def report(self, number: int, value: float, step: int) -> None:
        self._trials[number].report(value, step)

    def should_prune(self, number: int) -> bool:
        return self._trials[number].should_prune()

    def tell(
        self, number: int, state: TrialState, value: float | None, reason: str | None = None
    ) -> None:
        trial = self._trials.pop(number)
        if state == TrialState.COMPLETE:
            self.study.tell(trial, value)
        else:
            self.study.tell(trial, state=state, error=reason)


@dataclass(slots=True)
class _Run:
    """A trial in progress on one virtual worker."""

    number: int
    params: dict[str, Any]
    worker: int
    start: float
    values: np.ndarray
    seconds: np.ndarray
    ends: np.ndarray
    next: int = 0


def _check_count(name: str, value: Any, minimum: int, allow_none: bool) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_benchmark(benchmark: Any) -> tuple[Space, int]:
    space = getattr(benchmark, "space", None)
    if not isinstance(space, Space):
        raise TypeError(
            f"the benchmark must have a 'space' attribute holding a tunesmith Space, got "
            f"{space!r} from {benchmark!r}"
        )
    max_step = _check_count(
        "the benchmark's max_step", getattr(benchmark, "max_step", None), 1, False
    )
    if not callable(getattr(benchmark, "curve", None)):
        raise TypeError(f"the benchmark needs a curve(params) method, {benchmark!r} has none")
    assert max_step is not None
    return space, max_step


def _curve(
    benchmark: Any, params: Mapping[str, Any], max_step: int
) -> tuple[np.ndarray, np.ndarray]:
    """The benchmark's curve for ``params``, checked: (values, seconds per step)."""
    got = benchmark.curve(params)
    try:
        values_in, seconds_in = got
    except (TypeError, ValueError):
        raise TypeError(
            f"curve(params) must return (values, seconds), got {got!r} for {dict(params)}"
        ) from None
    values = np.asarray(values_in, dtype=float).reshape(-1)
    if not 1 <= values.size <= max_step:
        raise ValueError(
            f"curve(params) returned {values.size} values for {dict(params)}; it must return "
            f"between 1 and max_step={max_step} (one per step)"
        )
    if isinstance(seconds_in, Real):
        seconds = np.full(values.size, float(seconds_in))
    else:
        seconds = np.asarray(seconds_in, dtype=float).reshape(-1)
        if seconds.size != values.size:
            raise ValueError(
                f"curve(params) returned {values.size} values but {seconds.size} step "
                f"durations for {dict(params)}; give one duration per value, or one number"
            )
    if not np.all(np.isfinite(seconds) & (seconds > 0)):
        raise ValueError(
            f"step durations must be positive, finite seconds; got {seconds.tolist()} "
            f"for {dict(params)}"
        )
    return values, seconds


def simulate(
    study: Study | AskTellAdapter,
    benchmark: CurveBenchmark,
    n_workers: int = 4,
    *,
    max_time: float | None = None,
    max_trials: int | None = None,
) -> SimulationResult:
    """Run a study against learning curves on a simulated clock with ``n_workers``
    virtual workers: how its sampler and pruner would do, without training anything.

    Each free worker asks the study for a trial and looks up the configuration's curve
    (values per step and seconds per step) in ``benchmark``. The clock then moves
    from one step end to the next across all workers, in time order (ties: the trial
    whose step was scheduled first). At each step end the trial reports
    ``trial.report(value, step)``; unless that was its last step, the simulator asks
    ``trial.should_prune()`` and tells the trial PRUNED if so. After its last step the
    trial is told COMPLETE with its last value (FAILED if that value is not finite).
    A worker whose trial ended takes the next trial at once. The clock counts
    simulated step durations only, not the time the optimizer takes.

    The simulation stops when no trial is left running and no new one may start:
    none after ``max_trials`` trials were started, none at or after ``max_time``, and
    none once the sampler has nothing left to propose (a finished grid).
    Steps that would end after ``max_time`` are not run; trials still running at
    ``max_time`` are told FAILED ("the simulation ended").

    Same study seed, same benchmark, same arguments: same result, event by event
    (give the study a fixed name too when its pruner uses it, as Hyperband does).

    Args:
        study: a single-objective tunesmith study (its sampler and pruner are used),
            or any :class:`AskTellAdapter`.
        benchmark: a :class:`CurveBenchmark`, e.g.
            :class:`~tunesmith.simulate.HartmannCurves`.
        n_workers: virtual workers running trials side by side.
        max_time: simulated seconds; no trial starts and no step ends after it.
        max_trials: trials to start at most.

    Returns:
        A :class:`SimulationResult`.

    Raises:
        ValueError: for a bad argument, a multi-objective study, a study and benchmark
            with different directions, or a curve that is not a list of values with
            positive step durations (the trial is told FAILED first).
        TypeError: if the benchmark lacks ``space``, ``max_step`` or ``curve``.

    Example:
        >>> import tunesmith as ts
        >>> from tunesmith.simulate import HartmannCurves, simulate
        >>> study = ts.create_study("sim", sampler="random", pruner="median", seed=0)
        >>> result = simulate(study, HartmannCurves(max_step=27), n_workers=4, max_trials=40)
        >>> result.count(ts.TrialState.PRUNED) > 0
        True
    """
    n_workers_i = _check_count("n_workers", n_workers, 1, False)
    assert n_workers_i is not None
    max_trials_i = _check_count("max_trials", max_trials, 1, True)
    if max_time is not None:
        if isinstance(max_time, bool) or not isinstance(max_time, Real) or not max_time > 0:
            raise ValueError(f"max_time must be a positive number of seconds, got {max_time!r}")
        if not math.isfinite(max_time):
            max_time = None
    if max_time is None and max_trials_i is None:
        raise ValueError("give max_time=, max_trials= or both: the simulation needs an end")
    space, max_step = _check_benchmark(benchmark)
    from tunesmith.study import Study

    adapter: AskTellAdapter
    if isinstance(study, Study):
        adapter = _StudyAdapter(study)
    elif isinstance(study, AskTellAdapter):
        adapter = study
    else:
        raise TypeError(f"study must be a tunesmith Study or an AskTellAdapter, got {study!r}")
    direction = str(adapter.direction)
    if direction not in ("minimize", "maximize"):
        raise ValueError(f"direction must be 'minimize' or 'maximize', got {direction!r}")
    bench_dir = getattr(benchmark, "direction", None)
    if bench_dir is not None and bench_dir != direction:
        raise ValueError(
            f"the benchmark's values are to {bench_dir}, but the study's direction is "
            f"{direction}; create the study with direction={bench_dir!r}"
        )
    sign = 1.0 if direction == "minimize" else -1.0

    wall0 = time.perf_counter()
    opt_s = 0.0
    heap: list[tuple[float, int, _Run]] = []
    seq = 0
    n_started = n_pruned = n_completed = 0
    resource = 0
    busy = 0.0
    best_final = math.nan  # signed (lower is better); NaN until there is one
    best_any = math.nan
    done: list[SimulatedTrial] = []
    rows: list[tuple[float, float, float, int, float, int, int, int]] = []

    def record(run: _Run, end: float, state: TrialState) -> None:
        steps = run.next
        done.append(
            SimulatedTrial(
                number=run.number,
                params=run.params,
                worker=run.worker,
                start=run.start,
                end=end,
                steps=steps,
                state=state,
                value=float(run.values[steps - 1]) if steps else math.nan,
                seconds=float(run.seconds[:steps].sum()),
            )
        )

    exhausted = False

    def start(worker: int, now: float) -> None:
        nonlocal seq, n_started, opt_s, exhausted
        if exhausted or (max_trials_i is not None and n_started >= max_trials_i):
            return
        if max_time is not None and now >= max_time:
            return
        t0 = time.perf_counter()
        try:
            number, params = adapter.ask(space)
        except SamplerExhausted:  # a finished grid: no new trials, running ones go on
            exhausted = True
            return
        finally:
            opt_s += time.perf_counter() - t0
        n_started += 1
        try:
            values, seconds = _curve(benchmark, params, max_step)
        except Exception:
            adapter.tell(number, TrialState.FAILED, None, "the benchmark's curve failed")
            raise
        run = _Run(number, dict(params), worker, now, values, seconds, now + np.cumsum(seconds))
        heapq.heappush(heap, (float(run.ends[0]), seq, run))
        seq += 1

    for w in range(n_workers_i):
        start(w, 0.0)

    clock = 0.0
    while heap:
        t, _, run = heap[0]
        if max_time is not None and t > max_time:
            break
        heapq.heappop(heap)
        clock = t
        i = run.next
        value = float(run.values[i])
        step = i + 1
        t0 = time.perf_counter()
        adapter.report(run.number, value, step)
        opt_s += time.perf_counter() - t0
        run.next = step
        resource += 1
        busy += float(run.seconds[i])
        if not math.isnan(value) and not sign * value >= best_any:
            best_any = sign * value
        finished: TrialState | None = None
        if step == run.values.size:
            t0 = time.perf_counter()
            if math.isfinite(value):
                adapter.tell(run.number, TrialState.COMPLETE, value)
                finished = TrialState.COMPLETE
                n_completed += 1
                if not sign * value >= best_final:
                    best_final = sign * value
            else:
                adapter.tell(run.number, TrialState.FAILED, None, f"final value {value}")
                finished = TrialState.FAILED
            opt_s += time.perf_counter() - t0
        else:
            t0 = time.perf_counter()
            prune = adapter.should_prune(run.number)
            if prune:
                adapter.tell(run.number, TrialState.PRUNED, None)
                finished = TrialState.PRUNED
                n_pruned += 1
            opt_s += time.perf_counter() - t0
        if finished is None:
            heapq.heappush(heap, (float(run.ends[step]), seq, run))
            seq += 1
        else:
            record(run, t, finished)
            start(run.worker, t)
        rows.append((t, best_final, best_any, resource, busy, n_started, n_pruned, n_completed))

    end_time = clock
    if heap:  # stopped by max_time with trials still running
        assert max_time is not None
        end_time = float(max_time)
        for _, _, run in sorted(heap, key=lambda e: e[2].number):
            adapter.tell(run.number, TrialState.FAILED, None, "the simulation ended")
            record(run, end_time, TrialState.FAILED)
    done.sort(key=lambda tr: tr.number)

    arr = np.array(rows, dtype=float).reshape(-1, 8)
    finals = arr[:, 1] * sign
    anys = arr[:, 2] * sign
    return SimulationResult(
        direction=direction,
        n_workers=n_workers_i,
        max_step=max_step,
        trials=tuple(done),
        time=arr[:, 0].copy(),
        best_final=finals,
        best_any=anys,
        resource=arr[:, 3].astype(np.int64),
        busy_seconds=arr[:, 4].copy(),
        n_started=arr[:, 5].astype(np.int64),
        n_pruned=arr[:, 6].astype(np.int64),
        n_completed=arr[:, 7].astype(np.int64),
        end_time=end_time,
        optimizer_seconds=opt_s,
        wall_seconds=time.perf_counter() - wall0,
    )
