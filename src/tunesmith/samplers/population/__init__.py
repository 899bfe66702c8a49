"""Population samplers: GA, PSO, DE, GEO and GEGO.

The samplers (:class:`GASampler`, :class:`PSOSampler`, :class:`DESampler`,
:class:`GEOSampler`, :class:`GEGOSampler`) drive the study's ask/tell; the engines
(:class:`GA`, :class:`PSO`, :class:`DE`, :class:`GEO`, :class:`GEGO`) are the same
algorithms as plain NumPy ask/tell objects over the unit cube, for benchmarks that
run them directly (see :func:`minimize`).
"""

from __future__ import annotations

from tunesmith.samplers.population._engines import DE, GA, GEGO, GEO, PSO, minimize
from tunesmith.samplers.population._sampler import (
    DESampler,
    GASampler,
    GEGOSampler,
    GEOSampler,
    PSOSampler,
)

__all__ = [
    "DE",
    "GA",
    "GEGO",
    "GEO",
    "PSO",
    "DESampler",
    "GASampler",
    "GEGOSampler",
    "GEOSampler",
    "PSOSampler",
    "minimize",
]
