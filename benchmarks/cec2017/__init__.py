"""CEC2017 bound-constrained benchmark suite.

* :mod:`benchmarks.cec2017.functions`: the official F1..F30 in NumPy (batched,
  validated against the official C code); needs only numpy and the official data.
* :mod:`benchmarks.cec2017.opfunu_suite`: opfunu 1.0.4's (non-official) CEC2017
  classes, for reproducing papers that used them (imported lazily; opfunu lives in
  ``.bench-venv`` only).

Usage::

    from benchmarks.cec2017 import cec2017

    f = cec2017(21, 100)            # Composition Function 1, D = 100
    values = f(X)                   # X: (n, 100) -> (n,), includes the bias 2100
"""

from __future__ import annotations

from .functions import (
    DATA_ENV,
    DIMS,
    FUNCTION_NAMES,
    LOWER,
    UPPER,
    CEC2017Function,
    available,
    cec2017,
    default_data_dir,
)

__all__ = [
    "DATA_ENV",
    "DIMS",
    "FUNCTION_NAMES",
    "LOWER",
    "UPPER",
    "CEC2017Function",
    "available",
    "cec2017",
    "default_data_dir",
]
