"""Built-in curve benchmarks for the simulator (NumPy only)."""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tunesmith.space import Float, Space

__all__ = ["CurveFunction", "HartmannCurves", "hartmann6"]

_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H6_A = np.array(
    [
        [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
        [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
        [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
        [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
    ]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
#: the minimum of Hartmann-6 on [0, 1]^6.
H6_MIN = -3.32236801141551


def hartmann6(x: Sequence[float] | np.ndarray) -> float:
    """The Hartmann-6 test function on [0, 1]^6 (minimum -3.3224 near
    (0.20, 0.15, 0.48, 0.28, 0.31, 0.66)).

    Example:
        >>> round(hartmann6([0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573]), 4)
        -3.3224
    """
    z = np.asarray(x, dtype=float)
    if z.shape != (6,):
        raise ValueError(f"hartmann6 takes 6 coordinates, got shape {z.shape}")
    inner = np.sum(_H6_A * (z - _H6_P) ** 2, axis=1)
    return float(-np.sum(_H6_ALPHA * np.exp(-inner)))


class HartmannCurves:
    """Synthetic learning curves of a validation error, one per point of [0, 1]^6.

    A configuration ``x0 .. x5`` (each in [0, 1]) trains like this:

    * its **asymptote** (the error it would reach with unlimited training) is
      Hartmann-6 rescaled to [0.05, 0.55]: ``0.05 + 0.5 * q`` with ``q = (h - h_min) /
      -h_min`` (0 at the optimum; most of the cube sits near 0.55), plus up to 0.05 for
      configurations that learn fast (a fast start tends to end a little higher, so
      early leaders are not always the final winners);
    * its error starts at 1.0 and decays towards the asymptote as a power law: the
      remaining fraction of the gap after ``t`` steps is ``(1 + t / tau) ** -alpha``,
      where the time scale ``tau`` ranges from 0.5 % to 16 % of ``max_step``
      depending on ``x0`` and ``x3`` (slow learners have not quite converged at
      ``max_step``, which costs them at the end) and ``alpha`` from 0.8 to 1.8
      depending on ``x2``;
    * Gaussian noise of standard deviation ``noise`` is added at every step, drawn
      from a generator seeded by the configuration and ``seed`` (the same
      configuration always gets the same curve);
    * a step takes ``10 ** (x4 - 0.5)`` simulated seconds (0.32 to 3.2 s, like a
      width that makes epochs slower).

    The value after ``max_step`` steps (the fully trained value) is what a
    full-budget optimizer minimizes; at Hartmann-6's optimum it is about 0.07 (with
    ``max_step=81``), while a typical random configuration ends near 0.55. Early
    values rank configurations only roughly: among 3,000 random configurations, the
    20 best fully trained ones have a median rank of about 550 after one step of 81,
    40 after three and 10 after nine.

    Args:
        max_step: steps (epochs) of full training (>= 1).
        noise: standard deviation of the per-step noise (>= 0).
        seed: changes every curve's noise.

    Example:
        >>> bench = HartmannCurves(max_step=9)
        >>> values, seconds = bench.curve({f"x{i}": 0.5 for i in range(6)})
        >>> len(values), round(seconds, 3)
        (9, 1.0)
    """

    direction = "minimize"

    def __init__(self, max_step: int = 81, noise: float = 0.005, seed: int = 0) -> None:
        if isinstance(max_step, bool) or not isinstance(max_step, int) or max_step < 1:
            raise ValueError(f"max_step must be an integer >= 1, got {max_step!r}")
        if not isinstance(noise, int | float) or not noise >= 0 or not math.isfinite(noise):
            raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
        self.max_step = max_step
        self.noise = float(noise)
        self.seed = int(seed)
        self.space = Space({f"x{i}": Float(0.0, 1.0) for i in range(6)})

    def __repr__(self) -> str:
        return f"HartmannCurves(max_step={self.max_step}, noise={self.noise}, seed={self.seed})"

    def _x(self, params: Mapping[str, Any]) -> np.ndarray:
        try:
            return np.array([float(params[f"x{i}"]) for i in range(6)])
        except KeyError as exc:
            raise ValueError(f"HartmannCurves needs parameters x0..x5, got {dict(params)}") from exc

    def mean_curve(self, params: Mapping[str, Any]) -> np.ndarray:
        """The noise-free curve: the expected value after each step 1 .. max_step."""
        x = self._x(params)
        q = (hartmann6(x) - H6_MIN) / -H6_MIN
        speed = 0.5 * (x[0] + 1.0 - x[3])  # 1 = fastest learner
        asymptote = 0.05 + 0.5 * q + 0.05 * speed**2
        tau = self.max_step * 10.0 ** (-2.3 + 1.5 * (1.0 - speed))
        alpha = 0.8 + x[2]
        t = np.arange(1, self.max_step + 1, dtype=float)
        return asymptote + (1.0 - asymptote) * (1.0 + t / tau) ** -alpha

    def curve(self, params: Mapping[str, Any]) -> tuple[np.ndarray, float]:
        """``(values after each step, seconds per step)`` of one configuration."""
        mean = self.mean_curve(params)
        x = self._x(params)
        if self.noise > 0:
            key = zlib.crc32(np.round(x, 12).tobytes())
            rng = np.random.default_rng([self.seed, key])
            mean = mean + self.noise * rng.standard_normal(mean.size)
        return mean, float(10.0 ** (x[4] - 0.5))


@dataclass(frozen=True)
class CurveFunction:
    """A benchmark made of a space and a function that returns a curve.

    Args:
        space: the search space.
        max_step: steps of full training.
        fn: ``params -> (values per step, seconds per step)``, as
            :meth:`CurveBenchmark.curve <tunesmith.simulate.CurveBenchmark.curve>`.
        direction: what the values mean: ``"minimize"`` (a loss) or ``"maximize"``.

    Example:
        >>> import tunesmith as ts
        >>> bench = CurveFunction(
        ...     ts.Space({"lr": ts.Float(1e-4, 1.0, log=True)}),
        ...     max_step=20,
        ...     fn=lambda p: ([1 / (1 + p["lr"] * e) for e in range(1, 21)], 2.0),
        ... )
        >>> bench.curve({"lr": 0.5})[0][:2]
        [0.6666666666666666, 0.5]
    """

    space: Space
    max_step: int
    fn: Callable[[Mapping[str, Any]], tuple[Sequence[float], float | Sequence[float]]]
    direction: str = "minimize"

    def curve(self, params: Mapping[str, Any]) -> tuple[Sequence[float], float | Sequence[float]]:
        """Call ``fn``."""
        return self.fn(params)
