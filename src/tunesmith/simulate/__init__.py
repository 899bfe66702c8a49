"""Simulate a study on learning curves: benchmark samplers and pruners without training.

:func:`simulate` runs a study (its sampler and its pruner) against a
:class:`CurveBenchmark`, which gives each configuration's learning curve (a value and
a duration per step), on a simulated clock shared by ``n_workers`` virtual workers.
Hours of simulated training take seconds, and the same seeds give the same result.
See ``docs/simulate.md``.

Example:
    >>> import tunesmith as ts
    >>> from tunesmith.simulate import HartmannCurves, simulate
    >>> bench = HartmannCurves(max_step=27)
    >>> study = ts.create_study("sh", sampler="random", pruner="sh", seed=0)
    >>> result = simulate(study, bench, n_workers=4, max_time=900.0)  # simulated seconds
    >>> result.count(ts.TrialState.PRUNED) > result.count(ts.TrialState.COMPLETE)
    True
    >>> round(result.best_value, 2) <= 0.5  # best fully trained validation error
    True
"""

from __future__ import annotations

from tunesmith.simulate._benchmarks import CurveFunction, HartmannCurves, hartmann6
from tunesmith.simulate._loop import (
    AskTellAdapter,
    CurveBenchmark,
    SimulatedTrial,
    SimulationResult,
    simulate,
)

__all__ = [
    "AskTellAdapter",
    "CurveBenchmark",
    "CurveFunction",
    "HartmannCurves",
    "SimulatedTrial",
    "SimulationResult",
    "hartmann6",
    "simulate",
]
