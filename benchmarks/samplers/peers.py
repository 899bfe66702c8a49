"""Sampler adapters: tunesmith's samplers and the peers, each driving the same evaluator.

Every adapter maps the library-neutral space of :mod:`.space` (float / log float / int /
log int / categorical) to its library and asks for exactly ``budget`` evaluations through
an :class:`Evaluator`, which counts evaluations (never iterations), records the value of
each, the best-so-far curve and the time spent outside the objective (the sampler's own
cost, per evaluation), and stops the run at its deadline.

Adapters (``--samplers`` names):

=================  =============================================================
``ts-random``      tunesmith RandomSampler
``ts-sobol``       tunesmith SobolSampler
``ts-tpe``         tunesmith TPESampler (defaults)
``ts-cmaes``       tunesmith CmaEsSampler (defaults)
``ts-gp``          tunesmith GPSampler (defaults; skipped when it does not import)
``ts-auto``        tunesmith AutoSampler (the default of ``create_study``)
``ts-tpe[k=v,..]`` diagnostic: a tunesmith sampler with keyword arguments (also
                   ``ts-gp[..]``, ``ts-cmaes[..]``, ``ts-auto[..]``)
``ts-tpe-noei``    diagnostic: TPESampler(ei_weights=False) (uniform good-point weights)
``ts-tpe-indep``   diagnostic: TPESampler(multivariate=False) (one KDE per parameter)
``ts-tpe-ce``      diagnostic: TPESampler(consider_endpoints=True)
``optuna-tpe``     optuna.samplers.TPESampler (defaults)
``optuna-gp``      optuna.samplers.GPSampler (defaults)
``optuna-cmaes``   optuna.samplers.CmaEsSampler (defaults; categoricals fall back to
                   Optuna's independent random sampling, as in Optuna itself)
``optuna-random``  optuna.samplers.RandomSampler
``hyperopt``       hyperopt.fmin with tpe.suggest (defaults)
``smac``           SMAC3 HyperparameterOptimizationFacade (random forest), ask/tell
``smac-bb``        SMAC3 BlackBoxFacade (Gaussian process), ask/tell
``hebo``           HEBO (defaults), one suggestion at a time
=================  =============================================================
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from benchmarks.samplers.problems import REPO, Problem
from benchmarks.samplers.space import Param

#: samplers run by another interpreter (one subprocess per cell) because their pins
#: conflict with .bench-venv: HEBO 0.3.6 needs numpy < 1.25 (see setup_peers.sh).
EXTERNAL_PYTHON: dict[str, Path] = {"hebo": REPO / ".bench-hebo" / "bin" / "python"}


class TimeUp(Exception):
    """The run's deadline passed (raised before an evaluation starts)."""


class BudgetDone(Exception):
    """The run has used all its evaluations (raised when a peer asks for one more)."""


class Evaluator:
    """Counts evaluations, records values and the time spent outside the objective."""

    def __init__(self, problem: Problem, budget: int, deadline: float) -> None:
        self.problem = problem
        self.budget = budget
        self.deadline = deadline
        self.values: list[float] = []
        self.params: list[dict[str, Any]] = []
        self.sampler_s: list[float] = []  # time since the previous evaluation ended
        self.eval_s: list[float] = []
        self._last = time.perf_counter()
        self.timed_out = False

    def start(self) -> None:
        """Reset the clock after the library's set-up (study creation is not counted)."""
        self._last = time.perf_counter()

    @property
    def done(self) -> bool:
        return len(self.values) >= self.budget

    def __call__(self, params: Mapping[str, Any]) -> float:
        t0 = time.perf_counter()
        if self.done:
            raise BudgetDone
        if t0 > self.deadline:
            self.timed_out = True
            raise TimeUp
        clean = {p.name: p.clip(params[p.name]) for p in self.problem.space}
        v = self.problem(clean)
        t1 = time.perf_counter()
        self.sampler_s.append(t0 - self._last)
        self.eval_s.append(t1 - t0)
        self.values.append(v)
        self.params.append(clean)
        self._last = t1
        return v


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence peers' prints, progress bars and warnings."""
    buf = io.StringIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
            yield


def _limit_threads() -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")


# ----------------------------------------------------------------------------------------
# define-by-run libraries: tunesmith and Optuna share the ask / suggest_* / tell loop
# ----------------------------------------------------------------------------------------


def _suggest(trial: Any, space: tuple[Param, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in space:
        if p.kind == "float":
            out[p.name] = trial.suggest_float(p.name, p.low, p.high, log=p.log)
        elif p.kind == "int":
            out[p.name] = trial.suggest_int(p.name, int(p.low), int(p.high), log=p.log)
        else:
            out[p.name] = trial.suggest_categorical(p.name, list(p.choices))
    return out


def _ask_tell_loop(study: Any, ev: Evaluator) -> None:
    ev.start()
    while not ev.done:
        trial = study.ask()
        params = _suggest(trial, ev.problem.space)
        value = ev(params)
        study.tell(trial, value)


def _run_tunesmith(make: Callable[[int], Any]) -> Callable[[Evaluator, int], None]:
    def run(ev: Evaluator, seed: int) -> None:
        import tunesmith as ts

        logging.getLogger("tunesmith").setLevel(logging.ERROR)
        study = ts.create_study(direction="minimize", sampler=make(seed), seed=seed)
        _ask_tell_loop(study, ev)

    return run


def _ts_tpe_variant(**kwargs: Any) -> Callable[[int], Any]:
    def make(seed: int) -> Any:
        import tunesmith as ts

        return ts.TPESampler(seed=seed, **kwargs)

    return make


def _ts_gp(seed: int) -> Any:
    from tunesmith.samplers.gp import GPSampler

    return GPSampler(seed=seed)


def _run_optuna(make: Callable[[int], Any]) -> Callable[[Evaluator, int], None]:
    def run(ev: Evaluator, seed: int) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        study = optuna.create_study(direction="minimize", sampler=make(seed))
        _ask_tell_loop(study, ev)

    return run


def _optuna_sampler(name: str) -> Callable[[int], Any]:
    def make(seed: int) -> Any:
        import optuna

        if name == "gp":
            import torch

            torch.set_num_threads(1)
            torch.manual_seed(seed)
            return optuna.samplers.GPSampler(seed=seed)
        cls = {
            "tpe": optuna.samplers.TPESampler,
            "cmaes": optuna.samplers.CmaEsSampler,
            "random": optuna.samplers.RandomSampler,
        }[name]
        return cls(seed=seed)

    return make


# ----------------------------------------------------------------------------------------
# hyperopt
# ----------------------------------------------------------------------------------------


def _run_hyperopt(ev: Evaluator, seed: int) -> None:
    import numpy as np
    from hyperopt import STATUS_OK, Trials, fmin, hp, tpe

    logging.getLogger("hyperopt").setLevel(logging.ERROR)
    space: dict[str, Any] = {}
    for p in ev.problem.space:
        if p.kind == "float":
            space[p.name] = (
                hp.loguniform(p.name, math.log(p.low), math.log(p.high))
                if p.log
                else hp.uniform(p.name, p.low, p.high)
            )
        elif p.kind == "int":
            # hp.uniformint / qloguniform(q=1) round to integers; values are clipped by
            # Param.clip (qloguniform can round to low - 1 / high + 1 only at the edges).
            space[p.name] = (
                hp.qloguniform(p.name, math.log(p.low - 0.5), math.log(p.high + 0.5), 1)
                if p.log
                else hp.uniformint(p.name, int(p.low), int(p.high))
            )
        else:
            space[p.name] = hp.choice(p.name, list(p.choices))

    def objective(params: dict[str, Any]) -> dict[str, Any]:
        return {"loss": ev(params), "status": STATUS_OK}

    ev.start()
    with _quiet():
        fmin(
            objective,
            space,
            algo=tpe.suggest,
            max_evals=ev.budget,
            trials=Trials(),
            rstate=np.random.default_rng(seed),
            show_progressbar=False,
            catch_eval_exceptions=False,
        )


# ----------------------------------------------------------------------------------------
# SMAC3
# ----------------------------------------------------------------------------------------


def _smac_space(space: tuple[Param, ...], seed: int) -> tuple[Any, dict[str, dict[str, Any]]]:
    from ConfigSpace import Categorical, ConfigurationSpace, Float, Integer

    cs = ConfigurationSpace(seed=seed)
    decode: dict[str, dict[str, Any]] = {}
    for p in space:
        if p.kind == "float":
            cs.add(Float(p.name, (p.low, p.high), log=p.log))
        elif p.kind == "int":
            cs.add(Integer(p.name, (int(p.low), int(p.high)), log=p.log))
        else:
            labels = [str(c) for c in p.choices]
            decode[p.name] = dict(zip(labels, p.choices, strict=True))
            cs.add(Categorical(p.name, labels))
    return cs, decode


def _run_smac(facade: str) -> Callable[[Evaluator, int], None]:
    def run(ev: Evaluator, seed: int) -> None:
        from smac import BlackBoxFacade, HyperparameterOptimizationFacade, Scenario
        from smac.runhistory.dataclasses import TrialValue

        cs, decode = _smac_space(ev.problem.space, seed)
        outdir = tempfile.mkdtemp(prefix="smac-bench-")
        try:
            with _quiet():
                scenario = Scenario(
                    cs,
                    deterministic=True,
                    n_trials=ev.budget,
                    seed=seed,
                    output_directory=outdir,
                )
                cls = HyperparameterOptimizationFacade if facade == "hpo" else BlackBoxFacade
                smac = cls(
                    scenario,
                    target_function=lambda config, seed=0: 0.0,
                    overwrite=True,
                    logging_level=40,
                )
            ev.start()
            while not ev.done:
                with _quiet():
                    info = smac.ask()
                cfg = dict(info.config)
                params = {k: decode[k][v] if k in decode else v for k, v in cfg.items()}
                value = ev(params)
                with _quiet():
                    smac.tell(info, TrialValue(cost=value))
        finally:
            shutil.rmtree(outdir, ignore_errors=True)

    return run


# ----------------------------------------------------------------------------------------
# HEBO
# ----------------------------------------------------------------------------------------


def _run_hebo(ev: Evaluator, seed: int) -> None:
    import numpy as np
    import torch

    torch.set_num_threads(1)
    with _quiet():
        from hebo.design_space.design_space import DesignSpace
        from hebo.optimizers.hebo import HEBO

    spec: list[dict[str, Any]] = []
    decode: dict[str, dict[str, Any]] = {}
    for p in ev.problem.space:
        if p.kind == "float":
            spec.append(
                {"name": p.name, "type": "pow" if p.log else "num", "lb": p.low, "ub": p.high}
            )
        elif p.kind == "int":
            spec.append(
                {
                    "name": p.name,
                    "type": "pow_int" if p.log else "int",
                    "lb": int(p.low),
                    "ub": int(p.high),
                }
            )
        else:
            labels = [str(c) for c in p.choices]
            decode[p.name] = dict(zip(labels, p.choices, strict=True))
            spec.append({"name": p.name, "type": "cat", "categories": labels})
    np.random.seed(seed)
    torch.manual_seed(seed)
    with _quiet():
        opt = HEBO(DesignSpace().parse(spec), scramble_seed=seed)
    ev.start()
    while not ev.done:
        with _quiet():
            rec = opt.suggest(n_suggestions=1)
        row = rec.iloc[0].to_dict()
        params = {}
        for p in ev.problem.space:
            v = row[p.name]
            params[p.name] = decode[p.name][str(v)] if p.name in decode else v
        value = ev(params)
        with _quiet():
            opt.observe(rec, np.array([[value]]))


# ----------------------------------------------------------------------------------------
# registry
# ----------------------------------------------------------------------------------------


def _ts(cls_name: str) -> Callable[[int], Any]:
    def make(seed: int) -> Any:
        import tunesmith as ts

        return getattr(ts, cls_name)(seed=seed)

    return make


ADAPTERS: dict[str, Callable[[Evaluator, int], None]] = {
    "ts-random": _run_tunesmith(_ts("RandomSampler")),
    "ts-sobol": _run_tunesmith(_ts("SobolSampler")),
    "ts-tpe": _run_tunesmith(_ts("TPESampler")),
    "ts-cmaes": _run_tunesmith(_ts("CmaEsSampler")),
    "ts-gp": _run_tunesmith(_ts_gp),
    "ts-auto": _run_tunesmith(_ts("AutoSampler")),
    # diagnostics (not in the default set): which TPE default drives a difference
    "ts-tpe-noei": _run_tunesmith(_ts_tpe_variant(ei_weights=False)),
    "ts-tpe-indep": _run_tunesmith(_ts_tpe_variant(multivariate=False)),
    "ts-tpe-ce": _run_tunesmith(_ts_tpe_variant(consider_endpoints=True)),
    "optuna-tpe": _run_optuna(_optuna_sampler("tpe")),
    "optuna-gp": _run_optuna(_optuna_sampler("gp")),
    "optuna-cmaes": _run_optuna(_optuna_sampler("cmaes")),
    "optuna-random": _run_optuna(_optuna_sampler("random")),
    "hyperopt": _run_hyperopt,
    "smac": _run_smac("hpo"),
    "smac-bb": _run_smac("bb"),
    "hebo": _run_hebo,
}

#: what each adapter needs importable; a sampler whose module fails to import is skipped
REQUIRES: dict[str, tuple[str, ...]] = {
    "ts-gp": ("tunesmith.samplers.gp",),
    "optuna-tpe": ("optuna",),
    "optuna-gp": ("optuna", "torch"),
    "optuna-cmaes": ("optuna", "cmaes"),
    "optuna-random": ("optuna",),
    "hyperopt": ("hyperopt",),
    "smac": ("smac",),
    "smac-bb": ("smac",),
    "hebo": ("hebo", "torch"),
}

OURS = ["ts-random", "ts-sobol", "ts-tpe", "ts-cmaes", "ts-gp", "ts-auto"]
OPTUNA = ["optuna-tpe", "optuna-gp", "optuna-cmaes", "optuna-random"]
PEERS = [*OPTUNA, "hyperopt", "smac", "hebo"]
DEFAULT_SAMPLERS = [*OURS, *PEERS]

SAMPLER_SETS = {"ours": OURS, "optuna": OPTUNA, "peers": PEERS, "default": DEFAULT_SAMPLERS}


def _external(name: str) -> Path | None:
    py = EXTERNAL_PYTHON.get(name)
    if py is None or Path(os.path.abspath(sys.executable)).parent == py.parent:
        return None
    return py


def availability(name: str) -> str | None:
    """None when the sampler can run here, else why not (the import error)."""
    import importlib

    py = _external(name)
    if py is not None:
        if not py.exists():
            return f"{py} not found: run benchmarks/samplers/setup_peers.sh"
        mods = ", ".join(REQUIRES.get(name, ()))
        r = subprocess.run(
            [str(py), "-c", f"import {mods}"], capture_output=True, text=True, cwd=REPO
        )
        if r.returncode:
            return f"{py}: import {mods} failed: {r.stderr.strip().splitlines()[-1:]}"
        return None
    for mod in REQUIRES.get(name, ()):
        try:
            with _quiet():
                importlib.import_module(mod)
        except Exception as exc:
            return f"import {mod}: {type(exc).__name__}: {exc}"
    return None


_VARIANT_BASES = {
    "ts-tpe": "TPESampler",
    "ts-gp": "GPSampler",
    "ts-cmaes": "CmaEsSampler",
    "ts-auto": "AutoSampler",
}


def _variant(name: str) -> Callable[[Evaluator, int], None] | None:
    """``ts-tpe[magic_clip_exponent=1.0,gamma=0.1]``: a tunesmith sampler with keyword
    arguments (diagnostics; values are parsed as Python literals)."""
    import ast

    base, sep, rest = name.partition("[")
    if not sep or not rest.endswith("]") or base not in _VARIANT_BASES:
        return None
    kwargs: dict[str, Any] = {}
    for item in filter(None, rest[:-1].split(",")):
        key, eq, value = item.partition("=")
        if not eq:
            raise KeyError(f"bad sampler variant {name!r}: expected key=value, got {item!r}")
        kwargs[key.strip()] = ast.literal_eval(value.strip())
    cls_name = _VARIANT_BASES[base]

    def make(seed: int) -> Any:
        import tunesmith as ts

        return getattr(ts, cls_name)(seed=seed, **kwargs)

    return _run_tunesmith(make)


def expand(names: list[str]) -> list[str]:
    out: list[str] = []
    for n in names:
        for s in SAMPLER_SETS.get(n, [n]):
            if s not in ADAPTERS and (adapter := _variant(s)) is not None:
                ADAPTERS[s] = adapter
            if s not in ADAPTERS:
                raise KeyError(f"unknown sampler {s!r}; known: {sorted(ADAPTERS)}")
            if s not in out:
                out.append(s)
    return out


def run_cell(
    sampler: str, problem: Problem, seed: int, budget: int, time_limit: float
) -> dict[str, Any]:
    """Run one (problem, sampler, seed) cell and return its record (JSON-ready)."""
    py = _external(sampler)
    if py is not None:
        return _run_external(py, sampler, problem, seed, budget, time_limit)
    _limit_threads()
    t0 = time.perf_counter()
    ev = Evaluator(problem, budget, deadline=t0 + time_limit)
    status, error = "ok", None
    try:
        (ADAPTERS.get(sampler) or _variant(sampler) or ADAPTERS[sampler])(ev, seed)
    except (TimeUp, BudgetDone):
        pass
    except Exception as exc:
        import traceback

        status = "error"
        error = f"{type(exc).__name__}: {exc}\n" + traceback.format_exc(limit=-6)
    wall = time.perf_counter() - t0
    if status == "ok" and ev.timed_out:
        status = "timeout"
    elif status == "ok" and len(ev.values) < budget:
        status = "short"
        error = f"the sampler stopped after {len(ev.values)} evaluations"
    best: list[float] = []
    for v in ev.values:
        best.append(v if not best else min(best[-1], v))
    i_best = min(range(len(ev.values)), key=ev.values.__getitem__) if ev.values else None
    return {
        "problem": problem.name,
        "sampler": sampler,
        "seed": seed,
        "budget": budget,
        "status": status,
        "error": error,
        "n_evals": len(ev.values),
        "values": ev.values,
        "best_curve": best,
        "best_value": best[-1] if best else None,
        "best_params": ev.params[i_best] if i_best is not None else None,
        "params": ev.params,
        "sampler_s": [round(x, 6) for x in ev.sampler_s],
        "eval_s": [round(x, 6) for x in ev.eval_s],
        "sampler_total_s": sum(ev.sampler_s),
        "eval_total_s": sum(ev.eval_s),
        "wall_s": wall,
        "fstar": problem.fstar,
    }


def _run_external(
    py: Path, sampler: str, problem: Problem, seed: int, budget: int, time_limit: float
) -> dict[str, Any]:
    """Run the cell with another interpreter (``python -m benchmarks.samplers.cell``)."""
    args = [str(py), "-m", "benchmarks.samplers.cell", problem.name, sampler, str(seed)]
    args += [str(budget), str(time_limit)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    t0 = time.perf_counter()
    try:
        r = subprocess.run(
            args, capture_output=True, text=True, cwd=REPO, env=env, timeout=time_limit + 90
        )
    except subprocess.TimeoutExpired:
        err = f"{py.name} subprocess still running {time_limit + 90:.0f} s after start"
        return {"problem": problem.name, "sampler": sampler, "seed": seed, "budget": budget,
                "status": "killed", "error": err, "wall_s": time.perf_counter() - t0}  # fmt: skip
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
    if r.returncode or not lines:
        err = f"exit {r.returncode}: {r.stderr[-3000:]}"
        return {"problem": problem.name, "sampler": sampler, "seed": seed, "budget": budget,
                "status": "error", "error": err, "wall_s": time.perf_counter() - t0}  # fmt: skip
    rec = json.loads(lines[-1])
    rec["interpreter"] = str(py.relative_to(REPO)) if py.is_relative_to(REPO) else str(py)
    rec["process_wall_s"] = time.perf_counter() - t0
    return rec
