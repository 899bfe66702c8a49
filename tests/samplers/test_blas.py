"""single_threaded_blas: one BLAS thread inside, the previous counts restored after."""

from __future__ import annotations

import numpy as np
import pytest

from tunesmith.samplers._blas import single_threaded_blas

threadpoolctl = pytest.importorskip("threadpoolctl")


def _blas_threads() -> list[int]:
    return [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]


def test_limits_every_blas_library_and_restores_them():
    import scipy.linalg  # noqa: F401  (SciPy may load an OpenBLAS of its own)

    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        before = _blas_threads()
        assert before and all(n == 2 for n in before)
        with single_threaded_blas():
            assert all(n == 1 for n in _blas_threads())
            np.ones((50, 50)) @ np.ones((50, 50))
        assert _blas_threads() == before
        with pytest.raises(ZeroDivisionError), single_threaded_blas():
            raise ZeroDivisionError  # restored on errors too
        assert _blas_threads() == before
