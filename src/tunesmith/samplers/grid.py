"""Exhaustive grid search."""

from __future__ import annotations

import itertools
import threading
import weakref
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
                # Same value rules as choices (and distinct); numpy scalars (np.linspace,
                # np.arange) become Python numbers, so the grid can be stored as JSON.
                self.grid[name] = list(Categorical(vals).choices)
        self._lock = threading.Lock()
        self._cache_key: Any = None
        self._points: list[dict[str, Any]] = []
        self._order: np.ndarray = np.empty(0, dtype=int)
        # history -> {trial number: point index} for points handed out by this process
        self._handed: weakref.WeakKeyDictionary[Any, dict[int, int]] = weakref.WeakKeyDictionary()

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
            self._handed = weakref.WeakKeyDictionary()

    def _used(self, ctx: SamplerContext) -> np.ndarray:
        """Mask over grid points already taken by a trial in any state."""
        h = ctx.history
        used = np.zeros(len(self._points), dtype=bool)
        if h.n == 0:
            return used
        # Points of a conditional space lack their inactive parameters: compare over the
        # union of names, with None standing for "absent" on both sides.
        names = list(dict.fromkeys(n for p in self._points for n in p))
        if not names or not any(n in h.params for n in names):
            return used
        taken = h.states[: h.n] >= int(TrialState.WAITING)
        hist = np.stack([h.column(n) for n in names], axis=1)[taken]
        if hist.size == 0:
            return used
        seen = {tuple(None if v != v else v for v in r) for r in hist.tolist()}
        for i, p in enumerate(self._points):
            key: list[Any] = []
            for n in names:
                if n not in p:
                    key.append(None)
                    continue
                dist = h.distributions.get(n)
                if dist is None:
                    break  # no trial has this parameter yet
                try:
                    key.append(dist.to_internal(p[n]))
                except (SpaceError, ValueError, TypeError):
                    break
            else:
                used[i] = tuple(key) in seen
        return used

    def _pending(self, ctx: SamplerContext) -> np.ndarray:
        """Mask over points handed to trials of this process that are still running.

        Their parameters may not be in the history yet (define-by-run trials store
        them with the heartbeat), so without this two running trials could get the
        same point. Once a trial finished, the history decides whether its point
        was used.
        """
        h = ctx.history
        pending = np.zeros(len(self._points), dtype=bool)
        with self._lock:
            handed = self._handed.get(h)
            if not handed:
                return pending
            for number, idx in list(handed.items()):
                state = int(h.states[number]) if number < h.n else -1
                if state > int(TrialState.RUNNING):
                    del handed[number]  # finished: the history knows its parameters
                elif idx < len(pending):
                    pending[idx] = True
        return pending

    def n_points_total(self, ctx: SamplerContext) -> int:
        self._ensure(ctx)
        return len(self._points)

    def is_exhausted(self, ctx: SamplerContext) -> bool:
        self._ensure(ctx)
        return bool((self._used(ctx) | self._pending(ctx)).all())

    # -- proposals ---------------------------------------------------------------
    def relative_space(self, ctx: SamplerContext) -> Space | None:
        return self._space(ctx)

    def sample_relative(self, ctx: SamplerContext, number: int, space: Space) -> dict[str, Any]:
        self._ensure(ctx)
        used = self._used(ctx) | self._pending(ctx)
        free = [i for i in self._order if not used[i]]
        if not free:
            raise SamplerExhausted(f"all {len(self._points)} grid points have been tried")
        with self._lock:
            self._handed.setdefault(ctx.history, {})[number] = int(free[0])
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
