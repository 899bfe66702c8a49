"""Gaussian-process Bayesian optimization with log expected improvement (NumPy/SciPy only)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tunesmith.samplers._blas import single_threaded_blas
from tunesmith.samplers.base import Sampler, SamplerContext
from tunesmith.samplers.random import RandomSampler
from tunesmith.samplers.sobol import SobolSampler
from tunesmith.space import Categorical, Distribution, Space
from tunesmith.trial import TrialState

if TYPE_CHECKING:
    from tunesmith.samplers._gp.kernel import FeatureMap
    from tunesmith.samplers._gp.model import GPPosterior

__all__ = ["GPSampler"]

logger = logging.getLogger("tunesmith")

_COMPLETE = int(TrialState.COMPLETE)
_PRUNED = int(TrialState.PRUNED)
_PENDING = (int(TrialState.RUNNING), int(TrialState.WAITING))
_PENDING_MODES = ("believer", "liar", "ignore")
_WARPS = ("robust", "rank", "none")  # see _gp/targets.py
_INCUMBENTS = ("mean", "observed")
# Kernel parameters are refitted for every proposal below this many observations;
# above it, when the observations have grown by _REFIT_GROWTH since the last fit (and
# whenever the space changes). One more trial among hundreds moves the MAP estimate by
# far less than its posterior spread, and the fit is most of a GP step's cost there.
_REFIT_ALWAYS_BELOW = 100
_REFIT_GROWTH = 1.05

# The model, acquisition and optimizer (tunesmith.samplers._gp) are imported at the
# first GP step: scipy.optimize and scipy.linalg add about a second to `import
# tunesmith` on a small machine, and most studies never use this sampler.


@dataclass
class _Fit:
    """The last fitted model, reused while the data are the same and as a warm start."""

    key: tuple[Any, ...]
    F: np.ndarray
    y: np.ndarray
    raw: np.ndarray
    posterior: GPPosterior
    n_fitted: int  # observations at the last MAP fit of ``raw``


class GPSampler(Sampler):
    """Bayesian optimization with a Gaussian process and log expected improvement.

    The sample-efficient choice for small budgets (tens to a few hundred trials) of
    expensive objectives over up to ~20 mostly numeric parameters. After
    ``n_startup_trials`` Sobol' points, every trial fits a GP (Matérn-5/2 kernel
    with one lengthscale per parameter and a Hamming term for categoricals; kernel
    parameters by maximum a posteriori, warm-started from the previous fit; from 100
    completed trials on, refitted each time their number has grown by 5 % and
    otherwise reused with the new data) to the completed trials and proposes the maximizer of LogEI (Ament et al., 2023), found
    by multi-start L-BFGS-B from Sobol' candidates, with integer, stepped and
    categorical parameters searched over their allowed values.

    * Running trials (other workers, or ``study.ask()`` without ``tell``) are
      handled by the *kriging believer*: each is added to the model with its
      posterior mean as a fantasy value, which collapses the uncertainty there, so
      parallel workers get different points. ``pending="liar"`` uses the worst
      observed value instead (more exploratory); ``"ignore"`` turns this off.
    * FAILED trials are ignored. PRUNED trials are ignored unless
      ``consider_pruned_trials=True``, which uses their last reported value (only
      sensible when intermediate values are on the scale of final ones).
    * Multi-objective studies are scalarized per trial with ParEGO (a random
      augmented Chebyshev weighting of the normalized objectives, drawn from the
      trial's seed), so successive trials spread along the Pareto front.
    * Conditional parameters (declared with conditions, or define-by-run parameters
      that not every completed trial has) are drawn at random; the GP models the
      rest.

    Args:
        seed: fixes the proposals given the same history; None uses the study's seed.
        n_startup_trials: completed trials (Sobol' points) before the GP takes over.
        deterministic_objective: pin the noise to its floor (1e-6 in standardized
            units) instead of fitting it; for objectives that return the same value
            for the same parameters.
        pending: ``"believer"`` (default), ``"liar"`` or ``"ignore"``: how running
            trials enter the model (see above).
        warp: ``"robust"`` (default: log-compress values beyond 3 robust standard
            deviations, so outliers do not dominate the standardization),
            ``"rank"`` (rank-Gaussianize) or ``"none"``.
        consider_pruned_trials: model PRUNED trials with their last reported value.
        n_candidates: Sobol' points scored to choose the local-search starts.
        n_local_search: number of local searches of the acquisition.
        incumbent: the value LogEI measures improvement against: ``"mean"``
            (default: the lowest posterior mean at a completed trial, robust to
            noise) or ``"observed"`` (the best observed value, in model units).

    Example:
        >>> import tunesmith as ts
        >>> from tunesmith.samplers.gp import GPSampler
        >>> study = ts.create_study(sampler=GPSampler(seed=0, n_startup_trials=5))
        >>> study.optimize(lambda t: (t.suggest_float("x", -5, 5) - 1) ** 2, n_trials=12)
        >>> abs(study.best_params["x"] - 1) < 1
        True
    """

    def __init__(
        self,
        seed: int | None = None,
        n_startup_trials: int = 10,
        deterministic_objective: bool = False,
        pending: str = "believer",
        warp: str = "robust",
        consider_pruned_trials: bool = False,
        n_candidates: int = 1024,
        n_local_search: int = 10,
        incumbent: str = "mean",
    ) -> None:
        if isinstance(n_startup_trials, bool) or not isinstance(n_startup_trials, int):
            raise ValueError(f"n_startup_trials must be an integer, got {n_startup_trials!r}")
        if n_startup_trials < 0:
            raise ValueError(f"n_startup_trials must be >= 0, got {n_startup_trials}")
        if pending not in _PENDING_MODES:
            raise ValueError(f"pending must be one of {_PENDING_MODES}, got {pending!r}")
        if warp not in _WARPS:
            raise ValueError(f"warp must be one of {_WARPS}, got {warp!r}")
        if not isinstance(n_candidates, int) or n_candidates < 1:
            raise ValueError(f"n_candidates must be a positive integer, got {n_candidates!r}")
        if not isinstance(n_local_search, int) or n_local_search < 1:
            raise ValueError(f"n_local_search must be a positive integer, got {n_local_search!r}")
        if incumbent not in _INCUMBENTS:
            raise ValueError(f"incumbent must be one of {_INCUMBENTS}, got {incumbent!r}")
        self.seed = seed
        self.n_startup_trials = n_startup_trials
        self.deterministic_objective = bool(deterministic_objective)
        self.pending = pending
        self.warp = warp
        self.consider_pruned_trials = bool(consider_pruned_trials)
        self.n_candidates = n_candidates
        self.n_local_search = n_local_search
        self.incumbent = incumbent
        self._random = RandomSampler(seed)
        self._startup = SobolSampler(seed)
        self._lock = threading.Lock()
        self._fit: _Fit | None = None
        # Model coordinates of our own proposals, by trial number, until the trial
        # finishes: a define-by-run trial's parameters reach the storage only when
        # the objective suggests them, but the trial is pending from the moment it
        # was asked.
        self._proposals: dict[int, tuple[tuple[Any, ...], np.ndarray]] = {}
        #: timings and sizes of the last GP step (for benchmarks and debugging).
        self.last_info: dict[str, float] = {}

    # -- sampler protocol ---------------------------------------------------------------
    def relative_space(self, ctx: SamplerContext) -> Space | None:
        """The declared space's unconditional parameters, or for define-by-run studies
        the parameters every completed trial has (with the same distribution);
        fixed (single-valued) parameters are left out."""
        if ctx.space is not None:
            conditional = ctx.space.conditions
            params = {n: d for n, d in ctx.space.items() if n not in conditional and not d.single()}
        else:
            params = {n: d for n, d in ctx.history.intersection_space().items() if not d.single()}
        return Space(params) if params else None

    def sample_relative(self, ctx: SamplerContext, number: int, space: Space) -> dict[str, Any]:
        names = tuple(space)
        dists = [space[n] for n in names]
        hist = ctx.history
        n = hist.n
        states = hist.states[:n]
        Xint = hist.matrix(names)
        has_all = np.all(np.isfinite(Xint), axis=1)
        Y = hist.signed_values()
        obs = (states == _COMPLETE) & has_all & np.all(np.isfinite(Y), axis=1)
        if self.consider_pruned_trials:
            P = hist.pruned_values[:n].copy()
            for j, direction in enumerate(ctx.directions):
                if direction == "maximize":
                    P[:, j] = -P[:, j]
            pruned = (states == _PRUNED) & has_all & np.all(np.isfinite(P), axis=1)
            Y = np.where(pruned[:, None], P, Y)
            obs |= pruned
        if np.count_nonzero(obs) < max(self.n_startup_trials, 1):
            return self._startup.sample_relative(ctx, number, space)
        with self._lock, single_threaded_blas():
            try:
                z = self._propose(ctx, number, names, dists, Xint, Y, obs, has_all, states)
            except (np.linalg.LinAlgError, ValueError, FloatingPointError) as exc:
                logger.warning(
                    "GPSampler: the Gaussian-process step failed for trial %d (%s: %s); "
                    "sampling it at random",
                    number,
                    type(exc).__name__,
                    exc,
                )
                return self._random.sample_relative(ctx, number, space)
        return _decode(dists, names, z)

    def sample_independent(
        self,
        ctx: SamplerContext,
        number: int,
        name: str,
        dist: Distribution,
        params: Mapping[str, Any],
    ) -> Any:
        return self._random.sample_independent(ctx, number, name, dist, params)

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        defaults = GPSampler._defaults()
        for key, default in defaults.items():
            value = getattr(self, key)
            if value != default:
                d[key] = value
        return d

    @staticmethod
    def _defaults() -> dict[str, Any]:
        return {
            "n_startup_trials": 10,
            "deterministic_objective": False,
            "pending": "believer",
            "warp": "robust",
            "consider_pruned_trials": False,
            "n_candidates": 1024,
            "n_local_search": 10,
            "incumbent": "mean",
        }

    def __getstate__(self) -> dict[str, Any]:
        state = {k: getattr(self, k) for k in GPSampler._defaults()}
        state["seed"] = self.seed
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    # -- the GP step ------------------------------------------------------------------------
    def _propose(
        self,
        ctx: SamplerContext,
        number: int,
        names: tuple[str, ...],
        dists: list[Distribution],
        Xint: np.ndarray,
        Y: np.ndarray,
        obs: np.ndarray,
        has_all: np.ndarray,
        states: np.ndarray,
    ) -> np.ndarray:
        from tunesmith.samplers._gp import acquisition, kernel, optimize

        t0 = time.perf_counter()
        key = (names, tuple(dists), self.deterministic_objective)
        fmap = kernel.FeatureMap(
            tuple(d.n_choices if isinstance(d, Categorical) else 0 for d in dists)
        )
        Z_all = _encode(dists, Xint)
        Zo = Z_all[obs]
        y = self._targets(ctx, number, Y[obs])
        Fo = fmap.features(Zo)
        post, n_evals = self._posterior(key, fmap, Fo, y)
        t_fit = time.perf_counter()

        acq_post = post
        Zp = self._pending_points(key, number, Z_all, has_all, states)
        if len(Zp) and self.pending != "ignore":
            Fp = fmap.features(Zp)
            if self.pending == "believer":
                yp = post.predict(Fp)[0]
            else:
                yp = np.full(len(Zp), float(np.max(y)))
            acq_post = post.condition_on(Fp, yp)
        best = float(np.min(post.train_mean) if self.incumbent == "mean" else np.min(y))
        acqf = acquisition.LogEI(acq_post, best)
        axes = [optimize.Axis.of(d) for d in dists]
        exclude = None
        if all(a.kind != "continuous" for a in axes):
            # A discrete space: never spend an evaluation on a configuration that was
            # already evaluated or is running, while an unseen one scores anywhere.
            exclude = np.concatenate([Zo, Zp]) if len(Zp) else Zo
        z, _ = optimize.optimize_acqf(
            acqf,
            acqf.value_and_grad,
            fmap,
            axes,
            ctx.rng(number, "gp"),
            n_candidates=self.n_candidates,
            n_starts=self.n_local_search,
            seeds=Zo[int(np.argmin(y))][None, :],
            scale=np.sqrt(post.params.inv_sq_lengthscales),
            exclude=exclude,
        )
        self._proposals[number] = (key, z)
        t_end = time.perf_counter()
        self.last_info = {
            "n_observations": float(len(y)),
            "n_pending": float(len(Zp)),
            "fit_evaluations": float(n_evals),
            "fit_seconds": t_fit - t0,
            "acquisition_seconds": t_end - t_fit,
        }
        return z

    def _targets(self, ctx: SamplerContext, number: int, Y: np.ndarray) -> np.ndarray:
        from tunesmith.samplers._gp import targets

        if Y.shape[1] > 1:
            w = ctx.rng(number, "parego").dirichlet(np.ones(Y.shape[1]))
            s = targets.parego_scalarize(Y, w)
        else:
            s = Y[:, 0]
        return targets.standardize(targets.warp(s, self.warp))

    def _posterior(
        self, key: tuple[Any, ...], fmap: FeatureMap, F: np.ndarray, y: np.ndarray
    ) -> tuple[GPPosterior, int]:
        """The GP for ``(F, y)``: cached if the data did not change, else refitted
        (warm-started from the last fit of the same space) or, with many observations,
        the last fit's kernel parameters conditioned on the new data."""
        c = self._fit
        if (
            c is not None
            and c.key == key
            and c.F.shape == F.shape
            and np.array_equal(c.y, y)
            and np.array_equal(c.F, F)
        ):
            return c.posterior, 0
        init = c.raw if c is not None and c.key == key else None
        from tunesmith.samplers._gp import model

        n = len(y)
        if (
            c is not None
            and init is not None
            and n >= _REFIT_ALWAYS_BELOW
            and c.n_fitted <= n < c.n_fitted * _REFIT_GROWTH
        ):
            post = model.GPPosterior(F, y, c.posterior.params, fmap.group)
            self._fit = _Fit(key, F, y, c.raw, post, c.n_fitted)
            return post, 0

        fit = model.fit_kernel_params(
            F,
            y,
            fmap.group,
            fmap.d,
            min_noise=model.DEFAULT_MIN_NOISE,
            deterministic=self.deterministic_objective,
            init=init,
        )
        params = model.KernelParams.from_raw(
            fit.raw, fmap.d, model.DEFAULT_MIN_NOISE, self.deterministic_objective
        )
        post = model.GPPosterior(F, y, params, fmap.group, fit.factors)
        self._fit = _Fit(key, F, y, fit.raw, post, n)
        return post, fit.n_evals

    def _pending_points(
        self,
        key: tuple[Any, ...],
        number: int,
        Z_all: np.ndarray,
        has_all: np.ndarray,
        states: np.ndarray,
    ) -> np.ndarray:
        """``(k, d)`` model coordinates of running/queued trials other than ``number``."""
        n = len(states)
        pending = np.isin(states, _PENDING)
        if number < n:
            pending[number] = False
        rows = [Z_all[pending & has_all]]
        # Forget our proposals for trials that finished.
        for k in [k for k in self._proposals if k < n and states[k] not in _PENDING]:
            del self._proposals[k]
        for row in np.flatnonzero(pending & ~has_all):
            rec = self._proposals.get(int(row))
            if rec is not None and rec[0] == key:
                rows.append(rec[1][None, :])
        return np.concatenate(rows) if len(rows) > 1 else rows[0]


def _encode(dists: list[Distribution], Xint: np.ndarray) -> np.ndarray:
    """``(n, d)`` internal values -> model coordinates (unit values; choice indices)."""
    Z = np.empty_like(Xint)
    for j, d in enumerate(dists):
        col = Xint[:, j]
        if isinstance(d, Categorical):
            Z[:, j] = col
        else:
            ok = np.isfinite(col)
            Z[:, j] = np.nan
            Z[ok, j] = d.to_unit(col[ok])
    return Z


def _decode(dists: list[Distribution], names: tuple[str, ...], z: np.ndarray) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, d, v in zip(names, dists, z):
        if isinstance(d, Categorical):
            out[name] = d.to_external(int(np.clip(np.rint(v), 0, d.n_choices - 1)))
        else:
            out[name] = d.to_external(float(d.from_unit(v)))
    return out
