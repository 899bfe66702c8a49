"""The optimize loop: budgets, outcomes, callbacks and progress, shared by executors."""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tunesmith.exceptions import SamplerExhausted, Terminated, TrialPruned
from tunesmith.progress import Progress
from tunesmith.trial import FrozenTrial, Trial, TrialState

if TYPE_CHECKING:
    from tunesmith.executors.base import Executor
    from tunesmith.study import Study

logger = logging.getLogger("tunesmith")


@dataclass(slots=True)
class Outcome:
    """How an objective call ended.

    kind: "ok" (value holds the return value), "pruned", or "error" (exc holds the
    exception when it could be re-created, text the traceback).
    """

    kind: str
    value: Any = None
    exc: BaseException | None = None
    text: str | None = None
    cpu_time: float | None = None


class RunState:
    """Budget and bookkeeping of one ``optimize`` call."""

    def __init__(
        self,
        study: Study,
        n_trials: int | None,
        timeout: float | None,
        catch: tuple[type[BaseException], ...],
        callbacks: Sequence[Callable[[Study, FrozenTrial], None]],
        progress: Progress | None,
    ) -> None:
        self.study = study
        self.n_trials = n_trials
        self.timeout = timeout
        self.catch = catch
        self.callbacks = callbacks
        self.progress = progress
        self.started = 0
        self.finished = 0
        self.n_failed = 0
        self.n_pruned = 0
        self.running = 0
        self.t0 = time.monotonic()
        self.exhausted = False
        self.fatal: BaseException | None = None

    def can_start(self) -> bool:
        if self.fatal is not None or self.exhausted or self.study.stopped:
            return False
        if self.n_trials is not None and self.started >= self.n_trials:
            return False
        return self.timeout is None or time.monotonic() - self.t0 < self.timeout

    def next_trial(self) -> Trial | None:
        """Ask the study for a trial, or None when the sampler is exhausted."""
        try:
            trial = self.study.ask()
        except SamplerExhausted:
            self.exhausted = True
            logger.info("study %r: the sampler is exhausted; stopping", self.study.name)
            return None
        self.started += 1
        self.running += 1
        self._update_progress()
        return trial

    def finish(self, number: int, outcome: Outcome) -> FrozenTrial:
        """Tell the study how trial ``number`` ended; run callbacks; update progress."""
        study = self.study
        self.running -= 1
        if outcome.kind == "ok":
            ft = study.tell(number, outcome.value, cpu_time=outcome.cpu_time)
        elif outcome.kind == "pruned":
            ft = study.tell(number, state=TrialState.PRUNED, cpu_time=outcome.cpu_time)
        else:
            ft = study.tell(
                number, state=TrialState.FAILED, error=outcome.text, cpu_time=outcome.cpu_time
            )
            exc = outcome.exc
            if exc is not None and isinstance(exc, self.catch):
                logger.warning(
                    "trial %d failed with %s: %s (caught; the study goes on)",
                    number,
                    type(exc).__name__,
                    exc,
                )
            elif self.fatal is None:
                self.fatal = (
                    exc if exc is not None else RuntimeError(outcome.text or "trial failed")
                )
        self.finished += 1
        if ft.state == TrialState.FAILED:
            self.n_failed += 1
        elif ft.state == TrialState.PRUNED:
            self.n_pruned += 1
        for cb in self.callbacks:
            cb(study, ft)
        self._update_progress()
        return ft

    def _update_progress(self) -> None:
        if self.progress is None:
            return
        best = number = None
        study = self.study
        if not study.is_multi_objective:
            h = study._history
            with study._hist_lock:
                number = h.best_number()
                if number is not None:
                    best = float(h.values[number, 0])
        self.progress.update(
            done=self.finished,
            running=self.running,
            best=best,
            best_number=number,
            failed=self.n_failed,
            pruned=self.n_pruned,
        )


def call_objective(objective: Callable[[Trial], Any], trial: Trial) -> Outcome:
    """Run the objective in this process and classify how it ended.

    KeyboardInterrupt and SystemExit propagate (after the caller marks the trial).
    """
    c0 = time.process_time()
    try:
        value = objective(trial)
    except TrialPruned:
        return Outcome("pruned", cpu_time=time.process_time() - c0)
    except Exception as exc:
        return Outcome(
            "error",
            exc=exc,
            text=f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}",
            cpu_time=time.process_time() - c0,
        )
    return Outcome("ok", value=value, cpu_time=time.process_time() - c0)


def run_optimize(
    study: Study,
    objective: Callable[[Trial], Any],
    *,
    n_trials: int | None,
    timeout: float | None,
    n_workers: int | None,
    catch: tuple[type[BaseException], ...],
    callbacks: Sequence[Callable[[Study, FrozenTrial], None]],
    show_progress: bool | None,
    executor: Executor | None = None,
) -> None:
    import sys

    if show_progress is None:
        show_progress = bool(getattr(sys.stderr, "isatty", lambda: False)())
    progress = Progress(n_trials, timeout) if show_progress else None
    state = RunState(study, n_trials, timeout, catch, callbacks, progress)
    study._maybe_fail_stale(force=True)
    try:
        if progress is not None:
            progress.__enter__()
        if executor is not None:
            executor._run(state, objective, n_workers)
        elif n_workers is None or n_workers == 1:
            _run_sequential(state, objective)
        else:
            from tunesmith.executors.process import run_process_pool

            run_process_pool(state, objective, n_workers)
    finally:
        if progress is not None:
            progress.__exit__(None, None, None)
    if state.fatal is not None:
        raise state.fatal


def interruption(exc: BaseException) -> tuple[str, bool]:
    """Why running trials end when ``optimize`` is stopped by ``exc``, and whether they
    are re-queued: only after SIGTERM (:class:`~tunesmith.exceptions.Terminated`, a
    preempted job), as ``max_retries`` allows; Ctrl-C and errors stop for good."""
    if isinstance(exc, Terminated):
        return "terminated (SIGTERM)", True
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (KeyboardInterrupt)", False
    return f"optimize stopped by {type(exc).__name__}: {exc}", False


def _run_sequential(state: RunState, objective: Callable[[Trial], Any]) -> None:
    study = state.study
    while state.can_start():
        trial = state.next_trial()
        if trial is None:
            break
        try:
            outcome = call_objective(objective, trial)
        except BaseException as exc:  # KeyboardInterrupt, SystemExit
            state.running -= 1
            reason, retry = interruption(exc)
            if not retry:
                reason = f"interrupted by {type(exc).__name__}"
            study._fail_live(trial.number, reason, retry=retry)
            raise
        state.finish(trial.number, outcome)
