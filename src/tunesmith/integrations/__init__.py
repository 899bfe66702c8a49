"""Pruning callbacks for training libraries: XGBoost, LightGBM and plain PyTorch loops.

Each integration lives in its own module and imports its library only when that module
is imported, so ``import tunesmith`` never loads XGBoost, LightGBM or PyTorch:

* :mod:`tunesmith.integrations.xgboost`: :class:`XGBoostPruningCallback`
  (``pip install "tunesmith[xgboost]"``);
* :mod:`tunesmith.integrations.lightgbm`: :class:`LightGBMPruningCallback`
  (``pip install "tunesmith[lightgbm]"``);
* :mod:`tunesmith.integrations.torch`: :func:`report_and_maybe_prune` and
  :func:`epochs` for hand-written training loops (needs no library at all).

Example:
    >>> from tunesmith.integrations.torch import report_and_maybe_prune
"""

from __future__ import annotations
