"""Uniform random search."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tunesmith.samplers.base import Sampler, SamplerContext
from tunesmith.space import Distribution, Space

__all__ = ["RandomSampler"]


class RandomSampler(Sampler):
    """Draws every parameter independently and uniformly (in log space for ``log=True``).

    A strong baseline in high dimension (Bergstra & Bengio, 2012) and the reference
    every model-based sampler must beat.

    Args:
        seed: fixes the proposals; None uses the study's seed.

    Example:
        >>> import tunesmith as ts
        >>> study = ts.create_study(sampler=ts.RandomSampler(seed=0))
    """

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed

    def relative_space(self, ctx: SamplerContext) -> Space | None:
        return ctx.space

    def sample_relative(self, ctx: SamplerContext, number: int, space: Space) -> dict[str, Any]:
        u = ctx.rng(number, "relative").random(len(space))
        return space.from_unit(u)

    def sample_independent(
        self,
        ctx: SamplerContext,
        number: int,
        name: str,
        dist: Distribution,
        params: Mapping[str, Any],
    ) -> Any:
        # Salted by name: a parameter's value does not depend on the order of suggest calls.
        return dist.value_at(ctx.uniform(number, name))
