"""Ranking report vectors: non-dominated fronts, crowding, and "is it in the top k"."""

from __future__ import annotations

import numpy as np


def nondominated_ranks(values: np.ndarray) -> np.ndarray:
    """Front index of every row (0 = not dominated by any row; lower is better in every
    column; rows must be free of NaN). Time O(m^2 d), memory O(m)."""
    m = values.shape[0]
    if values.shape[1] == 1:
        # One objective: fronts are the distinct values, best first.
        _, inverse = np.unique(values[:, 0], return_inverse=True)
        return inverse.astype(np.int64)
    dominators = np.empty(m, dtype=np.int64)
    for j in range(m):
        v = values[j]
        dominators[j] = np.count_nonzero(np.all(values <= v, axis=1) & np.any(values < v, axis=1))
    ranks = np.full(m, -1, dtype=np.int64)
    front = np.flatnonzero(dominators == 0)
    rank = 0
    while front.size:
        ranks[front] = rank
        for i in front:
            v = values[i]
            dominated = np.all(v <= values, axis=1) & np.any(v < values, axis=1)
            dominators[dominated] -= 1
        front = np.flatnonzero((dominators == 0) & (ranks < 0))
        rank += 1
    return ranks


def crowding(values: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """NSGA-II crowding distance of every row within its own front (inf at the ends)."""
    out = np.zeros(values.shape[0])
    for r in np.unique(ranks):
        members = np.flatnonzero(ranks == r)
        if members.size <= 2:
            out[members] = np.inf
            continue
        front = values[members]
        for j in range(values.shape[1]):
            order = np.argsort(front[:, j], kind="stable")
            col = front[order, j]
            span = col[-1] - col[0]
            out[members[order[0]]] = out[members[order[-1]]] = np.inf
            if span > 0:
                out[members[order[1:-1]]] += (col[2:] - col[:-2]) / span
    return out


def in_top(values: np.ndarray, own: int, keep: int) -> bool:
    """Whether row ``own`` of ``values`` (lower is better, no NaN) is among the best
    ``keep`` rows; rows tied with the ``keep``-th best count as kept.

    One column: ordered by value. Several: by non-dominated front, then by crowding
    distance (larger first) within a front, as NSGA-II selects survivors.
    """
    m = values.shape[0]
    if keep >= m:
        return True
    if values.shape[1] == 1:
        col = values[:, 0]
        boundary = np.partition(col, keep - 1)[keep - 1]
        return bool(col[own] <= boundary)
    ranks = nondominated_ranks(values)
    crowd = crowding(values, ranks)
    order = np.lexsort((-crowd, ranks))
    b = order[keep - 1]
    return bool((ranks[own], -crowd[own]) <= (ranks[b], -crowd[b]))


def pareto_front(values: np.ndarray) -> np.ndarray:
    """Indices of the non-dominated rows (lower is better, no NaN)."""
    return np.flatnonzero(nondominated_ranks(values) == 0)
