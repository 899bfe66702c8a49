"""The sampler protocol: propose parameters from the history and the space.

A sampler is stateless between asks: everything it needs is in the
:class:`SamplerContext` (the columnar history, the declared space, the seed).
Two entry points:

* :meth:`Sampler.sample_relative` proposes all parameters of a space jointly,
  once per trial, when the trial is asked;
* :meth:`Sampler.sample_independent` proposes one parameter that the relative
  space does not cover (define-by-run parameters seen for the first time,
  conditional parameters), when the objective suggests it.

Randomness comes from :meth:`SamplerContext.rng`, seeded by the study seed, the
trial number and a salt. So the proposal for trial *n* does not depend on which
worker asked for it or when: a seed fixes the whole sequence, also in parallel.
"""

from __future__ import annotations

import abc
import threading
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from tunesmith.exceptions import TunesmithError
from tunesmith.history import History
from tunesmith.space import Distribution, Space

__all__ = [
    "ObservedSpace",
    "Sampler",
    "SamplerContext",
    "require_single_objective",
    "rows_in",
    "shared_items",
]


@dataclass(frozen=True, slots=True)
class SamplerContext:
    """What a sampler may read when it proposes.

    Attributes:
        history: columnar view of past and running trials (already synchronized).
        space: the study's declared space, or None for define-by-run studies.
        seed: the seed for this sampler (the sampler's own, else the study's).
        directions: one ``"minimize"``/``"maximize"`` per objective.
        study_name: the study's name (multi-fidelity samplers use it to know the
            Hyperband bracket a trial falls in; empty when unknown).
    """

    history: History
    space: Space | None
    seed: int
    directions: tuple[str, ...]
    study_name: str = ""

    def key(self, number: int, salt: str = "") -> int:
        """A 64-bit hash of (seed, trial number, salt)."""
        return _mix(_mix(_mix(self.seed & _M64) ^ (number & _M64)) ^ _salt(salt))

    def rng(self, number: int, salt: str = "") -> np.random.Generator:
        """A generator determined by (seed, trial number, salt) alone."""
        return np.random.Generator(np.random.Philox(key=self.key(number, salt)))

    def uniform(self, number: int, salt: str = "") -> float:
        """One uniform number in [0, 1) determined by (seed, trial number, salt); cheap."""
        return (self.key(number, salt) >> 11) * _2POW53


_M64 = (1 << 64) - 1
_2POW53 = 1.0 / (1 << 53)


def _mix(z: int) -> int:
    """splitmix64 finalizer: a fast, well-distributed 64-bit hash step."""
    z = (z + 0x9E3779B97F4A7C15) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


@lru_cache(maxsize=4096)
def _salt(salt: str) -> int:
    return zlib.crc32(salt.encode()) if salt else 0


class Sampler(abc.ABC):
    """Base class of samplers.

    Subclasses implement :meth:`sample_independent` and, if they model parameters
    jointly, :meth:`relative_space` and :meth:`sample_relative`.
    """

    #: the sampler's own seed; None means "use the study's seed".
    seed: int | None = None

    def relative_space(self, ctx: SamplerContext) -> Space | None:
        """The parameters to propose jointly at ask time (default: the declared space)."""
        return ctx.space

    def sample_relative(self, ctx: SamplerContext, number: int, space: Space) -> dict[str, Any]:
        """Propose external values for the active parameters of ``space``.

        The default draws each active parameter with :meth:`sample_independent`.
        """
        out: dict[str, Any] = {}
        for name in space:
            if space.is_active(name, out):
                out[name] = self.sample_independent(ctx, number, name, space[name], out)
        return out

    @abc.abstractmethod
    def sample_independent(
        self,
        ctx: SamplerContext,
        number: int,
        name: str,
        dist: Distribution,
        params: Mapping[str, Any],
    ) -> Any:
        """Propose an external value for one parameter."""

    def is_exhausted(self, ctx: SamplerContext) -> bool:
        """Whether the sampler has nothing left to propose (grids)."""
        return False

    def decision(self, ctx: SamplerContext) -> dict[str, Any] | None:
        """What a sampler that chooses between methods uses now (stored by the study
        when it changes); None for samplers that do not choose."""
        return None

    def describe(self) -> dict[str, Any]:
        """A JSON description stored in the study metadata (and used to rebuild it)."""
        d: dict[str, Any] = {"name": type(self).__name__}
        if self.seed is not None:
            d["seed"] = self.seed
        return d

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.describe().items() if k != "name")
        return f"{type(self).__name__}({args})"


class ObservedSpace:
    """The relative space of samplers that model every parameter seen so far.

    A declared space is used as is. Define-by-run studies get every parameter the
    history has seen, in name order (so unit-cube coordinates depend on the set of
    names, not on the order trials came in); the :class:`Space` is rebuilt only when
    that set changes. Thread-safe.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[tuple[str, Distribution], ...] | None = None
        self._space: Space | None = None

    def __call__(self, ctx: SamplerContext) -> Space | None:
        if ctx.space is not None:
            return ctx.space
        key = tuple(sorted(ctx.history.distributions.items()))
        if not key:
            return None
        with self._lock:
            if key != self._key:
                self._key = key
                self._space = Space(dict(key))
            return self._space


def require_single_objective(ctx: SamplerContext, sampler: str) -> None:
    """Raise the error of samplers that optimize one objective, naming the alternatives."""
    if len(ctx.directions) != 1:
        raise TunesmithError(
            f"{sampler} optimizes a single objective; this study has {len(ctx.directions)} "
            "directions. Use TPESampler (which handles several objectives, MOTPE) or "
            "GPSampler (ParEGO) for multi-objective studies"
        )


def shared_items(ctx: SamplerContext) -> list[tuple[str, Distribution]]:
    """The parameters every trial has: the declared space's unconditional ones, or for
    define-by-run studies the intersection space of the completed trials."""
    if ctx.space is not None:
        conditional = ctx.space.conditions
        return [(n, d) for n, d in ctx.space.items() if n not in conditional]
    return list(ctx.history.intersection_space().items())


def rows_in(points: np.ndarray, rows: np.ndarray, atol: float = 0.0) -> np.ndarray:
    """Which rows of ``points (m, d)`` equal a row of ``rows (k, d)``, to ``atol``.

    Samplers use it to avoid proposing a configuration that was already tried. The
    ``(m, k, d)`` comparison is done in blocks of ``k`` to bound its memory.
    """
    out = np.zeros(len(points), dtype=bool)
    step = max(1, 2_000_000 // max(1, points.size))
    for i in range(0, len(rows), step):
        close = np.abs(points[:, None, :] - rows[None, i : i + step, :]) <= atol
        out |= close.all(axis=2).any(axis=1)
    return out
