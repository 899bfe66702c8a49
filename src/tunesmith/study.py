"""Studies: create, load, ask/tell, optimize, and read results."""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tunesmith import _checkpoints
from tunesmith._checkpoints import CheckpointLocation
from tunesmith._live import LiveTrial
from tunesmith.exceptions import (
    SamplerExhausted,
    SpaceError,
    TrialFinishedError,
    TrialNotFoundError,
    TunesmithError,
)
from tunesmith.history import History
from tunesmith.pruners import Pruner, make_pruner
from tunesmith.samplers import Sampler, SamplerContext, make_sampler
from tunesmith.samplers.auto import AutoSampler
from tunesmith.space import Categorical, Distribution, Float, Int, Space
from tunesmith.storage import Storage, StudySummary, get_storage
from tunesmith.storage.base import StudyRecord
from tunesmith.trial import FrozenTrial, Trial, TrialState, check_objective_values

if TYPE_CHECKING:
    import pandas as pd

    from tunesmith.executors.base import Executor

__all__ = [
    "Study",
    "create_study",
    "delete_study",
    "list_studies",
    "load_study",
]

logger = logging.getLogger("tunesmith")

_SYS = "sys:"
_USER = "user:"
DEFAULT_HEARTBEAT = 10.0


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _check_directions(direction: str | None, directions: Sequence[str] | None) -> tuple[str, ...]:
    if direction is not None and directions is not None:
        raise ValueError("give either direction= or directions=, not both")
    dirs: Sequence[str] = directions if directions is not None else [direction or "minimize"]
    if isinstance(dirs, str) or not dirs:
        raise ValueError(f"directions must be a non-empty list, got {dirs!r}")
    out = []
    for d in dirs:
        d_norm = str(d).lower()
        if d_norm in ("min", "minimise"):
            d_norm = "minimize"
        if d_norm in ("max", "maximise"):
            d_norm = "maximize"
        if d_norm not in ("minimize", "maximize"):
            raise ValueError(f"direction must be 'minimize' or 'maximize', got {d!r}")
        out.append(d_norm)
    return tuple(out)


class Study:
    """A named optimization run: its trials, its sampler, and the storage that keeps them.

    Create one with :func:`create_study` or :func:`load_study`, not directly.
    """

    def __init__(
        self,
        storage: Storage,
        record: StudyRecord,
        sampler: Sampler | None = None,
        pruner: Pruner | None = None,
        artifact_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self._storage = storage
        self._record = record
        attrs = storage.get_study_attrs(record.study_id)
        if artifact_dir is None:
            artifact_dir = attrs.get(_SYS + "artifact_dir")
        self._artifact_dir = artifact_dir
        self._ckpt_study_dir: Path | str | None = None
        self.seed: int = int(attrs.get(_SYS + "seed", 0))
        space_dict = attrs.get(_SYS + "space")
        self.space: Space | None = Space.from_dict(space_dict) if space_dict else None
        self.max_retries: int = int(attrs.get(_SYS + "max_retries", 0))
        self.heartbeat_interval: float = float(
            attrs.get(_SYS + "heartbeat_interval", DEFAULT_HEARTBEAT)
        )
        if sampler is None:
            desc = attrs.get(_SYS + "sampler")
            try:
                sampler = make_sampler(desc) if desc else None
            except TunesmithError:
                sampler = None
        self.sampler: Sampler = sampler if sampler is not None else AutoSampler()
        self._decision: dict[str, Any] | None = attrs.get(_SYS + "auto_sampler")
        if pruner is None:
            desc = attrs.get(_SYS + "pruner")
            try:
                pruner = make_pruner(desc) if desc else None
            except (TunesmithError, ValueError):
                pruner = None
        #: decides from intermediate reports whether a running trial stops (None: never).
        self.pruner: Pruner | None = pruner
        self._history = History(storage, record.study_id, record.directions)
        self._hist_lock = threading.RLock()
        self._live: dict[int, LiveTrial] = {}
        self._live_lock = threading.Lock()
        self._stop_event = threading.Event()
        self._worker = _worker_id()
        self._heartbeat: _Heartbeat | None = None
        self._last_stale_check = 0.0
        self._track_heartbeats = not _is_memory(storage)

    # -- identity ----------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._record.name

    @property
    def study_id(self) -> int:
        return self._record.study_id

    @property
    def directions(self) -> tuple[str, ...]:
        return self._record.directions

    @property
    def direction(self) -> str:
        if len(self.directions) != 1:
            raise ValueError("this study has several directions; use .directions")
        return self.directions[0]

    @property
    def storage(self) -> Storage:
        return self._storage

    @property
    def is_multi_objective(self) -> bool:
        return len(self.directions) > 1

    def __repr__(self) -> str:
        return f"Study(name={self.name!r}, directions={list(self.directions)}, storage={self._storage.url!r})"

    # -- attributes ------------------------------------------------------------------
    @property
    def user_attrs(self) -> dict[str, Any]:
        attrs = self._storage.get_study_attrs(self.study_id)
        return {k[len(_USER) :]: v for k, v in attrs.items() if k.startswith(_USER)}

    @property
    def system_attrs(self) -> dict[str, Any]:
        attrs = self._storage.get_study_attrs(self.study_id)
        return {k[len(_SYS) :]: v for k, v in attrs.items() if k.startswith(_SYS)}

    def set_user_attr(self, key: str, value: Any) -> None:
        """Attach a JSON-serializable attribute to the study."""
        self._storage.set_study_attr(self.study_id, _USER + key, value)

    # -- the history ------------------------------------------------------------------
    def _sync(self) -> History:
        with self._hist_lock:
            self._history.sync()
        return self._history

    def _ctx(self) -> SamplerContext:
        seed = self.sampler.seed if self.sampler.seed is not None else self.seed
        return SamplerContext(self._history, self.space, int(seed), self.directions, self.name)

    def _record_decision(self, ctx: SamplerContext, number: int) -> None:
        """Store what a choosing sampler (AutoSampler) uses, when it changes."""
        decision = self.sampler.decision(ctx)
        if decision is None or decision == self._decision:
            return
        self._decision = decision
        log = self._storage.get_study_attrs(self.study_id).get(_SYS + "auto_sampler_log", [])
        log.append({**decision, "trial": number})
        self._storage.set_study_attr(self.study_id, _SYS + "auto_sampler", decision)
        self._storage.set_study_attr(self.study_id, _SYS + "auto_sampler_log", log)
        logger.info(
            "study %r: trial %d uses %s (%s)",
            self.name,
            number,
            decision["sampler"],
            decision["reason"],
        )

    def _sample_independent(
        self, number: int, name: str, dist: Distribution, params: Mapping[str, Any]
    ) -> Any:
        with self._hist_lock:
            return self.sampler.sample_independent(self._ctx(), number, name, dist, params)

    # -- ask / tell -------------------------------------------------------------------
    def ask(self, fixed_params: Mapping[str, Any] | None = None) -> Trial:
        """Start a trial and return its handle.

        A queued trial (from :meth:`enqueue` or a retry) is taken first. With a
        declared space, every parameter is proposed now and ``trial.params`` holds
        them; otherwise parameters are proposed as the objective suggests them.

        Args:
            fixed_params: values to use for some parameters instead of the sampler's.

        Raises:
            SamplerExhausted: if the sampler has nothing left (a finished grid).
        """
        self._maybe_fail_stale()
        with self._hist_lock:
            self._history.sync()
            ctx = self._ctx()
            claimed = None
            if self._history.has_waiting():
                claimed = self._storage.claim_waiting_trial(self.study_id, self._worker)
            if claimed is None and self.sampler.is_exhausted(ctx):
                raise SamplerExhausted("the sampler has no more points to propose")
            if claimed is None:
                ft = self._storage.create_trial(
                    self.study_id, TrialState.RUNNING, worker=self._worker
                )
            else:
                ft = claimed
            fixed = dict(ft.params)
            if fixed_params:
                fixed.update(fixed_params)
            dists: dict[str, Distribution] = dict(ft.distributions)
            internal = {n: dists[n].to_internal(v) for n, v in ft.params.items()}
            relative: dict[str, Any] = {}
            self._record_decision(ctx, ft.number)
            try:
                rel_space = self.sampler.relative_space(ctx)
                if rel_space is not None and len(rel_space):
                    relative = self.sampler.sample_relative(ctx, ft.number, rel_space)
            except SamplerExhausted:
                # Another worker took the last point between our check and now.
                self._storage.finish_trial(
                    ft.trial_id, TrialState.FAILED, error="sampler exhausted (grid finished)"
                )
                raise
            except Exception as exc:
                self._storage.finish_trial(
                    ft.trial_id, TrialState.FAILED, error=f"the sampler failed: {exc!r}"
                )
                raise
        live = LiveTrial(
            self, ft.trial_id, ft.number, fixed, relative, dists, internal, dict(ft.user_attrs)
        )
        trial = Trial(live, ft.number, ft.trial_id, self.name, self._checkpoint_location(ft))
        if self.space is not None:
            # Define-and-run: resolve the whole declared space now.
            try:
                for name in self.space:
                    if self.space.is_active(name, live.external):
                        live.suggest(name, self.space[name])
            except Exception as exc:  # a fixed value outside the space, a sampler error
                # Nobody holds this trial: fail it rather than leave it RUNNING forever.
                live.finished = True
                self._storage.finish_trial(
                    ft.trial_id, TrialState.FAILED, error=f"could not propose parameters: {exc}"
                )
                raise
            extra = set(fixed) - set(self.space)
            if extra:
                live.finished = True
                self._storage.finish_trial(
                    ft.trial_id,
                    TrialState.FAILED,
                    error=f"unknown fixed parameters {sorted(extra)}",
                )
                raise SpaceError(
                    f"fixed/enqueued parameters {sorted(extra)} are not in the study's space "
                    f"{list(self.space)}"
                )
        elif fixed_params:
            for name, value in fixed_params.items():
                if name not in live.dists:
                    live.fixed[name] = value
        if live.dirty:
            # Persist proposals now so other workers (and grid/Sobol) see them.
            live.dirty = False
            self._storage.update_running_trial(
                ft.trial_id, params=live.internal, distributions=live.dists
            )
        with self._live_lock:
            self._live[ft.number] = live
        self._ensure_heartbeat()
        return trial

    def tell(
        self,
        trial: Trial | int,
        values: float | Sequence[float] | None = None,
        *,
        state: TrialState | None = None,
        error: str | None = None,
        cpu_time: float | None = None,
    ) -> FrozenTrial:
        """Finish a trial with its objective value(s) or a state.

        Invalid values (None, NaN, inf, the wrong number of values) mark the trial
        FAILED with a warning that names the problem; the study stays usable.

        Args:
            trial: the :class:`Trial` from :meth:`ask`, or its number.
            values: one value per direction (required for COMPLETE).
            state: COMPLETE (default when values are given), PRUNED or FAILED.
            error: why the trial failed (stored with it).
            cpu_time: CPU seconds the objective took, if measured.

        Returns:
            The stored, immutable trial.
        """
        number = trial.number if isinstance(trial, Trial) else int(trial)
        with self._live_lock:
            live = self._live.pop(number, None)
        if live is None:
            live = self._adopt(number)
        if state is None:
            state = TrialState.COMPLETE
        state = TrialState(state)
        if not state.is_finished():
            raise ValueError(f"tell needs COMPLETE, PRUNED or FAILED, got {state.name}")
        vals: tuple[float, ...] | None = None
        if state == TrialState.COMPLETE:
            vals, problem = check_objective_values(values, len(self.directions))
            if problem is not None:
                state = TrialState.FAILED
                error = f"trial {number}: {problem}"
                warnings.warn(error, RuntimeWarning, stacklevel=2)
        elif state == TrialState.PRUNED:
            last = live.last_report if values is None else None
            if values is not None:
                vals, _ = check_objective_values(values, len(self.directions))
            elif last is not None and all(math.isfinite(v) for v in last):
                vals = last
        with live._lock:
            if live.finished:
                raise TrialFinishedError(f"trial {number} was already told")
            live.finished = True
        try:
            ft = self._storage.finish_trial(
                live.trial_id,
                state,
                values=vals,
                params=live.internal or None,
                distributions=live.dists or None,
                user_attrs=live.user_attrs or None,
                cpu_time=cpu_time,
                error=error,
            )
        except TrialFinishedError:
            # Another process declared this trial dead (its heartbeat looked stale, e.g.
            # on an overloaded machine) and may have re-queued it. The stored record wins.
            ft = self._storage.get_trial(live.trial_id)
            warnings.warn(
                f"trial {number} was marked {ft.state.name} by another process before its "
                f"result arrived ({ft.error}); the result {values!r} is discarded. Raise "
                "heartbeat_interval if this machine is heavily loaded",
                RuntimeWarning,
                stacklevel=2,
            )
        with self._hist_lock:
            self._history.apply(ft)
        return ft

    def _adopt(self, number: int) -> LiveTrial:
        """Load a RUNNING trial that another process (or a lost handle) started."""
        for ft in self._storage.get_trials(self.study_id, [TrialState.RUNNING, TrialState.WAITING]):
            if ft.number == number:
                dists = dict(ft.distributions)
                internal = {n: dists[n].to_internal(v) for n, v in ft.params.items()}
                live = LiveTrial(
                    self, ft.trial_id, number, {}, {}, dists, internal, dict(ft.user_attrs)
                )
                if ft.intermediate:
                    live.last_report = ft.intermediate[max(ft.intermediate)]
                    live.reports = dict(ft.intermediate)
                return live
        for ft in self._storage.get_trials(self.study_id):
            if ft.number == number:
                raise TrialFinishedError(
                    f"trial {number} is already {ft.state.name}; finished trials cannot change"
                )
        raise TrialNotFoundError(f"study {self.name!r} has no trial number {number}")

    def _fail_live(self, number: int, message: str, retry: bool) -> FrozenTrial | None:
        """Mark a running trial FAILED (a dead worker, an interrupt) and maybe re-queue it."""
        with self._live_lock:
            live = self._live.pop(number, None)
        if live is None:
            return None
        live.finished = True
        try:
            ft = self._storage.finish_trial(
                live.trial_id,
                TrialState.FAILED,
                params=live.internal or None,
                distributions=live.dists or None,
                user_attrs=live.user_attrs or None,
                error=message,
            )
        except TrialFinishedError:
            return None
        if retry and ft.retries < self.max_retries:
            self._storage.create_trial(
                self.study_id,
                TrialState.WAITING,
                params=live.internal,
                distributions=live.dists,
                user_attrs=live.user_attrs,
                system_attrs={"retry_of": ft.number},
                retries=ft.retries + 1,
            )
        return ft

    # -- checkpoints ------------------------------------------------------------------
    def _checkpoint_folder(self) -> Path | str:
        """This study's checkpoint folder, or the message saying why it has none."""
        if self._ckpt_study_dir is None:
            root = _checkpoints.checkpoint_root(self._storage, self._artifact_dir)
            self._ckpt_study_dir = (
                root
                if isinstance(root, str)
                else _checkpoints.study_dir(root, self.name, self.study_id)
            )
        return self._ckpt_study_dir

    def _checkpoint_location(self, ft: FrozenTrial) -> CheckpointLocation:
        """Where trial ``ft`` saves checkpoints, and what it resumes from: the trial it
        retries, that trial's own retry source, and so on, and finally the snapshot the
        first of them started from (if PBT made it)."""
        folder = self._checkpoint_folder()
        if isinstance(folder, str):
            return CheckpointLocation(None, (), folder)
        sources: list[Path] = []
        attrs: Mapping[str, Any] = ft.system_attrs
        seen = {ft.number}
        while True:
            link = attrs.get("retry_of")
            if not isinstance(link, int) or link in seen or len(seen) >= 100:
                copy = attrs.get("checkpoint_copy")
                if isinstance(copy, str):
                    # the first trial of the chain started from a snapshot of another
                    # trial's checkpoint (population-based training)
                    sources.append(folder / copy)
                break
            seen.add(link)
            sources.append(_checkpoints.trial_dir(folder, link))
            try:
                attrs = self._trial_by_number(link).system_attrs
            except TrialNotFoundError:
                break
        return CheckpointLocation(_checkpoints.trial_dir(folder, ft.number), tuple(sources))

    def _snapshot_checkpoint(self, number: int) -> str | None:
        """Copy trial ``number``'s latest checkpoint to a fixed snapshot; return its path
        relative to the study's checkpoint folder (for a new trial's ``checkpoint_copy``
        system attribute), or None if the trial has no checkpoint."""
        folder = self._checkpoint_folder()
        ft = self._trial_by_number(number)
        src = self._checkpoint_location(ft).checked()
        assert not isinstance(folder, str)
        name = f"copies/{number}-{uuid.uuid4().hex[:12]}"
        target = CheckpointLocation(folder / name)
        sources = [p for p in (src.trial_dir, *src.sources) if p is not None]
        if _checkpoints.copy_latest(sources, target) is None:
            return None
        return name

    def checkpoint_path(self, trial: FrozenTrial | int) -> Path | None:
        """The folder of a trial's latest checkpoint (or the one it inherited), or None.

        Use it to load the best trial's model after the study::

            folder = study.checkpoint_path(study.best_trial)

        Raises:
            CheckpointError: if the study has no checkpoint folder (see docs/checkpoints.md).
        """
        ft = trial if isinstance(trial, FrozenTrial) else self._trial_by_number(int(trial))
        return _checkpoints.resolve(self._checkpoint_location(ft).checked())

    def load_checkpoint(self, trial: FrozenTrial | int, default: Any = None) -> Any:
        """The object a trial saved last with ``trial.save_checkpoint`` (or ``default``)."""
        ft = trial if isinstance(trial, FrozenTrial) else self._trial_by_number(int(trial))
        return _checkpoints.load_object(self._checkpoint_location(ft).checked(), default)

    # -- queue and manual trials -------------------------------------------------
    def enqueue(
        self,
        params: Mapping[str, Any],
        user_attrs: Mapping[str, Any] | None = None,
        skip_if_exists: bool = False,
    ) -> int | None:
        """Queue a trial with given parameters; the next :meth:`ask` (in any worker) runs it.

        Parameters not given are proposed by the sampler as usual.

        Args:
            params: parameter values (they must fit the distributions used later).
            user_attrs: attributes to attach to the trial.
            skip_if_exists: do nothing if a trial with these parameters already exists.

        Returns:
            The queued trial's number, or None if skipped.
        """
        if not isinstance(params, Mapping):
            raise TypeError(f"params must be a mapping, got {params!r}")
        internal: dict[str, float] = {}
        dists: dict[str, Distribution] = {}
        for name, value in params.items():
            dist = self._distribution_for(name, value)
            if not dist.contains(value):
                raise SpaceError(f"enqueued value {value!r} for {name!r} is outside {dist!r}")
            internal[name] = dist.to_internal(value)
            dists[name] = dist
        if skip_if_exists:
            for t in self._storage.get_trials(self.study_id):
                if all(k in t.params and t.params[k] == v for k, v in params.items()):
                    return None
        ft = self._storage.create_trial(
            self.study_id,
            TrialState.WAITING,
            params=internal,
            distributions=dists,
            user_attrs=user_attrs,
            system_attrs={"enqueued": True},
        )
        return ft.number

    def _distribution_for(self, name: str, value: Any) -> Distribution:
        """The distribution to store a fixed value under: declared, seen, or a singleton."""
        if self.space is not None and name in self.space:
            return self.space[name]
        self._sync()
        if name in self._history.distributions:
            d = self._history.distributions[name]
            if d.contains(value):
                return d
        if isinstance(value, bool) or value is None or isinstance(value, str):
            return Categorical([value])
        if isinstance(value, int | np.integer):
            return Int(int(value), int(value))
        if isinstance(value, float | np.floating):
            return Float(float(value), float(value))
        raise SpaceError(f"cannot store {value!r} for {name!r}: use a number, string, bool or None")

    def add_trial(
        self,
        params: Mapping[str, Any],
        values: float | Sequence[float] | None,
        *,
        state: TrialState = TrialState.COMPLETE,
        distributions: Mapping[str, Distribution] | None = None,
        user_attrs: Mapping[str, Any] | None = None,
        intermediate: Mapping[int, float | Sequence[float]] | None = None,
    ) -> FrozenTrial:
        """Add a finished trial evaluated elsewhere (for warm starts or imports).

        Raises:
            ValueError: if the values are invalid for a COMPLETE trial.
        """
        state = TrialState(state)
        if not state.is_finished():
            raise ValueError("add_trial adds finished trials; use enqueue to queue one")
        vals = None
        if state == TrialState.COMPLETE:
            vals, problem = check_objective_values(values, len(self.directions))
            if problem:
                raise ValueError(problem)
        dists = dict(distributions or {})
        internal = {}
        for name, value in params.items():
            dist = dists.get(name) or self._distribution_for(name, value)
            if not dist.contains(value):
                raise SpaceError(f"value {value!r} for {name!r} is outside {dist!r}")
            self._history.check_distribution(name, dist, self.space)
            dists[name] = dist
            internal[name] = dist.to_internal(value)
        inter = None
        if intermediate:
            from tunesmith.trial import _as_value_tuple

            inter = {
                int(k): _as_value_tuple(v, "intermediate value") for k, v in intermediate.items()
            }
            wrong = {k: v for k, v in inter.items() if len(v) != len(self.directions)}
            if wrong:
                raise ValueError(
                    f"intermediate values must have one value per direction "
                    f"({len(self.directions)}), got {wrong}"
                )
        now = time.time()
        return self._storage.create_trial(
            self.study_id,
            state,
            params=internal,
            distributions={n: dists[n] for n in internal},
            values=vals,
            intermediate=inter,
            user_attrs=user_attrs,
            datetime_start=now,
            datetime_complete=now,
        )

    # -- optimize ---------------------------------------------------------------------
    def optimize(
        self,
        objective: Callable[[Trial], Any],
        n_trials: int | None = None,
        timeout: float | None = None,
        n_workers: int | None = None,
        catch: Iterable[type[BaseException]] | type[BaseException] = (),
        callbacks: Sequence[Callable[[Study, FrozenTrial], None]] | None = None,
        show_progress: bool | None = None,
        executor: Executor | None = None,
    ) -> None:
        """Run ``objective`` on new trials until a budget is spent.

        Args:
            objective: ``f(trial) -> value`` (one float, or one per direction).
            n_trials: number of trials to run in this call (None: no limit).
            timeout: stop starting new trials after this many seconds (None: no limit).
            n_workers: how many trials run at once. Without ``executor``: worker
                processes on this machine; None or 1 runs in this process. With
                several, the objective is sent to real processes (it must be
                picklable; functions and closures from a script work through
                cloudpickle). With ``executor``: tasks on the cluster at a time (None:
                as many as the cluster's workers/CPUs can run).
            catch: exception types that mark a trial FAILED and let the study go on.
                Others also mark it FAILED, then stop the study and propagate.
            callbacks: called as ``cb(study, frozen_trial)`` after every trial.
            show_progress: live progress line; None shows it when stderr is a terminal.
            executor: run trials on a cluster instead of local processes:
                :class:`~tunesmith.executors.DaskExecutor` or
                :class:`~tunesmith.executors.RayExecutor` (see docs/executors.md).
                This process still owns the study; each trial is a cluster task.

        Stops early when :meth:`stop` is called, a grid is exhausted, or on Ctrl-C
        (running trials are marked FAILED; the KeyboardInterrupt propagates).

        Example:
            >>> import tunesmith as ts
            >>> study = ts.create_study(seed=0)
            >>> study.optimize(lambda t: t.suggest_float("x", -1, 1) ** 2, n_trials=5)
            >>> len(study.trials)
            5
        """
        from tunesmith._optimize import run_optimize

        if isinstance(catch, type):
            catch = (catch,)
        if n_trials is not None and (not isinstance(n_trials, int) or n_trials < 0):
            raise ValueError(f"n_trials must be a non-negative integer or None, got {n_trials!r}")
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be positive seconds or None, got {timeout!r}")
        if n_workers is not None and (not isinstance(n_workers, int) or n_workers < 1):
            raise ValueError(f"n_workers must be an integer >= 1 or None, got {n_workers!r}")
        if executor is not None:
            from tunesmith.executors.base import Executor

            if not isinstance(executor, Executor):
                raise TypeError(f"executor must be a DaskExecutor or RayExecutor, got {executor!r}")
        elif n_workers is None:
            n_workers = 1
        if not callable(objective):
            raise TypeError(f"objective must be callable, got {objective!r}")
        self._stop_event.clear()
        run_optimize(
            self,
            objective,
            n_trials=n_trials,
            timeout=timeout,
            n_workers=n_workers,
            catch=tuple(catch),
            callbacks=list(callbacks or []),
            show_progress=show_progress,
            executor=executor,
        )

    def stop(self) -> None:
        """Ask a running :meth:`optimize` to start no new trials (running ones finish)."""
        self._stop_event.set()

    @property
    def stopped(self) -> bool:
        return self._stop_event.is_set()

    # -- heartbeat and recovery ----------------------------------------------------
    def _ensure_heartbeat(self) -> None:
        if not self._track_heartbeats:
            return
        hb = self._heartbeat
        if hb is None or not hb.is_alive():
            self._heartbeat = _Heartbeat(self)
            self._heartbeat.start()

    def _beat(self) -> None:
        """Write heartbeats and any buffered params/attributes of this process's trials."""
        with self._live_lock:
            lives = list(self._live.values())
        if not lives:
            return
        now = time.time()
        for live in lives:
            dirty = live.take_dirty()
            if dirty is not None:
                try:
                    self._storage.update_running_trial(
                        live.trial_id, params=dirty[0], distributions=dirty[1], user_attrs=dirty[2]
                    )
                except TrialFinishedError:
                    pass
        self._storage.heartbeat([lv.trial_id for lv in lives if not lv.finished], now)

    def _maybe_fail_stale(self, force: bool = False) -> list[FrozenTrial]:
        if not self._track_heartbeats:
            return []
        now = time.time()
        if not force and now - self._last_stale_check < self.heartbeat_interval:
            return []
        self._last_stale_check = now
        # Refresh our own heartbeats first, so that a delayed heartbeat thread never
        # makes this process declare its own running trials dead.
        self._beat()
        stale_before = now - 3.0 * self.heartbeat_interval
        failed = self._storage.fail_stale_trials(self.study_id, stale_before, self.max_retries)
        mine = {lv.trial_id for lv in self._live.values()}
        failed = [f for f in failed if f.trial_id not in mine]
        for f in failed:
            logger.warning(
                "trial %d of study %r lost its heartbeat (worker %s); marked FAILED%s",
                f.number,
                self.name,
                f.worker,
                " and re-queued" if f.retries < self.max_retries else "",
            )
        return failed

    def fail_stale_trials(self) -> list[FrozenTrial]:
        """Mark trials whose worker stopped sending heartbeats FAILED now (and re-queue
        them if ``max_retries`` allows). Also done automatically by :meth:`ask`."""
        return self._maybe_fail_stale(force=True)

    def close(self) -> None:
        """Stop the heartbeat thread (trials still running in this process are left as they are)."""
        hb = self._heartbeat
        if hb is not None:
            hb.stop()
            self._heartbeat = None

    # -- results ---------------------------------------------------------------------
    @property
    def trials(self) -> list[FrozenTrial]:
        """All trials, ordered by number."""
        return self._storage.get_trials(self.study_id)

    def get_trials(self, states: Iterable[TrialState] | None = None) -> list[FrozenTrial]:
        """Trials, optionally only those in ``states``."""
        return self._storage.get_trials(self.study_id, None if states is None else list(states))

    def _trial_by_number(self, number: int) -> FrozenTrial:
        h = self._sync()
        with self._hist_lock:
            trial_id = int(h.trial_ids[number]) if number < h.n else -1
        if trial_id < 0:
            raise TrialNotFoundError(f"study {self.name!r} has no trial number {number}")
        return self._storage.get_trial(trial_id)

    @property
    def best_trial(self) -> FrozenTrial:
        """The best COMPLETE trial (single-objective studies).

        Raises:
            ValueError: if no trial completed, or the study has several directions.
        """
        if self.is_multi_objective:
            raise ValueError(
                "this study has several directions and no single best trial; use best_trials "
                "(the Pareto front)"
            )
        h = self._sync()
        with self._hist_lock:
            number = h.best_number()
        if number is None:
            raise ValueError(
                f"study {self.name!r} has no COMPLETE trial yet ({h.n} trials in total)"
            )
        return self._trial_by_number(number)

    @property
    def best_value(self) -> float:
        v = self.best_trial.value
        assert v is not None
        return v

    @property
    def best_params(self) -> dict[str, Any]:
        return dict(self.best_trial.params)

    @property
    def best_trials(self) -> list[FrozenTrial]:
        """The Pareto front: COMPLETE trials no other COMPLETE trial dominates.

        For a single direction, the trials sharing the best value.
        """
        h = self._sync()
        with self._hist_lock:
            complete = np.flatnonzero(h.mask(TrialState.COMPLETE))
            if complete.size == 0:
                return []
            v = h.signed_values()[complete]
        front = complete[pareto_front_mask(v)]
        return [self._trial_by_number(int(n)) for n in front]

    def trials_dataframe(self) -> pd.DataFrame:
        """Trials as a pandas DataFrame (needs ``pandas``: pip install "tunesmith[pandas]")."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError(
                'trials_dataframe needs pandas; install it with: pip install "tunesmith[pandas]"'
            ) from None
        rows = []
        for t in self.trials:
            row: dict[str, Any] = {
                "number": t.number,
                "state": t.state.name,
            }
            if len(self.directions) == 1:
                row["value"] = t.values[0] if t.values else np.nan
            else:
                for j in range(len(self.directions)):
                    row[f"values_{j}"] = t.values[j] if t.values else np.nan
            for k, v in t.params.items():
                row[f"params_{k}"] = v
            for k, v in t.user_attrs.items():
                row[f"user_attrs_{k}"] = v
            row["datetime_start"] = (
                pd.to_datetime(t.datetime_start, unit="s") if t.datetime_start else pd.NaT
            )
            row["datetime_complete"] = (
                pd.to_datetime(t.datetime_complete, unit="s") if t.datetime_complete else pd.NaT
            )
            row["duration"] = t.duration
            row["cpu_time"] = t.cpu_time
            row["worker"] = t.worker
            row["retries"] = t.retries
            row["error"] = t.error
            rows.append(row)
        return pd.DataFrame(rows)


def pareto_front_mask(values: np.ndarray) -> np.ndarray:
    """Mask of non-dominated rows of ``values`` (lower is better in every column)."""
    n = values.shape[0]
    keep = np.ones(n, dtype=bool)
    for i in range(n):
        if not keep[i]:
            continue
        dominated = np.all(values <= values[i], axis=1) & np.any(values < values[i], axis=1)
        if dominated.any():
            keep[i] = False
            continue
        # i dominates these: drop them now to shrink later comparisons.
        worse = np.all(values[i] <= values, axis=1) & np.any(values[i] < values, axis=1)
        keep &= ~worse
    return keep


class _Heartbeat(threading.Thread):
    def __init__(self, study: Study) -> None:
        super().__init__(name=f"tunesmith-heartbeat-{study.name}", daemon=True)
        self._study = study
        self._halt = threading.Event()

    def stop(self) -> None:
        self._halt.set()

    def run(self) -> None:
        interval = self._study.heartbeat_interval
        while not self._halt.wait(interval):
            try:
                self._study._beat()
            except Exception as exc:  # a transient DB error must not kill the thread
                logger.warning("heartbeat of study %r failed: %s", self._study.name, exc)


def _is_memory(storage: Storage) -> bool:
    from tunesmith.storage.memory import InMemoryStorage

    return isinstance(storage, InMemoryStorage)


# -- module-level API ----------------------------------------------------------------
def create_study(
    name: str | None = None,
    *,
    direction: str | None = None,
    directions: Sequence[str] | None = None,
    storage: str | os.PathLike[str] | Storage | None = None,
    sampler: Sampler | str | Mapping[str, Any] | None = None,
    pruner: Pruner | str | Mapping[str, Any] | None = None,
    seed: int | None = None,
    space: Space | Mapping[str, Any] | None = None,
    load_if_exists: bool = False,
    max_retries: int = 0,
    heartbeat_interval: float | None = None,
    artifact_dir: str | os.PathLike[str] | None = None,
) -> Study:
    """Create a study (or load it with ``load_if_exists=True``).

    Args:
        name: unique name in the storage; generated when omitted.
        direction: ``"minimize"`` (default) or ``"maximize"``.
        directions: one direction per objective, for multi-objective studies.
        storage: None (in memory), a file path (SQLite, e.g. ``"studies.db"``), or
            a URL (``sqlite:///...``, ``postgresql://user@host/db``).
        sampler: a :class:`~tunesmith.samplers.Sampler`, or a name such as ``"sobol"``.
        pruner: a :class:`~tunesmith.pruners.Pruner`, a name such as ``"median"``,
            ``"sh"`` or ``"hyperband"``, or a description mapping; decides when
            ``trial.should_prune()`` says stop. Stored with the study, so
            :func:`load_study` (and ``tunesmith worker``) prune the same way.
        seed: fixes every proposal; drawn at random (and stored) when omitted.
        space: a declared search space (define-and-run); ``trial.params`` is then
            filled when the trial is asked.
        load_if_exists: return the existing study of that name instead of failing.
        max_retries: times a trial lost to a crashed worker is re-queued.
        heartbeat_interval: seconds between heartbeats of running trials; a trial
            without a heartbeat for 3 intervals is considered dead (default 10 s).
        artifact_dir: folder for trial checkpoints (``trial.save_checkpoint``), stored
            with the study. By default they go beside a SQLite file
            (``<file>.checkpoints/``), into a temporary folder for in-memory studies, and
            for PostgreSQL under ``$TUNESMITH_ARTIFACTS``; see docs/checkpoints.md.

    Raises:
        DuplicatedStudyError: if the name exists and ``load_if_exists`` is False.
        StorageError: if the storage cannot be opened.

    Example:
        >>> import tunesmith as ts
        >>> study = ts.create_study("demo", direction="maximize", seed=1)
        >>> study.direction
        'maximize'
    """
    st = get_storage(storage)
    dirs = _check_directions(direction, directions)
    sampler_obj = make_sampler(sampler)
    pruner_obj = make_pruner(pruner)
    if space is not None and not isinstance(space, Space):
        space = Space(space)
    if not isinstance(max_retries, int) or max_retries < 0:
        raise ValueError(f"max_retries must be an integer >= 0, got {max_retries!r}")
    if artifact_dir is not None:
        artifact_dir = _absolute_dir(artifact_dir)
    if heartbeat_interval is not None and heartbeat_interval <= 0:
        raise ValueError(f"heartbeat_interval must be positive seconds, got {heartbeat_interval!r}")
    if name is None:
        name = f"study-{uuid.uuid4().hex[:10]}"
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"study name must be a non-empty string, got {name!r}")
    if load_if_exists:
        from tunesmith.exceptions import StudyNotFoundError

        try:
            rec = st.get_study(name)
        except StudyNotFoundError:
            pass
        else:
            if rec.directions != dirs and (direction is not None or directions is not None):
                raise ValueError(
                    f"study {name!r} exists with directions {list(rec.directions)}, not "
                    f"{list(dirs)}; load it with the same directions or use another name"
                )
            return Study(st, rec, sampler_obj, pruner_obj, artifact_dir)
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2**31))  # type: ignore[operator]
    attrs: dict[str, Any] = {
        _SYS + "seed": int(seed),
        _SYS + "max_retries": max_retries,
        _SYS + "heartbeat_interval": float(heartbeat_interval or DEFAULT_HEARTBEAT),
        _SYS + "sampler": (sampler_obj or AutoSampler()).describe(),
    }
    if space is not None:
        attrs[_SYS + "space"] = space.to_dict()
    if artifact_dir is not None:
        attrs[_SYS + "artifact_dir"] = artifact_dir
    describe = getattr(pruner_obj, "describe", None)
    if callable(describe):
        attrs[_SYS + "pruner"] = describe()
    from tunesmith.exceptions import DuplicatedStudyError

    try:
        rec = st.create_study(name, dirs, attrs)
    except DuplicatedStudyError:
        if load_if_exists:  # lost a race with another process creating it
            return Study(st, st.get_study(name), sampler_obj, pruner_obj, artifact_dir)
        raise
    return Study(st, rec, sampler_obj, pruner_obj)


def _absolute_dir(path: str | os.PathLike[str]) -> str:
    if not isinstance(path, str | os.PathLike) or not os.fspath(path).strip():
        raise ValueError(f"artifact_dir must be a folder path, got {path!r}")
    resolved = Path(path).expanduser().resolve()
    if resolved.exists() and not resolved.is_dir():
        raise ValueError(f"artifact_dir {str(resolved)!r} exists and is not a folder")
    return str(resolved)


def load_study(
    name: str,
    storage: str | os.PathLike[str] | Storage,
    *,
    sampler: Sampler | str | Mapping[str, Any] | None = None,
    pruner: Pruner | str | Mapping[str, Any] | None = None,
    artifact_dir: str | os.PathLike[str] | None = None,
) -> Study:
    """Load an existing study.

    The sampler and pruner default to the ones stored with the study; pass
    ``pruner="none"`` to run without the stored pruner. ``artifact_dir`` overrides,
    for this process, where trial checkpoints are kept (e.g. the same shared folder
    mounted elsewhere on this machine).

    Raises:
        StudyNotFoundError: naming the studies the storage does have.
    """
    st = get_storage(storage)
    if artifact_dir is not None:
        artifact_dir = _absolute_dir(artifact_dir)
    return Study(st, st.get_study(name), make_sampler(sampler), make_pruner(pruner), artifact_dir)


def delete_study(
    name: str,
    storage: str | os.PathLike[str] | Storage,
    *,
    artifact_dir: str | os.PathLike[str] | None = None,
) -> None:
    """Delete a study, all of its trials and its trials' checkpoint files.

    Args:
        name: the study.
        storage: where it is kept.
        artifact_dir: the checkpoint folder, if it was neither stored with the study
            nor is the storage's default (see docs/checkpoints.md).
    """
    st = get_storage(storage)
    rec = st.get_study(name)
    if artifact_dir is None:
        artifact_dir = st.get_study_attrs(rec.study_id).get(_SYS + "artifact_dir")
    root = _checkpoints.checkpoint_root(st, artifact_dir)
    st.delete_study(name)
    if isinstance(root, str):
        return  # no checkpoint folder is configured, so none was written
    problems = _checkpoints.remove_tree(_checkpoints.study_dir(root, name, rec.study_id))
    if problems:
        warnings.warn(
            f"study {name!r} was deleted, but some of its checkpoint files could not be "
            f"removed: {'; '.join(problems[:3])}",
            RuntimeWarning,
            stacklevel=2,
        )


def list_studies(storage: str | os.PathLike[str] | Storage) -> list[StudySummary]:
    """Summaries (name, directions, trial counts, best values) of all studies in a storage."""
    return get_storage(storage).list_studies()
