"""Matérn-5/2 ARD kernel over mixed numeric and categorical inputs.

Points are described in *model coordinates* ``Z`` of shape ``(m, d)``: one column
per parameter, the unit-cube value for numeric parameters (:meth:`to_unit` of the
distribution) and the choice index for categorical ones. The kernel works on
*features* ``F = FeatureMap.features(Z)`` of shape ``(m, p)``: numeric columns are
copied, each categorical column becomes a one-hot block scaled by ``1/sqrt(2)``,
so that the squared feature distance of two different choices is exactly 1 (the
Hamming term Optuna's GPSampler adds inside the same Matérn kernel).

With one inverse squared lengthscale ``lam[j]`` per parameter ``j``,

    r2(x, x') = sum_c lam[group[c]] * (F[x, c] - F[x', c]) ** 2
    k(x, x') = scale * (1 + sqrt(5 r2) + 5 r2 / 3) * exp(-sqrt(5 r2))

Shapes: ``n`` training points, ``m`` query points, ``d`` parameters, ``p``
feature columns (``p = d`` without categoricals).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

__all__ = ["FeatureMap", "matern52", "matern52_grad", "scaled_sq_dists"]

_INV_SQRT2 = 1.0 / np.sqrt(2.0)


@dataclass(frozen=True)
class FeatureMap:
    """How model coordinates ``Z (m, d)`` become kernel features ``F (m, p)``.

    Args:
        n_choices: one entry per parameter: 0 for numeric parameters, the number of
            choices for categorical ones.
    """

    n_choices: tuple[int, ...]

    @property
    def d(self) -> int:
        """Number of parameters (model coordinates)."""
        return len(self.n_choices)

    @cached_property
    def numeric_dims(self) -> np.ndarray:
        """Indices (into ``Z``) of numeric parameters; they are ``F[:, :len(numeric_dims)]``."""
        return np.array([j for j, c in enumerate(self.n_choices) if c == 0], dtype=np.intp)

    @cached_property
    def categorical_dims(self) -> np.ndarray:
        """Indices (into ``Z``) of categorical parameters."""
        return np.array([j for j, c in enumerate(self.n_choices) if c > 0], dtype=np.intp)

    @cached_property
    def group(self) -> np.ndarray:
        """``(p,)`` parameter index of every feature column (its lengthscale)."""
        g = list(self.numeric_dims)
        for j in self.categorical_dims:
            g.extend([j] * self.n_choices[j])
        return np.array(g, dtype=np.intp)

    @cached_property
    def p(self) -> int:
        """Number of feature columns."""
        return int(len(self.numeric_dims) + sum(c for c in self.n_choices if c > 0))

    def features(self, Z: np.ndarray) -> np.ndarray:
        """``(m, d)`` model coordinates -> ``(m, p)`` features."""
        Z = np.atleast_2d(np.asarray(Z, dtype=float))
        num = self.numeric_dims
        cats = self.categorical_dims
        if not len(cats):
            return Z.copy()
        blocks = [Z[:, num]]
        for j in cats:
            k = self.n_choices[j]
            idx = np.clip(np.rint(Z[:, j]).astype(np.intp), 0, k - 1)
            onehot = np.zeros((Z.shape[0], k))
            onehot[np.arange(Z.shape[0]), idx] = _INV_SQRT2
            blocks.append(onehot)
        return np.concatenate(blocks, axis=1)


def scaled_sq_dists(A: np.ndarray, B: np.ndarray, lam_cols: np.ndarray) -> np.ndarray:
    """``(m, n)`` matrix of ``sum_c lam_cols[c] (A[i, c] - B[j, c]) ** 2``.

    Computed with one matrix product (``|a|^2 + |b|^2 - 2 a.b``), clipped at 0.

    Args:
        A: ``(m, p)`` features.
        B: ``(n, p)`` features.
        lam_cols: ``(p,)`` non-negative weight of every column.
    """
    s = np.sqrt(lam_cols)
    As = A * s
    Bs = B * s
    r2 = np.einsum("ij,ij->i", As, As)[:, None] + np.einsum("ij,ij->i", Bs, Bs)[None, :]
    r2 -= 2.0 * (As @ Bs.T)
    np.maximum(r2, 0.0, out=r2)
    return r2


def _matern_parts(r2: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # In-place arithmetic: these are the largest arrays of a GP step.
    s = np.multiply(r2, 5.0)
    np.sqrt(s, out=s)
    e = np.negative(s)
    np.exp(e, out=e)
    k = np.multiply(s, s)
    k *= 1.0 / 3.0
    k += s
    k += 1.0
    k *= e
    return k, s, e


def matern52(r2: np.ndarray) -> np.ndarray:
    """Unit-scale Matérn-5/2 kernel ``(1 + s + s^2/3) e^{-s}``, ``s = sqrt(5 r2)``."""
    return _matern_parts(r2)[0]


def matern52_grad(r2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit-scale Matérn-5/2 kernel and its derivative ``-(5/6)(1 + s) e^{-s}`` w.r.t. ``r2``.

    Both are shaped like ``r2``; the derivative is finite at ``r2 = 0``.
    """
    k, s, e = _matern_parts(r2)
    s += 1.0
    s *= e
    s *= -5.0 / 6.0
    return k, s
