"""Objective of quadratic.yaml: a small function with one conditional parameter.

``tunesmith run quadratic.yaml`` imports this module (the spec's directory is on
``sys.path``) and calls ``objective(trial)`` once per trial. The spec declares the
space, so ``trial.params`` already holds every active parameter.
"""

from __future__ import annotations

import math


def objective(trial):
    """Smallest (0) at x=2, y=-1 with the 'bowl' shape."""
    p = trial.params
    value = (p["x"] - 2.0) ** 2 + (p["y"] + 1) ** 2
    if p["shape"] == "ridge":
        # 'tilt' exists only when shape == ridge (its condition in the spec).
        value += 1.0 + abs(math.log10(p["tilt"]))
    trial.set_user_attr("distance", math.sqrt(value))
    return value
