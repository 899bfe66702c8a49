"""Gaussian-process regression: MAP fit of the kernel parameters, and the posterior.

The model is ``y = f(x) + eps`` with ``f ~ GP(0, k)`` (``k`` the Matérn-5/2 ARD
kernel of :mod:`.kernel`), ``eps ~ N(0, noise)`` and ``y`` standardized by the
caller. Kernel parameters are fitted by maximizing the log marginal likelihood
plus Optuna GPSampler's log prior (``_gp/prior.py``) with L-BFGS-B on
log-parameters, with analytic gradients:

* inverse squared lengthscale ``lam``: ``-(0.1 / lam + 0.1 * lam)`` (mode at 1 in
  the unit cube);
* kernel scale: Gamma(2, rate 1);
* noise variance: Gamma(1.1, rate 30), plus a floor ``min_noise`` (the noise is
  pinned to the floor for deterministic objectives).

Raw parameter vector (what L-BFGS-B sees), for ``d`` parameters:
``[log lam_1 .. log lam_d, log scale, log(noise - min_noise)]``, the last entry
absent when the noise is pinned.

Shapes: ``n`` training points, ``m`` query points, ``p`` feature columns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg import lapack, solve_triangular
from scipy.optimize import minimize

from tunesmith.samplers._gp.kernel import matern52, matern52_grad, scaled_sq_dists

__all__ = [
    "DEFAULT_MIN_NOISE",
    "FitResult",
    "GPPosterior",
    "KernelParams",
    "MAPObjective",
    "cholesky",
    "default_raw",
    "fit_kernel_params",
]

#: Optuna's minimum noise variance (in standardized units).
DEFAULT_MIN_NOISE = 1e-6
_LOG_2PI = math.log(2.0 * math.pi)
_INIT_NOISE = 1e-2


@dataclass(frozen=True)
class KernelParams:
    """Fitted kernel parameters.

    Attributes:
        inv_sq_lengthscales: ``(d,)`` one per parameter (large = the objective varies
            fast along it; small = it hardly matters).
        scale: signal variance.
        noise: observation noise variance (includes the floor).
    """

    inv_sq_lengthscales: np.ndarray
    scale: float
    noise: float

    @classmethod
    def from_raw(
        cls, raw: np.ndarray, d: int, min_noise: float, deterministic: bool
    ) -> KernelParams:
        """Decode a raw vector (see the module docstring)."""
        noise = min_noise if deterministic else min_noise + math.exp(raw[d + 1])
        return cls(np.exp(raw[:d]), math.exp(raw[d]), noise)


def default_raw(d: int, deterministic: bool) -> np.ndarray:
    """Starting point of the fit: all lengthscales and the scale 1, small noise."""
    raw = np.zeros(d + 1 if deterministic else d + 2)
    if not deterministic:
        raw[d + 1] = math.log(_INIT_NOISE)
    return raw


def raw_bounds(d: int, deterministic: bool) -> list[tuple[float, float]]:
    """Box bounds of the raw vector (wide; the priors do the real regularization)."""
    b = [(-9.2, 9.2)] * d + [(-9.2, 6.9)]
    if not deterministic:
        b.append((-25.0, 3.0))
    return b


def cholesky(K: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor of a symmetric positive (semi)definite matrix.

    Adds growing jitter to the diagonal when the factorization fails.

    Raises:
        numpy.linalg.LinAlgError: if even a large jitter does not help.
    """
    L, info = lapack.dpotrf(K, lower=1, clean=1)
    if info == 0:
        return L
    n = K.shape[0]
    base = max(float(np.mean(np.diag(K))), 1e-12)
    idx = np.arange(n)
    for e in (1e-8, 1e-6, 1e-4, 1e-2):
        K2 = K.copy()
        K2[idx, idx] += e * base
        L, info = lapack.dpotrf(K2, lower=1, clean=1)
        if info == 0:
            return L
    raise np.linalg.LinAlgError("the kernel matrix is not positive definite")


def _inverse_from_cholesky(L: np.ndarray) -> np.ndarray:
    inv, info = lapack.dpotri(L, lower=1)
    if info != 0:
        raise np.linalg.LinAlgError("cannot invert the kernel matrix")
    # dpotri fills the lower triangle; the strict upper one is L's, zeroed by dpotrf(clean=1).
    diag = np.diag(inv).copy()
    inv += inv.T
    inv.flat[:: inv.shape[0] + 1] = diag
    return inv


def _solve(L: np.ndarray, b: np.ndarray) -> np.ndarray:
    x, info = lapack.dpotrs(L, b, lower=1)
    if info != 0:
        raise np.linalg.LinAlgError("cannot solve with the kernel matrix")
    return x


class MAPObjective:
    """Negative log posterior of the kernel parameters and its gradient.

    Args:
        F: ``(n, p)`` training features.
        y: ``(n,)`` standardized targets.
        group: ``(p,)`` parameter index of every feature column.
        d: number of parameters.
        min_noise: noise variance floor.
        deterministic: pin the noise to the floor (no noise entry in ``raw``).
    """

    def __init__(
        self,
        F: np.ndarray,
        y: np.ndarray,
        group: np.ndarray,
        d: int,
        min_noise: float = DEFAULT_MIN_NOISE,
        deterministic: bool = False,
    ) -> None:
        self.F = F
        self.y = y
        self.group = group
        self.d = d
        self.min_noise = min_noise
        self.deterministic = deterministic
        self.F2T = (F * F).T
        self.n_evals = 0
        #: ``(raw, L, alpha, K^-1)`` of the last evaluation, reused by the posterior.
        self.last: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None

    def __call__(self, raw: np.ndarray) -> tuple[float, np.ndarray]:
        """``raw (d + 1 or d + 2,)`` -> ``(-(log ML + log prior), gradient)``."""
        self.n_evals += 1
        d, F, y = self.d, self.F, self.y
        n = F.shape[0]
        lam = np.exp(raw[:d])
        scale = math.exp(raw[d])
        extra = 0.0 if self.deterministic else math.exp(raw[d + 1])
        noise = self.min_noise + extra
        r2 = scaled_sq_dists(F, F, lam[self.group])
        np.fill_diagonal(r2, 0.0)
        km, dkm = matern52_grad(r2)
        K = km * scale
        K.flat[:: n + 1] += noise
        L = cholesky(K)
        alpha = _solve(L, y)
        Kinv = _inverse_from_cholesky(L)
        self.last = (raw.copy(), L, alpha, Kinv)
        lml = -0.5 * float(y @ alpha) - float(np.sum(np.log(np.diag(L)))) - 0.5 * n * _LOG_2PI
        # d lml / d theta = 1/2 tr(W dK/dtheta), W = alpha alpha^T - K^-1.
        W = np.outer(alpha, alpha)
        W -= Kinv
        tr_W = float(np.trace(W))
        g_scale = 0.5 * scale * float(np.vdot(W, km))
        W *= dkm
        W *= scale  # now M = W * dK/dr2
        # sum_ab M_ab (F_ac - F_bc)^2 = 2 sum_a F_ac^2 (M 1)_a - 2 (F^T M F)_cc
        t = 2.0 * (self.F2T @ W.sum(axis=1)) - 2.0 * np.einsum("ac,ac->c", F, W @ F)
        g_lam = 0.5 * lam * np.bincount(self.group, weights=t, minlength=d)
        # Log prior (constants dropped) and its gradient in raw coordinates.
        lp = -float(np.sum(0.1 / lam + 0.1 * lam)) + math.log(scale) - scale
        g_lam += 0.1 / lam - 0.1 * lam
        g_scale += 1.0 - scale
        grad = np.empty_like(raw)
        grad[:d] = g_lam
        grad[d] = g_scale
        if not self.deterministic:
            lp += 0.1 * math.log(noise) - 30.0 * noise
            grad[d + 1] = (0.5 * tr_W + 0.1 / noise - 30.0) * extra
        return -(lml + lp), -grad


@dataclass(frozen=True)
class FitResult:
    """What :func:`fit_kernel_params` found.

    Attributes:
        raw: the raw parameter vector.
        n_evals: objective evaluations spent.
        factors: ``(L, alpha, K^-1)`` at ``raw`` when the last evaluation was there
            (saves one factorization when building the posterior), else None.
    """

    raw: np.ndarray
    n_evals: int
    factors: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None


def fit_kernel_params(
    F: np.ndarray,
    y: np.ndarray,
    group: np.ndarray,
    d: int,
    *,
    min_noise: float = DEFAULT_MIN_NOISE,
    deterministic: bool = False,
    init: np.ndarray | None = None,
    gtol: float = 1e-2,
    gtol_per_observation: float = 1e-3,
    maxiter: int = 200,
) -> FitResult:
    """MAP estimate of the raw kernel parameters with L-BFGS-B.

    Stops when the gradient of the negative log posterior is below ``gtol``
    (Optuna's tolerance) or below ``gtol_per_observation * n``, whichever is
    looser: the curvature grows with ``n``, so a per-observation tolerance asks
    for about the same precision of the parameters whatever ``n``, and a warm
    start after one new trial typically converges in one to three evaluations
    with hundreds of trials. Starts from ``init`` (a previous fit, for warm
    starts) when it has the right shape, and falls back to :func:`default_raw`
    when that fit fails; if the default fit fails too, returns the default
    parameters unfitted.
    """
    obj = MAPObjective(F, y, group, d, min_noise, deterministic)
    # Minimize the per-observation objective, with the per-observation tolerance.
    inv_n = 1.0 / max(len(y), 1)
    tol = max(gtol * inv_n, gtol_per_observation)

    def fun(raw: np.ndarray) -> tuple[float, np.ndarray]:
        f, g = obj(raw)
        return f * inv_n, g * inv_n

    bounds = raw_bounds(d, deterministic)
    lo = np.array([b[0] for b in bounds])
    hi = np.array([b[1] for b in bounds])
    default = default_raw(d, deterministic)
    starts = [default]
    if init is not None and init.shape == default.shape and np.all(np.isfinite(init)):
        starts.insert(0, np.clip(init, lo, hi))
    for x0 in starts:
        try:
            with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
                res = minimize(
                    fun,
                    x0,
                    jac=True,
                    method="L-BFGS-B",
                    bounds=bounds,
                    options={"gtol": tol, "maxiter": maxiter},
                )
        except (np.linalg.LinAlgError, ValueError, FloatingPointError):
            continue
        x = np.asarray(res.x, dtype=float)
        if np.all(np.isfinite(x)) and np.isfinite(res.fun):
            last = obj.last
            factors = last[1:] if last is not None and np.array_equal(last[0], x) else None
            return FitResult(x, obj.n_evals, factors)
    return FitResult(default, obj.n_evals)


class GPPosterior:
    """The GP conditioned on training data, for fixed kernel parameters.

    Args:
        F: ``(n, p)`` training features.
        y: ``(n,)`` standardized targets.
        params: kernel parameters.
        group: ``(p,)`` parameter index of every feature column.
    """

    def __init__(
        self,
        F: np.ndarray,
        y: np.ndarray,
        params: KernelParams,
        group: np.ndarray,
        factors: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    ) -> None:
        self.F = F
        self.y = y
        self.params = params
        self.group = group
        self.scale = params.scale
        self.sqrt_lam = np.sqrt(params.inv_sq_lengthscales[group])
        # Training features scaled by sqrt(lam), and their squared norms, reused by
        # every prediction.
        self.Xs = F * self.sqrt_lam
        self.xx = np.einsum("ij,ij->i", self.Xs, self.Xs)
        if factors is not None:
            self.L, self.alpha = factors[0], factors[1]
            return
        n = F.shape[0]
        r2 = self._r2(self.Xs)
        np.fill_diagonal(r2, 0.0)
        K = self.scale * matern52(r2)
        K.flat[:: n + 1] += params.noise
        self.L = cholesky(K)
        self.alpha = _solve(self.L, y)

    def _r2(self, Fs: np.ndarray) -> np.ndarray:
        r2 = np.einsum("ij,ij->i", Fs, Fs)[:, None] + self.xx[None, :]
        r2 -= 2.0 * (Fs @ self.Xs.T)
        return np.maximum(r2, 0.0, out=r2)

    @property
    def train_mean(self) -> np.ndarray:
        """``(n,)`` posterior mean of ``f`` at the training points (``y - noise * alpha``)."""
        return self.y - self.params.noise * self.alpha

    def condition_on(self, F_new: np.ndarray, y_new: np.ndarray) -> GPPosterior:
        """The posterior with ``(F_new (k, p), y_new (k,))`` added, same kernel parameters."""
        return GPPosterior(
            np.concatenate([self.F, F_new]),
            np.concatenate([self.y, y_new]),
            self.params,
            self.group,
        )

    def predict(self, Fq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and variance of ``f`` at ``Fq (m, p)``; each ``(m,)``."""
        k = self.scale * matern52(self._r2(Fq * self.sqrt_lam))
        mean = k @ self.alpha
        # var = scale - |L^-1 k|^2: a triangular solve costs half the product with K^-1.
        v = solve_triangular(self.L, k.T, lower=True, check_finite=False)
        var = self.scale - np.einsum("ij,ij->j", v, v)
        return mean, var

    def predict_with_grad(
        self, Fq: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Mean and variance at ``Fq (m, p)`` with their gradients ``(m, p)`` w.r.t. ``Fq``.

        Returns:
            ``(mean (m,), var (m,), dmean (m, p), dvar (m, p))``.
        """
        Fs = Fq * self.sqrt_lam
        km, dkm = matern52_grad(self._r2(Fs))
        k = self.scale * km
        kp = self.scale * dkm
        mean = k @ self.alpha
        # var = scale - |L^-1 k|^2 and V = K^-1 k by two triangular solves: with a
        # smooth kernel K is badly conditioned, and k K^-1 k through an explicit
        # inverse loses about cond(K) * eps of the signal variance (enough to make
        # LogEI jitter between points 1e-9 apart and stall the local search).
        v = solve_triangular(self.L, k.T, lower=True, check_finite=False)
        var = self.scale - np.einsum("ij,ij->j", v, v)
        V = solve_triangular(self.L, v, lower=True, trans="T", check_finite=False).T
        # d r2 / d Fq_c = 2 lam_c (Fq_c - X_c) = 2 sqrt(lam_c) (Fs_c - Xs_c)
        A = kp * self.alpha
        dmean = (2.0 * self.sqrt_lam) * (Fs * A.sum(axis=1)[:, None] - A @ self.Xs)
        B = kp * V
        dvar = (-4.0 * self.sqrt_lam) * (Fs * B.sum(axis=1)[:, None] - B @ self.Xs)
        return mean, var, dmean, dvar
