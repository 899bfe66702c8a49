"""Samplers: what to try next."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tunesmith._registry import build
from tunesmith.samplers.auto import AutoSampler
from tunesmith.samplers.base import Sampler, SamplerContext
from tunesmith.samplers.bohb import BOHBSampler
from tunesmith.samplers.cmaes import CmaEsSampler
from tunesmith.samplers.dehb import DEHBSampler
from tunesmith.samplers.gp import GPSampler
from tunesmith.samplers.grid import GridSampler
from tunesmith.samplers.population import (
    DESampler,
    GASampler,
    GEGOSampler,
    GEOSampler,
    PSOSampler,
)
from tunesmith.samplers.random import RandomSampler
from tunesmith.samplers.sobol import SobolSampler
from tunesmith.samplers.tpe import TPESampler

__all__ = [
    "AutoSampler",
    "BOHBSampler",
    "CmaEsSampler",
    "DEHBSampler",
    "DESampler",
    "GASampler",
    "GEGOSampler",
    "GEOSampler",
    "GPSampler",
    "GridSampler",
    "PSOSampler",
    "RandomSampler",
    "Sampler",
    "SamplerContext",
    "SobolSampler",
    "TPESampler",
    "make_sampler",
]

_REGISTRY: dict[str, type[Sampler]] = {
    "auto": AutoSampler,
    "autosampler": AutoSampler,
    "bohb": BOHBSampler,
    "bohbsampler": BOHBSampler,
    "cmaes": CmaEsSampler,
    "cmaessampler": CmaEsSampler,
    "cma-es": CmaEsSampler,
    "dehb": DEHBSampler,
    "dehbsampler": DEHBSampler,
    "random": RandomSampler,
    "randomsampler": RandomSampler,
    "sobol": SobolSampler,
    "sobolsampler": SobolSampler,
    "qmc": SobolSampler,
    "gp": GPSampler,
    "gpsampler": GPSampler,
    "tpe": TPESampler,
    "tpesampler": TPESampler,
    "grid": GridSampler,
    "gridsampler": GridSampler,
    "ga": GASampler,
    "gasampler": GASampler,
    "pso": PSOSampler,
    "psosampler": PSOSampler,
    "de": DESampler,
    "desampler": DESampler,
    "geo": GEOSampler,
    "geosampler": GEOSampler,
    "gego": GEGOSampler,
    "gegosampler": GEGOSampler,
}


def make_sampler(spec: str | Mapping[str, Any] | Sampler | None) -> Sampler | None:
    """Build a sampler from a name (``"sobol"``), a description (``{"name": "grid",
    "grid": {...}}``, as stored in study metadata and written in YAML specs) or return
    a sampler unchanged.

    Raises:
        TunesmithError: for an unknown name or bad arguments.
    """
    if spec is None or isinstance(spec, Sampler):
        return spec
    return build("sampler", _REGISTRY, spec, expected="a name or a mapping with 'name'")  # type: ignore[no-any-return]
