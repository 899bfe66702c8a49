"""The percentile pruners' threshold: the same numbers as ``np.nanpercentile``."""

from __future__ import annotations

import numpy as np
import pytest

from tunesmith.pruners.percentile import _nanpercentile_columns


@pytest.mark.parametrize("q", [0.0, 12.5, 25.0, 33.3, 50.0, 75.0, 99.9, 100.0])
def test_matches_nanpercentile_exactly(q):
    rng = np.random.default_rng(int(q * 10))
    for n in (1, 2, 3, 7, 30, 301):
        values = rng.normal(size=(n, 3))
        values[rng.random((n, 3)) < 0.2] = np.nan
        values[:, 2] = np.nan  # an all-NaN objective gives NaN, without a warning
        with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
            expected = np.nanpercentile(values, q, axis=0)
        got = _nanpercentile_columns(values, q)
        np.testing.assert_array_equal(got, expected)
