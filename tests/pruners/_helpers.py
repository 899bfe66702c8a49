"""Building studies with hand-made learning curves, and asking a pruner about a new one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import tunesmith as ts
from tunesmith.trial import TrialState

Curve = Mapping[int, float | Sequence[float]]


def finished(study: ts.Study, *curves: Curve, state: TrialState = TrialState.COMPLETE) -> list[int]:
    """Add finished trials with these reports (a COMPLETE trial's value: its last report)."""
    numbers = []
    for curve in curves:
        values: Any = None
        if state == TrialState.COMPLETE:
            values = curve[max(curve)]
        ft = study.add_trial({}, values, state=state, intermediate=dict(curve))
        numbers.append(ft.number)
    return numbers


def start(study: ts.Study, curve: Curve) -> ts.Trial:
    """Ask a new trial and report ``curve`` (in the order given)."""
    trial = study.ask()
    for step, value in curve.items():
        trial.report(value, step)
    return trial


def judge(study: ts.Study, curve: Curve) -> bool:
    """Start a trial with ``curve``; its should_prune() answer; the trial is then failed
    so it does not count as running in later calls."""
    trial = start(study, curve)
    answer = trial.should_prune()
    study.tell(trial, state=TrialState.FAILED)
    return answer


def flat(value: float | Sequence[float], steps: int, first: int = 0) -> dict[int, Any]:
    """The same value at every step ``first .. first + steps - 1``."""
    return {s: value for s in range(first, first + steps)}
