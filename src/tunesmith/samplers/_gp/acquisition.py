"""Log expected improvement (LogEI, Ament et al. 2023), for minimization.

With posterior mean ``mu``, standard deviation ``sigma`` and incumbent ``best``
(the lowest value so far), ``z = (best - mu) / sigma`` and

    EI = sigma * h(z),  h(z) = phi(z) + z Phi(z),  LogEI = log h(z) + log sigma.

EI itself underflows to exactly 0 (with a 0 gradient) a few standard deviations
away from the incumbent, which leaves gradient-based optimizers on flat plateaus;
``log h`` is computed without forming ``h`` where it would underflow:

* ``z > -1``: ``log h(z)`` directly;
* ``-1e6 < z <= -1``: ``log phi(z) + log1mexp(w)`` with
  ``w = log(erfcx(-z / sqrt 2) |z|) + log sqrt(pi / 2)`` (= ``log(|z| Phi(z) / phi(z))``);
* ``z <= -1e6``: the asymptote ``log phi(z) - 2 log |z|``.

This is BoTorch's ``_log_ei_helper``. Its derivative ``d log h / dz = Phi(z) / h(z)``
is computed as ``exp(log_ndtr(z) - log h(z))``, finite everywhere.

Shapes: ``m`` query points, ``p`` feature columns.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erfcx, log_ndtr, ndtr

from tunesmith.samplers._gp.model import GPPosterior

__all__ = ["LogEI", "dlog_h", "log_h"]

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_LOG_SQRT_PI_DIV_2 = 0.5 * math.log(math.pi / 2.0)
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_ASYMPTOTE = -1e6
_LN2 = math.log(2.0)
#: variance floor (standardized units) below which the posterior is taken as exact.
MIN_VAR = 1e-12


def log_h(z: np.ndarray | float) -> np.ndarray:
    """``log(phi(z) + z Phi(z))``, finite for every finite ``z``."""
    z = np.asarray(z, dtype=float)
    with np.errstate(divide="ignore", over="ignore", under="ignore", invalid="ignore"):
        zu = np.maximum(z, -1.0)
        upper = np.log(np.exp(-0.5 * zu * zu) * _INV_SQRT_2PI + zu * ndtr(zu))
        if z.size and float(np.min(z)) > -1.0:
            return upper
        zl = np.minimum(z, -1.0)
        zm = np.maximum(zl, _ASYMPTOTE)
        # w = log(|z| Phi(z) / phi(z)) < 0; h = phi(z) (1 - e^w)
        w = np.minimum(np.log(erfcx(-zm * _INV_SQRT2) * -zm) + _LOG_SQRT_PI_DIV_2, -1e-300)
        log1mexp = np.where(w > -_LN2, np.log(-np.expm1(w)), np.log1p(-np.exp(w)))
        tail = np.where(zl > _ASYMPTOTE, log1mexp, -2.0 * np.log(-zl))
        lower = -0.5 * zl * zl - _LOG_SQRT_2PI + tail
        return np.where(z > -1.0, upper, lower)


def dlog_h(z: np.ndarray | float, lh: np.ndarray | None = None) -> np.ndarray:
    """``d log h / dz = Phi(z) / h(z)``; pass ``lh = log_h(z)`` if already known."""
    z = np.asarray(z, dtype=float)
    if lh is None:
        lh = log_h(z)
    with np.errstate(over="ignore", under="ignore"):
        return np.exp(log_ndtr(z) - lh)


class LogEI:
    """LogEI of a GP posterior, as a function of kernel features.

    Args:
        posterior: the (possibly fantasy-augmented) GP posterior.
        best: incumbent value in the posterior's standardized units (lower is better).
    """

    def __init__(self, posterior: GPPosterior, best: float) -> None:
        self.posterior = posterior
        self.best = float(best)

    def __call__(self, F: np.ndarray) -> np.ndarray:
        """``(m, p)`` features -> ``(m,)`` LogEI values."""
        mean, var = self.posterior.predict(F)
        sigma = np.sqrt(np.maximum(var, MIN_VAR))
        z = (self.best - mean) / sigma
        return log_h(z) + np.log(sigma)

    def value_and_grad(self, F: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(m, p)`` features -> ``(m,)`` LogEI values and ``(m, p)`` gradients."""
        mean, var, dmean, dvar = self.posterior.predict_with_grad(F)
        clipped = var < MIN_VAR
        var = np.maximum(var, MIN_VAR)
        sigma = np.sqrt(var)
        z = (self.best - mean) / sigma
        lh = log_h(z)
        g = dlog_h(z, lh)
        d_mean = -g / sigma
        d_sigma = (1.0 - g * z) / sigma
        d_var = np.where(clipped, 0.0, d_sigma / (2.0 * sigma))
        grad = d_mean[:, None] * dmean + d_var[:, None] * dvar
        return lh + np.log(sigma), grad
