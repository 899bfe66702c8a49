"""Exhaustive grid search."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tunesmith.exceptions import SamplerExhausted, SpaceError
from tunesmith.samplers.base import Sampler, SamplerContext
from tunesmith.space import Categorical, Distribution, Space
from tunesmith.trial import TrialState

__all__ = ["GridSampler"]


class GridSampler(Sampler):
    """Tries every combination of values once; the study stops when the grid is done.

    The grid is either given explicitly (``{"C": [0.1, 1, 10], "kernel": ["rbf"]}``,
    which also works for define-by-run objectives whose suggestions cover these
    values) or derived from the study's declared space (integers, categoricals and
    stepped floats enumerate their values; continuous floats need ``n_points``).
    Points are visited in an order shuffled by the seed (so a partial grid is an
    unbiased sample), skipping points any earlier trial already took, failed ones
    included; several workers never get the same point.

    Args:
        grid: mapping of parameter name to its list of values.
        n_points: points per continuous float when the grid comes from the space.
        seed: shuffling seed; None uses the study's seed.
        shuffle: visit points in a seeded random order instead of row-major order.

    Example:
        >>> import tunesmith as ts
        >>> study = ts.create_study(sampler=ts.GridSampler({"x": [0, 1, 2], "y": ["a", "b"]}))
    """

    def __init__(
        self,
        grid: Mapping[str, Sequence[Any]] | None = None,
        *,
        n_points: int | None = None,
        seed: int | None = None,
        shuffle: bool = True,
    ) -> None:
        self.seed = seed
        self.shuffle = shuffle
        self.n_points = n_points
        self.grid: dict[str, list[Any]] | None = None
        if grid is not None:
            if not isinstance(grid, Mapping) or not grid:
                raise SpaceError(
                    f"GridSampler needs a non-empty mapping of name -> values, got {grid!r}"
                )
            self.grid = {}
            for name, values in grid.items():
                if isinstance(values, str) or not isinstance(values, Sequence | np.ndarray):
                    raise SpaceError(f"grid values for {name!r} must be a list, got {values!r}")
                vals = list(values)
                if not vals:
                    raise SpaceError(f"grid for {name!r} has no values")
                Categorical(vals)  # same value rules as choices (and distinct)
                self.grid[name] = vals
        self._lock = threading.Lock()
        self._cache_key: Any = None
        self._points: list[dict[str, Any]] = []
        self._order: np.ndarray = np.empty(0, dtype=int)

    # -- the grid --------------------------------------------------------------
    def _space(self, ctx: SamplerContext) -> Space:
        if self.grid is not None:
            return Space({n: Categorical(v) for n, v in self.grid.items()})
        if ctx.space is None:
            raise SpaceError(
                "GridSampler needs a grid ({'param': [values...]}) or a study with a declared "
                "space (create_study(space=...))"
            )
        return ctx.space

    def _ensure(self, ctx: SamplerContext) -> None:
        key = (id(ctx.space), ctx.seed)
        with self._lock:
            if self._cache_key == key:
                return
            if self.grid is not None:
                names = list(self.grid)
                self._points = [
                    dict(zip(names, combo, strict=True))
                    for combo in itertools.product(*(self.grid[n] for n in names))
                ]
            else:
                self._points = self._space(ctx).grid(self.n_points)
            order = np.arange(len(self._points))
            if self.shuffle:
                np.random.default_rng([ctx.seed & 0xFFFFFFFF, 0x6A1D]).shuffle(order)
            self._order = order
            self._cache_key = key

    def _used(self, ctx: SamplerContext) -> np.ndarray:
        """Mask over grid points already taken by a trial in any state."""
        h = ctx.history
        used = np.zeros(len(self._points), dtype=bool)
        if h.n == 0:
            return used
        names = list(self._points[0]) if self._points else []
        if not names:
            return used
        taken = h.states[: h.n] >= int(TrialState.WAITING)
        cols = []
        for n in names:
            if n not in h.params:
                return used
            cols.append(h.column(n))
        hist = np.stack(cols, axis=1)[taken]
        hist = hist[~np.isnan(hist).any(axis=1)]
        if hist.size == 0:
            return used
        dists = {n: h.distributions[n] for n in names}
        seen = {tuple(r) for r in hist.tolist()}
        for i, p in enumerate(self._points):
            try:
                key = tuple(dists[n].to_internal(p[n]) for n in names)
            except (SpaceError, ValueError, TypeError):
                continue
            used[i] = key in seen
        return used

    def n_points_total(self, ctx: SamplerContext) -> int:
        self._ensure(ctx)
        return len(self._points)

    def is_exhausted(self, ctx: SamplerContext) -> bool:
        self._ensure(ctx)
        return bool(self._used(ctx).all())

    # -- proposals ---------------------------------------------------------------
    def relative_space(self, ctx: SamplerContext) -> Space | None:
        return self._space(ctx)

    def sample_relative(self, ctx: SamplerContext, number: int, space: Space) -> dict[str, Any]:
        self._ensure(ctx)
        used = self._used(ctx)
        free = [i for i in self._order if not used[i]]
        if not free:
            raise SamplerExhausted(f"all {len(self._points)} grid points have been tried")
        return dict(self._points[free[0]])

    def sample_independent(
        self,
        ctx: SamplerContext,
        number: int,
        name: str,
        dist: Distribution,
        params: Mapping[str, Any],
    ) -> Any:
        raise SpaceError(
            f"parameter {name!r} is not in the grid; add it to GridSampler's grid "
            f"(known: {sorted(self.grid or (ctx.space or {}))})"
        )

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        if self.grid is not None:
            d["grid"] = self.grid
        if self.n_points is not None:
            d["n_points"] = self.n_points
        if not self.shuffle:
            d["shuffle"] = False
        return d

    def __getstate__(self) -> dict[str, Any]:
        return {
            "grid": self.grid,
            "n_points": self.n_points,
            "seed": self.seed,
            "shuffle": self.shuffle,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        grid = state.pop("grid")
        self.__init__(grid, **state)  # type: ignore[misc]
