"""Independent L-BFGS-B runs whose function evaluations are batched into one call.

Multi-start acquisition optimization wants (a) one SciPy L-BFGS-B run per start, with
its own Hessian approximation, line search and stopping test, and (b) one vectorized
evaluation of the acquisition per iteration for all starts (a single point costs
almost as much as ten in NumPy). Minimizing the *sum* over starts with one
L-BFGS-B run gives (b) but not (a): the starts share a line search and a stopping
test, and a start near the incumbent, where LogEI is steep and narrow, can stop long
before its own optimum.

Here every start runs :func:`scipy.optimize.minimize` (L-BFGS-B) in a worker thread
used as a coroutine: its objective posts ``x`` and blocks; the calling thread waits
until every unfinished run has posted, evaluates all posted points in one batch, and
hands the results back. The result does not depend on thread scheduling: each run's
steps depend only on its own function values, a round is evaluated only once every
unfinished run has posted, and points are batched in start order. Optuna does the
same with greenlets.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.optimize import minimize

__all__ = ["batched_lbfgsb"]

BatchFun = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def batched_lbfgsb(
    fun: BatchFun,
    x0: np.ndarray,
    bounds: np.ndarray,
    options: dict[str, Any] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Minimize ``fun`` from every row of ``x0`` with independent L-BFGS-B runs.

    Args:
        fun: ``(idx (b,), X (b, k))`` -> ``((b,) values, (b, k) gradients)``: called
            with the indices and current points of the unfinished runs, in start order.
        x0: ``(s, k)`` starting points.
        bounds: ``(k, 2)`` lower and upper bounds, shared by all runs.
        options: L-BFGS-B options (``maxiter``, ``gtol``, ``ftol``, ...).

    Returns:
        ``(x (s, k), f (s,))``: every run's final point and value.
    """
    s = len(x0)
    bnds = [(float(lo), float(hi)) for lo, hi in bounds]
    opts = dict(options or {})
    xs = np.array(x0, dtype=float, copy=True)
    fs = np.full(s, np.inf)
    if s == 1:

        def one(x: np.ndarray) -> tuple[float, np.ndarray]:
            v, g = fun(np.zeros(1, dtype=np.intp), x[None, :])
            return float(v[0]), np.array(g[0], dtype=float)

        res = minimize(one, xs[0], jac=True, method="L-BFGS-B", bounds=bnds, options=opts)
        xs[0], fs[0] = res.x, res.fun
        return xs, fs

    cond = threading.Condition()
    posted: dict[int, np.ndarray] = {}
    replies: list[tuple[float, np.ndarray] | None] = [None] * s
    ready = [threading.Event() for _ in range(s)]
    errors: list[BaseException] = []
    # Runs expected to report in the current round (they got a reply in the last one)
    # and how many have reported (posted a point or finished) so far.
    expected = [s]
    arrived = [0]

    def report() -> None:  # under cond
        arrived[0] += 1
        if arrived[0] == expected[0]:
            cond.notify()

    def worker(i: int) -> None:
        def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
            with cond:
                posted[i] = np.array(x, dtype=float, copy=True)
                report()
            ready[i].wait()
            ready[i].clear()
            reply = replies[i]
            if reply is None:  # the batch evaluation failed: stop this run
                raise _Aborted
            return reply

        try:
            res = minimize(objective, xs[i], jac=True, method="L-BFGS-B", bounds=bnds, options=opts)
            xs[i], fs[i] = res.x, res.fun
        except _Aborted:
            pass
        except BaseException as exc:  # re-raised in the calling thread
            errors.append(exc)
        finally:
            with cond:
                report()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(s)]
    for t in threads:
        t.start()
    failure: BaseException | None = None
    while True:
        with cond:
            cond.wait_for(lambda: arrived[0] == expected[0])
            idx = sorted(posted)
            X = np.stack([posted[i] for i in idx]) if idx else None
            posted.clear()
            expected[0] = len(idx)
            arrived[0] = 0
        if X is None:
            break
        try:
            vals, grads = fun(np.array(idx, dtype=np.intp), X) if failure is None else (None, None)
        except BaseException as exc:
            failure = exc
            vals, grads = None, None
        for j, i in enumerate(idx):
            if vals is None or grads is None:
                replies[i] = None
            else:
                replies[i] = (float(vals[j]), np.array(grads[j], dtype=float))
            ready[i].set()
    for t in threads:
        t.join()
    if failure is not None:
        raise failure
    if errors:
        raise errors[0]
    return xs, fs


class _Aborted(Exception):
    """Stops a run whose batch evaluation failed (the failure is raised by the caller)."""
